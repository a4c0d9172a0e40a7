//! The kernel: the event queue, timers, limits and the trace hash, bundled.
//!
//! The loop that dispatches events to nodes lives with the network model (crate `net`), which
//! decides what happens to a message; the kernel decides only *when* things happen and that no run
//! can go on forever.

use crate::node::{Message, NodeId, TimerId, TimerTable};
use crate::queue::EventQueue;
use crate::time::SimTime;
use crate::trace::TraceHasher;

/// One scheduled happening.
#[derive(Debug, Clone, Copy)]
pub enum Event<M> {
    /// A message arrives at `dst`.
    Message { src: NodeId, dst: NodeId, msg: M },
    /// A node's timer fires (skipped if cancelled).
    Timer { node: NodeId, id: TimerId, tag: u64 },
    /// A runner-level happening (mining, a partition starting, a metrics sample, …).
    Control(u64),
}

/// Hard limits on a run. Every run has both, so none can hang.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_events: u64,
    /// No event later than this is processed.
    pub end_time: SimTime,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_events: 1_000_000_000,
            end_time: SimTime::MAX,
        }
    }
}

crate::named_enum! {
    /// Why a run ended.
    pub enum StopReason {
        /// Nothing left to do.
        Drained = "drained",
        /// The next event was after the end time.
        TimeLimit = "time-limit",
        /// The event limit was reached.
        EventLimit = "event-limit",
        /// The runner's own stop condition was met (e.g. enough blocks mined, then settled).
        Done = "done",
        /// The runner stopped waiting for its condition (e.g. replicas that never agreed).
        Unsettled = "unsettled",
        /// Every miner went down for good before the stop condition was met: mining stopped
        /// early, and the honest replicas then agreed.
        NoHashPower = "no-hash-power",
    }
}

/// Trace kinds: messages are `MSG_BASE + Message::kind()`.
pub const TRACE_TIMER: u8 = 1;
pub const TRACE_CONTROL: u8 = 2;
/// Runner-level outcomes worth hashing (e.g. a block created: miner, parent, id).
pub const TRACE_OUTCOME: u8 = 3;
pub const TRACE_MSG_BASE: u8 = 16;

pub struct Kernel<M> {
    queue: EventQueue<Event<M>>,
    pub timers: TimerTable,
    trace: TraceHasher,
    limits: Limits,
    processed: u64,
    /// Cancelled timers popped and skipped.
    skipped: u64,
    /// Control events queued (they are never cancelled).
    controls: usize,
    stop: Option<StopReason>,
    /// The time of the current live event, and of the one before it.
    current: Option<SimTime>,
    previous: Option<SimTime>,
}

impl<M: Message> Kernel<M> {
    pub fn new(limits: Limits) -> Self {
        Kernel {
            queue: EventQueue::new(),
            timers: TimerTable::default(),
            trace: TraceHasher::new(),
            limits,
            processed: 0,
            skipped: 0,
            controls: 0,
            stop: None,
            current: None,
            previous: None,
        }
    }

    #[inline]
    pub fn now(&self) -> SimTime {
        self.queue.now()
    }

    #[inline]
    pub fn schedule(&mut self, at: SimTime, ev: Event<M>) {
        self.controls += usize::from(matches!(ev, Event::Control(_)));
        self.queue.push(at, ev);
    }

    /// Asks the loop to stop before the next event.
    pub fn request_stop(&mut self, reason: StopReason) {
        self.stop.get_or_insert(reason);
    }

    /// The next live event, recorded in the trace, or why the run is over.
    #[inline]
    pub fn next_event(&mut self) -> Result<(SimTime, Event<M>), StopReason> {
        loop {
            if let Some(r) = self.stop {
                return Err(r);
            }
            let timers = &self.timers;
            let live = |e: &Event<M>| match e {
                Event::Timer { id, .. } => timers.is_live(*id),
                _ => true,
            };
            match self.queue.peek_time_live(&live) {
                None => return Err(StopReason::Drained),
                Some(t) if t > self.limits.end_time => return Err(StopReason::TimeLimit),
                Some(_) => {}
            }
            if self.processed >= self.limits.max_events {
                return Err(StopReason::EventLimit);
            }
            let (t, ev) = self.queue.pop_live(&live).expect("peeked");
            match ev {
                Event::Timer { node, id, tag } => {
                    if !self.timers.release(id) {
                        self.skipped += 1;
                        continue; // cancelled: costs one pop, nothing else
                    }
                    self.trace.record(t, TRACE_TIMER, node.0, node.0, tag);
                }
                Event::Message { src, dst, msg } => self.trace.record(
                    t,
                    TRACE_MSG_BASE + msg.kind(),
                    src.0,
                    dst.0,
                    msg.payload_id(),
                ),
                Event::Control(tag) => {
                    self.controls -= 1;
                    self.trace.record(t, TRACE_CONTROL, 0, 0, tag)
                }
            }
            self.processed += 1;
            self.previous = self.current.replace(t);
            return Ok((t, ev));
        }
    }

