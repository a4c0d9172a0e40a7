//! Difficulty adjustment (`[consensus.difficulty]`): miners find blocks at a rate ∝ hash power ÷
//! difficulty, the `epoch` rule moves the difficulty to where the hash power is, and the fork
//! choice weighs work, not height. Tolerances are standard deviations of Gamma-distributed
//! epoch spans, from the number of blocks.

use chain::{ChainMsg, ForkChoice, MsgKind, Retarget, GENESIS_DIFFICULTY};
use des::{NodeId, SimDuration, SimTime};
use net::{Latency, TopologyKind};
use runner::{run_one, HashChangeCfg, RunConfig};

const T: u64 = 600;

/// The validation suite's setting (1 ms delays against 600 s blocks), sampled every block
/// interval.
fn base(nodes: u32, blocks: u64) -> RunConfig {
    let mut c = runner::validate::base(nodes, blocks);
    c.sample_interval = SimDuration::from_secs(T);
    c
}

fn change(at_s: u64, nodes: u32, factor: f64) -> HashChangeCfg {
    HashChangeCfg {
        at: SimDuration::from_secs(at_s),
        nodes: (0..nodes).collect(),
        factor,
    }
}

/// Epoch spans at hash power `h` (× the start's) and difficulty `d`: N blocks take
/// Gamma(N, T·d/h). Summed and scaled over K epochs, Gamma(N·K, 1): within 5 sd of N·K.
fn spans_follow_the_rate(spans: &[(f64, f64)], every: usize, what: &str) {
    let nk = (spans.len() * every) as f64;
    let g: f64 = spans
        .iter()
        .map(|&(s, d_over_h)| s / (T as f64 * d_over_h))
        .sum();
    assert!(
        (g - nk).abs() <= 5.0 * nk.sqrt(),
        "{what}: {g:.0} block intervals' worth of time for {nk} blocks (± {:.0})",
        5.0 * nk.sqrt()
    );
}

/// Hash power doubles at the start and drops to half the start's later. Every epoch mined at
/// one hash power takes Gamma(N, T·difficulty/hash power) — the rate follows the difficulty,
/// through rises (wins thinned) and falls (the race's bound lowered) — and the retargets bring
/// the difficulty to the hash power: the difficulty after an epoch at constant hash power h is
/// h·N/G with G ~ Gamma(N, 1), mean h·N/(N−1).
#[test]
fn the_block_rate_follows_the_difficulty_and_the_difficulty_the_hash_power() {
    const N: usize = 50;
    let drop_s = 1500 * T;
    let mut cfg = base(10, 3000);
    cfg.retarget = Retarget::epoch(N as u32, 4.0);
    cfg.hash_changes = vec![change(0, 10, 2.0), change(drop_s, 10, 0.5)];
    let out = run_one(&cfg, 11).unwrap();
    assert_eq!(out.metrics.stale_blocks, 0, "1 ms against 600 s");
    let ep = runner::validate::epochs(&out.blocks, N).expect("a gap or a mid-epoch change");
    assert!(ep.len() >= 55, "{} epochs", ep.len());
    let h = |end: f64| if end <= drop_s as f64 { 2.0 } else { 0.5 };
    // Whole epochs on one side of the drop.
    let before = ep.iter().filter(|e| e.1 <= drop_s as f64);
    let after = ep.iter().filter(|e| e.1 - e.0 > drop_s as f64);
    let spans = |it: &mut dyn Iterator<Item = &(f64, f64, f64)>| -> Vec<(f64, f64)> {
        it.map(|&(s, end, d)| (s, d / h(end))).collect()
    };
    let (b, a) = (spans(&mut before.clone()), spans(&mut after.clone()));
    assert!(
        b.len() >= 25 && a.len() >= 20,
        "{} and {} epochs",
        b.len(),
        a.len()
    );
    spans_follow_the_rate(&b, N, "at twice the hash power");
    spans_follow_the_rate(&a, N, "at half the hash power");
    // The difficulty of an epoch that follows a whole epoch at one hash power, unless that
    // epoch's span hit the clamp.
    let n = N as f64;
    let target = n * T as f64;
    let track = |side: &[&(f64, f64, f64)], h: f64, what: &str| {
        let d: Vec<f64> = (side.windows(2))
            .filter(|w| (target / 4.0..=target * 4.0).contains(&w[0].0))
            .map(|w| w[1].2 / h)
            .collect();
        let (mean, sd) = (n / (n - 1.0), n / ((n - 1.0) * (n - 2.0).sqrt()));
        let k = d.len() as f64;
        let got = d.iter().sum::<f64>() / k;
        assert!(
            (got - mean).abs() <= 5.0 * sd / k.sqrt(),
            "{what}: difficulty ÷ hash power {got:.3} over {k} epochs, expected {mean:.3} ± {:.3}",
            5.0 * sd / k.sqrt()
        );
    };
    track(&before.collect::<Vec<_>>(), 2.0, "twice");
    track(&after.collect::<Vec<_>>(), 0.5, "half");
    assert!(
        out.thinned_wins > 0,
        "at difficulty 2 half the draws are thinned"
    );
}

