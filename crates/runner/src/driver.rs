//! The run-level driver: the mining race, metric samples, the stop condition.

use chain::{
    BlockId, BlockStore, ChainNode, ChainNote, Invalid, Template, GENESIS_DIFFICULTY, NO_MINER,
};
use des::{Event, Node, NodeId, SimDuration, SimRng, SimTime, StopReason};
use metrics::Observer;
use net::{Driver, NetEvent, World};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Live progress of a run, readable from another thread (for progress bars): simulated
/// milliseconds and blocks mined. Written with relaxed stores; never read by the simulation.
#[derive(Debug, Default)]
pub struct Progress {
    pub sim_ms: AtomicU64,
    pub blocks: AtomicU64,
}

pub const MINE: u64 = 1;
pub const SAMPLE: u64 = 2;
pub const STOP_MINING: u64 = 3;
/// Attack `i` starts at tag `ATTACK + 2i` and ends at `ATTACK + 2i + 1`.
pub const ATTACK: u64 = 1 << 20;
/// Hash power change `i` has tag `HASH_CHANGE + i`.
pub const HASH_CHANGE: u64 = 1 << 30;
/// A mining win drawn in generation `g > 0` has tag `MINE_GEN | g` (generation 0 is `MINE`).
/// A draw is abandoned, and its event ignored when it comes, by moving to the next generation:
/// when mining stops, and when the hash power changes (the race is drawn again at the new rate,
/// which memorylessness makes exact).
pub const MINE_GEN: u64 = 1 << 40;

des::named_enum! {
    /// Why no hash power was left for good (mining stopped early: `no-hash-power`).
    pub enum Starved {
        /// Every node with hash power crashed with no restart to come.
        Crashes = "crashes",
        /// Scheduled hash power changes left none.
        Changes = "hash-power-changes",
        /// Some crashed for good, the others' hash power changed to none.
        CrashesAndChanges = "crashes-and-hash-power-changes",
    }
}

impl Starved {
    /// In words, for warnings.
    pub fn says(self) -> &'static str {
        match self {
            Starved::Crashes => "every miner was down for good",
            Starved::Changes => "hash power changes left no node with hash power",
            Starved::CrashesAndChanges => {
                "every node with hash power was down for good or had it changed to none"
            }
        }
    }
}

/// The generation of a mining tag, `None` if it is not one.
pub fn mine_generation(tag: u64) -> Option<u64> {
    match tag {
        MINE => Some(0),
        t if t & MINE_GEN != 0 && t < MINE_GEN << 1 => Some(t & (MINE_GEN - 1)),
        _ => None,
    }
}

/// The most time-series samples a run keeps: past it, the series is thinned to every other
/// sample and the interval doubled (memory and sampling work stay bounded on any run length).
pub const MAX_SAMPLES: usize = 1 << 17;

/// Running sums of `weights` (what `SimRng::pick_cumulative` draws from).
fn cumulative(weights: &[u64]) -> Vec<u64> {
    let mut acc = 0u64;
    weights
        .iter()
        .map(|w| {
            acc += w;
            acc
        })
        .collect()
}

/// Creates the block(s) a win yields under `t`; the second is a twin's.
fn make_blocks(
    store: &mut BlockStore,
    t: Template,
    miner: NodeId,
    now: SimTime,
    rng: &mut SimRng,
) -> (BlockId, Option<BlockId>) {
    match t {
        Template::Valid(p) => (store.extend(p, miner, now, rng.next_u64()), None),
        Template::Twin(p) => {
            let a = store.extend(p, miner, now, rng.next_u64());
            (a, Some(store.extend(p, miner, now, rng.next_u64())))
        }
        Template::Invalid { parent, kind } => {
            let h = store.height(parent);
            let b = match kind {
                Invalid::BadParent => {
                    store.create(BlockId::NONE, h + 1, miner, now, rng.next_u64())
                }
                Invalid::BadHeight => store.create(parent, h + 2, miner, now, rng.next_u64()),
                Invalid::BadMiner => store.create(parent, h + 1, NO_MINER, now, rng.next_u64()),
            };
            (b, None)
        }
    }
}

/// The block a win under `t` builds on: its difficulty is that block's next difficulty.
fn template_parent(t: Template) -> BlockId {
    match t {
        Template::Valid(p) | Template::Twin(p) => p,
        Template::Invalid { parent, .. } => parent,
    }
}

