//! `runner`: builds one run from a [`RunConfig`] and a seed, drives it, and returns what was
//! measured. Pure computation: no IO, no wall clock (the caller times the run).

// `!(x > 0.0)` is deliberate: it also rejects NaN.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

pub mod attack;
pub mod config;
pub mod driver;
pub mod trace;
pub mod validate;

pub use chain::{Retarget, RetargetRule};
pub use config::{
    ByzantineCfg, ChurnCfg, CrashCfg, EclipseFeed, HashChangeCfg, HashDist, HashPower,
    PartitionCfg, RegionCfg, RunConfig, StrategyKind, DEFAULT_RTO, MAX_HASH_FACTOR,
};
pub use driver::{check_safety, ChainDriver, Progress, Starved, MAX_SAMPLES};

use chain::{BlockStore, ChainNode, MsgKind, Shared};
use des::{Limits, NodeId, RngFactory, SimRng, SimTime, StopReason};
use metrics::{BlockRecord, ChainMetrics, Observer, ReachCurve, Sample};
use net::{Bandwidth, Crash, NetConfig, Network, Partition, Rule, Topology, World};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum RunError {
    #[error("topology: {0}")]
    Topology(String),
    #[error(
        "the topology is disconnected ({0} components) and network.allow_disconnected is false"
    )]
    Disconnected(usize),
    #[error("hash power: {0}")]
    HashPower(String),
    #[error("safety violated: {0}")]
    Safety(String),
}

impl RunError {
    /// The scenario asked for something that cannot be built (a disconnected or impossible
    /// topology, no hash power): the input's fault, unlike a safety violation (a bug).
    pub fn is_bad_input(&self) -> bool {
        !matches!(self, RunError::Safety(_))
    }
}

/// What the network did, summarised.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NetSummary {
    pub messages: u64,
    pub bytes: u64,
    pub by_kind: BTreeMap<String, u64>,
    pub delivered: u64,
    /// Announcements the receiver recorded at send time instead of as an event
    /// (`consensus.inv_delivery = "absorbed"`); not counted in `delivered`.
    #[serde(default)]
    pub absorbed: u64,
    /// Of those, announcements applied at the very nanosecond of another event at their
    /// receiver (`chain::ChainNote::SameInstant`): where this is above 0,
    /// `inv_delivery = "event"` may order the two differently.
    #[serde(default)]
    pub same_instant_announcements: u64,
    pub dropped: BTreeMap<String, u64>,
    pub duplicated: u64,
    /// Messages a rule delayed (jitter, an attacker, a resend after a loss).
    pub delayed: u64,
    /// Of those, messages lost at least once and resent (`network.loss_mode = "retransmit"`).
    #[serde(default)]
    pub resent: u64,
    pub topology_edges: u64,
    pub topology_mean_degree: f64,
    pub topology_components: u64,
    /// How long past the end of the run the busiest upload link was still booked (0: every
    /// link was free). Messages queued there had not left: more was asked of that sender than
    /// its upload bandwidth carries (say, a lone miner every peer fetches from, with requests
    /// timing out and asked again while the first transfers still wait).
    #[serde(default)]
    pub upload_backlog_s: f64,
    /// The node of that link.
    #[serde(default)]
    pub upload_backlog_node: Option<u32>,
    /// Messages still on their way when the run ended, queued uploads included (a message is
    /// on its way from when it is sent); announcements a receiver absorbed when they were sent
    /// are not among them.
    #[serde(default)]
    pub in_flight: u64,
    /// How long past the end the last message on its way (absorbed ones included) arrives;
    /// 0 if none was.
    #[serde(default)]
    pub in_flight_s: f64,
}

