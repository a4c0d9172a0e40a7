//! The online observer: fed every replica note, block creation and network change, it keeps
//! per-block counters (never a log of events) and produces the run's metrics at the end.

use crate::stats::Dist;
use chain::{BlockId, BlockStore, ChainNote};
use des::{NodeId, SimDuration, SimTime};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Fractions of nodes at which a block's reach time is recorded: k/20 for k = 1..=20.
pub const REACH_STEPS: usize = 20;

/// Reach step k (of [`REACH_STEPS`]) of an audience of `aud` is reached at ⌈aud·(k + 1)/STEPS⌉
/// receivers: the steps reached exactly at receiver number `got` (a run of consecutive steps).
fn steps_reached_at(aud: u32, got: u32) -> std::ops::Range<usize> {
    let (aud, got, steps) = (u64::from(aud), u64::from(got), REACH_STEPS as u64);
    let need = |k: u64| (aud * (k + 1)).div_ceil(steps);
    // The first step whose need is at least `got`, then those whose need is exactly `got`.
    let first = (steps * got.saturating_sub(1) / aud).min(steps);
    let end = (first..steps).find(|&k| need(k) != got).unwrap_or(steps);
    first as usize..end as usize
}

/// One point of the time series.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub t_s: f64,
    /// Fraction of honest online nodes whose tip is the most common tip.
    pub consistency: f64,
    /// Blocks to cut from the tips so all honest online nodes agree.
    pub prefix_depth: u32,
    /// Distinct tips among honest online nodes.
    pub tips: u32,
    /// Fraction of honest nodes online (1 without crashes).
    #[serde(default = "all_online")]
    pub online: f64,
}

/// After a disturbance, the time until all honest nodes shared one tip again.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Recovery {
    pub after: String,
    pub at_s: f64,
    /// `None` if they never did before the run ended.
    pub converged_after_s: Option<f64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Reorgs {
    pub count: u64,
    pub max_depth: u32,
    /// Reorgs by depth, deepest last.
    pub histogram: Vec<DepthCount>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DepthCount {
    pub depth: u32,
    pub count: u64,
}

/// Main-chain share of one class of miners (honest, or a Byzantine strategy).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassShare {
    pub class: String,
    pub nodes: u32,
    /// Its share of the hash power; after scheduled changes, the mean over the main chain's
    /// blocks of the share in force when each was made (what `main_share` should match).
    pub hash_share: f64,
    pub blocks_mined: u64,
    pub main_blocks: u64,
    pub main_share: f64,
}

/// Main-chain share of one miner.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MinerShare {
    pub node: u32,
    /// As [`ClassShare::hash_share`].
    pub hash_share: f64,
    pub blocks_mined: u64,
    pub main_blocks: u64,
    pub main_share: f64,
}

/// Everything measured about the chain in one run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChainMetrics {
    pub blocks_mined: u64,
    pub main_chain_length: u64,
    pub stale_blocks: u64,
    pub fork_rate: f64,
    /// Per block: creation → every honest online node has it on its main chain (or, for a stale
    /// block, has dropped it). Blocks that had not settled when the run ended are not included.
    pub convergence_time_s: Dist,
    pub unconverged_blocks: u64,
    /// Per block: time to reach all honest online nodes (and 50 %, 90 %).
    pub propagation_s: Dist,
    pub propagation_50_s: Dist,
    pub propagation_90_s: Dist,
    pub reorgs: Reorgs,
    /// Honest share of the final main chain.
    pub chain_quality: f64,
    pub classes: Vec<ClassShare>,
    /// Per miner (omitted when there are more than 100 miners).
    pub miners: Vec<MinerShare>,
    pub recovery: Vec<Recovery>,
    pub final_consistency: f64,
    pub final_tips: u32,
    /// Into how many groups the honest online replicas fall at the end, over the links that
    /// still work (crashed nodes, partitions in force and bans removed; Byzantine nodes count
    /// as links): more than one, and they cannot agree whatever the protocol does.
    #[serde(default)]
    pub final_honest_groups: u32,
    pub rejected_blocks: u64,
    /// Times an honest replica gave up fetching a block (`consensus.max_attempts` requests
    /// failed, or nobody was left to ask).
    #[serde(default)]
    pub fetches_abandoned: u64,
    /// Honest online replicas that, at the end, still lack a block of the final main chain
    /// that they gave up fetching (each counts once); under GHOST, where stale blocks weigh in
    /// the fork choice too, any block they gave up. Lost announcements are not sent again, so
    /// with no later block to pull it in, such a replica stays behind (or, under GHOST, may
    /// weigh the subtrees differently and prefer another tip).
    #[serde(default)]
    pub replicas_missing_abandoned: u32,
    /// Honest online replicas with a request still in flight at the end, awaiting its block
    /// or its `consensus.request_timeout`: a run that ran out of `stop.settle` while they were
    /// fetching (say, a block mined late whose request was lost).
    #[serde(default)]
    pub replicas_fetching: u32,
    /// Per block: hash-weighted receive delay over the honest miners (see
    /// [`BlockRecord::exposure_s`]); blocks that did not reach every honest node are left out.
    #[serde(default)]
    pub exposure_s: Dist,
    /// Per final main-chain block: the time since its parent was made (with a fixed difficulty
    /// about T ÷ (1 − stale rate); what a difficulty adjustment steers).
    #[serde(default)]
    pub main_interval_s: Dist,
    /// The difficulty a child of the final main chain's tip gets, × genesis's (1 with a fixed
    /// difficulty).
    #[serde(default = "unit_difficulty")]
    pub final_difficulty: f64,
    /// Stale share of the honest nodes' own blocks.
    #[serde(default)]
    pub honest_fork_rate: f64,
    /// Blocks that fail validation (made by invalid-block attackers; not in any count above).
    #[serde(default)]
    pub invalid_blocks: u64,
    /// Bandwidth honest nodes spent downloading blocks they then rejected (rejections × block
    /// size; filled by the runner).
    #[serde(default)]
    pub invalid_bytes_received: u64,
    /// Mean over watched (eclipsed) nodes of the time their tip differed from the most common
    /// honest tip, at sample resolution.
    #[serde(default)]
    pub eclipsed_divergence_s: f64,
    /// What each attacker achieved (filled by the runner).
    #[serde(default)]
    pub attacks: Vec<AttackReport>,
    /// The fork rate the measured delays predict: the mean over blocks of 1 − exp(−exposure/T)
    /// (Decker & Wattenhofer's model: honest miners, independent exponential mining), T the
    /// mean block interval when the block was made (its difficulty, the hash power then).
    #[serde(default)]
    pub predicted_fork_rate: f64,
    /// Outages of honest nodes (crashes, scheduled or churn).
    #[serde(default)]
    pub honest_outages: u64,
    /// The time-weighted mean fraction of honest nodes online, from the start to the end of
    /// the run (1 without crashes).
    #[serde(default = "all_online")]
    pub honest_online_mean: f64,
}

