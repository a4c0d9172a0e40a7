//! The trace hash: SHA-256 over the ordered sequence of processed events.
//!
//! Each event is encoded as 29 fixed little-endian bytes (time, kind, src, dst, payload) into a
//! buffer that is hashed in large blocks, so hashing costs a few nanoseconds per event.

use crate::time::SimTime;
use sha2::{Digest, Sha256};

const BUF: usize = 29 * 2048;

pub struct TraceHasher {
    hasher: Sha256,
    buf: Vec<u8>,
    events: u64,
}

impl Default for TraceHasher {
    fn default() -> Self {
        Self::new()
    }
}

impl TraceHasher {
    pub fn new() -> Self {
        TraceHasher { hasher: Sha256::new(), buf: Vec::with_capacity(BUF), events: 0 }
    }

    #[inline]
    pub fn record(&mut self, time: SimTime, kind: u8, src: u32, dst: u32, payload: u64) {
        self.buf.extend_from_slice(&time.as_nanos().to_le_bytes());
        self.buf.push(kind);
        self.buf.extend_from_slice(&src.to_le_bytes());
        self.buf.extend_from_slice(&dst.to_le_bytes());
        self.buf.extend_from_slice(&payload.to_le_bytes());
        self.events += 1;
        if self.buf.len() >= BUF {
            self.hasher.update(&self.buf);
            self.buf.clear();
        }
    }

    pub fn events(&self) -> u64 {
        self.events
    }

    /// The hex digest of everything recorded so far (the hasher can keep recording).
    pub fn hex(&self) -> String {
        let mut h = self.hasher.clone();
        h.update(&self.buf);
        h.update(self.events.to_le_bytes());
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_and_content_change_the_hash() {
        let mut a = TraceHasher::new();
        let mut b = TraceHasher::new();
        a.record(SimTime::from_nanos(1), 0, 1, 2, 3);
        a.record(SimTime::from_nanos(2), 0, 2, 1, 3);
        b.record(SimTime::from_nanos(2), 0, 2, 1, 3);
        b.record(SimTime::from_nanos(1), 0, 1, 2, 3);
        assert_ne!(a.hex(), b.hex());
        let mut c = TraceHasher::new();
        c.record(SimTime::from_nanos(1), 0, 1, 2, 3);
        c.record(SimTime::from_nanos(2), 0, 2, 1, 3);
        assert_eq!(a.hex(), c.hex());
        assert_eq!(a.hex().len(), 64);
    }

    #[test]
    fn buffering_does_not_change_the_hash() {
        let mut a = TraceHasher::new();
        for i in 0..10_000u64 {
            a.record(SimTime::from_nanos(i), 1, i as u32, 0, i);
        }
        let mut manual = Sha256::new();
        for i in 0..10_000u64 {
            manual.update(i.to_le_bytes());
            manual.update([1u8]);
            manual.update((i as u32).to_le_bytes());
            manual.update(0u32.to_le_bytes());
            manual.update(i.to_le_bytes());
        }
        manual.update(10_000u64.to_le_bytes());
        let want: String = manual.finalize().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(a.hex(), want);
    }
}
