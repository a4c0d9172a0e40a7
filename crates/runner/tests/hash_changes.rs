//! Scheduled hash power changes (`[[consensus.hash_power.changes]]`): the block rate follows
//! the total hash power (difficulty is fixed), the nodes that lost theirs stop winning, mining
//! pauses and resumes with it, and a win drawn before a change or a stop is never used after.
//! Tolerances are Poisson standard deviations of the block counts.

use des::{SimDuration, SimTime};
use net::{Latency, TopologyKind};
use runner::{run_one, HashChangeCfg, RunConfig};

const T: u64 = 600;

/// The validation suite's setting with 50 ms delays, sampled every block interval, stopped by
/// time (each test sets `stop_time`).
fn base(nodes: u32) -> RunConfig {
    let mut c = runner::validate::base(nodes, 0);
    c.latency = Latency::constant(SimDuration::from_millis(50));
    c.stop_blocks = None;
    c.sample_interval = SimDuration::from_secs(T);
    c
}

fn at(intervals: u64) -> SimDuration {
    SimDuration::from_secs(T * intervals)
}

fn change(intervals: u64, nodes: std::ops::Range<u32>, factor: f64) -> HashChangeCfg {
    HashChangeCfg {
        at: at(intervals),
        nodes: nodes.collect(),
        factor,
    }
}

/// Blocks created in [from, to) intervals, and by which miners.
fn window(out: &runner::RunOutput, from: u64, to: u64) -> Vec<u32> {
    let (a, b) = ((T * from) as f64, (T * to) as f64);
    (out.blocks.iter())
        .filter(|r| r.created_s >= a && r.created_s < b)
        .map(|r| r.miner)
        .collect()
}

fn within_poisson(count: usize, mean: f64, what: &str) {
    let sd = mean.sqrt();
    assert!(
        (count as f64 - mean).abs() <= 5.0 * sd,
        "{what}: {count} blocks, expected {mean} ± {:.0} (5 sd)",
        5.0 * sd
    );
}

/// Half the miners leave at 400 T (the rate halves), the other half triples at 800 T (1.5×
/// the start's rate): block counts per window follow, and those who left win nothing more.
#[test]
fn the_block_rate_and_the_winners_follow_the_hash_power() {
    let mut cfg = base(20);
    cfg.stop_time = Some(at(1200));
    cfg.hash_changes = vec![change(400, 0..10, 0.0), change(800, 10..20, 3.0)];
    let out = run_one(&cfg, 3).unwrap();
    let w1 = window(&out, 0, 400);
    let w2 = window(&out, 400, 800);
    let w3 = window(&out, 800, 1200);
    within_poisson(w1.len(), 400.0, "full hash power");
    within_poisson(w2.len(), 200.0, "half the hash power");
    within_poisson(w3.len(), 600.0, "1.5× the hash power");
    assert!(w1.iter().any(|&m| m < 10));
    assert!(
        w2.iter().chain(&w3).all(|&m| m >= 10),
        "a miner without hash power won"
    );
    // Same seed, same run; without the changes a different one.
    assert_eq!(run_one(&cfg, 3).unwrap().trace_hash, out.trace_hash);
    cfg.hash_changes.clear();
    let plain = run_one(&cfg, 3).unwrap();
    within_poisson(window(&plain, 400, 800).len(), 400.0, "no change");
}

/// All hash power leaves at 100 T and comes back at 200 T: no block in between (a win drawn
/// before the change is not used), mining resumes, and the run ends done.
#[test]
fn mining_pauses_while_no_hash_power_is_left_and_resumes() {
    let mut cfg = base(10);
    cfg.stop_time = Some(at(300));
    cfg.hash_changes = vec![change(100, 0..10, 0.0), change(200, 0..10, 1.0)];
    let out = run_one(&cfg, 4).unwrap();
    assert!(
        window(&out, 100, 200).is_empty(),
        "a block while no one mined"
    );
    within_poisson(window(&out, 0, 100).len(), 100.0, "before");
    within_poisson(window(&out, 200, 300).len(), 100.0, "after");
    assert_eq!(out.stop_reason, des::StopReason::Done);
}

/// All hash power leaves for good: mining stops there and the run ends `no-hash-power`
/// instead of waiting for blocks that cannot come.
#[test]
fn hash_power_gone_for_good_stops_mining() {
    let mut cfg = base(10);
    cfg.stop_blocks = Some(100_000);
    cfg.hash_changes = vec![change(50, 0..10, 0.0)];
    let out = run_one(&cfg, 5).unwrap();
    assert_eq!(out.stop_reason, des::StopReason::NoHashPower);
    assert_eq!(out.starved_by, Some(runner::Starved::Changes));
    assert_eq!(out.mining_stopped_s, Some((T * 50) as f64));
    assert!(window(&out, 50, u64::MAX / T).is_empty());
}

