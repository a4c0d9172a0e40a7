//! Published closed forms the simulation is validated against (see `shared/reference.md`).

/// Eyal & Sirer (2014), SM1: the selfish pool's share of the main chain with hash share `alpha`
/// and tie advantage `gamma`.
pub fn selfish_revenue(alpha: f64, gamma: f64) -> f64 {
    let a = alpha;
    let num = a * (1.0 - a) * (1.0 - a) * (4.0 * a + gamma * (1.0 - 2.0 * a)) - a * a * a;
    let den = 1.0 - a * (1.0 + (2.0 - a) * a);
    num / den
}

/// The hash share above which SM1 pays more than honest mining: (1 − γ) / (3 − 2γ).
pub fn selfish_threshold(gamma: f64) -> f64 {
    (1.0 - gamma) / (3.0 - 2.0 * gamma)
}

/// Rosenfeld's exact probability that an attacker with hash share `q` reverses a payment after
/// `z` confirmations (the attacker wins by catching up; 1 when q ≥ 1/2).
pub fn double_spend_rosenfeld(q: f64, z: u32) -> f64 {
    let p = 1.0 - q;
    if q >= p {
        return 1.0;
    }
    let mut sum = 0.0;
    let mut binom = 1.0; // C(k + z − 1, k), starting at k = 0
    for k in 0..z {
        if k > 0 {
            binom *= f64::from(k + z - 1) / f64::from(k);
        }
        sum += binom
            * (libm::pow(p, f64::from(z)) * libm::pow(q, f64::from(k))
                - libm::pow(q, f64::from(z)) * libm::pow(p, f64::from(k)));
    }
    1.0 - sum
}

/// Nakamoto's Poisson approximation of the same probability (Bitcoin paper, §11).
pub fn double_spend_nakamoto(q: f64, z: u32) -> f64 {
    let p = 1.0 - q;
    if q >= p {
        return 1.0;
    }
    let lambda = f64::from(z) * q / p;
    let mut sum = 1.0;
    let mut poisson = libm::exp(-lambda);
    for k in 0..=z {
        if k > 0 {
            poisson *= lambda / f64::from(k);
        }
        sum -= poisson * (1.0 - libm::pow(q / p, f64::from(z - k)));
    }
    sum
}

/// Stale rate with `n` equal miners on a complete graph with one-way delay `delta` and mean
/// block interval `interval`: 1 − exp(−(n − 1)/n · Δ/T) (the block's own miner has it at once).
pub fn stale_rate(delta_s: f64, interval_s: f64, n: u32) -> f64 {
    let others = f64::from(n.saturating_sub(1)) / f64::from(n.max(1));
    1.0 - libm::exp(-others * delta_s / interval_s)
}

/// Bitcoin-style retargeting over epochs of `n` blocks at constant hash power, without forks:
/// an epoch mined at difficulty D takes Gamma(n, T·D/D*) (D* the difficulty that gives one
/// block per T), so the next difficulty D·n·T/span is D*·n/G with G ~ Gamma(n, 1), whatever
/// D was. Its mean over D* is n/(n − 1) (the rule overshoots, and blocks come that much slower
/// on average); this returns (mean, standard deviation) of D/D*: n/(n − 1) and
/// n/((n − 1)·√(n − 2)). `n` must be ≥ 3.
pub fn retarget_difficulty(n: u32) -> (f64, f64) {
    let n = f64::from(n);
    (n / (n - 1.0), n / ((n - 1.0) * libm::sqrt(n - 2.0)))
}

/// ASERT at constant hash power, half-life τ = `half_lives` block intervals: y = log2(difficulty
/// ÷ the difficulty that gives one block per T) moves by −(X/T − 1)/τ per block, X the block's
/// time, Exp(T·2^y). Linearised, an AR(1) process with coefficient 1 − ln2/τ and noise sd 1/τ:
/// stationary sd √(1/(2τ·ln2)); its mean is −ln2·sd²/2, since the mean block time is exactly T
/// (the schedule error stays bounded), so E[2^y] = 1; and n consecutive samples are worth
/// n·ln2/(2τ) independent ones. Returns (mean, sd, samples per independent one). Good for
/// τ ≫ 1.
pub fn asert_log_difficulty(half_lives: f64) -> (f64, f64, f64) {
    let ln2 = core::f64::consts::LN_2;
    let sd = libm::sqrt(1.0 / (2.0 * half_lives * ln2));
    (-ln2 * sd * sd / 2.0, sd, 2.0 * half_lives / ln2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, eps: f64) -> bool {
        (a - b).abs() < eps
    }

    /// The worked examples printed in the reference (Eyal & Sirer; Nakamoto §11; Rosenfeld).
    #[test]
    fn published_values() {
        assert!(close(selfish_revenue(0.25, 0.5), 0.25, 1e-4));
        assert!(close(selfish_revenue(0.35, 0.0), 0.36651, 1e-5));
        assert!(close(selfish_revenue(0.35, 1.0), 0.46556, 1e-5));
        assert!(close(selfish_revenue(0.4, 0.0), 0.48372, 1e-5));
        assert!(close(selfish_threshold(0.0), 1.0 / 3.0, 1e-12));
        assert!(close(selfish_threshold(0.5), 0.25, 1e-12));
        assert!(close(selfish_threshold(1.0), 0.0, 1e-12));
        let nakamoto = [
            1.0, 0.2045873, 0.0509779, 0.0131722, 0.0034552, 0.0009137, 0.0002428, 0.0000647,
            0.0000173, 0.0000046, 0.0000012,
        ];
        for (z, want) in nakamoto.iter().enumerate() {
            assert!(
                close(double_spend_nakamoto(0.1, z as u32), *want, 5e-7),
                "z = {z}"
            );
        }
        assert!(close(double_spend_rosenfeld(0.1, 1), 0.2, 1e-12));
        assert!(close(double_spend_rosenfeld(0.1, 5), 0.001782, 1e-6));
        assert_eq!(double_spend_rosenfeld(0.5, 3), 1.0);
        assert!(close(stale_rate(1.0, 600.0, u32::MAX), 0.00167, 1e-5));
        assert!(close(stale_rate(20.0, 600.0, u32::MAX), 0.0328, 1e-4));
    }

    /// At the threshold the pool earns exactly its share.
    #[test]
    fn threshold_is_where_revenue_equals_share() {
        for g in [0.0, 0.25, 0.5, 0.75] {
            let a = selfish_threshold(g);
            assert!(close(selfish_revenue(a, g), a, 1e-12), "γ = {g}");
        }
    }
}