/// Everything one run produced (deterministic: no wall time here).
#[derive(Clone, Debug, PartialEq)]
pub struct RunOutput {
    pub trace_hash: String,
    pub stop_reason: StopReason,
    pub events: u64,
    pub sim_time_s: f64,
    pub metrics: ChainMetrics,
    pub net: NetSummary,
    pub samples: Vec<Sample>,
    pub reach: Vec<ReachCurve>,
    pub blocks: Vec<BlockRecord>,
    pub mining_stopped_s: Option<f64>,
    /// Why no hash power was left for good, if that happened: before mining's stop it stopped
    /// mining early (`no-hash-power`); after it, no tie-break block could come.
    pub starved_by: Option<driver::Starved>,
    pub lost_wins: u64,
    /// Wins thinned away because their miner worked at a difficulty above the lowest one (see
    /// `driver::ChainDriver`); always 0 with a fixed difficulty.
    pub thinned_wins: u64,
    /// Blocks mined after the stop condition because the replicas were split by a tie.
    pub tie_break_blocks: u64,
    /// The last metrics sample at which the network was still busy (messages on their way,
    /// node timers set, a partition or crash change to come).
    pub busy_until_s: Option<f64>,
    /// The mean wait for the next block at the end, at the hash power of the nodes up and the
    /// difficulty each works at (`None`: none of them has hash power).
    pub next_block_wait_s: Option<f64>,
}

/// Every outage of a run, in the network's order (its crash and restart events name them by
/// index): the scheduled `crashes`, then those churn draws.
pub fn outages(cfg: &RunConfig, rngs: &RngFactory) -> Vec<Crash> {
    let at = |d: des::SimDuration| SimTime::ZERO.saturating_add(d);
    let mut out: Vec<Crash> = (cfg.crashes.iter())
        .map(|c| Crash {
            node: NodeId(c.node),
            at: at(c.at),
            restart: c.restart.map(at),
        })
        .collect();
    if let Some(ch) = &cfg.churn {
        out.extend(churn_outages(ch, rngs));
    }
    out
}

/// The outages [`ChurnCfg`] draws, node by node in id order (each from its stream ("churn",
/// node), so one node's schedule does not depend on which others churn; a node listed twice
/// churns once), in time order per node.
pub fn churn_outages(ch: &ChurnCfg, rngs: &RngFactory) -> Vec<Crash> {
    let draw = |rng: &mut SimRng, mean: des::SimDuration| {
        let ns = rng.exponential(mean.as_nanos() as f64).round();
        des::SimDuration::from_nanos((ns as u64).max(1))
    };
    let (from, until) = (SimTime::ZERO.saturating_add(ch.from), ch.until.as_nanos());
    let mut out = vec![];
    let mut nodes = ch.nodes.clone();
    nodes.sort_unstable();
    nodes.dedup();
    for n in nodes {
        let mut rng = rngs.stream("churn", u64::from(n));
        let mut t = from.saturating_add(draw(&mut rng, ch.uptime));
        while t.as_nanos() < until {
            let restart = t.saturating_add(draw(&mut rng, ch.downtime));
            out.push(Crash {
                node: NodeId(n),
                at: t,
                restart: Some(restart),
            });
            t = restart.saturating_add(draw(&mut rng, ch.uptime));
        }
    }
    out
}

/// Per-node hash weights (integers, so the miner draw is exact) from the "hashpower" stream.
pub fn hash_weights(cfg: &RunConfig, rng: &mut SimRng) -> Result<Vec<u64>, RunError> {
    let hp = &cfg.hash_power;
    let m = hp.miners.min(cfg.nodes) as usize;
    let raw: Vec<f64> = match hp.dist {
        HashDist::Equal => vec![1.0; m],
        HashDist::Shares => hp.shares.clone(),
        HashDist::Normal => (0..m)
            .map(|_| rng.normal(hp.mean, hp.sd).max(hp.floor))
            .collect(),
        HashDist::Exponential => (0..m).map(|_| rng.exponential(hp.mean)).collect(),
        HashDist::Pareto => (0..m).map(|_| rng.pareto(1.0, hp.shape)).collect(),
    };
    if raw.iter().any(|x| !(*x >= 0.0)) {
        return Err(RunError::HashPower(
            "hash power must be non-negative".into(),
        ));
    }
    let mut raw = raw;
    raw.resize(cfg.nodes as usize, 0.0);
    // Byzantine tables with a hash share take exactly that share, split equally over their
    // nodes; Sybil identities have none; the honest distribution is scaled to the rest.
    let mut fixed: Vec<Option<f64>> = vec![None; cfg.nodes as usize];
    for b in &cfg.byzantine {
        let each = match (b.strategy, b.hash_share) {
            (config::StrategyKind::Sybil, _) => Some(0.0),
            (_, Some(h)) => Some(h / b.nodes.len().max(1) as f64),
            (_, None) => None,
        };
        if each.is_some() {
            for &i in &b.nodes {
                fixed[i as usize] = each;
            }
        }
    }
    let fixed_total: f64 = fixed.iter().flatten().sum();
    let free_total: f64 = raw
        .iter()
        .zip(&fixed)
        .filter(|(_, f)| f.is_none())
        .map(|(x, _)| x)
        .sum();
    if !(free_total > 0.0) && fixed_total < 1.0 {
        return Err(RunError::HashPower(
            "no node outside the byzantine tables has hash power".into(),
        ));
    }
    let scale = (1u64 << 40) as f64;
    Ok(raw
        .iter()
        .zip(&fixed)
        .map(|(&x, f)| match f {
            Some(share) => round_half_up(share * scale),
            None if free_total > 0.0 => round_half_up(x / free_total * (1.0 - fixed_total) * scale),
            None => 0,
        })
        .collect())
}