fn all_online() -> f64 {
    1.0
}

/// One `[[byzantine]]` table's outcome.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AttackReport {
    pub strategy: String,
    pub class: String,
    pub nodes: u32,
    pub hash_share: f64,
    /// Share of the final main chain mined by these nodes (the attacker's revenue).
    pub main_share: f64,
    /// Double spend: payments made / races won / races given up; selfish: tie races.
    pub attempts: u64,
    pub successes: u64,
    pub failures: u64,
    /// successes / (successes + failures).
    pub success_rate: f64,
    pub success_time_s: Dist,
    pub published: u64,
    pub abandoned: u64,
    /// Deepest public chain a release overturned.
    pub max_depth: u32,
    /// Over the samples inside the attack window: mean fraction of honest nodes on the most
    /// common tip, and the largest common-prefix depth.
    #[serde(default)]
    pub during_consistency: f64,
    #[serde(default)]
    pub during_prefix_depth_max: u32,
}

/// What happened to one block: `blocks/<run>.csv`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BlockRecord {
    pub block: u32,
    pub height: u32,
    pub miner: u32,
    pub created_s: f64,
    /// Its difficulty as a multiple of genesis's (1 throughout with a fixed difficulty;
    /// results written before difficulty adjustment existed read as 1).
    #[serde(default = "unit_difficulty")]
    pub difficulty: f64,
    /// On the final main chain.
    pub main: bool,
    /// Seconds from creation until it settled (on every honest replica's main chain, or on none);
    /// empty if it had not settled when the run ended.
    pub convergence_s: Option<f64>,
    pub reach_50_s: Option<f64>,
    pub reach_90_s: Option<f64>,
    pub reach_100_s: Option<f64>,
    /// Hash-weighted mean delay until the honest miners had it: sum over honest miners of
    /// (hash share × receive delay), in seconds. Competing blocks are found at rate 1/T per unit
    /// of hash power that does not have the block yet, so P(fork) ≈ 1 − exp(−exposure/T)
    /// (Decker & Wattenhofer). Empty unless every honest node received it.
    pub exposure_s: Option<f64>,
}

fn unit_difficulty() -> f64 {
    1.0
}

/// Per-block reach curve for the propagation CDF: seconds to reach k/20 of the nodes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReachCurve {
    pub block: u32,
    pub reach_s: Vec<f64>,
}

const NEVER: u64 = u64::MAX;

