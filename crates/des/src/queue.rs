//! The event queue: a total order by (time, insertion sequence).
//!
//! Events at equal times come out in the order they were pushed (FIFO), so the order of events is
//! a pure function of the order of pushes. Popping asserts that time never goes backwards.
//!
//! Implementation: a radix heap over the u64 nanosecond time, with 16-way digits. Because
//! simulated time is monotone (nothing is scheduled before the last popped time), an event lives
//! in the bucket named by the highest hex digit in which its time differs from `last` (the
//! level) and its own value of that digit; push is O(1), and an event moves to a lower level at
//! most 15 times (a binary radix heap moved each event ~19 times on a Bitcoin run, 16-way ~5).
//! Buckets in (level, digit) order hold ever later times, so the earliest event is in the first
//! non-empty one. Events with equal times are always in the same bucket and move together in
//! order, and events at `last` itself are drained from the front, which gives FIFO ties without
//! a sequence field.

use crate::time::SimTime;
use std::collections::VecDeque;

/// Bits per digit: 16-way buckets.
const DIGIT: u32 = 4;
const RADIX: usize = 1 << DIGIT;
const BUCKETS: usize = 64_usize.div_ceil(DIGIT as usize) * RADIX;
const WORDS: usize = BUCKETS / 64;
/// The most entries an emptied bucket keeps room for.
const KEEP: usize = 1 << 12;

/// A min-queue of events keyed by (time, insertion sequence).
pub struct EventQueue<E> {
    /// Events at time `last`, in FIFO order.
    front: VecDeque<E>,
    /// Bucket `level · RADIX + d` holds the events whose time differs from `last` first in
    /// digit `level`, where the time's digit is `d` (greater than `last`'s).
    buckets: Vec<Vec<(u64, E)>>,
    /// The smallest key in each bucket (u64::MAX when empty), so a refill makes one pass.
    mins: [u64; BUCKETS],
    /// Bit i set when bucket i is non-empty.
    occupied: [u64; WORDS],
    last: u64,
    len: usize,
    pushed: u64,
    /// Events dropped because they were no longer live.
    dropped: u64,
    now: SimTime,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

/// The bucket of a key later than `last`.
#[inline]
fn bucket_of(key: u64, last: u64) -> usize {
    let level = (63 - (key ^ last).leading_zeros()) / DIGIT;
    let digit = (key >> (level * DIGIT)) as usize & (RADIX - 1);
    level as usize * RADIX + digit
}

impl<E> EventQueue<E> {
    pub fn new() -> Self {
        EventQueue {
            front: VecDeque::new(),
            buckets: (0..BUCKETS).map(|_| Vec::new()).collect(),
            mins: [u64::MAX; BUCKETS],
            occupied: [0; WORDS],
            last: 0,
            len: 0,
            pushed: 0,
            dropped: 0,
            now: SimTime::ZERO,
        }
    }

    /// Schedules `event` at `time`, which must not be earlier than the last popped time.
    /// Returns the insertion sequence number.
    #[inline]
    pub fn push(&mut self, time: SimTime, event: E) -> u64 {
        assert!(
            time >= self.now,
            "event scheduled in the past: {time} < now {}",
            self.now
        );
        let key = time.as_nanos();
        if key < self.last {
            // Only after `peek_time` moved `last` ahead of `now`: rebuild around the new key.
            self.rebase(key);
        }
        if key == self.last {
            self.front.push_back(event);
        } else {
            self.bucket(key, event);
        }
        self.len += 1;
        self.pushed += 1;
        self.pushed - 1
    }

    /// Files an event later than `last` into its bucket.
    #[inline]
    fn bucket(&mut self, key: u64, event: E) {
        let b = bucket_of(key, self.last);
        self.buckets[b].push((key, event));
        self.mins[b] = self.mins[b].min(key);
        self.occupied[b / 64] |= 1 << (b % 64);
    }

    /// The first non-empty bucket (it holds the earliest events), if any.
    #[inline]
    fn first_bucket(&self) -> Option<usize> {
        (0..WORDS)
            .find(|&w| self.occupied[w] != 0)
            .map(|w| w * 64 + self.occupied[w].trailing_zeros() as usize)
    }

    /// Makes `front` hold the earliest events; false if the queue is empty. Events for which
    /// `live` is false (cancelled timers, say) are dropped as they are moved.
    fn refill(&mut self, live: &impl Fn(&E) -> bool) -> bool {
        while self.front.is_empty() {
            let Some(i) = self.first_bucket() else {
                return false;
            };
            self.refill_once(i, live);
        }
        true
    }

