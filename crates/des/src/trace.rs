//! The trace hash: SHA-256 over the ordered sequence of processed events.
//!
//! Each event (time, kind, src, dst, payload) is encoded losslessly and prefix-free as LEB128
//! varints, with time as the delta from the previous event (time never goes backwards), so a
//! typical event costs 8–12 bytes of hashing. The encoding is buffered and hashed in large blocks.
//!
//! A [`TraceSink`] may watch the same records as they are hashed (`chainsim trace` writes them
//! out); the hash does not depend on whether one does.

use crate::time::SimTime;
use sha2::{Digest, Sha256};

const DEFAULT_BUF: usize = 64 * 1024;

/// One hashed record, exactly as the hash sees it: the time, the trace kind
/// (`crate::kernel::TRACE_*`), two ids and a payload, whose meanings depend on the kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceRecord {
    pub time: SimTime,
    pub kind: u8,
    pub src: u32,
    pub dst: u32,
    pub payload: u64,
}

/// Sees every record as it is hashed, in order. It must not influence the run (it has no way
/// back into it); it may do IO, since it belongs to the caller.
pub type TraceSink = Box<dyn FnMut(&TraceRecord) + Send>;

pub struct TraceHasher {
    hasher: Sha256,
    /// `buf[..len]` is encoded and not yet hashed; the buffer has room for one more event past
    /// `flush_at`, so encoding never checks for space.
    buf: Box<[u8]>,
    len: usize,
    flush_at: usize,
    last_time: u64,
    events: u64,
    sink: Option<TraceSink>,
}

impl Default for TraceHasher {
    fn default() -> Self {
        Self::new()
    }
}

/// The most bytes one event takes: four varints of at most 10 bytes and the kind.
const MAX_EVENT: usize = 4 * 10 + 1;

/// Writes `v` as a LEB128 varint at `buf[at..]`; returns the end.
#[inline]
fn varint(buf: &mut [u8], mut at: usize, mut v: u64) -> usize {
    while v >= 0x80 {
        buf[at] = (v as u8) | 0x80;
        v >>= 7;
        at += 1;
    }
    buf[at] = v as u8;
    at + 1
}

impl TraceHasher {
    pub fn new() -> Self {
        Self::with_buffer(DEFAULT_BUF)
    }

    /// A hasher that flushes to SHA-256 every `bytes` (the digest does not depend on it).
    pub fn with_buffer(bytes: usize) -> Self {
        let flush_at = bytes.max(1);
        TraceHasher {
            hasher: Sha256::new(),
            buf: vec![0; flush_at + MAX_EVENT].into_boxed_slice(),
            len: 0,
            flush_at,
            last_time: 0,
            events: 0,
            sink: None,
        }
    }

    /// From now on every record also goes to `sink`.
    pub fn set_sink(&mut self, sink: TraceSink) {
        self.sink = Some(sink);
    }

    #[inline]
    pub fn record(&mut self, time: SimTime, kind: u8, src: u32, dst: u32, payload: u64) {
        if let Some(sink) = &mut self.sink {
            sink(&TraceRecord {
                time,
                kind,
                src,
                dst,
                payload,
            });
        }
        let t = time.as_nanos();
        debug_assert!(t >= self.last_time);
        let buf = &mut self.buf[self.len..self.len + MAX_EVENT];
        let mut at = varint(buf, 0, t - self.last_time);
        self.last_time = t;
        buf[at] = kind;
        at = varint(buf, at + 1, u64::from(src));
        at = varint(buf, at, u64::from(dst));
        at = varint(buf, at, payload);
        self.len += at;
        self.events += 1;
        if self.len >= self.flush_at {
            self.hasher.update(&self.buf[..self.len]);
            self.len = 0;
        }
    }

    pub fn events(&self) -> u64 {
        self.events
    }

    /// The hex digest of everything recorded so far (the hasher can keep recording).
    pub fn hex(&self) -> String {
        let mut h = self.hasher.clone();
        h.update(&self.buf[..self.len]);
        h.update(self.events.to_le_bytes());
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Ev = (u64, u8, u32, u32, u64);

    fn hash(evs: &[Ev], buf: usize) -> String {
        let mut h = TraceHasher::with_buffer(buf);
        for &(t, k, s, d, p) in evs {
            h.record(SimTime::from_nanos(t), k, s, d, p);
        }
        h.hex()
    }

    #[test]
    fn every_field_and_the_order_matter() {
        let base: Vec<Ev> = vec![
            (1, 0, 1, 2, 3),
            (2, 0, 2, 1, 3),
            (2, 5, 300, 70_000, u64::MAX),
        ];
        let h = hash(&base, 1 << 16);
        assert_eq!(h.len(), 64);
        assert_eq!(h, hash(&base, 1 << 16));
        let mut variants = vec![];
        for field in 0..5 {
            let mut v = base.clone();
            match field {
                0 => v[0].0 = 0,
                1 => v[1].1 = 1,
                2 => v[1].2 = 9,
                3 => v[1].3 = 9,
                _ => v[1].4 = 4,
            }
            variants.push(v);
        }
        // The two events at t=2 swapped.
        variants.push(vec![base[0], base[2], base[1]]);
        variants.push(base[..2].to_vec());
        for v in variants {
            assert_ne!(hash(&v, 1 << 16), h, "{v:?}");
        }
    }

    /// The encoding is prefix-free: shifting a byte between fields cannot collide.
    #[test]
    fn field_boundaries_are_unambiguous() {
        assert_ne!(
            hash(&[(0, 0, 128, 0, 0)], 64),
            hash(&[(0, 0, 0, 128, 0)], 64)
        );
        assert_ne!(
            hash(&[(0, 0, 1, 0, 0), (0, 0, 0, 0, 0)], 64),
            hash(&[(0, 0, 1, 0, 0)], 64)
        );
    }

    /// A sink sees every record, in order, and hashing what it saw gives the same digest.
    #[test]
    fn a_sink_sees_exactly_what_is_hashed() {
        let evs: Vec<Ev> = (0..3_000u64)
            .map(|i| (i * 3 / 2, (i % 5) as u8, (i * 31) as u32, 7, i << 20))
            .collect();
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut h = TraceHasher::with_buffer(100);
        let log = seen.clone();
        h.set_sink(Box::new(move |r| log.lock().unwrap().push(*r)));
        for &(t, k, s, d, p) in &evs {
            h.record(SimTime::from_nanos(t), k, s, d, p);
        }
        let seen: Vec<Ev> = (seen.lock().unwrap().iter())
            .map(|r| (r.time.as_nanos(), r.kind, r.src, r.dst, r.payload))
            .collect();
        assert_eq!(seen, evs);
        assert_eq!(h.hex(), hash(&seen, 1 << 16));
    }

    #[test]
    fn buffer_size_does_not_change_the_hash() {
        let evs: Vec<Ev> = (0..10_000u64)
            .map(|i| (i * 7, (i % 3) as u8, i as u32, 5, i * i))
            .collect();
        assert_eq!(hash(&evs, 1), hash(&evs, 1 << 16));
        assert_eq!(hash(&evs, 13), hash(&evs, 4096));
    }
}