/// With the `epoch` rule and an epoch longer than the run, no retarget happens: the run is the
/// fixed-difficulty run, trace hash included (no thinning draw is made).
#[test]
fn an_epoch_that_never_ends_is_a_fixed_difficulty() {
    let mut cfg = base(20, 300);
    cfg.latency = Latency::constant(SimDuration::from_secs(5));
    let fixed = run_one(&cfg, 4).unwrap();
    cfg.retarget = Retarget::epoch(1000, 4.0);
    let epoch = run_one(&cfg, 4).unwrap();
    assert_eq!(fixed.trace_hash, epoch.trace_hash);
    assert_eq!(fixed.thinned_wins, 0);
    assert!(fixed.metrics.stale_blocks > 0, "5 s delays fork sometimes");
    assert!(epoch.blocks.iter().all(|b| b.difficulty == 1.0));
}

/// A replica holds A1 ← A2 ← A3 ← A4, an epoch of two blocks in 40 s (aiming at 20 s: A3 and A4
/// at half the difficulty), and B1 ← B2 ← B3, an epoch in 2 s (B3 at 4×, the clamp). Work: A 3,
/// B 6 (genesis difficulties). Both fork choices end on B3, whatever the order, though A is
/// longer and A1's subtree has more blocks; with a fixed difficulty both end on A4.
#[test]
fn the_fork_choice_weighs_work_not_blocks() {
    for retarget in [Retarget::FIXED, Retarget::epoch(2, 4.0)] {
        for fork_choice in [ForkChoice::LongestChain, ForkChoice::Ghost] {
            for a_first in [true, false] {
                let mut cfg = base(2, 1);
                cfg.block_interval = SimDuration::from_secs(10);
                cfg.retarget = retarget;
                cfg.chain.fork_choice = fork_choice;
                let (mut world, _, _) = runner::build(&cfg, 1).unwrap();
                let store = &mut world.shared.store;
                let mut make = |parent: chain::BlockId, t: u64| {
                    let nonce = store.len() as u64;
                    let at = SimTime::ZERO.saturating_add(SimDuration::from_secs(t));
                    store.extend(parent, NodeId(1), at, nonce)
                };
                let g = chain::BlockId::GENESIS;
                let a1 = make(g, 20);
                let a2 = make(a1, 40);
                let a3 = make(a2, 41);
                let a4 = make(a3, 42);
                let b1 = make(g, 1);
                let b2 = make(b1, 2);
                let b3 = make(b2, 3);
                let store = &world.shared.store;
                if retarget != Retarget::FIXED {
                    assert_eq!(store.difficulty(a4), GENESIS_DIFFICULTY / 2);
                    assert_eq!(store.difficulty(b3), GENESIS_DIFFICULTY * 4);
                }
                let (a, b) = (vec![a1, a2, a3, a4], vec![b1, b2, b3]);
                let order = if a_first { [a, b] } else { [b, a] }.concat();
                for blk in order {
                    let msg = ChainMsg::new(MsgKind::Block, blk, &world.shared.params);
                    world.invoke(NodeId(0), |n, ctx| {
                        des::Node::on_message(n, ctx, NodeId(1), msg)
                    });
                }
                let want = if retarget == Retarget::FIXED { a4 } else { b3 };
                assert_eq!(
                    world.nodes[0].tip(),
                    want,
                    "{:?} {fork_choice}, a first: {a_first}",
                    retarget.rule
                );
            }
        }
    }
}

/// GHOST and longest chain under retargeting, with forks (2 s delays, 60 s blocks, epochs of
/// 20): the replicas converge, and the same seed gives the same trace.
#[test]
fn retargeting_runs_with_forks_converge_and_repeat() {
    for fork_choice in [ForkChoice::LongestChain, ForkChoice::Ghost] {
        let mut cfg = base(30, 400);
        cfg.topology = TopologyKind::RandomRegular { degree: 4 };
        cfg.latency = Latency::constant(SimDuration::from_secs(2));
        cfg.block_interval = SimDuration::from_secs(60);
        cfg.retarget = Retarget::epoch(20, 4.0);
        cfg.chain.fork_choice = fork_choice;
        cfg.hash_changes = vec![change(6000, 15, 4.0)];
        let a = run_one(&cfg, 9).unwrap();
        let b = run_one(&cfg, 9).unwrap();
        assert_eq!(a.trace_hash, b.trace_hash);
        assert_eq!(a.stop_reason, des::StopReason::Done, "{fork_choice}");
        assert!(
            a.metrics.stale_blocks > 0,
            "{fork_choice}: no forks to weigh"
        );
        let top = a.blocks.iter().map(|b| b.difficulty).fold(0.0, f64::max);
        assert!(
            top > 1.5,
            "{fork_choice}: 2.5× the hash power, difficulty at most {top}"
        );
    }
}