/// Mining as one global exponential race: the next block comes after Exp(interval), and its miner
/// is drawn by hash share. Memorylessness makes this exact, and a tip switch needs no
/// cancelling: a miner that switched tips simply builds on its new tip when it wins.
///
/// When the difficulty varies (retargeting), a miner finds blocks at a rate ∝ its hash power ÷
/// the difficulty of the block it works on, which changes with its tip. Each draw then runs at
/// the rate the race would have if every miner worked at the lowest difficulty any of them
/// works at when it is drawn (`ChainDriver::bound`), and a win by a miner working at
/// difficulty `d` stands with probability `bound / d` (thinning a Poisson process: exact while
/// no miner's rate exceeds the bound's). A miner whose work drops below the bound — a note
/// from it, or an attack window or restart changing what it mines on — has the race drawn
/// again at the lower bound (memorylessness makes that exact too); every win checks that none
/// is below. With a fixed difficulty every win stands and no draw is made.
pub struct ChainDriver {
    pub observer: Observer,
    rng: SimRng,
    /// Per node, its hash weight at the start, and now (after scheduled changes).
    weights0: Vec<u64>,
    weights: Vec<u64>,
    cumulative: Vec<u64>,
    /// The total hash weight at the start.
    total0: u64,
    /// The mean block interval at the start's total hash power and difficulty.
    interval_ns: f64,
    /// The lowest difficulty a miner with hash power worked at when the pending win was drawn
    /// (kept no higher than any works at since).
    bound: u64,
    /// Wins thinned away: their miner worked at a difficulty above `bound`.
    pub thinned_wins: u64,
    /// Absorbed announcements applied at the very nanosecond of another event, as the
    /// replicas reported them ([`ChainNote::SameInstant`]).
    pub same_instant_announcements: u64,
    /// The generation of the win drawn and still to come, if one is (see [`MINE_GEN`]).
    pending_mine: Option<u64>,
    mine_gen: u64,
    /// Scheduled hash power changes, by tag index, and whether each has been applied.
    pub hash_changes: Vec<(SimTime, Vec<u32>, f64)>,
    changes_applied: Vec<bool>,
    target_blocks: Option<u64>,
    stop_time: Option<SimTime>,
    sample_every: SimDuration,
    pub mined: u64,
    /// Wins by a crashed miner (no block: its hash power is lost while it is down).
    pub lost_wins: u64,
    mining: bool,
    pub mining_stopped_at: Option<SimTime>,
    /// Blocks mined after the stop condition to break a tie the replicas could not resolve.
    pub tie_break_blocks: u64,
    /// The last sample at which the network was busy (messages on their way, node timers
    /// set, or a partition or crash change to come).
    pub busy_at: Option<SimTime>,
    /// How long the replicas get to agree once mining has stopped and the last scheduled
    /// network change is past.
    pub settle: SimDuration,
    /// Set when mining stops: past it, a sample that finds the replicas apart ends the run.
    deadline: Option<SimTime>,
    /// Per node, the last time a scheduled restart brings it back (zero if never).
    comeback: Vec<SimTime>,
    /// Set when no hash power is left for good (before or after mining's stop): why.
    pub starved_by: Option<Starved>,
    /// Mining stopped early for that (`no-hash-power`).
    pub starved: bool,
    pub progress: Option<Arc<Progress>>,
    /// Per `[[byzantine]]` table, its attack.
    pub attacks: Vec<Attack>,
}

/// One `[[byzantine]]` table's nodes and window, as the driver runs it.
pub struct Attack {
    pub nodes: Vec<u32>,
    /// An eclipse's victims: their links outside the crew work again when it ends.
    pub victims: Vec<u32>,
    pub from: SimTime,
    pub until: Option<SimTime>,
    /// Over for good (its window closed, or mining stopped).
    pub ended: bool,
}