    /// Whether another live event shares the current event's very nanosecond: the one before
    /// it, or one still queued (the order among such events is their insertion order, so a
    /// handler standing in for another event may be ordered otherwise than it would have been).
    #[inline]
    pub fn instant_shared(&self) -> bool {
        let now = self.now();
        let timers = &self.timers;
        self.previous == Some(now)
            || (self.queue).live_at_now(&|e: &Event<M>| match e {
                Event::Timer { id, .. } => timers.is_live(*id),
                _ => true,
            })
    }

    /// Adds a runner-level outcome to the trace (not counted as an event).
    pub fn record_outcome(&mut self, a: u32, b: u32, payload: u64) {
        let now = self.now();
        self.trace.record(now, TRACE_OUTCOME, a, b, payload);
    }

    pub fn events_processed(&self) -> u64 {
        self.processed
    }

    /// Live events still to come (cancelled timers still queued are not counted).
    pub fn pending(&self) -> usize {
        let cancelled_queued = self.timers.cancelled() - self.queue.dropped() - self.skipped;
        self.queue.len() - cancelled_queued as usize
    }

    /// Messages still on their way (queued message events), and when the last of them arrives.
    pub fn messages_in_flight(&self) -> (u64, Option<SimTime>) {
        (self.queue.iter())
            .filter(|(_, e)| matches!(e, Event::Message { .. }))
            .fold((0, None), |(n, last), (t, _)| (n + 1, last.max(Some(t))))
    }