/// All hash power leaves just after `stop.time`: replicas split at the stop get no tie-break
/// block (none is tried), end `unsettled` with the cause recorded, and no run is called
/// `no-hash-power` (mining stopped on time, not early).
#[test]
fn no_hash_power_after_the_stop_means_no_tie_break() {
    let mut cfg = base(12);
    cfg.topology = TopologyKind::RandomRegular { degree: 4 };
    cfg.latency = Latency::constant(SimDuration::from_secs(3));
    cfg.block_interval = SimDuration::from_secs(5);
    cfg.sample_interval = SimDuration::from_secs(5);
    cfg.stop_time = Some(SimDuration::from_secs(600));
    cfg.hash_changes = vec![HashChangeCfg {
        at: SimDuration::from_secs(601),
        nodes: (0..12).collect(),
        factor: 0.0,
    }];
    let mut split = 0;
    for seed in 0..20 {
        let out = run_one(&cfg, seed).unwrap();
        assert_ne!(out.stop_reason, des::StopReason::NoHashPower, "seed {seed}");
        if out.stop_reason == des::StopReason::Unsettled {
            split += 1;
            assert_eq!(
                out.starved_by,
                Some(runner::Starved::Changes),
                "seed {seed}"
            );
            assert_eq!(out.tie_break_blocks, 0, "seed {seed}");
        }
    }
    assert!(split > 0, "no replicas split at the stop");
}

/// Regression: changes due at the same time apply in order, and the first one taking all hash
/// power is not the end when the next one, due then too, gives some back.
#[test]
fn a_change_due_at_the_same_time_counts_as_still_to_come() {
    let mut cfg = base(10);
    cfg.stop_time = Some(at(200));
    cfg.hash_changes = vec![change(100, 0..10, 0.0), change(100, 0..5, 1.0)];
    let out = run_one(&cfg, 6).unwrap();
    assert_eq!(out.stop_reason, des::StopReason::Done);
    assert_eq!(out.starved_by, None);
    let after = window(&out, 100, 200);
    within_poisson(after.len(), 50.0, "half the hash power");
    assert!(after.iter().all(|&m| m < 5));
}

/// Regression: a win drawn before `stop.time` stayed queued and, once a tie-break started
/// mining again, competed with the tie-break's own draw, so tie-break blocks came twice as
/// fast. Every block created after the stop must come from a draw made after it (a mining
/// event of a later generation), never from the first generation's.
#[test]
fn a_win_drawn_before_the_stop_is_not_a_tie_break_block() {
    // Two miners far apart: ties at the stop are common.
    let mut cfg = base(2);
    cfg.latency = Latency::constant(SimDuration::from_secs(T / 2));
    cfg.stop_time = Some(at(20));
    let mut checked = 0;
    for seed in 0..200 {
        let seen = std::sync::Arc::new(std::sync::Mutex::new(vec![]));
        let log = seen.clone();
        let out =
            runner::trace::run_traced(&cfg, seed, Box::new(move |r| log.lock().unwrap().push(*r)))
                .unwrap();
        if out.tie_break_blocks == 0 {
            continue;
        }
        checked += 1;
        let recs = seen.lock().unwrap();
        let stop = SimTime::ZERO + at(20);
        for (i, r) in recs.iter().enumerate() {
            if r.kind == des::kernel::TRACE_OUTCOME && r.time > stop {
                let win = recs[..i]
                    .iter()
                    .rev()
                    .find(|w| w.kind == des::kernel::TRACE_CONTROL)
                    .expect("a block follows its mining event");
                assert_eq!(win.time, r.time);
                let gen = runner::driver::mine_generation(win.payload).expect("a mining event");
                assert!(
                    gen > 0,
                    "seed {seed}: a tie-break block from a pre-stop draw"
                );
            }
        }
        if checked == 5 {
            break;
        }
    }
    assert!(checked > 0, "no run needed a tie-break");
}

/// Chain quality under changes: a miner's hash share is the mean, over the main chain's blocks,
/// of its share when each was made, so it matches its main-chain share within binomial error —
/// where the start's share (half, for miners 0..10) would be far off.
#[test]
fn chain_quality_is_measured_against_the_hash_power_in_force() {
    let mut cfg = base(20);
    cfg.stop_time = Some(at(1200));
    cfg.hash_changes = vec![change(400, 0..10, 0.0), change(800, 10..20, 3.0)];
    let out = run_one(&cfg, 5).unwrap();
    let m = &out.metrics;
    let len = m.main_chain_length as f64;
    let early = (out.blocks.iter())
        .filter(|b| b.main && b.created_s < (400 * T) as f64)
        .count() as f64;
    let left = |f: fn(&metrics::MinerShare) -> f64| -> f64 {
        m.miners.iter().filter(|x| x.node < 10).map(f).sum()
    };
    let (hash, main) = (left(|x| x.hash_share), left(|x| x.main_share));
    assert!(
        (hash - 0.5 * early / len).abs() < 1e-9,
        "{hash} against half of {early} of {len} blocks"
    );
    let se = (hash * (1.0 - hash) / len).sqrt();
    assert!(
        (main - hash).abs() <= 5.0 * se,
        "main-chain share {main}, hash share {hash} ± {:.3}",
        5.0 * se
    );
    assert!((main - 0.5).abs() > 10.0 * se, "the start's share fits too");
    let honest = &m.classes[0];
    assert!(
        (honest.hash_share - 1.0).abs() < 1e-9,
        "{}",
        honest.hash_share
    );
}