impl ChainDriver {
    pub fn new(
        observer: Observer,
        rng: SimRng,
        weights: &[u64],
        interval: SimDuration,
        target_blocks: Option<u64>,
        stop_time: Option<SimTime>,
        sample_every: SimDuration,
    ) -> Self {
        ChainDriver {
            observer,
            rng,
            weights0: weights.to_vec(),
            weights: weights.to_vec(),
            cumulative: cumulative(weights),
            total0: weights.iter().sum(),
            interval_ns: interval.as_nanos() as f64,
            bound: GENESIS_DIFFICULTY,
            thinned_wins: 0,
            same_instant_announcements: 0,
            pending_mine: None,
            mine_gen: 0,
            hash_changes: vec![],
            changes_applied: vec![],
            target_blocks,
            stop_time,
            sample_every,
            mined: 0,
            lost_wins: 0,
            mining: true,
            mining_stopped_at: None,
            tie_break_blocks: 0,
            busy_at: None,
            settle: SimDuration::MAX,
            deadline: None,
            comeback: vec![],
            starved_by: None,
            starved: false,
            progress: None,
            attacks: vec![],
        }
    }

    /// The difficulty miner `m`'s next win would have.
    fn works_at(world: &World<ChainNode>, m: usize) -> u64 {
        let t = world.nodes[m].template();
        world.shared.store.next_difficulty(template_parent(t))
    }

    /// The lowest difficulty any node with hash power works at (`None`: no one has any).
    fn lowest_work(&self, world: &World<ChainNode>) -> Option<u64> {
        (0..self.weights.len())
            .filter(|&i| self.weights[i] > 0)
            .map(|i| Self::works_at(world, i))
            .min()
    }

    /// The mean wait, in seconds, for the next block from now: miners that are up, each at
    /// its hash power and the difficulty it works at (`None` if they have none).
    pub fn next_block_wait_s(&self, world: &World<ChainNode>) -> Option<f64> {
        let rate: f64 = (0..self.weights.len())
            .filter(|&i| self.weights[i] > 0 && world.net.is_up(NodeId(i as u32)))
            .map(|i| {
                let d = Self::works_at(world, i) as f64 / GENESIS_DIFFICULTY as f64;
                self.weights[i] as f64 / self.total0 as f64 / d
            })
            .sum();
        (rate > 0.0).then(|| self.interval_ns / rate / 1e9)
    }

    /// Nodes' templates may have changed: if one with hash power now works below the pending
    /// draw's bound, the race is drawn again (at the new, lower bound).
    fn templates_changed(&mut self, world: &mut World<ChainNode>, nodes: &[u32]) {
        if !world.shared.store.retargets() || self.pending_mine.is_none() {
            return;
        }
        let below = (nodes.iter().map(|&n| n as usize))
            .any(|n| self.weights[n] > 0 && Self::works_at(world, n) < self.bound);
        if below {
            self.abandon_mine();
            self.schedule_mine(world);
        }
    }

    /// Draws the next win at the current total hash power (none while it is zero).
    fn schedule_mine(&mut self, world: &mut World<ChainNode>) {
        let total = self.total();
        if total == 0 {
            return;
        }
        if world.shared.store.retargets() {
            self.bound = self.lowest_work(world).unwrap_or(self.bound);
        }
        let mut mean = if total == self.total0 {
            self.interval_ns
        } else {
            self.interval_ns * (self.total0 as f64 / total as f64)
        };
        if self.bound != GENESIS_DIFFICULTY {
            mean *= self.bound as f64 / GENESIS_DIFFICULTY as f64;
        }
        let dt = SimDuration::from_nanos_f64(self.rng.exponential(mean));
        let at = world.now().saturating_add(dt);
        let tag = if self.mine_gen == 0 {
            MINE
        } else {
            MINE_GEN | self.mine_gen
        };
        world.kernel.schedule(at, Event::Control(tag));
        self.pending_mine = Some(self.mine_gen);
    }

    /// The win drawn and still to come will be ignored.
    fn abandon_mine(&mut self) {
        if self.pending_mine.take().is_some() {
            self.mine_gen += 1;
        }
    }

    fn total(&self) -> u64 {
        self.cumulative.last().copied().unwrap_or(0)
    }

    /// Some node with hash power is up, or a scheduled restart brings one back, or a scheduled
    /// change gives hash power back.
    fn hash_power_left(&self, world: &World<ChainNode>) -> bool {
        let now = world.now();
        // Changes still to apply (one due now may come after the one being applied).
        let coming = (self.hash_changes.iter().zip(&self.changes_applied))
            .filter(|(c, &applied)| !applied && c.2 > 0.0)
            .flat_map(|(c, _)| c.1.iter())
            .map(|&n| n as usize);
        (0..self.weights.len())
            .filter(|&i| self.weights[i] > 0)
            .chain(coming.filter(|&i| self.weights0[i] > 0))
            .any(|i| world.net.is_up(NodeId(i as u32)) || self.comeback[i] > now)
    }

