//! The validation suite behind `chainsim validate`: small scenarios whose outcome a published
//! analysis predicts, run through the full simulator (real nodes, real messages), and compared
//! with a tolerance derived from the sample size. Pure computation: the caller runs the jobs
//! (in parallel if it likes) and hands the outputs back for evaluation.

use crate::config::{ByzantineCfg, HashChangeCfg, HashDist, HashPower, RunConfig, StrategyKind};
use crate::RunOutput;
use chain::Relay;
use des::{RngFactory, SimDuration};
use metrics::{binomial_se, theory, MeanCi};
use net::{Latency, Spread, TopologyKind};

/// Tolerance in standard errors. For a normal estimate a correct simulation fails a row with
/// probability 6e-5 (two-sided), so a failure means a real disagreement.
pub const Z: f64 = 4.0;

/// One line of the table.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Row {
    pub group: &'static str,
    pub case: String,
    /// The sample behind the simulated value, in words ("20 runs × 3000 blocks").
    pub sample: String,
    pub simulated: f64,
    pub theory: f64,
    /// A second published value shown beside the first (Nakamoto's approximation).
    pub other: Option<f64>,
    /// One standard error of the simulated value.
    pub se: f64,
    /// Allowed |simulated − theory|: Z standard errors (plus any stated model bias bound).
    pub tolerance: f64,
    pub pass: bool,
    /// For plots: x (α, z, Δ/T, share) and the line it belongs to (γ, q).
    pub x: f64,
    pub line: f64,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Selfish { alpha: f64, gamma: f64 },
    DoubleSpend { q: f64, z: u32, give_up: u32 },
    Stale { ratio: f64, nodes: u32 },
    Share { shares: [f64; 4] },
    Retarget { every: u32, factor: f64 },
    Asert { half_lives: f64, factor: f64 },
}

/// A case: its runs and how to judge them.
#[derive(Clone, Debug)]
pub struct Case {
    pub group: &'static str,
    pub name: String,
    /// (configuration, seed) of every run, in order.
    pub runs: Vec<(RunConfig, u64)>,
    kind: Kind,
}

pub const SELFISH_ALPHAS: [f64; 7] = [0.1, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45];
pub const SELFISH_GAMMAS: [f64; 3] = [0.0, 0.5, 1.0];
const SELFISH_RUNS: u32 = 20;
/// Selfish mining with the difficulty retargeted every [`RETARGET_EVERY`] blocks: the pool's
/// share of the main chain is still R(α, γ) (Grunspan & Pérez-Marco 2018: the difficulty
/// adjustment changes what the pool earns per unit of time, not its share of the blocks), as
/// long as epochs are long against the races (a boundary inside a race gives the two branches
/// different difficulties; with epochs of 5 blocks the pool gained 3-4 points here).
const SELFISH_RETARGET: [(f64, f64); 3] = [(0.35, 0.5), (0.4, 0.0), (0.45, 1.0)];
const SELFISH_BLOCKS: u64 = 3000;
pub const DOUBLE_SPEND: [(f64, u32); 7] = [
    (0.1, 1),
    (0.1, 2),
    (0.2, 2),
    (0.2, 4),
    (0.3, 2),
    (0.3, 4),
    (0.3, 6),
];
const DS_RUNS: u32 = 12;
const DS_BLOCKS: u64 = 15_000;
/// Give up when the chance of ever catching up falls below this (it bounds the bias).
const DS_GIVE_UP_BELOW: f64 = 1e-4;
const STALE_RATIOS: [f64; 3] = [0.01, 0.04, 0.1];
const STALE_BLOCKS: u64 = 10_000;
const SHARE_BLOCKS: u64 = 20_000;
/// Retargeting: epochs of this many blocks, this many of them after the first, at these
/// multiples of the hash power the genesis difficulty is set for.
const RETARGET_EVERY: u32 = 100;
const RETARGET_EPOCHS: u64 = 150;
const RETARGET_FACTORS: [f64; 2] = [2.0, 0.5];
/// ASERT: a half-life of this many block intervals, this many blocks.
const ASERT_HALF_LIVES: u64 = 20;
const ASERT_BLOCKS: u64 = 8000;