pub(crate) fn round_half_up(x: f64) -> u64 {
    // IEEE addition and truncation: identical bits on every platform.
    (x + 0.5) as u64
}

/// Builds the world for `cfg` and `seed`.
pub fn build(
    cfg: &RunConfig,
    seed: u64,
) -> Result<(World<ChainNode>, ChainDriver, Vec<bool>), RunError> {
    let (classes, class_names) = attack::classes(cfg);
    let rngs = RngFactory::new(seed);
    let n = cfg.nodes;
    let topo = Topology::build(&cfg.topology, n, &mut rngs.stream("topology", 0))
        .map_err(|e| RunError::Topology(e.0))?;
    let topo = attack::rewire(cfg, topo, &mut rngs.stream("sybil", 0));
    if !topo.is_connected() && !cfg.allow_disconnected {
        return Err(RunError::Disconnected(topo.components()));
    }
    let regions = if cfg.regions.is_empty() {
        vec![0; n as usize]
    } else {
        let shares: Vec<f64> = cfg.regions.iter().map(|r| r.share).collect();
        net::assign_regions(n, &shares, &mut rngs.stream("regions", 0))
    };
    let per_node =
        |f: &dyn Fn(&RegionCfg) -> Option<u64>, default: Option<u64>| -> Option<Vec<u64>> {
            let v: Vec<Option<u64>> = regions
                .iter()
                .map(|&r| cfg.regions.get(r as usize).and_then(f).or(default))
                .collect();
            v.iter()
                .any(Option::is_some)
                .then(|| v.iter().map(|x| x.unwrap_or(u64::MAX)).collect())
        };
    let up = per_node(&|r| r.upload_bps, cfg.upload_bps);
    let down = per_node(&|r| r.download_bps, cfg.download_bps);
    let bandwidth = match (up, down) {
        (None, None) => None,
        (u, d) => Some(Bandwidth {
            upload_bps: u.unwrap_or_else(|| vec![u64::MAX; n as usize]),
            download_bps: d.unwrap_or_else(|| vec![u64::MAX; n as usize]),
        }),
    };
    // Byzantine link rules first: what an attacker does not send, the network cannot lose,
    // duplicate or jitter (jitter decides every message it sees: after it, no rule is asked).
    let mut rules = attack::link_rules(cfg);
    if cfg.loss > 0.0 {
        rules.push(match cfg.loss_mode {
            net::LossMode::Drop => Rule::Loss { p: cfg.loss },
            net::LossMode::Retransmit => Rule::Resend {
                p: cfg.loss,
                timeout: cfg.retransmit_timeout,
            },
        });
    }
    if cfg.duplicate > 0.0 {
        rules.push(Rule::Duplicate {
            p: cfg.duplicate,
            delay: cfg.duplicate_delay,
        });
    }
    if !cfg.jitter.is_zero() {
        rules.push(Rule::Jitter { max: cfg.jitter });
    }
    let at = |d: des::SimDuration| SimTime::ZERO.saturating_add(d);
    let partitions = cfg
        .partitions
        .iter()
        .map(|p| {
            let groups: Vec<Vec<NodeId>> = p
                .groups
                .iter()
                .map(|g| g.iter().map(|&i| NodeId(i)).collect())
                .collect();
            Partition::from_groups(
                n,
                &groups,
                at(p.from),
                p.until.map(at).unwrap_or(SimTime::MAX),
            )
        })
        .collect();
    let crashes = outages(cfg, &rngs);
    let netcfg = NetConfig {
        latency: cfg.latency.clone(),
        bandwidth,
        regions,
        rules,
        partitions,
        crashes,
        costs: cfg.link_costs,
    };
    let network = Network::new(topo, netcfg, &rngs);
    let weights = hash_weights(cfg, &mut rngs.stream("hashpower", 0))?;
    let total: u64 = weights.iter().sum();
    let shares: Vec<f64> = weights.iter().map(|&w| w as f64 / total as f64).collect();
    let honest: Vec<bool> = classes.iter().map(|&c| c == 0).collect();
    let mut observer = Observer::new(classes, class_names, shares, cfg.block_interval);
    observer.watch(attack::victims(cfg));
    observer.all_blocks_weigh(cfg.chain.fork_choice == chain::ForkChoice::Ghost);
    let mut params = cfg.chain.clone();
    let mut shared_favoured = vec![];
    if let Some((mask, gamma)) = attack::favoured(cfg) {
        params.gamma = Some(gamma);
        shared_favoured = mask;
    }
    let store = BlockStore::with_retarget(n, cfg.retarget, cfg.block_interval);
    let mut shared = Shared::new(store, params);
    shared.favoured = shared_favoured;
    if cfg.chain.relay == chain::Relay::Compact {
        let mut speaks = rngs.stream("compact", 0);
        let usage = cfg.chain.compact.usage;
        shared.compact = (0..n).map(|_| speaks.bernoulli(usage)).collect();
    }
    let mut nodes: Vec<ChainNode> = (0..n).map(|_| ChainNode::new()).collect();
    attack::assign_roles(cfg, &mut nodes);
    let limits = Limits {
        max_events: cfg.max_events,
        end_time: at(cfg.max_time),
    };
    let world = World::new(nodes, network, shared, &rngs, limits);
    let mut driver = ChainDriver::new(
        observer,
        rngs.stream("mining", 0),
        &weights,
        cfg.block_interval,
        cfg.stop_blocks,
        cfg.stop_time.map(at),
        cfg.sample_interval,
    );
    driver.settle = cfg.settle();
    driver.hash_changes = (cfg.hash_changes.iter())
        .map(|c| (at(c.at), c.nodes.clone(), c.factor))
        .collect();
    driver.attacks = cfg
        .byzantine
        .iter()
        .map(|b| driver::Attack {
            nodes: b.nodes.clone(),
            victims: b.targets.clone(),
            from: at(b.from),
            until: b.until.map(at),
            ended: false,
        })
        .collect();
    Ok((world, driver, honest))
}