    /// Change `i`: its nodes' hash power becomes its factor × the start's, and the race is
    /// drawn again at the new total.
    fn change_hash_power(&mut self, world: &mut World<ChainNode>, i: usize) {
        self.changes_applied[i] = true;
        let (_, nodes, factor) = &self.hash_changes[i];
        for &n in nodes {
            let w = self.weights0[n as usize] as f64 * factor;
            self.weights[n as usize] = crate::round_half_up(w);
        }
        self.cumulative = cumulative(&self.weights);
        let total = self.total();
        let shares = (self.weights.iter())
            .map(|&w| {
                if total == 0 {
                    0.0
                } else {
                    w as f64 / total as f64
                }
            })
            .collect();
        let relative = total as f64 / self.total0 as f64;
        self.observer.hash_power_changed(shares, relative);
        self.observer.disturbance(world.now(), "hash power changed");
        if self.pending_mine.is_some() {
            self.abandon_mine();
            self.schedule_mine(world);
        } else if self.mining {
            // Mining had no draw (no hash power until now).
            self.schedule_mine(world);
        }
        self.check_hash_power(world);
    }

    /// The race's win has come: its miner (drawn by hash share) builds its template's
    /// block(s), unless it is down; then the next win is drawn.
    fn win(&mut self, world: &mut World<ChainNode>) {
        let now = world.now();
        if world.shared.store.retargets() {
            // The thinning is exact only if no miner worked below the bound since the draw.
            let lowest = self.lowest_work(world).unwrap_or(self.bound);
            assert!(
                lowest >= self.bound,
                "a miner works at difficulty {lowest}, below the race's bound {}",
                self.bound
            );
        }
        let m = NodeId(self.rng.pick_cumulative(&self.cumulative) as u32);
        let t = world.nodes[m.idx()].template();
        let d = world.shared.store.next_difficulty(template_parent(t));
        if d != self.bound && self.rng.below(d) >= self.bound {
            self.thinned_wins += 1;
        } else if world.net.is_up(m) {
            let (b, twin) = make_blocks(&mut world.shared.store, t, m, now, &mut self.rng);
            let mut tag = u64::from(b.0);
            for x in std::iter::once(b).chain(twin) {
                self.observer.block_created(now, x);
                let parent = world.shared.store.parent(x);
                world.kernel.record_outcome(m.0, parent.0, u64::from(x.0));
            }
            if let Some(t2) = twin {
                tag |= (u64::from(t2.0) + 1) << 32;
            }
            world.invoke(m, |n, ctx| n.on_control(ctx, tag));
            self.mined += 1;
            if let Some(p) = &self.progress {
                p.blocks.store(self.mined, Ordering::Relaxed);
            }
            if self.mining_stopped_at.is_some() {
                // A tie-break block: one at a time, then wait for quiet again.
                self.tie_break_blocks += 1;
                self.mining = false;
            } else if self.target_blocks.is_some_and(|t| self.mined >= t) {
                self.stop_mining(world);
            }
        } else {
            self.lost_wins += 1;
        }
        if self.mining {
            self.schedule_mine(world);
        }
    }

    /// After a crash or a change: if no hash power is left for good, nothing can mine again.
    /// Before mining's stop, waiting for it would only run on to stop.max_time, so mining
    /// stops here (`no-hash-power`); after it, no tie-break block can come either.
    fn check_hash_power(&mut self, world: &mut World<ChainNode>) {
        if self.starved_by.is_some() || self.hash_power_left(world) {
            return;
        }
        // Whoever still has hash power is down for good; whoever had some at the start and
        // has none now lost it to a change.
        let crashed = self.weights.iter().any(|&w| w > 0);
        let changed = (self.weights0.iter().zip(&self.weights)).any(|(&a, &b)| a > 0 && b == 0);
        self.starved_by = Some(match (crashed, changed) {
            (true, true) => Starved::CrashesAndChanges,
            (false, true) => Starved::Changes,
            _ => Starved::Crashes,
        });
        self.observer.disturbance(world.now(), "no hash power left");
        if self.mining_stopped_at.is_none() {
            self.starved = true;
            self.stop_mining(world);
        } else {
            // A tie-break waiting for hash power waits no more.
            self.mining = false;
            self.abandon_mine();
        }
    }

