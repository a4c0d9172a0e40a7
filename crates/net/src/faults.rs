//! Faults as an ordered chain of rules. Every message passes the rules in order at send time; the
//! first rule that decides (drop, delay, duplicate) wins and the rest are not asked.

use des::{NodeId, SimDuration, SimRng, SimTime};
use std::fmt;

/// What a rule decided for one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Drop,
    /// Deliver, but this much later than the link alone would.
    Delay(SimDuration),
    /// Deliver normally and once more, this much later.
    Duplicate(SimDuration),
}

/// What a rule may look at.
pub struct MessageView<'a> {
    pub now: SimTime,
    pub src: NodeId,
    pub dst: NodeId,
    pub kind: u8,
    pub payload: u64,
    /// Which nodes are up (crash state).
    pub up: &'a [bool],
}

/// A pluggable rule, e.g. a Byzantine link behaviour.
pub trait LinkRule: fmt::Debug + Send {
    fn name(&self) -> &str;
    fn decide(&mut self, m: &MessageView<'_>, rng: &mut SimRng) -> Option<Verdict>;
    /// Stop deciding anything from `at` on (the run is winding down).
    fn end(&mut self, _at: SimTime) {}
    /// Whether the rule cuts the link `a`–`b` at `at` outright (both ways, every message), as
    /// a partition does. The default: no rule does.
    fn severs(&self, _a: NodeId, _b: NodeId, _at: SimTime) -> bool {
        false
    }
}

/// Nodes cut into groups between two times; traffic between different groups is dropped.
#[derive(Debug, Clone, PartialEq)]
pub struct Partition {
    /// Group index per node.
    pub group: Vec<u16>,
    pub from: SimTime,
    /// `SimTime::MAX` if never healed.
    pub until: SimTime,
}

impl Partition {
    /// Builds the group vector from explicit groups; nodes not named form one more group.
    pub fn from_groups(n: u32, groups: &[Vec<NodeId>], from: SimTime, until: SimTime) -> Self {
        let mut group = vec![groups.len() as u16; n as usize];
        for (g, members) in groups.iter().enumerate() {
            for m in members {
                group[m.idx()] = g as u16;
            }
        }
        Partition { group, from, until }
    }

    #[inline]
    pub fn active(&self, now: SimTime) -> bool {
        self.from <= now && now < self.until
    }

    #[inline]
    pub fn cuts(&self, a: NodeId, b: NodeId) -> bool {
        self.group[a.idx()] != self.group[b.idx()]
    }
}

des::named_enum! {
    /// What the network's message loss (`network.loss`) means.
    pub enum LossMode {
        /// A lost message is gone, as a datagram would be; the protocol's own retries (block
        /// requests) make up for it, announcements are not resent.
        Drop = "drop",
        /// The link resends it, as TCP does: a lost message arrives one retransmission
        /// timeout later, the timeout doubling with every loss (capped at [`RTO_MAX`]); after
        /// [`MAX_RETRANSMISSIONS`] resends it is dropped (the connection would be reset).
        Retransmit = "retransmit",
    }
}

/// Resends before a retransmitted message is given up (Linux's `tcp_retries2`).
pub const MAX_RETRANSMISSIONS: u32 = 15;
/// The longest retransmission timeout (Linux's `TCP_RTO_MAX`). With a 200 ms first timeout the
/// last resend's runs out 924.6 s after the first send, Linux's figure for `tcp_retries2 = 15`.
pub const RTO_MAX: SimDuration = SimDuration::from_secs(120);

#[derive(Debug)]
pub enum Rule {
    /// Drops messages from or to a crashed node.
    Crash,
    Partition(Partition),
    /// Each message is lost with probability `p` and dropped ([`LossMode::Drop`]).
    Loss {
        p: f64,
    },
    /// Each message is lost with probability `p` and resent after `timeout`
    /// ([`LossMode::Retransmit`]); every resend may be lost again.
    Resend {
        p: f64,
        timeout: SimDuration,
    },
    Duplicate {
        p: f64,
        delay: SimDuration,
    },
    /// Extra delay uniform in [0, max] (reorders messages).
    Jitter {
        max: SimDuration,
    },
    Link(Box<dyn LinkRule>),
}

impl Rule {
    pub fn name(&self) -> String {
        match self {
            Rule::Crash => "crash".into(),
            Rule::Partition(_) => "partition".into(),
            Rule::Loss { .. } | Rule::Resend { .. } => "loss".into(),
            Rule::Duplicate { .. } => "duplicate".into(),
            Rule::Jitter { .. } => "jitter".into(),
            Rule::Link(r) => r.name().to_string(),
        }
    }

