//! Summary statistics: percentiles, means and 95 % confidence intervals, computed in a fixed
//! order (sorted first) so floating-point results are reproducible.

use serde::{Deserialize, Serialize};

/// A distribution summary of a sample.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Dist {
    pub count: u64,
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

impl Dist {
    /// Summarises `xs` (sorted in place). An empty sample gives all zeros and count 0.
    pub fn of(xs: &mut [f64]) -> Dist {
        if xs.is_empty() {
            return Dist::default();
        }
        xs.sort_by(f64::total_cmp);
        Dist {
            count: xs.len() as u64,
            mean: xs.iter().sum::<f64>() / xs.len() as f64,
            p50: percentile_sorted(xs, 0.50),
            p90: percentile_sorted(xs, 0.90),
            p99: percentile_sorted(xs, 0.99),
            max: xs[xs.len() - 1],
        }
    }
}

/// Nearest-rank percentile of a sorted, non-empty slice.
pub fn percentile_sorted(xs: &[f64], q: f64) -> f64 {
    let rank = (q * xs.len() as f64).ceil() as usize;
    xs[rank.clamp(1, xs.len()) - 1]
}

/// Mean and 95 % confidence half-width over replicates (Student's t).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MeanCi {
    pub n: u64,
    pub mean: f64,
    pub ci95: f64,
    pub sd: f64,
}

/// Two-sided 97.5 % quantiles of Student's t for 1..=30 degrees of freedom.
const T975: [f64; 30] = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
    2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
    2.052, 2.048, 2.045, 2.042,
];

pub fn t975(df: u64) -> f64 {
    match df {
        0 => f64::INFINITY,
        1..=30 => T975[df as usize - 1],
        31..=60 => 2.000,
        61..=120 => 1.980,
        _ => 1.960,
    }
}

impl MeanCi {
    pub fn of(xs: &[f64]) -> MeanCi {
        let n = xs.len();
        if n == 0 {
            return MeanCi::default();
        }
        let mut sorted = xs.to_vec();
        sorted.sort_by(f64::total_cmp);
        let mean = sorted.iter().sum::<f64>() / n as f64;
        if n == 1 {
            return MeanCi {
                n: 1,
                mean,
                ci95: 0.0,
                sd: 0.0,
            };
        }
        let var = sorted.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1) as f64;
        let sd = var.sqrt();
        MeanCi {
            n: n as u64,
            mean,
            ci95: t975(n as u64 - 1) * sd / (n as f64).sqrt(),
            sd,
        }
    }
}

/// Standard error of a binomial proportion p̂ from n trials (uses p if p̂ is 0 or 1).
pub fn binomial_se(p: f64, n: u64) -> f64 {
    (p * (1.0 - p) / n.max(1) as f64).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_ci() {
        let mut xs: Vec<f64> = (1..=100).rev().map(f64::from).collect();
        let d = Dist::of(&mut xs);
        assert_eq!(
            (d.p50, d.p90, d.p99, d.max, d.count),
            (50.0, 90.0, 99.0, 100.0, 100)
        );
        assert!((d.mean - 50.5).abs() < 1e-12);
        let m = MeanCi::of(&[1.0, 2.0, 3.0, 4.0]);
        // sd = 1.291, t(3) = 3.182 → 3.182 · 1.291 / 2 = 2.054
        assert!((m.ci95 - 2.054).abs() < 1e-3, "{m:?}");
        assert_eq!(Dist::of(&mut []), Dist::default());
    }
}