/// Into how many groups the honest online nodes fall over the links that work now: see
/// `ChainMetrics::final_honest_groups`.
pub fn honest_groups(world: &World<ChainNode>, honest: &[bool]) -> u32 {
    let n = world.nodes.len();
    let mut root: Vec<usize> = (0..n).collect();
    fn find(root: &mut [usize], mut x: usize) -> usize {
        while root[x] != x {
            root[x] = root[root[x]];
            x = root[x];
        }
        x
    }
    let now = world.now();
    for (a, b) in world.net.topo.edges() {
        let works = world.net.link_works(a, b, now)
            && world.nodes[a.idx()].listens_to(b)
            && world.nodes[b.idx()].listens_to(a);
        if works {
            let (ra, rb) = (find(&mut root, a.idx()), find(&mut root, b.idx()));
            root[ra] = rb;
        }
    }
    let mut groups: Vec<usize> = (0..n)
        .filter(|&i| honest[i] && world.net.is_up(NodeId(i as u32)))
        .map(|i| find(&mut root, i))
        .collect();
    groups.sort_unstable();
    groups.dedup();
    groups.len() as u32
}

/// Runs `cfg` with `seed` to the end and measures it. Safety violations are errors.
pub fn run_one(cfg: &RunConfig, seed: u64) -> Result<RunOutput, RunError> {
    run_with_progress(cfg, seed, None)
}

