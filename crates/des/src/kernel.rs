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
    stop: Option<StopReason>,
}

impl<M: Message> Kernel<M> {
    pub fn new(limits: Limits) -> Self {
        Kernel {
            queue: EventQueue::new(),
            timers: TimerTable::default(),
            trace: TraceHasher::new(),
            limits,
            processed: 0,
            stop: None,
        }
    }

    #[inline]
    pub fn now(&self) -> SimTime {
        self.queue.now()
    }

    #[inline]
    pub fn schedule(&mut self, at: SimTime, ev: Event<M>) {
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
            match self.queue.peek_time() {
                None => return Err(StopReason::Drained),
                Some(t) if t > self.limits.end_time => return Err(StopReason::TimeLimit),
                Some(_) => {}
            }
            if self.processed >= self.limits.max_events {
                return Err(StopReason::EventLimit);
            }
            let (t, ev) = self.queue.pop().expect("peeked");
            match ev {
                Event::Timer { node, id, tag } => {
                    if !self.timers.release(id) {
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
                Event::Control(tag) => self.trace.record(t, TRACE_CONTROL, 0, 0, tag),
            }
            self.processed += 1;
            return Ok((t, ev));
        }
    }

    /// Adds a runner-level outcome to the trace (not counted as an event).
    pub fn record_outcome(&mut self, a: u32, b: u32, payload: u64) {
        let now = self.now();
        self.trace.record(now, TRACE_OUTCOME, a, b, payload);
    }

    pub fn events_processed(&self) -> u64 {
        self.processed
    }

    pub fn pending(&self) -> usize {
        self.queue.len()
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    pub fn trace_hash(&self) -> String {
        self.trace.hex()
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
        k.timers.cancel(a);
        let (t, ev) = k.next_event().unwrap();
        assert_eq!(t, SimTime::from_nanos(6));
        assert!(matches!(ev, Event::Timer { tag: 2, .. }));
        assert_eq!(k.next_event().unwrap_err(), StopReason::Drained);
        assert_eq!(k.events_processed(), 1);
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