/// A run's final main chain, genesis excluded, in height order (`None` if it has a gap).
pub fn main_chain(blocks: &[metrics::BlockRecord]) -> Option<Vec<&metrics::BlockRecord>> {
    let mut main: Vec<_> = blocks.iter().filter(|b| b.main).collect();
    main.sort_by_key(|b| b.height);
    (main.iter().enumerate())
        .all(|(i, b)| b.height as usize == i + 1)
        .then_some(main)
}

/// Per block of a run's final main chain: the time since its parent ÷ (`interval_s` × its
/// difficulty ÷ `hash`), the mean time it should take at hash power `hash` × what genesis's
/// difficulty is set for. Each is Exp(1) given its difficulty, so over k blocks the sum is
/// Gamma(k, 1), whatever rule set the difficulties.
pub fn scaled_intervals(
    blocks: &[metrics::BlockRecord],
    interval_s: f64,
    hash: f64,
) -> Option<Vec<f64>> {
    let main = main_chain(blocks)?;
    let mut before = 0.0;
    Some(
        (main.iter())
            .map(|b| {
                let x = (b.created_s - before) / (interval_s * b.difficulty / hash);
                before = b.created_s;
                x
            })
            .collect(),
    )
}

/// Per whole epoch of `every` blocks of a run's final main chain: (its span in seconds, when it
/// ended, its difficulty × genesis's). Epoch k's span runs from block (k−1)·every to block
/// k·every, all mined at its difficulty (`None` if the main chain has a gap or an epoch's
/// difficulty varies: the retarget rule was broken).
pub fn epochs(blocks: &[metrics::BlockRecord], every: usize) -> Option<Vec<(f64, f64, f64)>> {
    let main = main_chain(blocks)?;
    (0..main.len() / every)
        .map(|k| {
            let start = if k == 0 {
                0.0
            } else {
                main[k * every - 1].created_s
            };
            let epoch = &main[k * every..(k + 1) * every];
            let d = epoch[0].difficulty;
            (epoch.iter().all(|b| b.difficulty == d)).then(|| {
                (
                    epoch[every - 1].created_s - start,
                    epoch[every - 1].created_s,
                    d,
                )
            })
        })
        .collect()
}

/// Negligible delay (1 ms against 600 s blocks), complete graph, push relay, equal hash power:
/// the setting the closed forms assume (tests start from it too).
pub fn base(nodes: u32, blocks: u64) -> RunConfig {
    let mut c = RunConfig::quickstart();
    c.nodes = nodes;
    c.topology = TopologyKind::Complete;
    c.latency = Latency::Mean {
        mean: SimDuration::from_millis(1),
        spread: Spread::Constant,
    };
    c.upload_bps = None;
    c.download_bps = None;
    c.chain.relay = Relay::Push;
    c.chain.block_size = 1000;
    c.block_interval = SimDuration::from_secs(600);
    c.hash_power = HashPower::equal(nodes);
    c.stop_blocks = Some(blocks);
    c.sample_interval = SimDuration::from_secs(3600 * 24);
    c
}

impl Case {
    /// `runs` runs of `cfg`, seeded from the case's name.
    fn new(group: &'static str, name: &str, cfg: &RunConfig, runs: u32, kind: Kind) -> Case {
        let f = RngFactory::new(0x00c0_ffee);
        Case {
            group,
            name: name.to_string(),
            runs: (0..runs)
                .map(|i| (cfg.clone(), f.derive_seed(name, u64::from(i))))
                .collect(),
            kind,
        }
    }
}

/// The smallest deficit at which giving up loses less than [`DS_GIVE_UP_BELOW`] of success.
fn give_up(q: f64) -> u32 {
    let r = q / (1.0 - q);
    (libm::log(DS_GIVE_UP_BELOW) / libm::log(r)).ceil().max(1.0) as u32
}