/// As [`run_one`], publishing live progress (which never influences the run).
pub fn run_with_progress(
    cfg: &RunConfig,
    seed: u64,
    progress: Option<std::sync::Arc<Progress>>,
) -> Result<RunOutput, RunError> {
    run_inner(cfg, seed, progress, None)
}

/// A run with progress published to `progress` and its trace to `sink`, if given.
fn run_inner(
    cfg: &RunConfig,
    seed: u64,
    progress: Option<std::sync::Arc<Progress>>,
    sink: Option<des::TraceSink>,
) -> Result<RunOutput, RunError> {
    let (mut world, mut driver, honest) = build(cfg, seed)?;
    driver.progress = progress;
    if let Some(sink) = sink {
        world.kernel.set_trace_sink(sink);
    }
    let stop_reason = net::run(&mut world, &mut driver);
    check_safety(&world, &honest).map_err(RunError::Safety)?;
    let now = world.now();
    let store = &world.shared.store;
    driver.observer.sample(now, store);
    let mut metrics = driver.observer.finish(now, store);
    metrics.attacks = attack::reports(cfg, &metrics, &world.nodes, driver.observer.samples());
    metrics.invalid_bytes_received = metrics.rejected_blocks * u64::from(cfg.chain.block_size);
    metrics.final_honest_groups = honest_groups(&world, &honest);
    metrics.replicas_fetching = (world.nodes.iter().enumerate())
        .filter(|&(i, n)| honest[i] && world.net.is_up(NodeId(i as u32)) && n.is_fetching())
        .count() as u32;
    let backlog = world.net.upload_backlog(now);
    let (in_flight, last_arrival) = world.in_flight();
    let s = &world.net.stats;
    let mut by_kind = BTreeMap::new();
    for k in MsgKind::ALL {
        by_kind.insert(k.name().to_string(), s.sent[*k as usize]);
    }
    let mut dropped = BTreeMap::new();
    for (i, name) in s.rule_names.iter().enumerate() {
        *dropped.entry(name.clone()).or_insert(0) += s.dropped[i];
    }
    dropped.insert("crashed-at-arrival".into(), s.dropped_at_arrival);
    let net = NetSummary {
        messages: s.total_sent(),
        bytes: s.total_bytes(),
        by_kind,
        delivered: s.delivered,
        absorbed: s.absorbed,
        same_instant_announcements: driver.same_instant_announcements,
        dropped,
        duplicated: s.duplicated.iter().sum(),
        delayed: s.delayed.iter().sum(),
        resent: (s.rule_names.iter().zip(&s.delayed))
            .filter(|(name, _)| *name == "loss")
            .map(|(_, d)| d)
            .sum(),
        topology_edges: world.net.topo.edge_count() as u64,
        topology_mean_degree: world.net.topo.mean_degree(),
        topology_components: world.net.topo.components() as u64,
        upload_backlog_s: backlog.map_or(0.0, |(_, until)| (until - now).as_secs_f64()),
        in_flight,
        in_flight_s: last_arrival.map_or(0.0, |t| (t - now).as_secs_f64()),
        upload_backlog_node: backlog.map(|(n, _)| n.0),
    };
    Ok(RunOutput {
        trace_hash: world.kernel.trace_hash(),
        stop_reason,
        events: world.kernel.events_processed(),
        sim_time_s: now.as_secs_f64(),
        samples: driver.observer.samples().to_vec(),
        reach: driver.observer.reach_curves(),
        blocks: driver.observer.blocks().to_vec(),
        metrics,
        net,
        mining_stopped_s: driver.mining_stopped_at.map(|t| t.as_secs_f64()),
        starved_by: driver.starved_by,
        lost_wins: driver.lost_wins,
        thinned_wins: driver.thinned_wins,
        tie_break_blocks: driver.tie_break_blocks,
        busy_until_s: driver.busy_at.map(|t| t.as_secs_f64()),
        next_block_wait_s: driver.next_block_wait_s(&world),
    })
}
