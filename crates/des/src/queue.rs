//! The event queue: a total order by (time, insertion sequence).
//!
//! Events at equal times come out in the order they were pushed (FIFO), so the order of events is
//! a pure function of the order of pushes, never of heap internals. Popping asserts that time never
//! goes backwards.

use crate::time::SimTime;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

struct Entry<E> {
    time: SimTime,
    seq: u64,
    event: E,
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, o: &Self) -> bool {
        self.time == o.time && self.seq == o.seq
    }
}
impl<E> Eq for Entry<E> {}
impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl<E> Ord for Entry<E> {
    fn cmp(&self, o: &Self) -> Ordering {
        // Reversed: BinaryHeap is a max-heap and we want the earliest (time, seq) first.
        (o.time, o.seq).cmp(&(self.time, self.seq))
    }
}

/// A min-queue of events keyed by (time, insertion sequence).
pub struct EventQueue<E> {
    heap: BinaryHeap<Entry<E>>,
    next_seq: u64,
    now: SimTime,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> EventQueue<E> {
    pub fn new() -> Self {
        EventQueue { heap: BinaryHeap::new(), next_seq: 0, now: SimTime::ZERO }
    }

    /// Schedules `event` at `time`, which must not be earlier than the last popped time.
    /// Returns the insertion sequence number.
    pub fn push(&mut self, time: SimTime, event: E) -> u64 {
        assert!(
            time >= self.now,
            "event scheduled in the past: {time} < now {}",
            self.now
        );
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(Entry { time, seq, event });
        seq
    }

    /// Removes and returns the earliest event.
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        let e = self.heap.pop()?;
        assert!(e.time >= self.now, "time went backwards");
        self.now = e.time;
        Some((e.time, e.event))
    }

    /// The time of the earliest pending event.
    pub fn peek_time(&self) -> Option<SimTime> {
        self.heap.peek().map(|e| e.time)
    }

    /// The time of the last popped event.
    pub fn now(&self) -> SimTime {
        self.now
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::SimDuration;

    #[test]
    fn fifo_among_equal_times_and_monotonic() {
        let mut q = EventQueue::new();
        let t = |s| SimTime::ZERO + SimDuration::from_secs(s);
        q.push(t(5), "e");
        q.push(t(1), "a");
        q.push(t(3), "c");
        q.push(t(1), "b");
        q.push(t(3), "d");
        let mut out = vec![];
        let mut last = SimTime::ZERO;
        while let Some((time, e)) = q.pop() {
            assert!(time >= last);
            last = time;
            out.push(e);
        }
        assert_eq!(out, ["a", "b", "c", "d", "e"]);
    }

    #[test]
    fn many_ties_keep_insertion_order() {
        let mut q = EventQueue::new();
        for i in 0..10_000u32 {
            q.push(SimTime::from_nanos(u64::from(i % 7)), i);
        }
        let mut prev: Option<(SimTime, u32)> = None;
        while let Some((t, i)) = q.pop() {
            if let Some((pt, pi)) = prev {
                assert!(t > pt || (t == pt && i > pi), "order broken at {i}");
            }
            prev = Some((t, i));
        }
    }

    #[test]
    #[should_panic(expected = "in the past")]
    fn scheduling_in_the_past_panics() {
        let mut q = EventQueue::new();
        q.push(SimTime::from_nanos(10), ());
        q.pop();
        q.push(SimTime::from_nanos(5), ());
    }
}