/// ASERT with a half-life of 20 T, at twice the hash power genesis's difficulty is set for:
/// every block takes Exp(T × difficulty ÷ hash power) given its difficulty (over k blocks the
/// scaled times sum to Gamma(k, 1)), and the difficulty settles at the hash power: the second
/// half's mean of log2(difficulty ÷ hash power) lies within 5 standard errors of
/// `theory::asert_log_difficulty` (a linearised AR(1) model; its sd is checked too).
#[test]
fn asert_mines_at_the_difficulty_it_sets_and_settles_at_the_hash_power() {
    let tau = 20.0;
    let mut cfg = base(10, 4000);
    cfg.retarget = Retarget::asert(SimDuration::from_secs(20 * T));
    cfg.hash_changes = vec![change(0, 10, 2.0)];
    let out = run_one(&cfg, 5).unwrap();
    assert_eq!(out.metrics.stale_blocks, 0, "1 ms against 600 s");
    let g = runner::validate::scaled_intervals(&out.blocks, T as f64, 2.0).expect("a gap");
    let k = g.len() as f64;
    let sum: f64 = g.iter().sum();
    assert!(
        (sum - k).abs() <= 5.0 * k.sqrt(),
        "{sum:.0} block intervals' worth of time for {k} blocks (± {:.0})",
        5.0 * k.sqrt()
    );
    let main = runner::validate::main_chain(&out.blocks).expect("a gap");
    let late = &main[main.len() / 2..];
    let y: Vec<f64> = late.iter().map(|b| (b.difficulty / 2.0).log2()).collect();
    let n = y.len() as f64;
    let mean = y.iter().sum::<f64>() / n;
    let (expect, sd, per) = metrics::theory::asert_log_difficulty(tau);
    let se = sd / (n / per).sqrt();
    assert!(
        (mean - expect).abs() <= 5.0 * se,
        "log2(difficulty ÷ hash power) averages {mean:.3}, expected {expect:.3} ± {:.3}",
        5.0 * se
    );
    let spread = (y.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
    assert!(
        (spread / sd - 1.0).abs() < 0.5,
        "sd {spread:.3} against {sd:.3}"
    );
    assert!(out.thinned_wins > 0);
    // The summary's interval and final difficulty: the main chain's mean interval is its last
    // block's time ÷ its length, and ASERT gives that block's child 2^((L·T − t_L) ÷ τ).
    let last = main.last().unwrap();
    let len = main.len() as f64;
    let m = &out.metrics;
    assert!((m.main_interval_s.mean - last.created_s / len).abs() < 1e-6);
    let ahead = len * T as f64 - last.created_s;
    let want = (ahead / (tau * T as f64)).exp2();
    assert!(
        (m.final_difficulty / want - 1.0).abs() < 1e-5,
        "{} against {want}",
        m.final_difficulty
    );
}

/// Regression (scenario fuzz): an ASERT half-life far below the block interval swings the
/// difficulty to its bounds. The race's bound used to be the lowest difficulty of any block
/// ever made, so once the chain sat at the top bound almost every draw (2⁴⁰ to one) was thinned
/// away and the run crawled to its event limit; the bound is the lowest any miner works at
/// now, so the next block is simply years away and the run ends at its time limit, in few
/// events.
#[test]
fn difficulty_at_its_bounds_costs_no_events() {
    let mut cfg = base(10, 50);
    cfg.retarget = Retarget::asert(SimDuration::from_secs(1));
    cfg.max_events = 1_000_000;
    cfg.max_time = SimDuration::from_secs(365 * 86_400);
    cfg.sample_interval = SimDuration::from_secs(86_400);
    let out = run_one(&cfg, 2).unwrap();
    assert!(
        out.events < 20_000,
        "{} events, stopped {}",
        out.events,
        out.stop_reason
    );
    assert_ne!(out.stop_reason, des::StopReason::EventLimit);
    let top =
        (out.blocks.iter().map(|b| b.difficulty)).fold(out.metrics.final_difficulty, f64::max);
    assert_eq!(top, (1u64 << 20) as f64, "the top bound: {top}");
}