/// Every case of the suite.
pub fn suite() -> Vec<Case> {
    let mut out = vec![];
    // An SM1 pool of share α, γ enforced, under the difficulty rule `retarget`.
    let selfish = |group, name: String, alpha, gamma, retarget| {
        let mut cfg = base(21, SELFISH_BLOCKS);
        cfg.retarget = retarget;
        let mut b = ByzantineCfg::new(StrategyKind::Selfish, vec![0]);
        b.hash_share = Some(alpha);
        b.gamma = Some(gamma);
        cfg.byzantine = vec![b];
        Case::new(
            group,
            &name,
            &cfg,
            SELFISH_RUNS,
            Kind::Selfish { alpha, gamma },
        )
    };
    for &gamma in &SELFISH_GAMMAS {
        for &alpha in &SELFISH_ALPHAS {
            let name = format!("α={alpha} γ={gamma}");
            let fixed = chain::Retarget::FIXED;
            out.push(selfish("selfish mining revenue", name, alpha, gamma, fixed));
        }
    }
    for &(alpha, gamma) in &SELFISH_RETARGET {
        let name = format!("α={alpha} γ={gamma}, epochs of {RETARGET_EVERY}");
        let epochs = chain::Retarget::epoch(RETARGET_EVERY, 4.0);
        let group = "selfish mining revenue, retargeting";
        out.push(selfish(group, name, alpha, gamma, epochs));
    }
    for &(q, z) in &DOUBLE_SPEND {
        let g = give_up(q);
        let mut cfg = base(21, DS_BLOCKS);
        let mut b = ByzantineCfg::new(StrategyKind::DoubleSpend, vec![0]);
        b.hash_share = Some(q);
        b.confirmations = z;
        b.give_up = g;
        cfg.byzantine = vec![b];
        out.push(Case::new(
            "double-spend success",
            &format!("q={q} z={z}"),
            &cfg,
            DS_RUNS,
            Kind::DoubleSpend { q, z, give_up: g },
        ));
    }
    for &ratio in &STALE_RATIOS {
        let nodes = 50;
        let mut cfg = base(nodes, STALE_BLOCKS);
        let delta = SimDuration::from_secs(1);
        cfg.latency = Latency::Mean {
            mean: delta,
            spread: Spread::Constant,
        };
        cfg.block_interval = SimDuration::from_secs_f64(1.0 / ratio);
        out.push(Case::new(
            "honest stale rate",
            &format!("Δ/T={ratio}"),
            &cfg,
            1,
            Kind::Stale { ratio, nodes },
        ));
    }
    let shares = [0.4, 0.3, 0.2, 0.1];
    let mut cfg = base(20, SHARE_BLOCKS);
    cfg.hash_power = HashPower {
        dist: HashDist::Shares,
        miners: 4,
        shares: shares.to_vec(),
        ..HashPower::equal(4)
    };
    // Named "shares": its rows name each miner, and the name seeds the run.
    out.push(Case::new(
        "miner share, no attacker",
        "shares",
        &cfg,
        1,
        Kind::Share { shares },
    ));
    for factor in RETARGET_FACTORS {
        let mut cfg = base(10, u64::from(RETARGET_EVERY) * (RETARGET_EPOCHS + 1));
        cfg.retarget = chain::Retarget::epoch(RETARGET_EVERY, 4.0);
        // From the start, the hash power is `factor` × what the genesis difficulty is set for.
        cfg.hash_changes = vec![HashChangeCfg {
            at: SimDuration::ZERO,
            nodes: (0..10).collect(),
            factor,
        }];
        out.push(Case::new(
            "difficulty retarget",
            &format!("hash power ×{factor}"),
            &cfg,
            1,
            Kind::Retarget {
                every: RETARGET_EVERY,
                factor,
            },
        ));
        cfg.stop_blocks = Some(ASERT_BLOCKS);
        let half_life = cfg.block_interval.saturating_mul(ASERT_HALF_LIVES);
        cfg.retarget = chain::Retarget::asert(half_life);
        out.push(Case::new(
            "difficulty retarget",
            &format!("ASERT, hash power ×{factor}"),
            &cfg,
            1,
            Kind::Asert {
                half_lives: ASERT_HALF_LIVES as f64,
                factor,
            },
        ));
    }
    out
}

/// Mining at the difficulty set: the mean of [`scaled_intervals`] is 1, sd 1/√k for k blocks.
fn rate_row(case: &Case, out: &RunOutput, factor: f64) -> Row {
    let t = case.runs[0].0.block_interval.as_secs_f64();
    let g = scaled_intervals(&out.blocks, t, factor).unwrap_or_default();
    let k = g.len() as f64;
    let mut r = row(
        case.group,
        format!("{}: block time ÷ (T × difficulty ÷ hash power)", case.name),
        format!("{} blocks", g.len()),
        g.iter().sum::<f64>() / k.max(1.0),
        1.0,
        1.0 / k.max(1.0).sqrt(),
        0.0,
    );
    r.x = factor;
    r
}

