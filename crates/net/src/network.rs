//! The network model: topology + latency + bandwidth + fault rules, with full accounting.

use crate::faults::{Crash, MessageView, Rule, Verdict};
use crate::link::{Bandwidth, Latency, LatencySampler};
use crate::topology::Topology;
use des::{Message, NodeId, RngFactory, SimRng, SimTime};

/// Everything the network did to messages.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NetStats {
    /// Messages handed to the network, by message kind.
    pub sent: [u64; 16],
    /// Bytes handed to the network, by message kind.
    pub bytes: [u64; 16],
    /// Messages that reached a live node.
    pub delivered: u64,
    /// Messages arriving at a node that is down by then (known when sent: crashes are
    /// scheduled in advance).
    pub dropped_at_arrival: u64,
    /// Messages the receiver took into its inbox at send time, stamped with their arrival time,
    /// instead of as an event (see `des::Node::absorb`).
    pub absorbed: u64,
    pub rule_names: Vec<String>,
    pub dropped: Vec<u64>,
    pub delayed: Vec<u64>,
    pub duplicated: Vec<u64>,
}

impl NetStats {
    pub fn total_sent(&self) -> u64 {
        self.sent.iter().sum()
    }
    pub fn total_bytes(&self) -> u64 {
        self.bytes.iter().sum()
    }
    pub fn total_dropped(&self) -> u64 {
        self.dropped.iter().sum::<u64>() + self.dropped_at_arrival
    }
}

const MEMO: usize = 32;

/// What became of a message handed to the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transit {
    /// A rule dropped it.
    Lost,
    Arrives(SimTime),
    /// Duplicated: it arrives at both times.
    Twice(SimTime, SimTime),
}

/// How to build a [`Network`].
#[derive(Debug)]
pub struct NetConfig {
    pub latency: Latency,
    pub bandwidth: Option<Bandwidth>,
    /// Region index per node (all zero if regions are not used).
    pub regions: Vec<u8>,
    /// User rules, applied after the built-in crash and partition rules.
    pub rules: Vec<Rule>,
    pub partitions: Vec<crate::faults::Partition>,
    pub crashes: Vec<Crash>,
    pub costs: LinkCosts,
}

des::named_enum! {
    /// Whether control messages (`des::Message::is_control`: announcements, requests) use the
    /// sender's upload link.
    pub enum ControlPath {
        /// Like any message: they queue on the upload link for their size's transfer time.
        Uplink = "uplink",
        /// They skip the upload link and cost only their latency (plus `control_delay`), as in
        /// SimBlock.
        LatencyOnly = "latency-only",
    }
}

/// Fixed costs of messages on top of the latency draw and the transfer time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkCosts {
    pub control: ControlPath,
    /// Added to the latency of every control message (SimBlock: 10 ms).
    pub control_delay: des::SimDuration,
    /// Added to every transfer on the upload link, which it occupies (SimBlock: 2 ms of block
    /// processing). Only with a bandwidth model.
    pub transfer_overhead: des::SimDuration,
}

impl Default for LinkCosts {
    fn default() -> Self {
        LinkCosts {
            control: ControlPath::Uplink,
            control_delay: des::SimDuration::ZERO,
            transfer_overhead: des::SimDuration::ZERO,
        }
    }
}

/// `Card::up_until`'s unit: 2^20 ns (about 1 ms).
const UP_UNIT: u32 = 20;

/// What sending a message reads about its receiver, packed per node so that it costs one cache
/// miss (sends go to random nodes, and separate arrays cost one miss each).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Card {
    /// Download bandwidth (unused without a bandwidth model).
    download_bps: u64,
    region: u8,
    /// It crashes at some point.
    crashing: bool,
    /// With `crashing`: it is up from now until at least this many units of 2^20 ns (the start
    /// of its current or next outage, rounded down; saturating after ~52 days), so a message
    /// arriving earlier needs no look at its outages. Kept to 32 bits so a card stays 16 bytes.
    up_until: u32,
    /// Scratch for [`crate::sim::World`]: on a broadcast's skip list (false between broadcasts).
    pub(crate) skip: bool,
}

/// What decides when a message leaves its sender: the upload bandwidths and the link costs.
struct Uplink {
    /// Per node, with a bandwidth model: upload bandwidth.
    upload_bps: Option<Vec<u64>>,
    /// (size, rate, transfer time); rate 0 marks an empty slot (rates are at least 1).
    memo: [(u32, u64, des::SimDuration); MEMO],
    costs: LinkCosts,
}

