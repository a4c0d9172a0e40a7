//! Link models: one-way latency and bandwidth.

use des::{SimDuration, SimRng};

/// How a one-way latency spreads around its mean.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Spread {
    /// Always exactly the mean.
    Constant,
    Exponential,
    /// Log-normal with this sigma of the underlying normal.
    LogNormal {
        sigma: f64,
    },
    /// Pareto with this tail index (> 1), scaled so its mean is the mean.
    Pareto {
        shape: f64,
    },
    /// SimBlock's draw: Pareto with shape 0.2·mean(ms) and scale mean − 5 ms (falls back to the
    /// mean when that is not a proper distribution).
    SimBlock,
}

impl Spread {
    pub const NAMES: [&'static str; 5] =
        ["constant", "exponential", "lognormal", "pareto", "simblock"];

    /// Draws a latency in nanoseconds with mean `mean_ns`.
    #[inline]
    pub fn sample(self, mean_ns: f64, rng: &mut SimRng) -> f64 {
        match self {
            Spread::Constant => mean_ns,
            Spread::Exponential => rng.exponential(mean_ns),
            Spread::LogNormal { sigma } => rng.lognormal_with_mean(mean_ns, sigma),
            Spread::Pareto { shape } => rng.pareto_with_mean(mean_ns, shape),
            Spread::SimBlock => {
                let mean_ms = mean_ns / 1e6;
                let shape = 0.2 * mean_ms;
                let scale = mean_ms - 5.0;
                if shape <= 1.0 || scale <= 0.0 {
                    mean_ns
                } else {
                    // SimBlock rounds to whole milliseconds.
                    ((rng.pareto(scale, shape) + 0.5) as u64) as f64 * 1e6
                }
            }
        }
    }
}

/// One-way latency of a message from one node to another.
#[derive(Debug, Clone, PartialEq)]
pub enum Latency {
    Uniform {
        min: SimDuration,
        max: SimDuration,
    },
    /// The same mean on every link.
    Mean {
        mean: SimDuration,
        spread: Spread,
    },
    /// Mean from a region×region matrix (row = sender's region).
    Regions {
        matrix: Vec<Vec<SimDuration>>,
        spread: Spread,
    },
}

impl Latency {
    pub fn constant(d: SimDuration) -> Self {
        Latency::Mean {
            mean: d,
            spread: Spread::Constant,
        }
    }

    #[inline]
    pub fn sample(&self, from_region: u8, to_region: u8, rng: &mut SimRng) -> SimDuration {
        match self {
            Latency::Uniform { min, max } => {
                let span = max.as_nanos() - min.as_nanos();
                SimDuration::from_nanos(min.as_nanos() + rng.below(span + 1))
            }
            Latency::Mean {
                mean,
                spread: Spread::Constant,
            } => *mean,
            Latency::Mean { mean, spread } => {
                SimDuration::from_nanos_f64(spread.sample(mean.as_nanos() as f64, rng))
            }
            Latency::Regions { matrix, spread } => {
                let mean = matrix[from_region as usize][to_region as usize];
                SimDuration::from_nanos_f64(spread.sample(mean.as_nanos() as f64, rng))
            }
        }
    }