fn row(
    group: &'static str,
    case: String,
    sample: String,
    simulated: f64,
    theory: f64,
    se: f64,
    extra: f64,
) -> Row {
    let tolerance = Z * se + extra;
    Row {
        group,
        case,
        sample,
        simulated,
        theory,
        other: None,
        se,
        tolerance,
        pass: (simulated - theory).abs() <= tolerance,
        x: 0.0,
        line: 0.0,
    }
}

impl Case {
    /// Judges the outputs of [`Case::runs`] (same order).
    pub fn evaluate(&self, outs: &[RunOutput]) -> Vec<Row> {
        match self.kind {
            Kind::Selfish { alpha, gamma } => {
                let xs: Vec<f64> = outs
                    .iter()
                    .map(|o| o.metrics.attacks.first().map_or(0.0, |a| a.main_share))
                    .collect();
                // Batch means: each run is one batch, so correlation inside a run is covered.
                let m = MeanCi::of(&xs);
                let se = m.sd / (m.n.max(1) as f64).sqrt();
                let mut r = row(
                    self.group,
                    self.name.clone(),
                    format!("{} runs × {SELFISH_BLOCKS} blocks", outs.len()),
                    m.mean,
                    theory::selfish_revenue(alpha, gamma),
                    se,
                    0.0,
                );
                r.x = alpha;
                r.line = gamma;
                vec![r]
            }
            Kind::DoubleSpend { q, z, give_up } => {
                let (s, f) = outs.iter().fold((0, 0), |(s, f), o| {
                    let a = o.metrics.attacks.first();
                    (
                        s + a.map_or(0, |a| a.successes),
                        f + a.map_or(0, |a| a.failures),
                    )
                });
                let n = s + f;
                let th = theory::double_spend_rosenfeld(q, z);
                // Giving up at deficit g forgoes at most (q/p)^g of success probability.
                let bias = libm::pow(q / (1.0 - q), f64::from(give_up));
                let mut r = row(
                    self.group,
                    self.name.clone(),
                    format!("{n} races (give up {give_up} behind)"),
                    s as f64 / n.max(1) as f64,
                    th,
                    binomial_se(th, n),
                    bias,
                );
                r.other = Some(theory::double_spend_nakamoto(q, z));
                r.x = f64::from(z);
                r.line = q;
                vec![r]
            }
            Kind::Stale { ratio, nodes } => {
                let o = &outs[0];
                let n = o.metrics.blocks_mined;
                let th = theory::stale_rate(ratio, 1.0, nodes);
                let mut r = row(
                    self.group,
                    self.name.clone(),
                    format!("{n} blocks, {nodes} miners"),
                    o.metrics.fork_rate,
                    th,
                    binomial_se(th, n),
                    0.0,
                );
                r.x = ratio;
                vec![r]
            }
            Kind::Share { shares } => {
                let m = &outs[0].metrics;
                let n = m.main_chain_length;
                shares
                    .iter()
                    .enumerate()
                    .map(|(i, &s)| {
                        let got = m.miners.get(i).map_or(0.0, |x| x.main_share);
                        let mut r = row(
                            self.group,
                            format!("miner {i} (share {s})"),
                            format!("{n} main-chain blocks"),
                            got,
                            s,
                            binomial_se(s, n),
                            0.0,
                        );
                        r.x = s;
                        r
                    })
                    .collect()
            }
            Kind::Retarget { every, factor } => {
                let n = every as usize;
                let t = self.runs[0].0.block_interval.as_secs_f64();
                let ep = epochs(&outs[0].blocks, n).unwrap_or_default();
                let rate = rate_row(self, &outs[0], factor);
                // The rule: the difficulty after an epoch at hash power h (whose span did not
                // hit the clamp), ÷ h, is n/G.
                let target = f64::from(every) * t;
                let d: Vec<f64> = (ep.windows(2))
                    .filter(|w| (target / 4.0..=target * 4.0).contains(&w[0].0))
                    .map(|w| w[1].2 / factor)
                    .collect();
                let (mean, sd) = theory::retarget_difficulty(every);
                let k = d.len() as f64;
                let mut rule = row(
                    self.group,
                    format!("{}: difficulty ÷ hash power", self.name),
                    format!("{} retargets × {every} blocks", d.len()),
                    d.iter().sum::<f64>() / k.max(1.0),
                    mean,
                    sd / k.max(1.0).sqrt(),
                    0.0,
                );
                rule.x = factor;
                vec![rate, rule]
            }
            Kind::Asert { half_lives, factor } => {
                let rate = rate_row(self, &outs[0], factor);
                // Settled: log2(difficulty ÷ h) over the second half of the main chain.
                let main = main_chain(&outs[0].blocks).unwrap_or_default();
                let late = &main[main.len() / 2..];
                let y: Vec<f64> = (late.iter())
                    .map(|b| libm::log2(b.difficulty / factor))
                    .collect();
                let n = y.len() as f64;
                let (mean, sd, per) = theory::asert_log_difficulty(half_lives);
                let mut settled = row(
                    self.group,
                    format!("{}: log2(difficulty ÷ hash power), second half", self.name),
                    format!("{} blocks, half-life {half_lives} T", y.len()),
                    y.iter().sum::<f64>() / n.max(1.0),
                    mean,
                    sd / (n / per).max(1.0).sqrt(),
                    0.0,
                );
                settled.x = factor;
                vec![rate, settled]
            }
        }
    }
}