impl Uplink {
    /// When a message of `size` bytes from `src` to the node of card `to` has left the sender,
    /// whose upload queue is free from `free` on (advanced past it), plus the control delay if
    /// it is a `control` message.
    #[inline(always)]
    fn depart(
        &mut self,
        (now, free): (SimTime, &mut SimTime),
        src: NodeId,
        to: Card,
        size: u32,
        control: bool,
    ) -> SimTime {
        let delay = if control {
            self.costs.control_delay
        } else {
            des::SimDuration::ZERO
        };
        let Some(up) = &self.upload_bps else {
            return now + delay;
        };
        if control && self.costs.control == ControlPath::LatencyOnly {
            return now + delay;
        }
        let start = now.max(*free);
        let bps = Bandwidth::bottleneck(up[src.idx()], to.download_bps);
        // A few (size, rate) pairs recur endlessly: remember their division.
        let slot = &mut self.memo[(bps ^ u64::from(size)) as usize % MEMO];
        if slot.0 != size || slot.1 != bps {
            let transfer = Bandwidth::duration(size, bps) + self.costs.transfer_overhead;
            *slot = (size, bps, transfer);
        }
        *free = start + slot.2;
        *free + delay
    }
}

pub struct Network {
    pub topo: Topology,
    latency: LatencySampler,
    uplink: Uplink,
    pub(crate) cards: Vec<Card>,
    pub(crate) rules: Vec<Rule>,
    pub(crate) crashes: Vec<Crash>,
    /// Node i's outages, (crash, restart or `SimTime::MAX`), are
    /// `outages[crash_from[i]..crash_from[i + 1]]` (both empty without crashes): its own,
    /// side by side, without a scan of everyone's.
    crash_from: Vec<u32>,
    outages: Vec<(SimTime, SimTime)>,
    pub(crate) up: Vec<bool>,
    upload_free: Vec<SimTime>,
    /// One stream per purpose for the whole network, drawn in send order (which the event
    /// order fixes). Per-sender streams cost a cache miss per send on large networks.
    latency_rng: SimRng,
    fault_rng: SimRng,
    pub stats: NetStats,
}

impl Network {
    pub fn new(topo: Topology, cfg: NetConfig, rngs: &RngFactory) -> Network {
        let n = topo.node_count() as usize;
        let mut rules = vec![Rule::Crash];
        rules.extend(cfg.partitions.into_iter().map(Rule::Partition));
        rules.extend(cfg.rules);
        let names: Vec<String> = rules.iter().map(Rule::name).collect();
        let k = names.len();
        let mut cards = vec![Card::default(); n];
        for (card, &r) in cards.iter_mut().zip(&cfg.regions) {
            card.region = r;
        }
        for c in &cfg.crashes {
            cards[c.node.idx()].crashing = true;
        }
        let (mut crash_from, mut outages) = (vec![], vec![]);
        if !cfg.crashes.is_empty() {
            let mut by_node: Vec<&Crash> = cfg.crashes.iter().collect();
            by_node.sort_by_key(|c| (c.node, c.at));
            outages = (by_node.iter())
                .map(|c| (c.at, c.restart.unwrap_or(SimTime::MAX)))
                .collect();
            crash_from = vec![0u32; n + 1];
            for c in &cfg.crashes {
                crash_from[c.node.idx() + 1] += 1;
            }
            for i in 0..n {
                crash_from[i + 1] += crash_from[i];
            }
        }
        let upload_bps = cfg.bandwidth.map(|bw| {
            for (card, &d) in cards.iter_mut().zip(&bw.download_bps) {
                card.download_bps = d;
            }
            bw.upload_bps
        });
        let mut net = Network {
            latency: LatencySampler::new(cfg.latency),
            uplink: Uplink {
                upload_bps,
                memo: [(0, 0, des::SimDuration::ZERO); MEMO],
                costs: cfg.costs,
            },
            cards,
            rules,
            crashes: cfg.crashes,
            crash_from,
            outages,
            up: vec![true; n],
            upload_free: vec![SimTime::ZERO; n],
            latency_rng: rngs.stream("latency", 0),
            fault_rng: rngs.stream("faults", 0),
            stats: NetStats {
                rule_names: names,
                dropped: vec![0; k],
                delayed: vec![0; k],
                duplicated: vec![0; k],
                ..NetStats::default()
            },
            topo,
        };
        for i in 0..n as u32 {
            if net.cards[i as usize].crashing {
                net.restarted(NodeId(i), SimTime::ZERO);
            }
        }
        net
    }