    /// The mean latency between two regions (for reports and theory).
    pub fn mean(&self, from_region: u8, to_region: u8) -> SimDuration {
        match self {
            Latency::Uniform { min, max } => {
                SimDuration::from_nanos((min.as_nanos() + max.as_nanos()) / 2)
            }
            Latency::Mean { mean, .. } => *mean,
            Latency::Regions { matrix, .. } => matrix[from_region as usize][to_region as usize],
        }
    }
}

/// SimBlock's latency — a Pareto draw rounded to whole milliseconds — as a table: with `u` the
/// uniform draw, the result is at least `base + k` exactly when `u` is at most
/// `((base + k − ½) / scale)^(−shape)`. Counting the thresholds above `u` gives the same value as
/// the formula from the same draw, without a logarithm and an exponential per message (the
/// Pareto draw was a fifth of a Bitcoin-2019 run). The far tail falls back to the formula.
#[derive(Debug, Clone)]
struct RoundedPareto {
    scale: f64,
    shape: f64,
    base_ms: u64,
    /// The thresholds, then [`PAD`] entries of −∞ (no draw is at or below them).
    thresholds: Vec<f64>,
    /// How many thresholds there are (without the padding).
    rows: usize,
    /// Per bin `[i, i + 1) / GUIDE_BINS` of the draw: how many thresholds lie at or above the
    /// bin's upper edge, so every draw in the bin exceeds none of them: the count starts there.
    /// [`EXACT`] is set when no threshold lies inside the bin and some below it: the count is
    /// that number.
    guide: Vec<u16>,
}

const GUIDE_BITS: u32 = 8;
/// Thresholds compared without a branch per draw (see `sample_ms`).
const PAD: usize = 2;
const GUIDE_BINS: usize = 1 << GUIDE_BITS;
/// A guide entry's flag: its bin holds no threshold (rows are fewer than 2^15).
const EXACT: u16 = 1 << 15;

/// Table rows; past the last the formula is used (probability below 1e-6).
const PARETO_ROWS: usize = 512;

impl RoundedPareto {
    /// `None` where SimBlock's parameters give no Pareto (it then uses the mean).
    fn new(mean_ns: f64) -> Option<Self> {
        let mean_ms = mean_ns / 1e6;
        let (shape, scale) = (0.2 * mean_ms, mean_ms - 5.0);
        if shape <= 1.0 || scale <= 0.0 {
            return None;
        }
        let base_ms = (scale + 0.5) as u64;
        let mut thresholds = (1..=PARETO_ROWS as u64)
            .map(|k| libm::pow((base_ms as f64 + k as f64 - 0.5) / scale, -shape))
            .take_while(|&t| t > 1e-6)
            .collect::<Vec<f64>>();
        let rows = thresholds.len();
        // The thresholds fall with k: those at or above an edge are a prefix.
        let at_or_above = |edge: f64| thresholds.partition_point(|&t| t >= edge) as u16;
        let guide = (0..GUIDE_BINS)
            .map(|i| {
                let lo = at_or_above(i as f64 / GUIDE_BINS as f64);
                let hi = at_or_above((i + 1) as f64 / GUIDE_BINS as f64);
                // Below every threshold, the far tail may be past the table: not exact.
                hi | if lo == hi && usize::from(hi) < rows {
                    EXACT
                } else {
                    0
                }
            })
            .collect();
        thresholds.extend([f64::NEG_INFINITY; PAD]);
        Some(RoundedPareto {
            scale,
            shape,
            base_ms,
            thresholds,
            rows,
            guide,
        })
    }

    #[inline]
    fn sample_ms(&self, rng: &mut SimRng) -> u64 {
        // `SimRng::uniform_open0`, keeping its integer: u = m / 2^53 with m in [1, 2^53].
        self.value_ms((rng.next_u64() >> 11) + 1)
    }

