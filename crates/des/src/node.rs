//! The node API: nodes react, they never act.
//!
//! A handler receives a [`Ctx`] (its own id, the current time, its own random stream) and pushes
//! commands (send, broadcast, set or cancel a timer) and observations ("notes") into an outbox. The
//! runner applies the commands through the network model and hands the notes to observers.

use crate::rng::{LazyStream, RngFactory, SimRng};
use crate::time::{SimDuration, SimTime};
use std::fmt;

/// A node's index in the simulation, dense from 0.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct NodeId(pub u32);

impl NodeId {
    #[inline]
    pub fn idx(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "n{}", self.0)
    }
}

/// What the kernel and network need to know about a message. Messages are small `Copy` values
/// that carry ids (of blocks, say), never bodies.
pub trait Message: Copy + fmt::Debug {
    /// A small dense kind number (< 16) used for accounting and the trace.
    fn kind(&self) -> u8;
    /// Size on the wire, for bandwidth.
    fn size_bytes(&self) -> u32;
    /// An id for the trace (e.g. the block id).
    fn payload_id(&self) -> u64;
    /// Human name of a kind, for reports.
    fn kind_name(kind: u8) -> &'static str;
    /// A small control message (an announcement, a request) rather than a transfer of data:
    /// the network may send it without the sender's upload link (`net::ControlPath`).
    fn is_control(&self) -> bool {
        false
    }
}

/// A cancellable timer handle. Cancelling is O(1): it bumps the slot's generation, and the
/// scheduled event is skipped when it comes up.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimerId {
    slot: u32,
    generation: u32,
}

/// Generation-counted timer slots, reused through a free list.
#[derive(Default)]
pub struct TimerTable {
    generations: Vec<u32>,
    free: Vec<u32>,
    /// Timers cancelled so far (their events are still queued until dropped or skipped).
    cancelled: u64,
}

impl TimerTable {
    pub fn alloc(&mut self) -> TimerId {
        match self.free.pop() {
            Some(slot) => TimerId {
                slot,
                generation: self.generations[slot as usize],
            },
            None => {
                self.generations.push(0);
                TimerId {
                    slot: (self.generations.len() - 1) as u32,
                    generation: 0,
                }
            }
        }
    }

    /// Cancels a live timer; returns false if it had already fired or been cancelled.
    pub fn cancel(&mut self, id: TimerId) -> bool {
        let done = self.release(id);
        self.cancelled += u64::from(done);
        done
    }

    /// Timers cancelled so far.
    pub fn cancelled(&self) -> u64 {
        self.cancelled
    }

    pub fn is_live(&self, id: TimerId) -> bool {
        self.generations.get(id.slot as usize) == Some(&id.generation)
    }

    /// Marks a live timer as done (fired or cancelled) and frees its slot.
    pub(crate) fn release(&mut self, id: TimerId) -> bool {
        if !self.is_live(id) {
            return false;
        }
        let g = &mut self.generations[id.slot as usize];
        *g = g.wrapping_add(1);
        self.free.push(id.slot);
        true
    }

    /// Slots ever allocated (memory used), not live timers.
    pub fn capacity(&self) -> usize {
        self.generations.len()
    }
}

/// A command a handler asks the runner to carry out.
#[derive(Debug, Clone, Copy)]
pub enum Command<M> {
    Send {
        to: NodeId,
        msg: M,
    },
    /// To every peer, except `except` if set and except the peers in the outbox's skip list
    /// `skip.0 .. skip.0 + skip.1`.
    Broadcast {
        msg: M,
        except: Option<NodeId>,
        skip: (u32, u32),
    },
    /// `first` to the peers at even positions of the peer list, `second` to the others (an
    /// equivocating node telling each half of its peers something different).
    Split {
        first: M,
        second: M,
    },
    SetTimer {
        id: TimerId,
        at: SimTime,
        tag: u64,
    },
    /// This node drops its connection to `peer` (e.g. a ban): the peer learns it at once.
    Disconnect {
        peer: NodeId,
    },
}

/// Commands and notes pushed by handler calls; reused between calls (no allocation per event).
pub struct Outbox<M, N> {
    pub commands: Vec<Command<M>>,
    /// Observations, tagged with the node that made them.
    pub notes: Vec<(NodeId, N)>,
    /// Peers to skip, referenced by `Command::Broadcast::skip` (cleared with the commands).
    pub skip: Vec<NodeId>,
}

impl<M, N> Default for Outbox<M, N> {
    fn default() -> Self {
        Outbox {
            commands: Vec::new(),
            notes: Vec::new(),
            skip: Vec::new(),
        }
    }
}

/// What a handler of node type `T` sees and may do.
pub struct Ctx<'a, T: Node + ?Sized> {
    id: NodeId,
    now: SimTime,
    /// The node's own random stream ("node", id), made on first use: see [`Self::rng`].
    own: &'a mut LazyStream,
    factory: RngFactory,
    /// One stream for all nodes, drawn in event order: for draws made on most events of a
    /// large network, where touching the node's own stream is one more cache miss.
    pub common: &'a mut SimRng,
    /// Read-only state shared by all nodes (e.g. the block store).
    pub shared: &'a T::Shared,
    out: &'a mut Outbox<T::Msg, T::Note>,
    timers: &'a mut TimerTable,
    instant_shared: bool,
}