    fn stop_mining(&mut self, world: &mut World<ChainNode>) {
        if self.mining {
            self.mining = false;
            // A win drawn before the stop must not come as a tie-break block later: with it
            // and the tie-break's own draw both pending, tie-breaks came twice as fast.
            self.abandon_mine();
            self.mining_stopped_at = Some(world.now());
            let from = world.now().max(world.last_net_change());
            self.deadline = Some(from.saturating_add(self.settle));
            self.observer.disturbance(world.now(), "mining stopped");
            // Attacks end with mining: the run then measures how the honest replicas converge,
            // and an attack without an end cannot keep the run from finishing.
            world.net.end_link_rules(world.now());
            for i in 0..self.attacks.len() {
                let a = &self.attacks[i];
                if a.ended {
                    continue;
                }
                if a.from <= world.now() {
                    self.end_attack(world, i);
                }
                self.attacks[i].ended = true;
            }
        }
    }

    /// Attack `i` ends: its nodes turn honest, they and an eclipse's victims greet their peers
    /// (as a node coming back does), and the observer times the honest replicas' convergence
    /// from here.
    fn end_attack(&mut self, world: &mut World<ChainNode>, i: usize) {
        self.attacks[i].ended = true;
        for &n in &self.attacks[i].nodes {
            world.nodes[n as usize].set_active(false);
        }
        self.templates_changed(world, &self.attacks[i].nodes.clone());
        let a = &self.attacks[i];
        for &n in a.nodes.iter().chain(&a.victims) {
            world.reconnect_peers(NodeId(n));
        }
        self.observer.disturbance(world.now(), "attack ended");
    }
}

impl Driver<ChainNode> for ChainDriver {
    fn on_start(&mut self, world: &mut World<ChainNode>) {
        self.comeback = vec![SimTime::ZERO; world.nodes.len()];
        for c in world.net.crashes() {
            if let Some(r) = c.restart {
                let t = &mut self.comeback[c.node.idx()];
                *t = (*t).max(r);
            }
        }
        if self.target_blocks == Some(0) {
            self.stop_mining(world);
        } else {
            self.schedule_mine(world);
        }
        world.kernel.schedule(SimTime::ZERO, Event::Control(SAMPLE));
        if let Some(t) = self.stop_time {
            world.kernel.schedule(t, Event::Control(STOP_MINING));
        }
        self.changes_applied = vec![false; self.hash_changes.len()];
        for (i, c) in self.hash_changes.iter().enumerate() {
            world
                .kernel
                .schedule(c.0, Event::Control(HASH_CHANGE + i as u64));
        }
        for (i, a) in self.attacks.iter().enumerate() {
            let tag = ATTACK + 2 * i as u64;
            if a.from > SimTime::ZERO {
                world.kernel.schedule(a.from, Event::Control(tag));
            }
            if let Some(u) = a.until {
                world.kernel.schedule(u, Event::Control(tag + 1));
            }
        }
    }