    fn refill_once(&mut self, i: usize, live: &impl Fn(&E) -> bool) {
        let mut moving = std::mem::take(&mut self.buckets[i]);
        self.occupied[i / 64] &= !(1 << (i % 64));
        let min = std::mem::replace(&mut self.mins[i], u64::MAX);
        debug_assert_eq!(Some(min), moving.iter().map(|(k, _)| *k).min());
        self.last = min;
        for (k, e) in moving.drain(..) {
            if !live(&e) {
                self.len -= 1;
                self.dropped += 1;
            } else if k == min {
                self.front.push_back(e);
            } else {
                debug_assert!(bucket_of(k, min) / RADIX < i / RADIX);
                self.bucket(k, e);
            }
        }
        // Keep the allocation, up to a bound: each of the buckets would otherwise keep the most
        // it ever held, and a wave of events passes through many of them (a 100,000-node run
        // grew by megabytes per block).
        moving.shrink_to(KEEP);
        self.buckets[i] = moving;
    }

    /// Re-buckets everything around a `last` earlier than the current one (rare, O(n)).
    fn rebase(&mut self, new_last: u64) {
        let mut all: Vec<(u64, E)> = self.front.drain(..).map(|e| (self.last, e)).collect();
        for b in &mut self.buckets {
            all.append(b);
        }
        // Stable sort keeps FIFO order among equal times.
        all.sort_by_key(|(k, _)| *k);
        self.occupied = [0; WORDS];
        self.mins = [u64::MAX; BUCKETS];
        self.last = new_last;
        for (k, e) in all {
            if k == new_last {
                self.front.push_back(e);
            } else {
                self.bucket(k, e);
            }
        }
    }

    /// Removes and returns the earliest event.
    #[inline]
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        self.pop_live(&|_| true)
    }

    /// Removes and returns the earliest event, dropping events that are no longer `live` on
    /// the way (they may still be returned if they were already next in line).
    #[inline]
    pub fn pop_live(&mut self, live: &impl Fn(&E) -> bool) -> Option<(SimTime, E)> {
        if !self.refill(live) {
            return None;
        }
        let e = self.front.pop_front().expect("refilled");
        self.len -= 1;
        let t = SimTime::from_nanos(self.last);
        assert!(t >= self.now, "time went backwards");
        self.now = t;
        Some((t, e))
    }

    /// The time of the earliest pending event.
    pub fn peek_time(&mut self) -> Option<SimTime> {
        self.peek_time_live(&|_| true)
    }

    /// [`Self::peek_time`], dropping events that are no longer `live` on the way.
    pub fn peek_time_live(&mut self, live: &impl Fn(&E) -> bool) -> Option<SimTime> {
        self.refill(live).then_some(SimTime::from_nanos(self.last))
    }

    /// Every queued event with its time, in no particular order (O(n): for accounting at the
    /// end of a run, never on the event loop). Dropped-on-move events may still be among them.
    pub fn iter(&self) -> impl Iterator<Item = (SimTime, &E)> {
        let last = SimTime::from_nanos(self.last);
        (self.front.iter().map(move |e| (last, e)))
            .chain((self.buckets.iter().flatten()).map(|(k, e)| (SimTime::from_nanos(*k), e)))
    }