    /// The latency of the draw u = m / 2^53.
    #[inline]
    fn value_ms(&self, m: u64) -> u64 {
        let u = m as f64 * (1.0 / (1u64 << 53) as f64);
        // The thresholds fall with k, so those at or above `u` are a prefix; count it from the
        // guide. The bin is ⌊u · GUIDE_BINS⌋ (exact in integers; u = 1 goes to the last bin).
        let bin = ((m >> (53 - GUIDE_BITS)) as usize).min(GUIDE_BINS - 1);
        let g = self.guide[bin];
        let start = usize::from(g & !EXACT);
        if g & EXACT != 0 {
            // No threshold inside the bin: every draw in it has the same count (most bins).
            return self.base_ms + start as u64;
        }
        // Most bins hold at most PAD thresholds: count those without a branch (the thresholds
        // past the bin, and the padding, are below `u`), and scan on only when all were above.
        let t = &self.thresholds[start..start + PAD];
        let mut k = start + usize::from(u <= t[0]) + usize::from(u <= t[1]);
        if k == start + PAD {
            k += self.thresholds[k..].iter().take_while(|&&t| u <= t).count();
        }
        if k < self.rows {
            self.base_ms + k as u64
        } else {
            // The same expression as `SimRng::pareto` on this draw.
            (self.scale * libm::exp(-libm::log(u) / self.shape) + 0.5) as u64
        }
    }
}

/// A [`Latency`] ready to sample fast: SimBlock spreads become tables, one per region pair.
#[derive(Debug, Clone)]
pub struct LatencySampler {
    latency: Latency,
    /// Per (from, to) region pair, row-major; empty unless the spread is SimBlock's.
    tables: Vec<Option<RoundedPareto>>,
    /// Row length of `tables` (1 for a single mean).
    stride: usize,
}

impl LatencySampler {
    pub fn new(latency: Latency) -> Self {
        let (tables, stride) = match &latency {
            Latency::Mean {
                mean,
                spread: Spread::SimBlock,
            } => (vec![RoundedPareto::new(mean.as_nanos() as f64)], 1),
            Latency::Regions {
                matrix,
                spread: Spread::SimBlock,
            } => (
                matrix
                    .iter()
                    .flatten()
                    .map(|m| RoundedPareto::new(m.as_nanos() as f64))
                    .collect(),
                matrix.first().map_or(0, Vec::len),
            ),
            _ => (vec![], 0),
        };
        LatencySampler {
            latency,
            tables,
            stride,
        }
    }

    pub fn latency(&self) -> &Latency {
        &self.latency
    }

    /// Draws exactly what [`Latency::sample`] draws, from the same stream.
    #[inline]
    pub fn sample(&self, from_region: u8, to_region: u8, rng: &mut SimRng) -> SimDuration {
        if self.tables.is_empty() {
            return self.latency.sample(from_region, to_region, rng);
        }
        let i = if self.tables.len() == 1 {
            0
        } else {
            from_region as usize * self.stride + to_region as usize
        };
        match &self.tables[i] {
            Some(t) => SimDuration::from_millis(t.sample_ms(rng)),
            None => self.latency.sample(from_region, to_region, rng),
        }
    }
}

/// Per-node upload and download bandwidth in bits per second.
#[derive(Debug, Clone, PartialEq)]
pub struct Bandwidth {
    pub upload_bps: Vec<u64>,
    pub download_bps: Vec<u64>,
}

impl Bandwidth {
    /// The rate of a link from an upload to a download bandwidth: the smaller, at least 1.
    #[inline]
    pub fn bottleneck(upload_bps: u64, download_bps: u64) -> u64 {
        upload_bps.min(download_bps).max(1)
    }