pub struct Observer {
    honest: Vec<bool>,
    online: Vec<bool>,
    /// Class index per node (0 = honest) and class names.
    class: Vec<u16>,
    class_names: Vec<String>,
    hash_share: Vec<f64>,
    honest_online: u32,
    /// Honest nodes, online or not.
    honest_total: u32,
    tip: Vec<BlockId>,
    // Per block.
    created: Vec<SimTime>,
    main_count: Vec<u32>,
    conv_in: Vec<u64>,
    conv_out: Vec<u64>,
    recv: Vec<u32>,
    /// Honest online nodes when the block was created (the 100 % mark).
    audience: Vec<u32>,
    reach: Vec<[u64; REACH_STEPS]>,
    /// Per block: sum of hash share × receive delay (seconds) over honest receivers.
    exposure: Vec<f64>,
    tip_count: Vec<u32>,
    live_tips: Vec<BlockId>,
    reorgs: Reorgs,
    reorg_depths: BTreeMap<u32, u64>,
    samples: Vec<Sample>,
    pending: Vec<(String, SimTime)>,
    recovery: Vec<Recovery>,
    rejected: u64,
    /// Fetches given up by honest replicas.
    abandoned: u64,
    /// Per honest replica, the blocks it gave up fetching and has not accepted since (kept
    /// small: a block that arrives after all leaves the list).
    missing: BTreeMap<NodeId, Vec<BlockId>>,
    /// Every block weighs in the fork choice (GHOST): a missing stale block counts too.
    all_blocks_weigh: bool,
    blocks: Vec<BlockRecord>,
    interval_s: f64,
    /// The hash shares in force, from the start and after each scheduled change (normalised to
    /// that time's total), with that total ÷ the start's; and per block, the index of the ones
    /// in force when it was made (what its miner's share of the chain should be measured
    /// against).
    share_epochs: Vec<(Vec<f64>, f64)>,
    block_epoch: Vec<u32>,
    /// Watched nodes (eclipse victims) and their accumulated divergence.
    watch: Vec<NodeId>,
    diverged_node_s: f64,
    last_sample: SimTime,
    /// Σ honest nodes online × time (ns) up to `online_since`, and outages of honest nodes.
    online_node_ns: u128,
    online_since: SimTime,
    outages: u64,
}

impl Observer {
    /// `class[i]` is node i's class index into `class_names` (index 0 must be "honest").
    /// `interval` is the mean block interval (for the predicted fork rate).
    pub fn new(
        class: Vec<u16>,
        class_names: Vec<String>,
        hash_share: Vec<f64>,
        interval: SimDuration,
    ) -> Self {
        let n = class.len();
        let honest: Vec<bool> = class.iter().map(|&c| c == 0).collect();
        let h = honest.iter().filter(|&&x| x).count() as u32;
        Observer {
            honest,
            online: vec![true; n],
            class,
            class_names,
            hash_share,
            honest_online: h,
            honest_total: h,
            tip: vec![BlockId::GENESIS; n],
            created: vec![SimTime::ZERO],
            main_count: vec![h],
            conv_in: vec![0],
            conv_out: vec![NEVER],
            recv: vec![h],
            audience: vec![h],
            reach: vec![[0; REACH_STEPS]],
            exposure: vec![0.0],
            tip_count: vec![h],
            live_tips: vec![BlockId::GENESIS],
            reorgs: Reorgs::default(),
            reorg_depths: BTreeMap::new(),
            samples: vec![],
            pending: vec![],
            recovery: vec![],
            rejected: 0,
            abandoned: 0,
            missing: BTreeMap::new(),
            all_blocks_weigh: false,
            blocks: vec![],
            interval_s: interval.as_secs_f64(),
            share_epochs: vec![],
            block_epoch: vec![0],
            watch: vec![],
            diverged_node_s: 0.0,
            last_sample: SimTime::ZERO,
            online_node_ns: 0,
            online_since: SimTime::ZERO,
            outages: 0,
        }
    }

    fn counts(&self, n: NodeId) -> bool {
        self.honest[n.idx()] && self.online[n.idx()]
    }

    fn grow(&mut self, b: BlockId) {
        while self.created.len() <= b.idx() {
            self.created.push(SimTime::ZERO);
            self.main_count.push(0);
            self.conv_in.push(NEVER);
            self.conv_out.push(NEVER);
            self.recv.push(0);
            self.audience.push(self.honest_online);
            self.reach.push([NEVER; REACH_STEPS]);
            self.exposure.push(0.0);
            self.tip_count.push(0);
            self.block_epoch.push(0);
        }
    }

    /// The hash power changed: from now on node i has `shares[i]` of it (shares of the new
    /// total, which is `relative_total` × the start's). Blocks made from now on are measured
    /// against these shares, and their exposure weighs receivers by them.
    pub fn hash_power_changed(&mut self, shares: Vec<f64>, relative_total: f64) {
        if self.share_epochs.is_empty() {
            self.share_epochs.push((self.hash_share.clone(), 1.0));
        }
        self.hash_share = shares.clone();
        self.share_epochs.push((shares, relative_total));
    }

    pub fn block_created(&mut self, now: SimTime, b: BlockId) {
        self.grow(b);
        self.created[b.idx()] = now;
        self.audience[b.idx()] = self.honest_online;
        self.block_epoch[b.idx()] = self.share_epochs.len().saturating_sub(1) as u32;
    }

