//! The typed, validated description of one run (the scenario crate builds it from TOML).

use chain::ChainParams;
use des::SimDuration;
use net::{Latency, TopologyKind};

/// The default retransmission timeout of `loss_mode = "retransmit"`: Linux's minimum RTO.
pub const DEFAULT_RTO: SimDuration = SimDuration::from_millis(200);

/// A region of the network (as in SimBlock's Bitcoin model).
#[derive(Clone, Debug, PartialEq)]
pub struct RegionCfg {
    pub name: String,
    pub share: f64,
    pub upload_bps: Option<u64>,
    pub download_bps: Option<u64>,
}

des::named_enum! {
    /// How hash power is spread over the miners.
    pub enum HashDist {
        Equal = "equal",
        /// Explicit shares, one per miner.
        Shares = "shares",
        /// Normal(mean, sd), floored at `floor` (SimBlock's model).
        Normal = "normal",
        Exponential = "exponential",
        /// Pareto with tail index `shape` (a few large pools).
        Pareto = "pareto",
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct HashPower {
    pub dist: HashDist,
    /// Nodes 0..miners mine; the rest have no hash power.
    pub miners: u32,
    pub shares: Vec<f64>,
    pub mean: f64,
    pub sd: f64,
    pub shape: f64,
    pub floor: f64,
}

/// A scheduled change of some nodes' hash power (`[[consensus.hash_power.changes]]`): from
/// `at` on, each of `nodes` has `factor` × its hash power at the start. Difficulty is fixed, so
/// the network's block interval becomes `block_interval` × (hash power at the start / now).
#[derive(Clone, Debug, PartialEq)]
pub struct HashChangeCfg {
    pub at: SimDuration,
    pub nodes: Vec<u32>,
    pub factor: f64,
}

/// The largest [`HashChangeCfg::factor`] (total hash power stays far from overflowing).
pub const MAX_HASH_FACTOR: f64 = 1000.0;

impl HashPower {
    pub fn equal(miners: u32) -> Self {
        HashPower {
            dist: HashDist::Equal,
            miners,
            shares: vec![],
            mean: 1.0,
            sd: 0.0,
            shape: 2.0,
            floor: 1.0,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct PartitionCfg {
    /// Node ids per group; nodes not named form one more group.
    pub groups: Vec<Vec<u32>>,
    pub from: SimDuration,
    pub until: Option<SimDuration>,
}

des::named_enum! {
    /// A Byzantine strategy (`[[byzantine]] strategy = "…"`).
    pub enum StrategyKind {
        /// Eyal & Sirer's SM1 (one node: the pool).
        Selfish = "selfish",
        /// Private-chain double spend against a merchant waiting for z confirmations (one node).
        DoubleSpend = "double-spend",
        /// Two conflicting blocks per win, one to each half of the peers.
        Equivocate = "equivocate",
        /// Blocks that fail validation, announced to every peer.
        InvalidBlocks = "invalid-blocks",
        /// Relay nothing (a link rule on everything the nodes send).
        Withhold = "withhold",
        /// Relay everything late.
        Delay = "delay",
        /// Drop a fraction of what they send.
        Drop = "drop",
        /// Take every connection of the target nodes and withhold (or delay) what they get.
        Eclipse = "eclipse",
        /// Identities with no hash power that take peer slots and relay nothing.
        Sybil = "sybil",
    }
}

des::named_enum! {
    /// What eclipse attackers feed their victims.
    pub enum EclipseFeed {
        /// Nothing.
        Withhold = "withhold",
        /// Everything, `delay` late.
        Delay = "delay",
        /// A chain the attackers mine in private (with their hash share) instead of the real one.
        PrivateFork = "private-fork",
    }
}

/// One `[[byzantine]]` table, validated.
#[derive(Clone, Debug, PartialEq)]
pub struct ByzantineCfg {
    pub strategy: StrategyKind,
    pub nodes: Vec<u32>,
    /// Total hash share of these nodes; `None` keeps what the hash-power distribution gives.
    pub hash_share: Option<f64>,
    /// Selfish: enforce γ (else it emerges from the network).
    pub gamma: Option<f64>,
    /// Double spend: the merchant's confirmations z, and the deficit at which to give up.
    pub confirmations: u32,
    pub give_up: u32,
    pub invalid: chain::Invalid,
    /// Delay / eclipse: how late messages arrive (eclipse: zero = withhold).
    pub delay: SimDuration,
    /// Drop: the fraction dropped.
    pub drop: f64,
    /// Eclipse: the victims, and what they are fed.
    pub targets: Vec<u32>,
    pub feed: EclipseFeed,
    /// Sybil: extra connections per identity.
    pub peers: u32,
    pub from: SimDuration,
    pub until: Option<SimDuration>,
}

impl ByzantineCfg {
    pub fn new(strategy: StrategyKind, nodes: Vec<u32>) -> Self {
        ByzantineCfg {
            strategy,
            nodes,
            hash_share: None,
            gamma: None,
            confirmations: 6,
            give_up: 20,
            invalid: chain::Invalid::BadHeight,
            delay: SimDuration::ZERO,
            drop: 0.0,
            targets: vec![],
            feed: EclipseFeed::Withhold,
            peers: 8,
            from: SimDuration::ZERO,
            until: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct CrashCfg {
    pub node: u32,
    pub at: SimDuration,
    pub restart: Option<SimDuration>,
}

/// Random churn: each node of `nodes` alternates between up, for Exp(`uptime`) at a time, and
/// down, for Exp(`downtime`), from `from` on; outages start before `until` (the last restart
/// may come after it). Drawn before the run from the node's own stream ("churn", node), so
/// the schedule is fixed in advance like `crashes`.
#[derive(Clone, Debug, PartialEq)]
pub struct ChurnCfg {
    pub nodes: Vec<u32>,
    pub uptime: SimDuration,
    pub downtime: SimDuration,
    pub from: SimDuration,
    pub until: SimDuration,
}

/// One run, fully specified (the seed comes separately).
#[derive(Clone, Debug, PartialEq)]
pub struct RunConfig {
    pub nodes: u32,
    pub topology: TopologyKind,
    pub allow_disconnected: bool,
    pub regions: Vec<RegionCfg>,
    pub latency: Latency,
    /// Bandwidth of nodes whose region sets none (None = unlimited).
    pub upload_bps: Option<u64>,
    pub download_bps: Option<u64>,
    /// Fault rules in chain order: loss, duplication, jitter.
    pub loss: f64,
    /// What a loss does: drop the message, or resend it after `retransmit_timeout` (TCP).
    pub loss_mode: net::LossMode,
    /// With `Retransmit`: the wait before the first resend (doubling with each loss, see
    /// `net::Rule::Resend`).
    pub retransmit_timeout: SimDuration,
    pub duplicate: f64,
    pub duplicate_delay: SimDuration,
    pub jitter: SimDuration,
    /// Control-message path and delay, transfer overhead.
    pub link_costs: net::LinkCosts,
    pub partitions: Vec<PartitionCfg>,
    pub crashes: Vec<CrashCfg>,
    /// Random crashes and restarts, appended to `crashes` when the run starts.
    pub churn: Option<ChurnCfg>,
    pub byzantine: Vec<ByzantineCfg>,
    pub chain: ChainParams,
    pub block_interval: SimDuration,
    /// The difficulty adjustment (aiming at `block_interval`).
    pub retarget: chain::Retarget,
    /// Scheduled hash power changes, in the order they apply at equal times.
    pub hash_changes: Vec<HashChangeCfg>,
    pub hash_power: HashPower,
    /// Stop mining after this many blocks …
    pub stop_blocks: Option<u64>,
    /// … or at this time, whichever is first; then let the network settle.
    pub stop_time: Option<SimDuration>,
    /// Once mining has stopped and every scheduled partition and crash change is past, the run
    /// ends unsettled if the honest replicas do not agree within this (`None`:
    /// [`RunConfig::settle`]'s default).
    pub settle: Option<SimDuration>,
    /// Hard limits: no run goes past these.
    pub max_events: u64,
    pub max_time: SimDuration,
    pub sample_interval: SimDuration,
}

impl RunConfig {
    /// How long the replicas get to agree after mining stops: as given, else 100 times the
    /// longest of the block interval (a tie at the last height takes a block to break), the
    /// request timeout (a retry on a lossy network) and the sample interval (agreement is
    /// checked at samples).
    pub fn settle(&self) -> SimDuration {
        self.settle.unwrap_or_else(|| {
            let unit = (self.block_interval)
                .max(self.chain.request_timeout)
                .max(self.sample_interval);
            unit.saturating_mul(100)
        })
    }

    /// Settings that are valid but defeat themselves, each said in a sentence naming its keys:
    /// a request timeout shorter than one block's transfer over the slowest link (with a relay
    /// that requests blocks, every request over it times out while its block is still on the
    /// way, and is asked again, which adds to the sender's queue).
    pub fn cautions(&self) -> Vec<String> {
        let slowest = |f: fn(&RegionCfg) -> Option<u64>, default: Option<u64>| {
            if self.regions.is_empty() {
                default
            } else {
                self.regions.iter().filter_map(|r| f(r).or(default)).min()
            }
        };
        let up = slowest(|r| r.upload_bps, self.upload_bps);
        let down = slowest(|r| r.download_bps, self.download_bps);
        let rate = (up.is_some() || down.is_some())
            .then(|| net::Bandwidth::bottleneck(up.unwrap_or(u64::MAX), down.unwrap_or(u64::MAX)));
        let mut out = vec![];
        let requests = self.chain.relay != chain::Relay::Push;
        if let Some(bps) = rate.filter(|_| requests) {
            let transfer = net::Bandwidth::duration(self.chain.block_size, bps)
                .saturating_add(self.link_costs.transfer_overhead);
            if transfer > self.chain.request_timeout {
                out.push(format!(
                    "consensus.request_timeout ({}) is shorter than one block's transfer over \
                     the slowest link: {} bytes (consensus.block_size) at {bps} bit/s (network \
                     upload and download) take {transfer}; requests over it time out while the \
                     block is still on its way and are asked again, adding to the sender's \
                     upload queue",
                    self.chain.request_timeout, self.chain.block_size
                ));
            }
        }
        let resends = self.loss > 0.0 && self.loss_mode == net::LossMode::Retransmit;
        if resends && requests && self.retransmit_timeout >= self.chain.request_timeout {
            out.push(format!(
                "network.retransmit_timeout ({}) is not shorter than consensus.request_timeout \
                 ({}): a lost request or block is asked for again, from another peer, before \
                 the link has resent it, so every loss costs a second transfer",
                self.retransmit_timeout, self.chain.request_timeout
            ));
        }
        let shared = |n: u32| {
            (self.byzantine.iter())
                .any(|b| b.hash_share.is_some_and(|h| h > 0.0) && b.nodes.contains(&n))
        };
        for (i, c) in self.hash_changes.iter().enumerate() {
            let idle: Vec<u32> = (c.nodes.iter().copied())
                .filter(|&n| n >= self.hash_power.miners && !shared(n))
                .collect();
            if c.factor > 0.0 && !idle.is_empty() {
                out.push(format!(
                    "consensus.hash_power.changes[{i}]: {} of its nodes (the first: {}) have no \
                     hash power at the start (consensus.hash_power.miners = {}), and a factor \
                     of nothing is nothing: they still do not mine",
                    idle.len(),
                    idle[0],
                    self.hash_power.miners
                ));
            }
        }
        let r = &self.retarget;
        if r.rule == chain::RetargetRule::Asert && r.half_life < self.block_interval {
            out.push(format!(
                "consensus.difficulty.half_life ({}) is shorter than consensus.block_interval \
                 ({}): one block's luck moves the difficulty more than twofold, and it swings \
                 to its bounds (2^±20 × genesis's), where blocks come in bursts or years apart",
                r.half_life, self.block_interval
            ));
        }
        if r.rule == chain::RetargetRule::Epoch {
            if r.clamp == 1.0 {
                out.push(
                    "consensus.difficulty.clamp = 1 lets no retarget change the difficulty: it stays fixed"
                        .to_string(),
                );
            }
            // Blocks expected before mining stops, at the start's rate.
            let by_time = self
                .stop_time
                .map(|t| t.as_secs_f64() / self.block_interval.as_secs_f64());
            let expected = match (self.stop_blocks.map(|b| b as f64), by_time) {
                (Some(b), Some(t)) => b.min(t),
                (b, t) => b.or(t).unwrap_or(f64::INFINITY),
            };
            if expected < f64::from(r.every) {
                out.push(format!(
                    "consensus.difficulty.every ({}) is more blocks than the run is set to mine \
                     (about {expected:.0}, from stop.blocks / stop.time at the start's rate): \
                     no retarget may come, leaving the difficulty fixed",
                    r.every
                ));
            }
        }
        if let Some(ch) = &self.churn {
            // Mining's expected end: stop.time, else the blocks at the start's rate.
            let by_blocks = self
                .stop_blocks
                .map(|b| self.block_interval.as_secs_f64() * b as f64);
            let ends = match (self.stop_time.map(|t| t.as_secs_f64()), by_blocks) {
                (Some(t), Some(b)) => t.min(b),
                (t, b) => t.or(b).unwrap_or(f64::INFINITY),
            };
            if ch.until.as_secs_f64() > 2.0 * ends {
                out.push(format!(
                    "network.churn.until ({}) is long after mining is expected to stop (about \
                     {:.0} s, from stop.blocks / stop.time at the start's rate): the run goes on, \
                     with no blocks to spread, until the churn ends",
                    ch.until, ends
                ));
            }
        }
        out
    }

    /// A small, fast default: 100 nodes, 8-regular, 100 ms ± exponential latency, 10 miners,
    /// 60 s blocks, 200 blocks.
    pub fn quickstart() -> Self {
        RunConfig {
            nodes: 100,
            topology: TopologyKind::RandomRegular { degree: 8 },
            allow_disconnected: false,
            regions: vec![],
            latency: Latency::Mean {
                mean: SimDuration::from_millis(100),
                spread: net::Spread::Exponential,
            },
            upload_bps: Some(20_000_000),
            download_bps: Some(20_000_000),
            loss: 0.0,
            loss_mode: net::LossMode::Drop,
            retransmit_timeout: DEFAULT_RTO,
            duplicate: 0.0,
            duplicate_delay: SimDuration::from_millis(10),
            jitter: SimDuration::ZERO,
            link_costs: net::LinkCosts::default(),
            partitions: vec![],
            crashes: vec![],
            churn: None,
            byzantine: vec![],
            chain: ChainParams {
                block_size: 1_000_000,
                ..ChainParams::default()
            },
            block_interval: SimDuration::from_secs(60),
            retarget: chain::Retarget::FIXED,
            hash_changes: vec![],
            hash_power: HashPower::equal(10),
            stop_blocks: Some(200),
            stop_time: None,
            settle: None,
            max_events: 500_000_000,
            max_time: SimDuration::DAY.saturating_mul(365),
            sample_interval: SimDuration::from_secs(5),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The caution comes exactly when one block's transfer over the slowest link (a region's,
    /// else the default rates) outlasts the request timeout, and not under push relay, which
    /// requests nothing.
    #[test]
    fn a_request_timeout_shorter_than_a_block_transfer_is_cautioned() {
        let mut cfg = RunConfig::quickstart();
        // 1 MB at 20 Mbit/s: 0.4 s.
        cfg.chain.request_timeout = SimDuration::from_millis(401);
        assert!(cfg.cautions().is_empty());
        cfg.chain.request_timeout = SimDuration::from_millis(399);
        let c = cfg.cautions();
        assert_eq!(c.len(), 1);
        assert!(
            c[0].contains("consensus.request_timeout (399ms)"),
            "{}",
            c[0]
        );
        assert!(c[0].contains("take 400ms"), "{}", c[0]);
        prose(&c);
        cfg.chain.relay = chain::Relay::Push;
        assert!(cfg.cautions().is_empty());
        // A slow region sets the pace; a region without rates takes the defaults.
        cfg.chain.relay = chain::Relay::InvGetData;
        cfg.chain.request_timeout = SimDuration::from_secs(1);
        let region = |up| RegionCfg {
            name: "r".into(),
            share: 0.5,
            upload_bps: up,
            download_bps: None,
        };
        cfg.regions = vec![region(None), region(Some(4_000_000))];
        assert_eq!(cfg.cautions().len(), 1, "1 MB at 4 Mbit/s takes 2 s");
        cfg.regions = vec![region(None), region(Some(40_000_000))];
        assert!(cfg.cautions().is_empty(), "the default 20 Mbit/s: 0.4 s");
        // Without a bandwidth model nothing takes time to send.
        cfg.regions.clear();
        (cfg.upload_bps, cfg.download_bps) = (None, None);
        cfg.chain.request_timeout = SimDuration::from_nanos(1);
        assert!(cfg.cautions().is_empty());
    }

    /// Retargeting that cannot happen is cautioned: an epoch longer than the blocks the run
    /// mines (by stop.blocks, or stop.time at the start's rate, whichever is fewer), or a
    /// clamp of 1; so is an ASERT half-life shorter than a block interval.
    #[test]
    fn a_retarget_that_cannot_happen_is_cautioned() {
        let mut cfg = RunConfig::quickstart(); // 200 blocks of 60 s
        cfg.retarget = chain::Retarget::epoch(100, 4.0);
        assert!(cfg.cautions().is_empty());
        cfg.retarget.every = 201;
        let c = cfg.cautions();
        assert!(
            c.len() == 1 && c[0].contains("consensus.difficulty.every (201)"),
            "{c:?}"
        );
        cfg.stop_time = Some(SimDuration::from_secs(60 * 50));
        cfg.retarget.every = 100;
        assert_eq!(cfg.cautions().len(), 1, "stop.time allows about 50 blocks");
        cfg.stop_time = None;
        cfg.retarget.clamp = 1.0;
        let c = cfg.cautions();
        assert!(c.len() == 1 && c[0].contains("clamp = 1"), "{c:?}");
        cfg.retarget = chain::Retarget::FIXED;
        cfg.retarget.every = 1_000_000;
        cfg.retarget.half_life = SimDuration::from_secs(1);
        assert!(
            cfg.cautions().is_empty(),
            "only with the epoch and asert rules"
        );
        cfg.retarget = chain::Retarget::asert(SimDuration::from_secs(60));
        assert!(
            cfg.cautions().is_empty(),
            "a half-life of one block interval"
        );
        cfg.retarget = chain::Retarget::asert(SimDuration::from_secs(59));
        let c = cfg.cautions();
        assert!(c.len() == 1 && c[0].contains("half_life (59s)"), "{c:?}");
        cfg.retarget = chain::Retarget::epoch(201, 1.0);
        assert_eq!(cfg.cautions().len(), 2);
        prose(&cfg.cautions());
    }

    /// Regression: two cautions had lost their line continuations and printed with runs of
    /// spaces in the middle of a sentence.
    fn prose(cautions: &[String]) {
        for c in cautions {
            assert!(!c.contains("  "), "a run of spaces: {c}");
        }
    }

    /// Churn that outlasts mining by far keeps an idle run going: cautioned, against
    /// stop.time or the block count at the start's rate.
    #[test]
    fn churn_long_after_mining_is_cautioned() {
        let mut cfg = RunConfig::quickstart(); // 200 blocks of 60 s: 12,000 s
        cfg.churn = Some(ChurnCfg {
            nodes: vec![0, 1],
            uptime: SimDuration::from_secs(600),
            downtime: SimDuration::from_secs(60),
            from: SimDuration::ZERO,
            until: SimDuration::from_secs(24_000),
        });
        assert!(cfg.cautions().is_empty());
        cfg.churn.as_mut().unwrap().until = SimDuration::from_secs(24_001);
        let c = cfg.cautions();
        assert!(
            c.len() == 1 && c[0].contains("network.churn.until"),
            "{c:?}"
        );
        prose(&c);
        cfg.stop_blocks = None;
        cfg.stop_time = Some(SimDuration::from_secs(20_000));
        assert!(cfg.cautions().is_empty(), "stop.time: 20,000 s");
    }
}