    /// Time to push `bytes` at `bps`, rounded up to the nanosecond.
    #[inline]
    pub fn duration(bytes: u32, bps: u64) -> SimDuration {
        let ns = match u64::from(bytes).checked_mul(8 * 1_000_000_000) {
            Some(bit_ns) => bit_ns.div_ceil(bps), // the usual case, without 128-bit division
            None => {
                let ns = (u128::from(bytes) * 8 * 1_000_000_000).div_ceil(u128::from(bps));
                ns.min(u128::from(u64::MAX)) as u64
            }
        };
        SimDuration::from_nanos(ns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table gives the formula's value on the same draws (SimBlock's matrix means, and the
    /// constant fallback for small means).
    #[test]
    fn simblock_table_matches_the_formula_draw_for_draw() {
        let matrix: Vec<Vec<SimDuration>> = [[32u64, 124, 5], [12, 294, 322]]
            .iter()
            .map(|r| r.iter().map(|&ms| SimDuration::from_millis(ms)).collect())
            .collect();
        let latency = Latency::Regions {
            matrix,
            spread: Spread::SimBlock,
        };
        let fast = LatencySampler::new(latency.clone());
        let f = des::RngFactory::new(4);
        let (mut a, mut b) = (f.stream("l", 0), f.stream("l", 0));
        for i in 0..600_000u32 {
            let (from, to) = ((i % 2) as u8, (i / 2 % 3) as u8);
            assert_eq!(
                fast.sample(from, to, &mut a),
                latency.sample(from, to, &mut b),
                "draw {i}"
            );
        }
    }
    use des::RngFactory;

    /// The same on the draws where a table could go wrong: both sides of every guide bin's
    /// edges, and the smallest draws (the far tail, past the table), for small, SimBlock's,
    /// and very large means.
    #[test]
    fn simblock_table_matches_the_formula_at_bin_edges_and_in_the_tail() {
        for mean_ms in [5.2, 6.0, 11.0, 124.0, 322.0, 5_000.0, 600_000.0] {
            let t = RoundedPareto::new(mean_ms * 1e6).expect("a Pareto");
            let formula = |m: u64| {
                let u = m as f64 * (1.0 / (1u64 << 53) as f64);
                (t.scale * libm::exp(-libm::log(u) / t.shape) + 0.5) as u64
            };
            let edges = (0..=GUIDE_BINS as u64).map(|i| i << (53 - GUIDE_BITS));
            let near = edges.flat_map(|e| [e.saturating_sub(1), e, e + 1]);
            let tail = [1, 2, 3, 1 << 10, 1 << 20, 1 << 30, 1 << 40];
            for m in near.chain(tail).filter(|&m| (1..=1 << 53).contains(&m)) {
                assert_eq!(t.value_ms(m), formula(m), "mean {mean_ms} ms, m {m}");
            }
        }
    }

    fn mean_and_se(lat: &Latency, n: usize) -> (f64, f64) {
        let mut rng = RngFactory::new(11).stream("lat", 0);
        let xs: Vec<f64> = (0..n)
            .map(|_| lat.sample(0, 0, &mut rng).as_millis_f64())
            .collect();
        let m = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1) as f64;
        (m, (var / n as f64).sqrt())
    }

    /// Every latency model's sample mean is within 5 standard errors of its configured mean.
    #[test]
    fn latency_means_within_standard_error() {
        let ms = SimDuration::from_millis;
        let cases = [
            Latency::Uniform {
                min: ms(10),
                max: ms(30),
            },
            Latency::Mean {
                mean: ms(100),
                spread: Spread::Exponential,
            },
            Latency::Mean {
                mean: ms(100),
                spread: Spread::LogNormal { sigma: 0.5 },
            },
            Latency::Mean {
                mean: ms(100),
                spread: Spread::Pareto { shape: 4.0 },
            },
            Latency::Regions {
                matrix: vec![vec![ms(124)]],
                spread: Spread::SimBlock,
            },
        ];
        for lat in cases {
            let (m, se) = mean_and_se(&lat, 100_000);
            let want = lat.mean(0, 0).as_millis_f64();
            // SimBlock's Pareto has mean scale·shape/(shape−1), within 0.3 ms of the matrix value.
            let bias = if matches!(lat, Latency::Regions { .. }) {
                0.3
            } else {
                0.0
            };
            assert!(
                (m - want).abs() < 5.0 * se + bias,
                "{lat:?}: mean {m} want {want} se {se}"
            );
        }
        assert_eq!(
            Latency::constant(ms(7)).sample(0, 0, &mut RngFactory::new(1).stream("x", 0)),
            ms(7)
        );
    }

    #[test]
    fn transfer_time_is_size_over_bottleneck() {
        // 1 MB at min(8, 4) Mbit/s = 2 s.
        let bps = Bandwidth::bottleneck(8_000_000, 4_000_000);
        assert_eq!(
            Bandwidth::duration(1_000_000, bps),
            SimDuration::from_secs(2)
        );
        assert_eq!(Bandwidth::bottleneck(0, 4_000_000), 1, "at least 1 bit/s");
    }
}