    /// Of [`Self::pending`], the messages and live timers: what nodes will still do unless
    /// a control event sets them going again.
    pub fn pending_activity(&self) -> usize {
        self.pending() - self.controls
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    pub fn trace_hash(&self) -> String {
        self.trace.hex()
    }

    /// Every traced record from now on also goes to `sink` (see [`crate::trace::TraceSink`]).
    pub fn set_trace_sink(&mut self, sink: crate::trace::TraceSink) {
        self.trace.set_sink(sink);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::SimDuration;

    #[derive(Copy, Clone, Debug)]
    struct M;
    impl Message for M {
        fn kind(&self) -> u8 {
            0
        }
        fn size_bytes(&self) -> u32 {
            1
        }
        fn payload_id(&self) -> u64 {
            0
        }
        fn kind_name(_: u8) -> &'static str {
            "m"
        }
    }

    #[test]
    fn cancelled_timers_are_skipped_and_not_traced() {
        let mut k: Kernel<M> = Kernel::new(Limits::default());
        let a = k.timers.alloc();
        let b = k.timers.alloc();
        let n = NodeId(0);
        k.schedule(
            SimTime::from_nanos(5),
            Event::Timer {
                node: n,
                id: a,
                tag: 1,
            },
        );
        k.schedule(
            SimTime::from_nanos(6),
            Event::Timer {
                node: n,
                id: b,
                tag: 2,
            },
        );
        assert_eq!(k.pending(), 2);
        k.timers.cancel(a);
        assert_eq!(k.pending(), 1, "a cancelled timer is not pending");
        let (t, ev) = k.next_event().unwrap();
        assert_eq!(t, SimTime::from_nanos(6));
        assert!(matches!(ev, Event::Timer { tag: 2, .. }));
        assert_eq!(k.pending(), 0);
        assert_eq!(k.next_event().unwrap_err(), StopReason::Drained);
        assert_eq!(k.events_processed(), 1);
    }

    /// An event shares its instant with the live event before it or one still queued at the
    /// same nanosecond; a cancelled timer there does not count, nor do events a nanosecond
    /// apart.
    #[test]
    fn instant_shared_sees_live_events_at_the_same_nanosecond() {
        let mut k: Kernel<M> = Kernel::new(Limits::default());
        let (dead, n) = (k.timers.alloc(), NodeId(0));
        let at = |ns| SimTime::from_nanos(ns);
        let timer = |id| Event::Timer {
            node: n,
            id,
            tag: 0,
        };
        k.schedule(at(5), Event::Control(1));
        k.schedule(at(5), Event::Control(2));
        k.schedule(at(6), Event::Control(3));
        k.schedule(at(7), Event::Control(4));
        k.schedule(at(7), timer(dead));
        k.timers.cancel(dead);
        k.schedule(at(8), Event::Control(5));
        let mut seen = vec![];
        while let Ok((t, _)) = k.next_event() {
            seen.push((t.as_nanos(), k.instant_shared()));
        }
        assert_eq!(
            seen,
            [(5, true), (5, true), (6, false), (7, false), (8, false)]
        );
    }

    /// `pending_activity` counts messages and live timers, not control events, as they are
    /// scheduled and popped.
    #[test]
    fn pending_activity_leaves_out_control_events() {
        let mut k: Kernel<M> = Kernel::new(Limits::default());
        let (a, n) = (k.timers.alloc(), NodeId(0));
        k.schedule(SimTime::from_nanos(1), Event::Control(7));
        k.schedule(
            SimTime::from_nanos(2),
            Event::Message {
                src: n,
                dst: n,
                msg: M,
            },
        );
        k.schedule(
            SimTime::from_nanos(3),
            Event::Timer {
                node: n,
                id: a,
                tag: 0,
            },
        );
        k.schedule(SimTime::from_nanos(4), Event::Control(8));
        assert_eq!((k.pending(), k.pending_activity()), (4, 2));
        k.next_event().unwrap();
        assert_eq!((k.pending(), k.pending_activity()), (3, 2));
        k.next_event().unwrap();
        k.timers.cancel(a);
        assert_eq!((k.pending(), k.pending_activity()), (1, 0));
        k.next_event().unwrap();
        assert_eq!((k.pending(), k.pending_activity()), (0, 0));
    }

    /// Messages in flight: the queued message events wherever the queue keeps them (at the
    /// current time, or in buckets far ahead), and the latest arrival among them.
    #[test]
    fn messages_in_flight_counts_queued_messages_only() {
        let mut k: Kernel<M> = Kernel::new(Limits::default());
        let n = NodeId(0);
        let msg = |k: &mut Kernel<M>, t: u64| {
            k.schedule(
                SimTime::from_nanos(t),
                Event::Message {
                    src: n,
                    dst: n,
                    msg: M,
                },
            )
        };
        assert_eq!(k.messages_in_flight(), (0, None));
        for t in [5, 5, 70, 1 << 40] {
            msg(&mut k, t);
        }
        k.schedule(SimTime::from_nanos(1 << 50), Event::Control(1));
        let id = k.timers.alloc();
        k.schedule(
            SimTime::from_nanos(1 << 45),
            Event::Timer {
                node: n,
                id,
                tag: 0,
            },
        );
        let last = Some(SimTime::from_nanos(1 << 40));
        assert_eq!(k.messages_in_flight(), (4, last));
        // The first is popped; its twin at the same time now waits at the front.
        k.next_event().unwrap();
        assert_eq!(k.messages_in_flight(), (3, last));
        for _ in 0..3 {
            k.next_event().unwrap();
        }
        assert_eq!(k.messages_in_flight(), (0, None));
    }

    /// Cancelled timers far ahead are dropped as the queue moves them; live events keep their
    /// order, and `pending` counts live events only, whenever the drops happen.
    #[test]
    fn cancelled_timers_are_dropped_early_and_pending_stays_exact() {
        let mut k: Kernel<M> = Kernel::new(Limits::default());
        let n = NodeId(0);
        let mut live = 0usize;
        for i in 0..1000u64 {
            let id = k.timers.alloc();
            let at = SimTime::from_nanos(1_000_000 + i * 7919 % 1000 * 1_000_000);
            k.schedule(
                at,
                Event::Timer {
                    node: n,
                    id,
                    tag: i,
                },
            );
            k.schedule(SimTime::from_nanos(i * 10), Event::Control(i));
            if i % 3 == 0 {
                k.timers.cancel(id);
            } else {
                live += 1;
            }
            live += 1;
        }
        let mut last = SimTime::ZERO;
        let mut seen = 0;
        while let Ok((t, ev)) = k.next_event() {
            seen += 1;
            assert_eq!(k.pending(), live - seen);
            if let Event::Timer { tag, .. } = ev {
                assert!(tag % 3 != 0, "cancelled timer {tag} fired");
            }
            assert!(t >= last);
            last = t;
        }
        assert_eq!(seen, live);
        assert!(
            k.queue.dropped() > 0,
            "no cancelled timer was dropped early"
        );
    }

    #[test]
    fn limits_end_the_run() {
        let mut k: Kernel<M> = Kernel::new(Limits {
            max_events: 3,
            end_time: SimTime::ZERO + SimDuration::SECOND,
        });
        for i in 0..10 {
            k.schedule(SimTime::from_nanos(i), Event::Control(i));
        }
        for _ in 0..3 {
            k.next_event().unwrap();
        }
        assert_eq!(k.next_event().unwrap_err(), StopReason::EventLimit);

        let mut k: Kernel<M> = Kernel::new(Limits {
            max_events: 100,
            end_time: SimTime::ZERO + SimDuration::SECOND,
        });
        k.schedule(SimTime::ZERO + SimDuration::SECOND, Event::Control(0));
        k.schedule(SimTime::ZERO + SimDuration::from_secs(2), Event::Control(1));
        k.next_event().unwrap();
        assert_eq!(k.next_event().unwrap_err(), StopReason::TimeLimit);
    }

    #[test]
    fn stop_reason_names_round_trip() {
        for &r in StopReason::ALL {
            assert_eq!(r.name().parse::<StopReason>().unwrap(), r);
        }
        assert!("nope".parse::<StopReason>().is_err());
    }
}