    /// The time of the last popped event.
    pub fn now(&self) -> SimTime {
        self.now
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether an event still queued at the last popped time is `live` (O(events queued at
    /// that very time), usually none).
    #[inline]
    pub fn live_at_now(&self, live: &impl Fn(&E) -> bool) -> bool {
        self.last == self.now.as_nanos() && self.front.iter().any(live)
    }

    /// Events dropped so far because they were no longer live.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
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
        // At the current time, a few ms later, and a minute later (different radix levels).
        for base in [0, 5_000_000, 60_000_000_000] {
            check_ties(base);
        }
    }

    fn check_ties(base: u64) {
        let mut q = EventQueue::new();
        for i in 0..10_000u32 {
            q.push(SimTime::from_nanos(base + u64::from(i % 7)), i);
        }
        let mut prev: Option<(SimTime, u32)> = None;
        while let Some((t, i)) = q.pop() {
            if let Some((pt, pi)) = prev {
                assert!(t > pt || (t == pt && i > pi), "order broken at {i}");
            }
            prev = Some((t, i));
        }
    }

    /// Against a reference (sort by (time, seq)) with interleaved pushes, peeks and pops, for
    /// delays of 2^0 ns up to 2^`max_bits` ns (times are rounded down to multiples of
    /// 2^`grain_bits` to make ties common), with every `dead`-th event no longer live: those may
    /// be dropped or returned, the others come out exactly in reference order.
    fn check_against_reference(seed: u64, max_bits: u64, grain_bits: u32, dead: u64) {
        let mut rng = crate::RngFactory::new(seed).stream("q", 0);
        let mut q = EventQueue::new();
        let is_live = |s: &u64| dead == 0 || !s.is_multiple_of(dead);
        let mut reference: Vec<(u64, u64)> = vec![];
        let (mut seq, mut now, mut dead_seen) = (0u64, 0u64, 0u64);
        for _ in 0..50_000 {
            match rng.below(5) {
                0 | 1 => {
                    let span = 1u64 << rng.below(max_bits + 1);
                    let t = (now + rng.below(span)) >> grain_bits << grain_bits;
                    let t = t.max(now);
                    q.push(SimTime::from_nanos(t), seq);
                    if is_live(&seq) {
                        reference.push((t, seq));
                    }
                    seq += 1;
                }
                2 => {
                    let want = reference.iter().map(|x| x.0).min();
                    let got = q.peek_time_live(&is_live).map(|t| t.as_nanos());
                    // A dead event may still be next in line, never a later one.
                    assert!(got <= want || want.is_none(), "peek {got:?} after {want:?}");
                    // A push at `now` after a peek must still come out first.
                    if got.is_some() && rng.below(4) == 0 {
                        q.push(SimTime::from_nanos(now), seq);
                        if is_live(&seq) {
                            reference.push((now, seq));
                        }
                        seq += 1;
                    }
                }
                _ => {
                    reference.sort();
                    let got = loop {
                        match q.pop_live(&is_live) {
                            Some((t, s)) if !is_live(&s) => {
                                dead_seen += 1;
                                now = t.as_nanos();
                            }
                            other => break other,
                        }
                    };
                    if reference.is_empty() {
                        assert!(got.is_none());
                    } else {
                        let (t, s) = reference.remove(0);
                        assert_eq!(got, Some((SimTime::from_nanos(t), s)));
                        now = t;
                    }
                }
            }
            if dead == 0 {
                assert_eq!(q.len(), reference.len());
            }
        }
        while let Some((_, s)) = q.pop_live(&is_live) {
            reference.sort();
            if is_live(&s) {
                assert_eq!(reference.remove(0).1, s);
            } else {
                dead_seen += 1;
            }
        }
        assert!(reference.is_empty() && q.is_empty());
        let dead_pushed = (0..seq).filter(|s| !is_live(s)).count() as u64;
        assert_eq!(q.dropped() + dead_seen, dead_pushed);
    }

    #[test]
    fn matches_reference_order_under_random_interleaving() {
        // Delays up to ~18 minutes.
        check_against_reference(9, 40, 0, 0);
    }

    #[test]
    fn matches_reference_with_ties_and_dead_events() {
        // Delays up to a few seconds, times rounded to ~1 ms: many ties.
        check_against_reference(10, 33, 20, 0);
        check_against_reference(11, 34, 16, 5);
        // Dense short delays, many pushes just after the current time.
        check_against_reference(12, 22, 10, 3);
    }

    /// A wave of events passes through several buckets on its way out; none of them keeps
    /// room for more than `KEEP` once it has emptied (they used to keep their peak, so a large
    /// run's memory grew with every block), and the events still come out in order.
    #[test]
    fn emptied_buckets_give_back_their_room() {
        let mut q = EventQueue::new();
        let n = 20 * KEEP as u64;
        for wave in 0..3u64 {
            let start = q.now.as_nanos() + 1_000_000_000;
            for i in 0..n {
                q.push(SimTime::from_nanos(start + (i * 7919) % n), i);
            }
            let mut last = 0;
            for _ in 0..n {
                let (t, _) = q.pop().expect("queued");
                assert!(t.as_nanos() >= last, "wave {wave}");
                last = t.as_nanos();
            }
            assert!(q.pop().is_none());
            let most = q.buckets.iter().map(Vec::capacity).max();
            assert!(most <= Some(KEEP), "wave {wave}: a bucket keeps {most:?}");
        }
    }

    /// Pushes a few ns apart, before and after pending ones: time order, FIFO among equal times.
    #[test]
    fn close_pushes_keep_time_order_and_fifo() {
        let mut q = EventQueue::new();
        let t = SimTime::from_nanos;
        q.push(t(100), "a");
        q.push(t(50), "b");
        q.push(t(150), "c");
        assert_eq!(q.pop(), Some((t(50), "b")));
        assert_eq!(q.pop(), Some((t(100), "a")));
        q.push(t(150), "d");
        q.push(t(120), "e");
        assert_eq!(q.pop(), Some((t(120), "e")));
        assert_eq!(q.pop(), Some((t(150), "c")));
        assert_eq!(q.pop(), Some((t(150), "d")));
        assert_eq!(q.pop(), None);
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