impl<'a, T: Node + ?Sized> Ctx<'a, T> {
    pub fn new(
        id: NodeId,
        (now, instant_shared): (SimTime, bool),
        (own, factory, common): (&'a mut LazyStream, RngFactory, &'a mut SimRng),
        shared: &'a T::Shared,
        out: &'a mut Outbox<T::Msg, T::Note>,
        timers: &'a mut TimerTable,
    ) -> Self {
        Ctx {
            id,
            now,
            own,
            factory,
            common,
            shared,
            out,
            timers,
            instant_shared,
        }
    }
    #[inline]
    pub fn id(&self) -> NodeId {
        self.id
    }
    /// The node's own random stream ("node", id).
    #[inline]
    pub fn rng(&mut self) -> &mut SimRng {
        self.own.get(&self.factory, "node", u64::from(self.id.0))
    }
    #[inline]
    pub fn now(&self) -> SimTime {
        self.now
    }
    /// Another event is handled at this very nanosecond (anywhere: before this handler, or
    /// still to come), so the order among them is their insertion order.
    #[inline]
    pub fn instant_shared(&self) -> bool {
        self.instant_shared
    }
    /// Drops the connection to `peer`, which learns it at once ([`Node::on_disconnect`]).
    pub fn disconnect(&mut self, peer: NodeId) {
        self.out.commands.push(Command::Disconnect { peer });
    }
    #[inline]
    pub fn send(&mut self, to: NodeId, msg: T::Msg) {
        self.out.commands.push(Command::Send { to, msg });
    }
    #[inline]
    pub fn broadcast(&mut self, msg: T::Msg) {
        self.broadcast_skipping(msg, None, []);
    }
    #[inline]
    pub fn broadcast_except(&mut self, msg: T::Msg, except: NodeId) {
        self.broadcast_skipping(msg, Some(except), []);
    }
    /// To every peer except `except` and the peers in `skip` (e.g. those known to have it).
    #[inline]
    pub fn broadcast_skipping(
        &mut self,
        msg: T::Msg,
        except: Option<NodeId>,
        skip: impl IntoIterator<Item = NodeId>,
    ) {
        let start = self.out.skip.len();
        self.out.skip.extend(skip);
        let len = self.out.skip.len() - start;
        self.out.commands.push(Command::Broadcast {
            msg,
            except,
            skip: (start as u32, len as u32),
        });
    }
    /// Sets a timer firing `after` from now with a node-chosen `tag`.
    pub fn set_timer(&mut self, after: SimDuration, tag: u64) -> TimerId {
        let id = self.timers.alloc();
        self.out.commands.push(Command::SetTimer {
            id,
            at: self.now + after,
            tag,
        });
        id
    }
    /// Cancels a timer in O(1); cancelling a fired or cancelled timer is a no-op.
    pub fn cancel_timer(&mut self, id: TimerId) {
        self.timers.cancel(id);
    }
    /// Records an observation for the runner's observers.
    /// `first` to half of the peers, `second` to the other half (see [`Command::Split`]).
    #[inline]
    pub fn broadcast_split(&mut self, first: T::Msg, second: T::Msg) {
        self.out.commands.push(Command::Split { first, second });
    }
    #[inline]
    pub fn note(&mut self, note: T::Note) {
        self.out.notes.push((self.id, note));
    }
}

/// A simulated process. All methods are reactions; effects go through the context.
pub trait Node {
    type Msg: Message;
    /// Observations this node reports (use `()` for none).
    type Note;
    /// State shared read-only by every node (use `()` for none).
    type Shared;
    fn on_start(&mut self, ctx: &mut Ctx<'_, Self>);
    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, msg: Self::Msg);
    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, id: TimerId, tag: u64);
    /// A runner-initiated local happening (e.g. "you found a block"), with a runner-chosen tag.
    fn on_control(&mut self, _ctx: &mut Ctx<'_, Self>, _tag: u64) {}
    /// Called when the node comes back after a crash (its timers were lost).
    fn on_restart(&mut self, _ctx: &mut Ctx<'_, Self>) {}
    /// Called when a link to `peer` works again (partition healed, peer restarted).
    fn on_reconnect(&mut self, _ctx: &mut Ctx<'_, Self>, _peer: NodeId) {}
    /// Called when `peer` dropped its connection to this node (it banned this node, say).
    fn on_disconnect(&mut self, _ctx: &mut Ctx<'_, Self>, _peer: NodeId) {}
    /// A message may soon be handed to [`Self::absorb`]: load what it reads, so that the loads
    /// of a broadcast's receivers overlap instead of each waiting for memory in turn. Return
    /// something computed from that state (it is discarded). The default reads nothing.
    fn warm(&self) -> u64 {
        0
    }
    /// The network is about to schedule `msg` from `from` to arrive at `at` (not before now).
    /// A node may instead take it into its own inbox now, stamped with `at`, and return true:
    /// then no event is scheduled. It may do so only where the arrival would be pure
    /// bookkeeping (say, one more peer announcing a block it already has or is fetching), and it
    /// must never let the message influence anything before `at`. The default delivers
    /// everything as an event.
    fn absorb(
        &mut self,
        _shared: &Self::Shared,
        _from: NodeId,
        _msg: &Self::Msg,
        _at: SimTime,
    ) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timer_cancel_is_exact() {
        let mut t = TimerTable::default();
        let a = t.alloc();
        let b = t.alloc();
        assert!(t.cancel(a));
        assert!(!t.cancel(a), "double cancel");
        assert!(!t.is_live(a));
        assert!(t.is_live(b));
        // The slot is reused with a new generation: the old handle stays dead.
        let c = t.alloc();
        assert_ne!(a, c);
        assert!(!t.is_live(a));
        assert!(t.is_live(c));
        assert_eq!(t.capacity(), 2);
    }
}