    /// `n` is up at `now` (it restarted, or the run starts): its next outage is the first of
    /// its own that has not ended by now (they are sorted by start and do not overlap).
    pub(crate) fn restarted(&mut self, n: NodeId, now: SimTime) {
        let (a, b) = (self.crash_from[n.idx()], self.crash_from[n.idx() + 1]);
        let next = (self.outages[a as usize..b as usize].iter()).find(|&&(_, up)| up > now);
        let down = next.map_or(u64::MAX, |&(down, _)| down.as_nanos());
        self.cards[n.idx()].up_until = u32::try_from(down >> UP_UNIT).unwrap_or(u32::MAX);
    }

    #[inline]
    pub fn is_up(&self, n: NodeId) -> bool {
        self.up[n.idx()]
    }

    /// Whether `n` will be down at `t` (crashes are scheduled in advance): a message arriving
    /// then is lost, and is counted so when it is sent.
    #[inline]
    pub fn down_at(&self, n: NodeId, t: SimTime) -> bool {
        let card = &self.cards[n.idx()];
        if !card.crashing || t.as_nanos() >> UP_UNIT < u64::from(card.up_until) {
            return false;
        }
        let (a, b) = (self.crash_from[n.idx()], self.crash_from[n.idx() + 1]);
        (self.outages[a as usize..b as usize])
            .iter()
            .any(|&(down, up)| down <= t && t < up)
    }

    pub fn up(&self) -> &[bool] {
        &self.up
    }

    /// Whether a message could cross the link `a`–`b` at `at`: both ends are up and no
    /// partition or eclipse in force then separates them (link rules such as loss do not
    /// count).
    pub fn link_works(&self, a: NodeId, b: NodeId, at: SimTime) -> bool {
        self.is_up(a)
            && self.is_up(b)
            && !self.rules.iter().any(|r| match r {
                Rule::Partition(p) => p.from <= at && at < p.until && p.cuts(a, b),
                Rule::Link(l) => l.severs(a, b, at),
                _ => false,
            })
    }

    /// The node whose upload link stays busy longest past `now`, and until when: messages
    /// still queued on it (none if every link is free by `now`; the first such node on ties).
    pub fn upload_backlog(&self, now: SimTime) -> Option<(NodeId, SimTime)> {
        let (i, &until) = (self.upload_free.iter().enumerate())
            .rev()
            .max_by_key(|&(_, t)| *t)?;
        (until > now).then_some((NodeId(i as u32), until))
    }

    /// The scheduled crashes (and restarts).
    pub fn crashes(&self) -> &[Crash] {
        &self.crashes
    }

    pub fn region(&self, n: NodeId) -> u8 {
        self.cards[n.idx()].region
    }

    pub fn latency(&self) -> &Latency {
        self.latency.latency()
    }

    /// Ends every pluggable link rule (Byzantine link behaviour) at `at`.
    pub fn end_link_rules(&mut self, at: SimTime) {
        for r in &mut self.rules {
            if let Rule::Link(l) = r {
                l.end(at);
            }
        }
    }

    /// Adds a rule at the end of the chain (e.g. a Byzantine link behaviour).
    pub fn push_rule(&mut self, rule: Rule) {
        self.stats.rule_names.push(rule.name());
        self.stats.dropped.push(0);
        self.stats.delayed.push(0);
        self.stats.duplicated.push(0);
        self.rules.push(rule);
    }

    /// Sends one message: the rule chain, the sender's upload queue, the link latency. Returns
    /// when it arrives (twice if duplicated); the caller delivers it.
    #[inline]
    pub fn transmit<M: Message>(
        &mut self,
        now: SimTime,
        src: NodeId,
        dst: NodeId,
        msg: &M,
    ) -> Transit {
        let kind = msg.kind() as usize & 15;
        let size = msg.size_bytes();
        self.stats.sent[kind] += 1;
        self.stats.bytes[kind] += u64::from(size);
        let mut extra = des::SimDuration::ZERO;
        let mut dup = None;
        if self.chain_may_decide() {
            match self.decide(now, src, dst, kind as u8, msg.payload_id()) {
                Some(Verdict::Drop) => return Transit::Lost,
                Some(Verdict::Delay(d)) => extra = d,
                Some(Verdict::Duplicate(d)) => dup = Some(d),
                None => {}
            }
        }
        let to = self.cards[dst.idx()];
        let mut free = self.upload_free[src.idx()];
        let depart = (self.uplink).depart((now, &mut free), src, to, size, msg.is_control());
        self.upload_free[src.idx()] = free;
        let lat = self.latency.sample(
            self.cards[src.idx()].region,
            to.region,
            &mut self.latency_rng,
        );
        let at = depart + lat + extra;
        match dup {
            None => Transit::Arrives(at),
            Some(d) => Transit::Twice(at, at + d),
        }
    }