    fn set_main(&mut self, now: SimTime, b: BlockId, up: bool) {
        let c = &mut self.main_count[b.idx()];
        if up {
            *c += 1;
        } else {
            *c -= 1;
        }
        let c = *c;
        // Converged since the last time it became so (a node going down or coming back that
        // has the block changes nothing: it used to restart every block's clock).
        let conv = &mut self.conv_in[b.idx()];
        if c != self.honest_online {
            *conv = NEVER;
        } else if *conv == NEVER {
            *conv = now.as_nanos();
        }
        if c == 0 {
            self.conv_out[b.idx()] = now.as_nanos();
        } else {
            self.conv_out[b.idx()] = NEVER;
        }
    }

    fn set_tip_count(&mut self, b: BlockId, up: bool) {
        let c = &mut self.tip_count[b.idx()];
        if up {
            *c += 1;
            if *c == 1 {
                self.live_tips.push(b);
            }
        } else {
            *c -= 1;
            if *c == 0 {
                self.live_tips.retain(|&x| x != b);
            }
        }
    }

    /// Moves the main-chain counts from `old`'s chain to `new`'s; returns blocks removed.
    fn move_chain(&mut self, now: SimTime, store: &BlockStore, old: BlockId, new: BlockId) -> u32 {
        let (mut a, mut b) = (old, new);
        let mut removed = 0;
        while a != b {
            let (ha, hb) = (store.height(a), store.height(b));
            if ha >= hb {
                self.set_main(now, a, false);
                removed += 1;
                a = store.parent(a);
            }
            if hb >= ha {
                self.set_main(now, b, true);
                b = store.parent(b);
            }
        }
        removed
    }

    pub fn note(&mut self, now: SimTime, store: &BlockStore, node: NodeId, note: ChainNote) {
        match note {
            ChainNote::Accepted(b) => {
                if !self.counts(node) {
                    return;
                }
                if !self.missing.is_empty() {
                    self.no_longer_missing(node, b);
                }
                self.grow(b);
                let r = &mut self.recv[b.idx()];
                *r += 1;
                let got = *r;
                let delay = now.saturating_since(self.created[b.idx()]).as_secs_f64();
                self.exposure[b.idx()] += self.hash_share[node.idx()] * delay;
                let aud = self.audience[b.idx()].max(1);
                for k in steps_reached_at(aud, got) {
                    if self.reach[b.idx()][k] == NEVER {
                        self.reach[b.idx()][k] = now.as_nanos();
                    }
                }
            }
            ChainNote::Tip { old, new } => {
                if !self.counts(node) {
                    self.tip[node.idx()] = new;
                    return;
                }
                self.grow(new);
                let removed = self.move_chain(now, store, old, new);
                if removed > 0 {
                    self.reorgs.count += 1;
                    self.reorgs.max_depth = self.reorgs.max_depth.max(removed);
                    *self.reorg_depths.entry(removed).or_default() += 1;
                }
                self.set_tip_count(old, false);
                self.set_tip_count(new, true);
                self.tip[node.idx()] = new;
                self.check_recovered(now);
            }
            ChainNote::Rejected { .. } => self.rejected += 1,
            // The runner counts these (they are about the delivery mode, not the chain).
            ChainNote::SameInstant(_) => {}
            ChainNote::GaveUp(b) => {
                if self.counts(node) {
                    self.abandoned += 1;
                    let blocks = self.missing.entry(node).or_default();
                    if !blocks.contains(&b) {
                        blocks.push(b);
                    }
                }
            }
        }
    }

    /// A node crashed: it stops counting until it returns.
    pub fn node_down(&mut self, now: SimTime, store: &BlockStore, node: NodeId) {
        if !self.counts(node) {
            self.online[node.idx()] = false;
            return;
        }
        // Out of the count first: its blocks stay converged among the nodes still online.
        self.account_online(now);
        self.outages += 1;
        self.online[node.idx()] = false;
        self.honest_online -= 1;
        let t = self.tip[node.idx()];
        self.move_chain(now, store, t, BlockId::GENESIS);
        self.set_main(now, BlockId::GENESIS, false);
        self.set_tip_count(t, false);
        self.recheck_all(now);
    }

    /// Adds the time since the last change in the count of honest nodes online.
    fn account_online(&mut self, now: SimTime) {
        let dt = now.saturating_since(self.online_since).as_nanos();
        self.online_node_ns += u128::from(self.honest_online) * u128::from(dt);
        self.online_since = now;
    }

    pub fn node_up(&mut self, now: SimTime, store: &BlockStore, node: NodeId) {
        if self.online[node.idx()] || !self.honest[node.idx()] {
            self.online[node.idx()] = true;
            return;
        }
        self.account_online(now);
        self.online[node.idx()] = true;
        self.honest_online += 1;
        let t = self.tip[node.idx()];
        self.set_main(now, BlockId::GENESIS, true);
        self.move_chain(now, store, BlockId::GENESIS, t);
        self.set_tip_count(t, true);
        self.recheck_all(now);
    }

    fn recheck_all(&mut self, now: SimTime) {
        for i in 0..self.main_count.len() {
            let c = self.main_count[i];
            if c == self.honest_online && self.conv_in[i] == NEVER {
                self.conv_in[i] = now.as_nanos();
            } else if c != self.honest_online {
                self.conv_in[i] = NEVER;
            }
        }
    }