/// Profitability thresholds, from the selfish rows: for each γ, every α whose theoretical
/// revenue is clearly above or below α (by more than the row's tolerance) must fall on the same
/// side in the simulation. The simulated threshold is where simulated revenue − α crosses zero.
pub fn thresholds(rows: &[Row]) -> Vec<Row> {
    let mut out = vec![];
    for &gamma in &SELFISH_GAMMAS {
        let mut mine: Vec<&Row> = rows
            .iter()
            .filter(|r| r.group == "selfish mining revenue" && r.line == gamma)
            .collect();
        mine.sort_by(|a, b| a.x.total_cmp(&b.x));
        let decisive: Vec<&&Row> = mine
            .iter()
            .filter(|r| (r.theory - r.x).abs() > r.tolerance)
            .collect();
        let agree = decisive
            .iter()
            .filter(|r| (r.simulated > r.x) == (r.theory > r.x))
            .count();
        let crossing = mine
            .windows(2)
            .find(|w| (w[0].simulated - w[0].x) <= 0.0 && (w[1].simulated - w[1].x) > 0.0)
            .map(|w| {
                let (d0, d1) = (w[0].simulated - w[0].x, w[1].simulated - w[1].x);
                w[0].x + (w[1].x - w[0].x) * (-d0) / (d1 - d0)
            })
            .unwrap_or(if mine.first().is_some_and(|r| r.simulated > r.x) {
                0.0
            } else {
                f64::NAN
            });
        out.push(Row {
            group: "selfish profitability threshold",
            case: format!("γ={gamma}"),
            sample: format!("{agree}/{} decisive α on the right side", decisive.len()),
            simulated: crossing,
            theory: theory::selfish_threshold(gamma),
            other: None,
            se: f64::NAN,
            tolerance: f64::NAN,
            pass: agree == decisive.len(),
            x: gamma,
            line: gamma,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn give_up_bounds_the_bias() {
        for q in [0.1, 0.2, 0.3, 0.4] {
            let g = give_up(q);
            assert!(libm::pow(q / (1.0 - q), f64::from(g)) <= DS_GIVE_UP_BELOW);
            assert!(libm::pow(q / (1.0 - q), f64::from(g - 1)) > DS_GIVE_UP_BELOW || g == 1);
        }
    }

    #[test]
    fn a_wrong_value_fails_its_row() {
        let r = row("g", "c".into(), "s".into(), 0.30, 0.25, 0.01, 0.0);
        assert!(!r.pass);
        let r = row("g", "c".into(), "s".into(), 0.27, 0.25, 0.01, 0.0);
        assert!(r.pass);
    }

    #[test]
    fn thresholds_flag_the_wrong_side() {
        let mk = |x: f64, sim: f64, th: f64| Row {
            group: "selfish mining revenue",
            case: String::new(),
            sample: String::new(),
            simulated: sim,
            theory: th,
            other: None,
            se: 0.001,
            tolerance: 0.004,
            pass: true,
            x,
            line: 0.0,
        };
        let good = [mk(0.3, 0.28, 0.29), mk(0.4, 0.47, 0.48)];
        let t = thresholds(&good);
        assert!(t[0].pass);
        assert!(t[0].simulated > 0.3 && t[0].simulated < 0.4);
        let bad = [mk(0.3, 0.33, 0.29), mk(0.4, 0.47, 0.48)];
        assert!(!thresholds(&bad)[0].pass);
    }
}
