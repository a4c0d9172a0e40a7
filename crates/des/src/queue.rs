//! The event queue: a total order by (time, insertion sequence).
//!
//! Events at equal times come out in the order they were pushed (FIFO), so the order of events is
//! a pure function of the order of pushes. Popping asserts that time never goes backwards.
//!
//! Implementation: two tiers over the u64 nanosecond time, neither of which stores a sequence
//! number (FIFO ties come from keeping push order and sorting stably).
//! - The near tier is a timing wheel of [`SLOTS`] slots of 2^[`SLOT_BITS`] ns (~1 ms, a ~4.4 s
//!   horizon) past the current slot (the cursor). An event goes into its slot in push order,
//!   O(1); when the cursor reaches a slot, the slot is sorted stably by time into `front`. Almost
//!   every message lands here once and moves once.
//! - The far tier holds events beyond the horizon (request timeouts, the next block, metric
//!   samples) in a radix heap ([`RadixHeap`]); as the cursor moves, those now within the horizon
//!   come out of it in (time, insertion) order into their slots.
//!
//! For equal times the order survives the tiers: an event still in the far tier when another with
//! the same time is pushed into the wheel was pushed earlier (the horizon only moves forward), and
//! it reaches the slot before the cursor does. An event pushed at or before the cursor's slot
//! (after a peek, say) goes into `front` after every event at its time.

use crate::time::SimTime;
use std::collections::VecDeque;

/// log2 of a wheel slot's width in nanoseconds (2^20 ns ≈ 1.05 ms).
const SLOT_BITS: u32 = 20;
/// Wheel slots: the near tier covers SLOTS · 2^SLOT_BITS ns ≈ 4.4 s past the cursor.
const SLOTS: usize = 1 << 12;
const SLOT_WORDS: usize = SLOTS / 64;

