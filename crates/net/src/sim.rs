//! The event loop: dispatches events to nodes, applies their outboxes through the network, and
//! hands their notes and runner-level control events to a [`Driver`].

use crate::network::{Network, Transit};
use des::{
    Command, Ctx, Event, Kernel, Limits, Node, NodeId, Outbox, RngFactory, SimRng, StopReason,
};

/// Control tags with this bit set belong to the network (partitions, crashes); the rest to the driver.
pub const NET_CONTROL: u64 = 1 << 63;
const CUT: u64 = 0;
const HEAL: u64 = 1;
const CRASH: u64 = 2;
const RESTART: u64 = 3;

fn net_tag(kind: u64, idx: usize) -> u64 {
    NET_CONTROL | (kind << 32) | idx as u64
}

/// The (kind, index) of a [`net_tag`].
fn split_net_tag(tag: u64) -> (u64, usize) {
    ((tag & !NET_CONTROL) >> 32, (tag & 0xffff_ffff) as usize)
}

/// What a network control tag means, for traces: `"partition-start"`, `"partition-heal"`,
/// `"crash"` or `"restart"`, and the index of the partition or crash; `None` for a tag that is
/// not the network's.
pub fn net_control_meaning(tag: u64) -> Option<(&'static str, usize)> {
    if tag & NET_CONTROL == 0 {
        return None;
    }
    let (kind, idx) = split_net_tag(tag);
    let name = match kind {
        CUT => "partition-start",
        HEAL => "partition-heal",
        CRASH => "crash",
        RESTART => "restart",
        _ => return None,
    };
    Some((name, idx))
}

/// A change of the network the driver may want to know about (metrics windows, say).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetEvent {
    PartitionStart(usize),
    PartitionHealed(usize),
    NodeDown(NodeId),
    NodeUp(NodeId),
}

/// The runner-level logic: mining, metrics sampling, stop conditions.
pub trait Driver<N: Node> {
    fn on_start(&mut self, _world: &mut World<N>) {}
    fn on_control(&mut self, world: &mut World<N>, tag: u64);
    /// A node's note, after the event that made it (the driver may schedule in reply).
    fn on_note(&mut self, world: &mut World<N>, node: NodeId, note: N::Note);
    fn on_net_event(&mut self, _world: &mut World<N>, _ev: NetEvent) {}
}

/// Everything a run owns: the kernel, the network, the nodes and their streams, shared state.
pub struct World<N: Node> {
    pub kernel: Kernel<N::Msg>,
    pub net: Network,
    pub nodes: Vec<N>,
    pub shared: N::Shared,
    /// Per node, its stream ("node", id), made on first use.
    rngs: Vec<des::LazyStream>,
    factory: RngFactory,
    /// The stream ("common", 0): see `des::Ctx::common`.
    common_rng: SimRng,
    outbox: Outbox<N::Msg, N::Note>,
    /// The latest arrival time of any absorbed message: until then the network is not quiet.
    absorbed_until: des::SimTime,
    /// Scratch: one broadcast's arrivals.
    arrivals: Vec<(NodeId, Transit)>,
    /// Partition and crash changes scheduled and still to come.
    net_controls: usize,
    /// When the last scheduled partition or crash change happens (zero if none).
    last_net_change: des::SimTime,
    /// Scratch: (node, peer) disconnections asked for, for the peers to hear of.
    dropped_by: Vec<(NodeId, NodeId)>,
    /// Disconnections whose peer was down: it hears of them when it restarts.
    dropped_while_down: Vec<(NodeId, NodeId)>,
}

impl<N: Node> World<N> {
    /// Each node gets the stream ("node", id), and all share ("common", 0).
    pub fn new(
        nodes: Vec<N>,
        net: Network,
        shared: N::Shared,
        rngs: &RngFactory,
        limits: Limits,
    ) -> Self {
        assert_eq!(
            nodes.len(),
            net.topo.node_count() as usize,
            "one node per topology vertex"
        );
        let n = nodes.len();
        World {
            kernel: Kernel::new(limits),
            net,
            nodes,
            shared,
            rngs: vec![des::LazyStream::default(); n],
            factory: *rngs,
            common_rng: rngs.stream("common", 0),
            outbox: Outbox::default(),
            absorbed_until: des::SimTime::ZERO,
            arrivals: Vec::new(),
            net_controls: 0,
            last_net_change: des::SimTime::ZERO,
            dropped_by: Vec::new(),
            dropped_while_down: Vec::new(),
        }
    }

    pub fn now(&self) -> des::SimTime {
        self.kernel.now()
    }

    /// The nodes are done: no message is on its way (absorbed ones included), no node timer is
    /// set, and no partition or crash change is still to come. The driver's own control events
    /// (samples, mining, attack windows) do not count: they are its to judge.
    pub fn quiet(&self) -> bool {
        self.kernel.pending_activity() == 0
            && self.net_controls == 0
            && self.absorbed_until <= self.now()
    }