    /// Whether a rule could decide anything: with no crashes the built-in crash rule never does,
    /// so the chain is skipped when it is alone.
    #[inline]
    fn chain_may_decide(&self) -> bool {
        self.rules.len() > 1 || !self.crashes.is_empty()
    }

    /// A broadcast: [`Self::transmit`] to each peer of `src` whose card is not marked `skip`, in
    /// peer order, with the same results; the arrivals are appended to `out`. Without rules
    /// that could decide, the sender's state is read once for all of them.
    pub(crate) fn transmit_to_peers<M: Message>(
        &mut self,
        now: SimTime,
        src: NodeId,
        msg: &M,
        out: &mut Vec<(NodeId, Transit)>,
    ) {
        if self.chain_may_decide() {
            for i in 0..self.topo.degree(src) {
                let p = self.topo.peers(src)[i];
                if !self.cards[p.idx()].skip {
                    let t = self.transmit(now, src, p, msg);
                    out.push((p, t));
                }
            }
            return;
        }
        let size = msg.size_bytes();
        let from = self.cards[src.idx()].region;
        let mut free = self.upload_free[src.idx()];
        let control = msg.is_control();
        let before = out.len();
        for &p in self.topo.peers(src) {
            let to = self.cards[p.idx()];
            if to.skip {
                continue;
            }
            let depart = (self.uplink).depart((now, &mut free), src, to, size, control);
            let lat = (self.latency).sample(from, to.region, &mut self.latency_rng);
            out.push((p, Transit::Arrives(depart + lat)));
        }
        self.upload_free[src.idx()] = free;
        let sent = (out.len() - before) as u64;
        let kind = msg.kind() as usize & 15;
        self.stats.sent[kind] += sent;
        self.stats.bytes[kind] += sent * u64::from(size);
    }

    /// The rule chain: the first rule that decides wins, and is counted.
    fn decide(
        &mut self,
        now: SimTime,
        src: NodeId,
        dst: NodeId,
        kind: u8,
        payload: u64,
    ) -> Option<Verdict> {
        let view = MessageView {
            now,
            src,
            dst,
            kind,
            payload,
            up: &self.up,
        };
        let rng = &mut self.fault_rng;
        for (i, rule) in self.rules.iter_mut().enumerate() {
            let verdict = rule.decide(&view, rng);
            match verdict {
                None => continue,
                Some(Verdict::Drop) => self.stats.dropped[i] += 1,
                Some(Verdict::Delay(_)) => self.stats.delayed[i] += 1,
                Some(Verdict::Duplicate(_)) => self.stats.duplicated[i] += 1,
            }
            return verdict;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Topology, TopologyKind};

    /// `down_at` answers as a scan of every crash would, for any arrival time from now on, as
    /// time passes and nodes restart (the card's bound, kept by `restarted`, is only a
    /// shortcut), whatever order the outages are listed in.
    #[test]
    fn down_at_is_a_scan_of_the_outages() {
        assert_eq!(
            std::mem::size_of::<Card>(),
            16,
            "one card, a quarter of a cache line"
        );
        let ms = |x: u64| SimTime::ZERO + des::SimDuration::from_millis(x);
        let crash = |n: u32, at: u64, restart: Option<u64>| Crash {
            node: NodeId(n),
            at: ms(at),
            restart: restart.map(ms),
        };
        let crashes = vec![
            crash(1, 500, Some(700)),
            crash(1, 100, Some(200)),
            crash(2, 0, Some(50)),
            crash(1, 250, Some(260)),
            crash(1, 900, None),
            crash(2, 300, Some(301)),
        ];
        let topo = Topology::build(
            &TopologyKind::Complete,
            4,
            &mut RngFactory::new(1).stream("t", 0),
        )
        .unwrap();
        let mut cfg = crate::testkit::plain(des::SimDuration::from_millis(1));
        cfg.crashes = crashes.clone();
        let mut net = Network::new(topo, cfg, &RngFactory::new(1));
        let scan = |n: NodeId, t: SimTime| {
            (crashes.iter()).any(|c| c.node == n && c.at <= t && c.restart.is_none_or(|r| t < r))
        };
        for now in 0..1200 {
            for c in crashes.iter().filter(|c| c.restart == Some(ms(now))) {
                net.restarted(c.node, ms(now));
            }
            for n in 0..4 {
                for t in (now..now + 500).step_by(3) {
                    assert_eq!(
                        net.down_at(NodeId(n), ms(t)),
                        scan(NodeId(n), ms(t)),
                        "node {n} at {t} ms, now {now}"
                    );
                }
            }
        }
    }
}