    /// Something disturbed the replicas (a partition healed, mining stopped, an attack ended).
    pub fn disturbance(&mut self, now: SimTime, what: &str) {
        self.pending.push((what.to_string(), now));
        self.check_recovered(now);
    }

    fn check_recovered(&mut self, now: SimTime) {
        if self.live_tips.len() == 1 && !self.pending.is_empty() {
            for (what, at) in self.pending.drain(..) {
                self.recovery.push(Recovery {
                    after: what,
                    at_s: at.as_secs_f64(),
                    converged_after_s: Some((now - at).as_secs_f64()),
                });
            }
        }
    }

    /// The most common tip (ties: higher, then lower id) and its share.
    fn most_common(&self, store: &BlockStore) -> (BlockId, f64) {
        let best = self
            .live_tips
            .iter()
            .copied()
            .max_by_key(|&b| {
                (
                    self.tip_count[b.idx()],
                    store.height(b),
                    std::cmp::Reverse(b),
                )
            })
            .unwrap_or(BlockId::GENESIS);
        (
            best,
            f64::from(self.tip_count[best.idx()]) / f64::from(self.honest_online.max(1)),
        )
    }

    /// `node` accepted `b`: if it had given up fetching it, it no longer misses it.
    fn no_longer_missing(&mut self, node: NodeId, b: BlockId) {
        if let Some(blocks) = self.missing.get_mut(&node) {
            blocks.retain(|&x| x != b);
            if blocks.is_empty() {
                self.missing.remove(&node);
            }
        }
    }

    /// See `ChainMetrics::replicas_missing_abandoned`.
    fn behind_after_give_up(&self, on_main: &[bool]) -> u32 {
        let weighs = |b: &BlockId| self.all_blocks_weigh || on_main.get(b.idx()) == Some(&true);
        let behind = (self.missing.iter())
            .filter(|&(&n, blocks)| self.counts(n) && blocks.iter().any(weighs));
        behind.count() as u32
    }

    /// The fork choice weighs every block, stale ones too (GHOST): a replica missing any block
    /// it gave up fetching counts in `ChainMetrics::replicas_missing_abandoned`.
    pub fn all_blocks_weigh(&mut self, on: bool) {
        self.all_blocks_weigh = on;
    }

    fn prefix_depth(&self, store: &BlockStore) -> u32 {
        let mut it = self.live_tips.iter().copied();
        let Some(first) = it.next() else { return 0 };
        let lca = it.fold(first, |acc, t| store.common_ancestor(acc, t));
        let top = self
            .live_tips
            .iter()
            .map(|&t| store.height(t))
            .max()
            .unwrap_or(0);
        top - store.height(lca)
    }

    /// Tracks how long these nodes' tips differ from the most common honest tip.
    pub fn watch(&mut self, nodes: Vec<NodeId>) {
        self.watch = nodes;
    }

    pub fn sample(&mut self, now: SimTime, store: &BlockStore) {
        let (top, share) = self.most_common(store);
        let dt = now.saturating_since(self.last_sample).as_secs_f64();
        self.last_sample = now;
        let off = self
            .watch
            .iter()
            .filter(|n| self.tip[n.idx()] != top)
            .count();
        self.diverged_node_s += off as f64 * dt;
        self.samples.push(Sample {
            t_s: now.as_secs_f64(),
            consistency: share,
            prefix_depth: self.prefix_depth(store),
            tips: self.live_tips.len() as u32,
            online: f64::from(self.honest_online) / f64::from(self.honest_total.max(1)),
        });
    }

    /// Distinct tips among honest online nodes right now.
    pub fn live_tips(&self) -> usize {
        self.live_tips.len()
    }

    /// Keeps every other sample (the first, third, …): on an evenly spaced series, the same
    /// series at twice the spacing.
    pub fn halve_samples(&mut self) {
        let mut i = 0;
        self.samples.retain(|_| {
            i += 1;
            i % 2 == 1
        });
    }

    pub fn samples(&self) -> &[Sample] {
        &self.samples
    }

    /// Reach curves of the median and p90 blocks by time-to-all (for the propagation CDF).
    pub fn reach_curves(&self) -> Vec<ReachCurve> {
        let mut full: Vec<(u64, usize)> = (1..self.reach.len())
            .filter(|&i| self.reach[i][REACH_STEPS - 1] != NEVER)
            .map(|i| {
                (
                    self.reach[i][REACH_STEPS - 1] - self.created[i].as_nanos(),
                    i,
                )
            })
            .collect();
        full.sort();
        if full.is_empty() {
            return vec![];
        }
        let pick =
            |q: f64| full[((q * full.len() as f64).ceil() as usize).clamp(1, full.len()) - 1].1;
        [pick(0.5), pick(0.9)]
            .into_iter()
            .map(|i| ReachCurve {
                block: i as u32,
                reach_s: self.reach[i]
                    .iter()
                    .map(|&t| SimDuration::from_nanos(t - self.created[i].as_nanos()).as_secs_f64())
                    .collect(),
            })
            .collect()
    }