    fn on_control(&mut self, world: &mut World<ChainNode>, tag: u64) {
        let now = world.now();
        if let Some(gen) = mine_generation(tag) {
            if self.pending_mine == Some(gen) {
                self.pending_mine = None;
                self.win(world);
            }
            return;
        }
        match tag {
            STOP_MINING => self.stop_mining(world),
            SAMPLE => {
                self.observer.sample(now, &world.shared.store);
                if let Some(p) = &self.progress {
                    p.sim_ms
                        .store(now.as_nanos() / 1_000_000, Ordering::Relaxed);
                }
                let busy = !world.quiet();
                if busy {
                    self.busy_at = Some(now);
                }
                let quiet = !self.mining && !busy;
                if quiet && self.observer.live_tips() <= 1 {
                    world.kernel.request_stop(if self.starved {
                        StopReason::NoHashPower
                    } else {
                        StopReason::Done
                    });
                    return;
                }
                if self.deadline.is_some_and(|d| now >= d) {
                    world.kernel.request_stop(StopReason::Unsettled);
                    return;
                }
                if quiet && self.starved_by.is_none() {
                    // Quiet but split (a tie at the last height): real chains resolve this
                    // with the next block, and so do we. (Never while a scheduled heal or
                    // restart is still to come: the network is not quiet until then.)
                    self.mining = true;
                    self.schedule_mine(world);
                }
                world
                    .kernel
                    .schedule(now + self.sample_every, Event::Control(SAMPLE));
                if self.observer.samples().len() >= MAX_SAMPLES {
                    // A long run keeps a bounded time series: every other sample, at twice
                    // the interval (the next one, already due, is on the coarser grid).
                    self.observer.halve_samples();
                    self.sample_every = self.sample_every.saturating_mul(2);
                }
            }
            t if t >= HASH_CHANGE && ((t - HASH_CHANGE) as usize) < self.hash_changes.len() => {
                self.change_hash_power(world, (t - HASH_CHANGE) as usize)
            }
            t if t >= ATTACK && ((t - ATTACK) / 2) < self.attacks.len() as u64 => {
                let i = ((t - ATTACK) / 2) as usize;
                if self.attacks[i].ended {
                    // Ended with mining.
                } else if (t - ATTACK) % 2 == 0 {
                    for &n in &self.attacks[i].nodes {
                        world.nodes[n as usize].set_active(true);
                    }
                    self.templates_changed(world, &self.attacks[i].nodes.clone());
                } else {
                    self.end_attack(world, i);
                }
            }
            _ => unreachable!("unknown control tag {tag}"),
        }
    }

    fn on_note(&mut self, world: &mut World<ChainNode>, node: NodeId, note: ChainNote) {
        if let ChainNote::SameInstant(n) = note {
            // About the delivery mode, not the chain: it changes no replica's template.
            self.same_instant_announcements += n;
            return;
        }
        self.observer
            .note(world.now(), &world.shared.store, node, note);
        // What a replica mines on changes only in its handlers, and every such change comes
        // with a note (a new tip, a block stored): see `templates_changed`.
        self.templates_changed(world, &[node.0]);
    }

    fn on_net_event(&mut self, world: &mut World<ChainNode>, ev: NetEvent) {
        let now = world.now();
        match ev {
            NetEvent::PartitionStart(_) => {}
            NetEvent::PartitionHealed(_) => self.observer.disturbance(now, "partition healed"),
            NetEvent::NodeDown(n) => {
                self.observer.node_down(now, &world.shared.store, n);
                self.check_hash_power(world);
            }
            NetEvent::NodeUp(n) => {
                self.observer.node_up(now, &world.shared.store, n);
                self.templates_changed(world, &[n.0]);
            }
        }
    }
}

/// Safety checks on the final state: every honest replica's main chain is a valid chain from
/// genesis made only of blocks it knows and that pass validation.
pub fn check_safety(world: &World<ChainNode>, honest: &[bool]) -> Result<(), String> {
    let store = &world.shared.store;
    for (i, node) in world.nodes.iter().enumerate() {
        if !honest[i] {
            continue;
        }
        let mut b = node.tip();
        while b != BlockId::GENESIS {
            if !node.knows(b) {
                return Err(format!("node {i}: main chain holds unknown block {}", b.0));
            }
            if let Err(why) = store.check(b) {
                return Err(format!(
                    "node {i}: main chain holds invalid block {} ({why:?})",
                    b.0
                ));
            }
            b = store.parent(b);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starved_names_round_trip() {
        for &s in Starved::ALL {
            assert_eq!(s.name().parse::<Starved>().unwrap(), s);
            assert!(!s.says().is_empty());
        }
        assert!("hunger".parse::<Starved>().is_err());
    }

    /// Mining tags name their generation; nothing else is one.
    #[test]
    fn mining_generations_are_read_back() {
        assert_eq!(mine_generation(MINE), Some(0));
        for g in [1, 2, 12345] {
            assert_eq!(mine_generation(MINE_GEN | g), Some(g));
        }
        for t in [
            SAMPLE,
            STOP_MINING,
            ATTACK,
            ATTACK + 3,
            HASH_CHANGE + 1,
            MINE_GEN << 1,
        ] {
            assert_eq!(mine_generation(t), None, "{t:#x}");
        }
    }
}