/// A min-queue of events keyed by (time, insertion sequence).
pub struct EventQueue<E> {
    /// The pending events of slots up to the cursor, in (time, insertion) order.
    front: VecDeque<(u64, E)>,
    /// Slot `s` (cursor < s < cursor + SLOTS) at index `s % SLOTS`, in push order.
    wheel: Vec<Vec<(u64, E)>>,
    /// Bit i set when wheel slot i is non-empty.
    occupied: [u64; SLOT_WORDS],
    /// The absolute slot number (time >> SLOT_BITS) of the events in `front`.
    cursor: u64,
    /// Events at slots from cursor + SLOTS on.
    far: RadixHeap<E>,
    /// Drained slot buffers, the latest last: few slots are in use at once, so a few buffers
    /// serve them all and stay in cache.
    spare: Vec<Vec<(u64, E)>>,
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

impl<E> EventQueue<E> {
    pub fn new() -> Self {
        EventQueue {
            front: VecDeque::new(),
            wheel: (0..SLOTS).map(|_| Vec::new()).collect(),
            occupied: [0; SLOT_WORDS],
            cursor: 0,
            far: RadixHeap::new(),
            spare: Vec::new(),
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
        self.place(time.as_nanos(), event);
        self.len += 1;
        self.pushed += 1;
        self.pushed - 1
    }

    /// Files an event by its key: `front`, a wheel slot or the far tier.
    #[inline]
    fn place(&mut self, key: u64, event: E) {
        let slot = key >> SLOT_BITS;
        if slot > self.cursor && slot - self.cursor < SLOTS as u64 {
            self.file_in_slot(key, event);
        } else if slot <= self.cursor {
            self.file_in_front(key, event);
        } else {
            self.far.push(key, event);
        }
    }

    /// Appends to the key's wheel slot (which must be within the horizon).
    #[inline]
    fn file_in_slot(&mut self, key: u64, event: E) {
        let i = (key >> SLOT_BITS) as usize % SLOTS;
        let v = &mut self.wheel[i];
        if v.capacity() == 0 {
            // Reuse the buffer drained last (warm in cache) rather than one per slot.
            *v = self.spare.pop().unwrap_or_default();
        }
        v.push((key, event));
        self.occupied[i / 64] |= 1 << (i % 64);
    }

    /// Into `front`, after every pending event at or before `key` (FIFO ties).
    #[cold]
    fn file_in_front(&mut self, key: u64, event: E) {
        if self.front.back().is_none_or(|b| b.0 <= key) {
            self.front.push_back((key, event));
        } else {
            let at = self.front.partition_point(|e| e.0 <= key);
            self.front.insert(at, (key, event));
        }
    }

    /// The first non-empty wheel slot after the cursor (absolute), if any.
    #[inline]
    fn next_slot(&self) -> Option<u64> {
        let start = (self.cursor as usize + 1) % SLOTS;
        let (w0, b0) = (start / 64, start % 64);
        // The first word from bit b0 on, then the others in circular order, then word w0's low
        // bits (slots just short of a full turn).
        let first = self.occupied[w0] & (!0u64 << b0);
        let found = if first != 0 {
            Some(w0 * 64 + first.trailing_zeros() as usize)
        } else {
            (1..=SLOT_WORDS)
                .map(|k| (w0 + k) % SLOT_WORDS)
                .find(|&w| self.occupied[w] != 0)
                .map(|w| w * 64 + self.occupied[w].trailing_zeros() as usize)
        }?;
        let offset = (found + SLOTS - start) % SLOTS;
        Some(self.cursor + 1 + offset as u64)
    }

    /// Makes `front` hold the earliest events; false if the queue is empty. Events for which
    /// `live` is false (cancelled timers, say) are dropped as they are moved.
    #[inline]
    fn refill(&mut self, live: &impl Fn(&E) -> bool) -> bool {
        while self.front.is_empty() {
            if !self.advance(live) {
                return false;
            }
        }
        true
    }

    /// Moves the cursor to the next slot with events and sorts that slot into `front`.
    fn advance(&mut self, live: &impl Fn(&E) -> bool) -> bool {
        let target = match self.next_slot() {
            // Far events all lie beyond the wheel, so after this slot.
            Some(s) => s,
            None => match self.far.min_key() {
                Some(k) => k >> SLOT_BITS,
                None => return false,
            },
        };
        self.cursor = target;
        // The far events now within the horizon, in order, into their slots.
        let horizon = (self.cursor + SLOTS as u64).saturating_mul(1 << SLOT_BITS);
        while let Some((k, e)) = self.far.pop_before(horizon, live) {
            self.file_in_slot(k, e);
        }
        self.sync_far_drops();
        let i = self.cursor as usize % SLOTS;
        let mut slot = std::mem::take(&mut self.wheel[i]);
        self.occupied[i / 64] &= !(1 << (i % 64));
        let before = slot.len();
        slot.retain(|(_, e)| live(e));
        let gone = before - slot.len();
        self.len -= gone;
        self.dropped += gone as u64;
        slot.sort_by_key(|e| e.0); // stable: push order among equal times
        self.front.extend(slot.drain(..));
        self.spare.push(slot);
        true
    }

    /// Counts what the far tier dropped as ours.
    #[inline]
    fn sync_far_drops(&mut self) {
        let gone = std::mem::take(&mut self.far.dropped);
        self.len -= gone as usize;
        self.dropped += gone;
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
        let (k, e) = self.front.pop_front().expect("refilled");
        self.len -= 1;
        let t = SimTime::from_nanos(k);
        assert!(t >= self.now, "time went backwards");
        self.now = t;
        Some((t, e))
    }

    /// The time of the earliest pending event.
    pub fn peek_time(&mut self) -> Option<SimTime> {
        self.peek_time_live(&|_| true)
    }

    /// [`Self::peek_time`], dropping events that are no longer `live` on the way.
    #[inline]
    pub fn peek_time_live(&mut self, live: &impl Fn(&E) -> bool) -> Option<SimTime> {
        if !self.refill(live) {
            return None;
        }
        self.front.front().map(|e| SimTime::from_nanos(e.0))
    }

    /// The time of the last popped event.
    pub fn now(&self) -> SimTime {
        self.now
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// Events dropped so far because they were no longer live.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Bits per digit of the far tier's radix heap: 16-way buckets.
const DIGIT: u32 = 4;
const RADIX: usize = 1 << DIGIT;
const BUCKETS: usize = 64_usize.div_ceil(DIGIT as usize) * RADIX;
const WORDS: usize = BUCKETS / 64;

/// The far tier: a radix heap over u64 keys, with 16-way digits, for keys never below the last
/// popped one. An event lives in the bucket named by the highest hex digit in which its key
/// differs from `last` (the level) and its own value of that digit; push is O(1), and an event
/// moves to a lower level at most 15 times. Buckets in (level, digit) order hold ever later keys,
/// so the earliest event is in the first non-empty one. Events with equal keys are always in the
/// same bucket and move together in order, and events at `last` itself are drained from the front,
/// which gives FIFO ties without a sequence field.
struct RadixHeap<E> {
    /// Events at key `last`, in FIFO order.
    front: VecDeque<E>,
    /// Bucket `level · RADIX + d` holds the events whose key differs from `last` first in digit
    /// `level`, where the key's digit is `d` (greater than `last`'s).
    buckets: Vec<Vec<(u64, E)>>,
    /// The smallest key in each bucket (u64::MAX when empty), so a refill makes one pass.
    mins: [u64; BUCKETS],
    /// Bit i set when bucket i is non-empty.
    occupied: [u64; WORDS],
    last: u64,
    /// Events dropped because they were no longer live (collected by the owner).
    dropped: u64,
}

/// The bucket of a key later than `last`.
#[inline]
fn bucket_of(key: u64, last: u64) -> usize {
    let level = (63 - (key ^ last).leading_zeros()) / DIGIT;
    let digit = (key >> (level * DIGIT)) as usize & (RADIX - 1);
    level as usize * RADIX + digit
}

impl<E> RadixHeap<E> {
    fn new() -> Self {
        RadixHeap {
            front: VecDeque::new(),
            buckets: (0..BUCKETS).map(|_| Vec::new()).collect(),
            mins: [u64::MAX; BUCKETS],
            occupied: [0; WORDS],
            last: 0,
            dropped: 0,
        }
    }

    /// Adds an event; `key` must not be below the last popped key.
    #[inline]
    fn push(&mut self, key: u64, event: E) {
        debug_assert!(key >= self.last);
        if key == self.last {
            self.front.push_back(event);
        } else {
            self.bucket(key, event);
        }
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

    /// The smallest key (perhaps of an event no longer live), without moving anything.
    #[inline]
    fn min_key(&self) -> Option<u64> {
        if self.front.is_empty() {
            self.first_bucket().map(|i| self.mins[i])
        } else {
            Some(self.last)
        }
    }

    /// Removes the earliest event if its key is below `limit`, dropping events that are no
    /// longer `live` on the way. `last` never passes `limit`, so later pushes at or above it
    /// stay valid.
    #[inline]
    fn pop_before(&mut self, limit: u64, live: &impl Fn(&E) -> bool) -> Option<(u64, E)> {
        loop {
            if let Some(e) = self.front.pop_front() {
                return Some((self.last, e));
            }
            let i = self.first_bucket()?;
            if self.mins[i] >= limit {
                return None;
            }
            self.refill_once(i, live);
        }
    }

    fn refill_once(&mut self, i: usize, live: &impl Fn(&E) -> bool) {
        let mut moving = std::mem::take(&mut self.buckets[i]);
        self.occupied[i / 64] &= !(1 << (i % 64));
        let min = std::mem::replace(&mut self.mins[i], u64::MAX);
        debug_assert_eq!(Some(min), moving.iter().map(|(k, _)| *k).min());
        self.last = min;
        for (k, e) in moving.drain(..) {
            if !live(&e) {
                self.dropped += 1;
            } else if k == min {
                self.front.push_back(e);
            } else {
                debug_assert!(bucket_of(k, min) / RADIX < i / RADIX);
                self.bucket(k, e);
            }
        }
        self.buckets[i] = moving; // keep the allocation
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
        // At the cursor's slot, in one later wheel slot, and in one far slot.
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
        let is_live = |s: &u64| dead == 0 || s % dead != 0;
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
        // Delays up to ~18 minutes: mostly the far tier and its hand-over to the wheel.
        check_against_reference(9, 40, 0, 0);
    }

    #[test]
    fn matches_reference_across_the_wheel_horizon_with_ties_and_dead_events() {
        // Delays around the ~4.4 s horizon (2^32 ns), times in whole milliseconds-ish.
        check_against_reference(10, 33, 20, 0);
        check_against_reference(11, 34, 16, 5);
        // Dense short delays: the wheel and pushes into the current slot.
        check_against_reference(12, 22, 10, 3);
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