    #[inline]
    pub fn decide(&mut self, m: &MessageView<'_>, rng: &mut SimRng) -> Option<Verdict> {
        match self {
            Rule::Crash => (!m.up[m.src.idx()] || !m.up[m.dst.idx()]).then_some(Verdict::Drop),
            Rule::Partition(p) => {
                (p.active(m.now) && p.cuts(m.src, m.dst)).then_some(Verdict::Drop)
            }
            Rule::Loss { p } => rng.bernoulli(*p).then_some(Verdict::Drop),
            Rule::Resend { p, timeout } => rng.bernoulli(*p).then(|| resend(*p, *timeout, rng)),
            Rule::Duplicate { p, delay } => rng.bernoulli(*p).then_some(Verdict::Duplicate(*delay)),
            Rule::Jitter { max } => Some(Verdict::Delay(SimDuration::from_nanos(
                rng.below(max.as_nanos() + 1),
            ))),
            Rule::Link(r) => r.decide(m, rng),
        }
    }
}

/// What becomes of a message that was lost once on a link that resends: the k-th resend leaves
/// min(`timeout` · 2^(k−1), [`RTO_MAX`]) after the one before, and is lost again with
/// probability `p`.
fn resend(p: f64, timeout: SimDuration, rng: &mut SimRng) -> Verdict {
    let mut wait = timeout.min(RTO_MAX);
    let mut extra = SimDuration::ZERO;
    for _ in 0..MAX_RETRANSMISSIONS {
        extra = extra.saturating_add(wait);
        if !rng.bernoulli(p) {
            return Verdict::Delay(extra);
        }
        wait = wait.saturating_add(wait).min(RTO_MAX);
    }
    Verdict::Drop
}

/// A node that goes down at `at` and (optionally) comes back at `restart`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Crash {
    pub node: NodeId,
    pub at: SimTime,
    pub restart: Option<SimTime>,
}

/// What a Byzantine link does to the messages it governs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LinkAction {
    /// Send nothing.
    Withhold,
    /// Send everything this much later.
    Delay(SimDuration),
    /// Drop each message with this probability.
    Drop(f64),
}

/// A Byzantine link behaviour as a rule: messages sent by `senders` (to `targets` only, if set)
/// between `from` and `until` are withheld, delayed or dropped.
#[derive(Debug, Clone)]
pub struct Misbehave {
    pub name: String,
    pub senders: Vec<bool>,
    pub targets: Option<Vec<bool>>,
    pub action: LinkAction,
    pub from: SimTime,
    pub until: SimTime,
}

impl LinkRule for Misbehave {
    fn name(&self) -> &str {
        &self.name
    }
    fn decide(&mut self, m: &MessageView<'_>, rng: &mut SimRng) -> Option<Verdict> {
        if m.now < self.from || m.now >= self.until || !self.senders[m.src.idx()] {
            return None;
        }
        if self.targets.as_ref().is_some_and(|t| !t[m.dst.idx()]) {
            return None;
        }
        match self.action {
            LinkAction::Withhold => Some(Verdict::Drop),
            LinkAction::Delay(d) => Some(Verdict::Delay(d)),
            LinkAction::Drop(p) => rng.bernoulli(p).then_some(Verdict::Drop),
        }
    }
    fn end(&mut self, at: SimTime) {
        self.until = self.until.min(at);
    }
}

/// An eclipse's hold on its victims: between `from` and `until`, every message between a victim
/// and a node outside the crew is dropped, both ways. The victims keep their links and hear
/// only the crew (whose own rule, if any, decides what that is); when the window closes, the
/// links work again.
#[derive(Debug, Clone)]
pub struct Isolate {
    pub name: String,
    pub victims: Vec<bool>,
    pub crew: Vec<bool>,
    pub from: SimTime,
    pub until: SimTime,
}

impl Isolate {
    /// Whether the link `a`–`b` is cut while the window is open.
    #[inline]
    pub fn cuts(&self, a: NodeId, b: NodeId) -> bool {
        (self.victims[a.idx()] && !self.crew[b.idx()])
            || (self.victims[b.idx()] && !self.crew[a.idx()])
    }
}

impl LinkRule for Isolate {
    fn name(&self) -> &str {
        &self.name
    }
    fn decide(&mut self, m: &MessageView<'_>, _rng: &mut SimRng) -> Option<Verdict> {
        self.severs(m.src, m.dst, m.now).then_some(Verdict::Drop)
    }
    fn end(&mut self, at: SimTime) {
        self.until = self.until.min(at);
    }
    fn severs(&self, a: NodeId, b: NodeId, at: SimTime) -> bool {
        self.from <= at && at < self.until && self.cuts(a, b)
    }
}