    /// Per-block records, filled by [`Observer::finish`].
    pub fn blocks(&self) -> &[BlockRecord] {
        &self.blocks
    }

    /// When block `i` settled: every honest online replica has it on its main chain (a final
    /// main-chain block) or none has (a stale block; one never adopted settled at creation).
    /// `NEVER` if it had not settled when the run ended.
    fn settled_at(&self, i: usize, on_main: bool, created: SimTime) -> u64 {
        let count = self.main_count[i];
        if on_main {
            if count == self.honest_online {
                self.conv_in[i]
            } else {
                NEVER
            }
        } else if count != 0 {
            NEVER
        } else if self.conv_out[i] == NEVER {
            created.as_nanos()
        } else {
            self.conv_out[i]
        }
    }

    /// Final metrics. The final main chain is the chain of the most common honest tip.
    pub fn finish(&mut self, now: SimTime, store: &BlockStore) -> ChainMetrics {
        for (what, at) in self.pending.drain(..) {
            self.recovery.push(Recovery {
                after: what,
                at_s: at.as_secs_f64(),
                converged_after_s: None,
            });
        }
        let (main_tip, consistency) = self.most_common(store);
        let main = store.chain_to(main_tip);
        let mut on_main = vec![false; store.len()];
        for b in &main {
            on_main[b.idx()] = true;
        }
        let main_len = main.len() as u64 - 1;
        let mut conv = vec![];
        let mut unconverged = 0;
        let (mut p100, mut p50, mut p90) = (vec![], vec![], vec![]);
        let classes = self.class_names.len();
        let mut class_mined = vec![0u64; classes];
        let mut class_main = vec![0u64; classes];
        let n = self.class.len();
        let mut miner_mined = vec![0u64; n];
        let mut miner_main = vec![0u64; n];
        let start_shares = self.share_epochs.first().map_or(&self.hash_share, |e| &e.0);
        let total_hash: f64 = start_shares.iter().sum::<f64>().max(f64::MIN_POSITIVE);
        // Each node's share of the hash power (÷ `norm`), weighted by when the main chain's
        // blocks were made (the start's shares when nothing changed).
        let epoch_of = |b: BlockId| self.block_epoch.get(b.idx()).copied().unwrap_or(0) as usize;
        let (expected, norm): (Vec<f64>, f64) = if self.share_epochs.len() <= 1 || main_len == 0 {
            (start_shares.clone(), total_hash)
        } else {
            let mut per_epoch = vec![0u64; self.share_epochs.len()];
            for &b in &main[1..] {
                per_epoch[epoch_of(b)] += 1;
            }
            let mut sum = vec![0.0; n];
            for (e, &k) in per_epoch.iter().enumerate().filter(|x| *x.1 > 0) {
                for (x, s) in sum.iter_mut().zip(&self.share_epochs[e].0) {
                    *x += k as f64 * s;
                }
            }
            (sum.iter().map(|x| x / main_len as f64).collect(), 1.0)
        };
        // Per block that reached every honest node: its exposure and the mean block interval
        // when it was made (its difficulty, and the hash power then).
        let mut exposed: Vec<(f64, f64)> = vec![];
        self.blocks.clear();
        let mut invalid = 0;
        #[allow(clippy::needless_range_loop)] // i indexes several per-block vectors and the store
        for i in 1..store.len() {
            let b = BlockId(i as u32);
            if store.check(b).is_err() {
                invalid += 1;
                continue;
            }
            let created = store.get(b).created;
            let settled = self.settled_at(i, on_main[i], created);
            if settled == NEVER {
                unconverged += 1;
            } else {
                conv.push(
                    SimTime::from_nanos(settled)
                        .saturating_since(created)
                        .as_secs_f64(),
                );
            }
            let secs = |t: u64| {
                (t != NEVER).then(|| {
                    SimTime::from_nanos(t)
                        .saturating_since(created)
                        .as_secs_f64()
                })
            };
            let r = self.reach[i];
            let (r50, r90, r100) = (secs(r[9]), secs(r[17]), secs(r[REACH_STEPS - 1]));
            p50.extend(r50);
            p90.extend(r90);
            p100.extend(r100);
            let blk = store.get(b);
            self.blocks.push(BlockRecord {
                block: b.0,
                height: blk.height,
                miner: blk.miner.0,
                created_s: created.as_secs_f64(),
                difficulty: blk.difficulty as f64 / chain::GENESIS_DIFFICULTY as f64,
                main: on_main[i],
                convergence_s: secs(settled),
                reach_50_s: r50,
                reach_90_s: r90,
                reach_100_s: r100,
                exposure_s: r100.map(|_| self.exposure[i] / total_hash),
            });
            if r100.is_some() {
                let relative_total = self.share_epochs.get(epoch_of(b)).map_or(1.0, |e| e.1);
                let d = blk.difficulty as f64 / chain::GENESIS_DIFFICULTY as f64;
                exposed.push((
                    self.exposure[i] / total_hash,
                    self.interval_s * d / relative_total,
                ));
            }
            let m = blk.miner;
            if let Some(&c) = self.class.get(m.idx()) {
                class_mined[c as usize] += 1;
                miner_mined[m.idx()] += 1;
                if on_main[i] {
                    class_main[c as usize] += 1;
                    miner_main[m.idx()] += 1;
                }
            }
        }
        let share = |x: u64| {
            if main_len == 0 {
                0.0
            } else {
                x as f64 / main_len as f64
            }
        };
        let classes_out: Vec<ClassShare> = (0..classes)
            .map(|c| {
                let members: Vec<usize> = (0..n).filter(|&i| self.class[i] as usize == c).collect();
                ClassShare {
                    class: self.class_names[c].clone(),
                    nodes: members.len() as u32,
                    hash_share: members.iter().map(|&i| expected[i]).sum::<f64>() / norm,
                    blocks_mined: class_mined[c],
                    main_blocks: class_main[c],
                    main_share: share(class_main[c]),
                }
            })
            .collect();
        let miner_ids: Vec<usize> = (0..n)
            .filter(|&i| start_shares[i] > 0.0 || self.share_epochs.iter().any(|e| e.0[i] > 0.0))
            .collect();
        let miners = if miner_ids.len() <= 100 {
            miner_ids
                .iter()
                .map(|&i| MinerShare {
                    node: i as u32,
                    hash_share: expected[i] / norm,
                    blocks_mined: miner_mined[i],
                    main_blocks: miner_main[i],
                    main_share: share(miner_main[i]),
                })
                .collect()
        } else {
            vec![]
        };
        self.account_online(now);
        let honest_nodes = u128::from(self.honest_total);
        let honest_online_mean = match honest_nodes * u128::from(now.as_nanos()) {
            0 => 1.0,
            all => self.online_node_ns as f64 / all as f64,
        };
        let mined = store.len() as u64 - 1 - invalid;
        let honest_mined = class_mined.first().copied().unwrap_or(0);
        let honest_main = class_main.first().copied().unwrap_or(0);
        let mut exposure: Vec<f64> = self.blocks.iter().filter_map(|b| b.exposure_s).collect();
        let mut main_interval: Vec<f64> = (main.windows(2))
            .map(|w| {
                let (a, b) = (store.get(w[0]).created, store.get(w[1]).created);
                b.saturating_since(a).as_secs_f64()
            })
            .collect();
        ChainMetrics {
            blocks_mined: mined,
            main_chain_length: main_len,
            stale_blocks: mined - main_len,
            fork_rate: if mined == 0 {
                0.0
            } else {
                (mined - main_len) as f64 / mined as f64
            },
            convergence_time_s: Dist::of(&mut conv),
            unconverged_blocks: unconverged,
            propagation_s: Dist::of(&mut p100),
            propagation_50_s: Dist::of(&mut p50),
            propagation_90_s: Dist::of(&mut p90),
            exposure_s: Dist::of(&mut exposure),
            main_interval_s: Dist::of(&mut main_interval),
            final_difficulty: store.next_difficulty(main_tip) as f64
                / chain::GENESIS_DIFFICULTY as f64,
            predicted_fork_rate: if exposed.is_empty() || self.interval_s <= 0.0 {
                0.0
            } else {
                // Summed in the order of the exposures (as the distribution sorts them).
                exposed.sort_by(|a, b| a.0.total_cmp(&b.0));
                exposed
                    .iter()
                    .map(|&(e, t)| 1.0 - libm::exp(-e / t))
                    .sum::<f64>()
                    / exposed.len() as f64
            },
            reorgs: Reorgs {
                histogram: self
                    .reorg_depths
                    .iter()
                    .map(|(&depth, &count)| DepthCount { depth, count })
                    .collect(),
                ..self.reorgs.clone()
            },
            chain_quality: classes_out.first().map(|c| c.main_share).unwrap_or(0.0),
            classes: classes_out,
            miners,
            recovery: self.recovery.clone(),
            final_consistency: consistency,
            final_tips: self.live_tips.len() as u32,
            final_honest_groups: 0, // the runner's: it knows the links
            rejected_blocks: self.rejected,
            fetches_abandoned: self.abandoned,
            replicas_missing_abandoned: self.behind_after_give_up(&on_main),
            replicas_fetching: 0, // the runner's: it sees the replicas' requests
            honest_outages: self.outages,
            honest_online_mean,
            honest_fork_rate: if honest_mined == 0 {
                0.0
            } else {
                (honest_mined - honest_main) as f64 / honest_mined as f64
            },
            invalid_blocks: invalid,
            invalid_bytes_received: 0,
            eclipsed_divergence_s: if self.watch.is_empty() {
                0.0
            } else {
                self.diverged_node_s / self.watch.len() as f64
            },
            attacks: vec![],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An observer of `n` honest replicas of equal hash share, sampling every 600 s.
    fn honest_observer(n: usize) -> Observer {
        Observer::new(
            vec![0; n],
            vec!["honest".into()],
            vec![1.0 / n as f64; n],
            SimDuration::from_secs(600),
        )
    }

    /// Regression (scenario fuzz): a node going down, or coming back, restarted the convergence
    /// clock of every block it had, so every block of a run with one late crash "converged" at
    /// the crash (2,184 s median instead of 30 s). A block converges when the last honest online
    /// replica takes it onto its main chain; nodes leaving and returning with it change nothing.
    #[test]
    fn crashes_do_not_restart_converged_blocks() {
        let mut store = BlockStore::new(3);
        let mut obs = honest_observer(3);
        let s = |x: u64| SimTime::ZERO + SimDuration::from_secs(x);
        let b = store.extend(BlockId::GENESIS, NodeId(0), s(0), 1);
        obs.block_created(s(0), b);
        for i in 0..3 {
            obs.note(s(1 + i), &store, NodeId(i as u32), ChainNote::Accepted(b));
            let tip = ChainNote::Tip {
                old: BlockId::GENESIS,
                new: b,
            };
            obs.note(s(1 + i), &store, NodeId(i as u32), tip);
        }
        obs.node_down(s(100), &store, NodeId(2));
        obs.node_up(s(150), &store, NodeId(2));
        // Node 1 goes down before the second block reaches it: the block converges then.
        let c = store.extend(b, NodeId(0), s(200), 2);
        obs.block_created(s(200), c);
        for i in [0, 2] {
            obs.note(s(201), &store, NodeId(i), ChainNote::Accepted(c));
            obs.note(s(201), &store, NodeId(i), ChainNote::Tip { old: b, new: c });
        }
        obs.node_down(s(300), &store, NodeId(1));
        let m = obs.finish(s(400), &store);
        assert_eq!(m.convergence_time_s.count, 2);
        assert_eq!(
            m.convergence_time_s.max, 100.0,
            "the second block, at node 1's crash"
        );
        let first = m.convergence_time_s.mean * 2.0 - 100.0;
        assert!(
            (first - 3.0).abs() < 1e-9,
            "the first block converged at 3 s, not {first}"
        );
    }

    /// A replica that gave up a block and got it later is not behind; one still without a
    /// main-chain block it gave up is, once however often it gave up; a given-up stale block
    /// does not count, except under GHOST.
    #[test]
    fn replicas_behind_after_a_give_up_are_those_still_missing_a_main_block() {
        // Under GHOST a given-up stale block weighs too, and its replica counts.
        for (ghost, behind) in [(false, 1), (true, 2)] {
            let mut store = BlockStore::new(4);
            let mut obs = honest_observer(4);
            obs.all_blocks_weigh(ghost);
            let s = |x: u64| SimTime::ZERO + SimDuration::from_secs(x);
            let b = store.extend(BlockId::GENESIS, NodeId(0), s(0), 1);
            let stale = store.extend(BlockId::GENESIS, NodeId(1), s(0), 2);
            for x in [b, stale] {
                obs.block_created(s(0), x);
            }
            let gave_up = |obs: &mut Observer, n: u32, x: BlockId| {
                obs.note(s(5), &store, NodeId(n), ChainNote::GaveUp(x));
            };
            gave_up(&mut obs, 1, b); // and gets it later
            gave_up(&mut obs, 2, b); // twice, and never gets it
            gave_up(&mut obs, 2, b);
            gave_up(&mut obs, 3, stale); // gives up only the stale block
            for n in [0, 1, 3] {
                obs.note(s(9), &store, NodeId(n), ChainNote::Accepted(b));
                let tip = ChainNote::Tip {
                    old: BlockId::GENESIS,
                    new: b,
                };
                obs.note(s(9), &store, NodeId(n), tip);
            }
            let m = obs.finish(s(20), &store);
            assert_eq!(m.fetches_abandoned, 4);
            assert_eq!(m.replicas_missing_abandoned, behind, "ghost {ghost}");
        }
    }

    /// The steps reached at each receiver are exactly those whose threshold equals its number
    /// (the definition, checked step by step), for audiences below, at and above the step count.
    #[test]
    fn reach_steps_match_their_definition() {
        for aud in 1..=130u32 {
            let mut seen = [0u32; REACH_STEPS];
            for got in 1..=aud + 2 {
                let want: Vec<usize> = (0..REACH_STEPS)
                    .filter(|&k| {
                        (u64::from(aud) * (k as u64 + 1)).div_ceil(REACH_STEPS as u64)
                            == u64::from(got)
                    })
                    .collect();
                let got_steps: Vec<usize> = steps_reached_at(aud, got).collect();
                assert_eq!(got_steps, want, "aud {aud}, receiver {got}");
                for k in got_steps {
                    seen[k] += 1;
                }
            }
            assert!(seen.iter().all(|&c| c == 1), "aud {aud}: every step once");
        }
    }
}