    /// Messages still on their way as events, and when the last message on its way arrives
    /// (absorbed ones included: they are counted when sent, so only their arrival shows here);
    /// `None` if none is. O(queue): for the end of a run.
    pub fn in_flight(&self) -> (u64, Option<des::SimTime>) {
        let (n, last) = self.kernel.messages_in_flight();
        let absorbed = Some(self.absorbed_until).filter(|&t| t > self.now());
        (n, last.max(absorbed))
    }

    /// When the last scheduled partition or crash change (start, heal, crash, restart) happens,
    /// zero if none: the network is not [quiet](Self::quiet) before then.
    pub fn last_net_change(&self) -> des::SimTime {
        self.last_net_change
    }

    /// Runs one handler on `node` and applies what it asked for.
    #[inline]
    pub fn invoke(&mut self, node: NodeId, f: impl FnOnce(&mut N, &mut Ctx<'_, N>)) {
        let now = self.kernel.now();
        let mut ctx = Ctx::new(
            node,
            (now, self.kernel.instant_shared()),
            (
                &mut self.rngs[node.idx()],
                self.factory,
                &mut self.common_rng,
            ),
            &self.shared,
            &mut self.outbox,
            &mut self.kernel.timers,
        );
        f(&mut self.nodes[node.idx()], &mut ctx);
        self.apply(node);
    }

    /// Hands one message to the network and delivers what comes out: into the receiver's inbox
    /// if it absorbs it, else as an event.
    #[inline]
    fn send(&mut self, src: NodeId, dst: NodeId, msg: N::Msg) {
        let transit = self.net.transmit(self.kernel.now(), src, dst, &msg);
        self.deliver(src, dst, msg, transit);
    }

    /// Delivers what came out of the network.
    #[inline]
    fn deliver(&mut self, src: NodeId, dst: NodeId, msg: N::Msg, transit: Transit) {
        match transit {
            Transit::Lost => {}
            Transit::Arrives(at) => self.arrive(src, dst, msg, at),
            Transit::Twice(a, b) => {
                self.arrive(src, dst, msg, a);
                self.arrive(src, dst, msg, b);
            }
        }
    }

    /// One copy of a message reaches `dst` at `at`: lost if `dst` is down by then, else into
    /// its inbox if it absorbs it, else an event.
    #[inline]
    fn arrive(&mut self, src: NodeId, dst: NodeId, msg: N::Msg, at: des::SimTime) {
        if self.net.down_at(dst, at) {
            self.net.stats.dropped_at_arrival += 1;
        } else if self.nodes[dst.idx()].absorb(&self.shared, src, &msg, at) {
            self.net.stats.absorbed += 1;
            self.absorbed_until = self.absorbed_until.max(at);
        } else {
            self.kernel.schedule(at, Event::Message { src, dst, msg });
        }
    }

    fn apply(&mut self, node: NodeId) {
        let mut cmds = std::mem::take(&mut self.outbox.commands);
        let mut skips = std::mem::take(&mut self.outbox.skip);
        for c in cmds.drain(..) {
            match c {
                Command::Send { to, msg } => self.send(node, to, msg),
                Command::Broadcast { msg, except, skip } => {
                    let skip = &skips[skip.0 as usize..(skip.0 + skip.1) as usize];
                    for s in skip.iter().chain(except.as_ref()) {
                        self.net.cards[s.idx()].skip = true;
                    }
                    let mut arrivals = std::mem::take(&mut self.arrivals);
                    self.net
                        .transmit_to_peers(self.kernel.now(), node, &msg, &mut arrivals);
                    let warm = arrivals.iter().map(|(p, _)| self.nodes[p.idx()].warm());
                    std::hint::black_box(warm.fold(0, u64::wrapping_add));
                    for (p, transit) in arrivals.drain(..) {
                        self.deliver(node, p, msg, transit);
                    }
                    self.arrivals = arrivals;
                    for s in skip.iter().chain(except.as_ref()) {
                        self.net.cards[s.idx()].skip = false;
                    }
                }
                Command::Split { first, second } => {
                    for i in 0..self.net.topo.degree(node) {
                        let p = self.net.topo.peers(node)[i];
                        let msg = if i % 2 == 0 { first } else { second };
                        self.send(node, p, msg);
                    }
                }
                Command::SetTimer { id, at, tag } => {
                    self.kernel.schedule(at, Event::Timer { node, id, tag })
                }
                Command::Disconnect { peer } => self.dropped_by.push((node, peer)),
            }
        }
        self.outbox.commands = cmds;
        skips.clear();
        self.outbox.skip = skips;
        // After the loop: the peer's handler has commands of its own. A peer that is down
        // hears of it when it comes back.
        while let Some((by, peer)) = self.dropped_by.pop() {
            if self.net.is_up(peer) {
                self.invoke(peer, |n, ctx| n.on_disconnect(ctx, by));
            } else {
                self.dropped_while_down.push((by, peer));
            }
        }
    }

    fn schedule_net_controls(&mut self) {
        let mut parts = 0;
        let mut evs = vec![];
        for rule in &self.net.rules {
            if let crate::faults::Rule::Partition(p) = rule {
                evs.push((p.from, net_tag(CUT, parts)));
                if p.until != des::SimTime::MAX {
                    evs.push((p.until, net_tag(HEAL, parts)));
                }
                parts += 1;
            }
        }
        for (i, c) in self.net.crashes.iter().enumerate() {
            evs.push((c.at, net_tag(CRASH, i)));
            if let Some(r) = c.restart {
                evs.push((r, net_tag(RESTART, i)));
            }
        }
        self.net_controls = evs.len();
        self.last_net_change = evs.iter().map(|e| e.0).max().unwrap_or(des::SimTime::ZERO);
        for (t, tag) in evs {
            self.kernel.schedule(t, Event::Control(tag));
        }
    }

    fn partition(&self, idx: usize) -> &crate::faults::Partition {
        self.net
            .rules
            .iter()
            .filter_map(|r| match r {
                crate::faults::Rule::Partition(p) => Some(p),
                _ => None,
            })
            .nth(idx)
            .expect("partition index")
    }

    fn net_control<D: Driver<N>>(&mut self, driver: &mut D, tag: u64) {
        self.net_controls -= 1;
        let (kind, idx) = split_net_tag(tag);
        let ev = match kind {
            CUT => NetEvent::PartitionStart(idx),
            HEAL => {
                let cut: Vec<(NodeId, NodeId)> = {
                    let p = self.partition(idx);
                    self.net
                        .topo
                        .edges()
                        .filter(|&(a, b)| p.cuts(a, b))
                        .collect()
                };
                for (a, b) in cut {
                    self.reconnect(a, b);
                }
                NetEvent::PartitionHealed(idx)
            }
            CRASH => {
                let n = self.net.crashes[idx].node;
                self.net.up[n.idx()] = false;
                NetEvent::NodeDown(n)
            }
            RESTART => {
                let n = self.net.crashes[idx].node;
                self.net.up[n.idx()] = true;
                self.net.restarted(n, self.kernel.now());
                self.invoke(n, |node, ctx| node.on_restart(ctx));
                let mut i = 0;
                while i < self.dropped_while_down.len() {
                    if self.dropped_while_down[i].1 == n {
                        let (by, _) = self.dropped_while_down.remove(i);
                        self.invoke(n, |node, ctx| node.on_disconnect(ctx, by));
                    } else {
                        i += 1;
                    }
                }
                self.reconnect_peers(n);
                NetEvent::NodeUp(n)
            }
            _ => unreachable!("unknown network control {tag:#x}"),
        };
        driver.on_net_event(self, ev);
    }

    /// `n` and each of its peers greet each other again (as after a restart, or when a node
    /// that misbehaved on its links starts behaving).
    pub fn reconnect_peers(&mut self, n: NodeId) {
        for i in 0..self.net.topo.degree(n) {
            let p = self.net.topo.peers(n)[i];
            self.reconnect(n, p);
        }
    }

    fn reconnect(&mut self, a: NodeId, b: NodeId) {
        if self.net.is_up(a) && self.net.is_up(b) {
            self.invoke(a, |n, ctx| n.on_reconnect(ctx, b));
            self.invoke(b, |n, ctx| n.on_reconnect(ctx, a));
        }
    }

    fn flush_notes<D: Driver<N>>(&mut self, driver: &mut D) {
        if self.outbox.notes.is_empty() {
            return;
        }
        let mut notes = std::mem::take(&mut self.outbox.notes);
        for (node, note) in notes.drain(..) {
            driver.on_note(self, node, note);
        }
        self.outbox.notes = notes;
    }
}

/// Runs the world until a limit, the driver's stop request, or an empty queue.
pub fn run<N: Node, D: Driver<N>>(world: &mut World<N>, driver: &mut D) -> StopReason {
    world.schedule_net_controls();
    driver.on_start(world);
    for i in 0..world.nodes.len() as u32 {
        world.invoke(NodeId(i), |n, ctx| n.on_start(ctx));
    }
    world.flush_notes(driver);
    loop {
        let ev = match world.kernel.next_event() {
            Ok((_, ev)) => ev,
            Err(reason) => return reason,
        };
        match ev {
            Event::Message { src, dst, msg } => {
                if world.net.is_up(dst) {
                    world.net.stats.delivered += 1;
                    world.invoke(dst, |n, ctx| n.on_message(ctx, src, msg));
                } else {
                    world.net.stats.dropped_at_arrival += 1;
                }
            }
            Event::Timer { node, id, tag } => {
                if world.net.is_up(node) {
                    world.invoke(node, |n, ctx| n.on_timer(ctx, id, tag));
                }
            }
            Event::Control(tag) if tag & NET_CONTROL != 0 => world.net_control(driver, tag),
            Event::Control(tag) => driver.on_control(world, tag),
        }
        world.flush_notes(driver);
    }
}
