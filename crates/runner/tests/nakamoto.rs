//! Nakamoto replicas validated against theory and under faults. Tolerances come from the sample
//! size (binomial standard errors), never tuned to pass.

use chain::{ChainNode, ChainParams, ForkChoice, Relay};
use des::SimDuration;
use net::{Latency, TopologyKind};
use runner::{run_one, HashPower, PartitionCfg, RunConfig};

fn base(nodes: u32, blocks: u64) -> RunConfig {
    RunConfig {
        nodes,
        topology: TopologyKind::Complete,
        latency: Latency::constant(SimDuration::ZERO),
        upload_bps: None,
        download_bps: None,
        hash_power: HashPower::equal(nodes),
        stop_blocks: Some(blocks),
        block_interval: SimDuration::from_secs(600),
        sample_interval: SimDuration::from_secs(600),
        chain: ChainParams {
            relay: Relay::Push,
            ..ChainParams::default()
        },
        ..RunConfig::quickstart()
    }
}

// Stale rate vs 1 − e^{−Δ/T} and miner share vs hash share are rows of the validation suite
// (`runner::validate`, run by `chainsim validate` and its test).

#[test]
fn no_delay_no_forks() {
    for relay in [Relay::Push, Relay::InvGetData] {
        let mut cfg = base(30, 500);
        cfg.chain.relay = relay;
        let m = run_one(&cfg, 7).unwrap().metrics;
        assert_eq!(m.stale_blocks, 0, "{relay}");
        assert_eq!(m.reorgs.count, 0);
        assert_eq!(m.main_chain_length, 500);
    }
}

/// Each miner's share of the main chain is Binomial(L, hash share)/L: within 4 standard errors.
#[test]
fn loss_is_survived_and_slows_propagation() {
    let mut cfg = RunConfig::quickstart();
    cfg.stop_blocks = Some(100);
    cfg.chain.request_timeout = SimDuration::from_secs(5);
    let clean = run_one(&cfg, 11).unwrap().metrics;
    let mut last_p90 = clean.propagation_s.p90;
    for loss in [0.05, 0.2] {
        cfg.loss = loss;
        let out = run_one(&cfg, 11).unwrap();
        let m = &out.metrics;
        assert_eq!(
            m.propagation_s.count, m.blocks_mined,
            "loss {loss}: some block never reached every node"
        );
        assert_eq!(m.final_tips, 1);
        assert!(out.net.dropped["loss"] > 0);
        assert!(
            m.propagation_s.p90 > last_p90,
            "loss {loss}: p90 {} not above {last_p90}",
            m.propagation_s.p90
        );
        last_p90 = m.propagation_s.p90;
    }
}

/// Two halves mine apart for two hours; at the heal (mining stops then), every honest replica
/// moves to the heavier side, and the deepest reorg is the lighter side's whole branch.
#[test]
fn partition_then_heal_converges_on_heavier_side() {
    let n = 20;
    let half: Vec<u32> = (0..n / 2).collect();
    for seed in 1..20 {
        let mut cfg = base(n, 10_000);
        cfg.latency = Latency::constant(SimDuration::from_millis(50));
        cfg.block_interval = SimDuration::from_secs(60);
        cfg.chain.relay = Relay::InvGetData;
        let heal = SimDuration::from_secs(7200);
        cfg.partitions = vec![PartitionCfg {
            groups: vec![half.clone()],
            from: SimDuration::ZERO,
            until: Some(heal),
        }];
        cfg.stop_time = Some(heal);
        let (mut world, mut driver, honest) = runner::build(&cfg, seed).unwrap();
        // Stop just before the heal to read each side's chain.
        let mut pre = cfg.clone();
        pre.max_time = heal - SimDuration::NANOSECOND;
        let (mut w0, mut d0, _) = runner::build(&pre, seed).unwrap();
        net::run(&mut w0, &mut d0);
        let height = |w: &net::World<ChainNode>, i: usize| w.shared.store.height(w.nodes[i].tip());
        let (a, b) = (height(&w0, 0), height(&w0, (n - 1) as usize));
        if a == b {
            continue; // a tie never resolves without new blocks; try the next seed
        }
        let lighter = a.min(b);
        net::run(&mut world, &mut driver);
        runner::check_safety(&world, &honest).unwrap();
        let tip = world.nodes[0].tip();
        assert!(world.nodes.iter().all(|x| x.tip() == tip), "not converged");
        assert_eq!(world.shared.store.height(tip), a.max(b));
        let store = &world.shared.store;
        driver.observer.sample(world.now(), store);
        let m = driver.observer.finish(world.now(), store);
        assert_eq!(m.reorgs.max_depth, lighter, "reorg depth vs lighter branch");
        let rec = m
            .recovery
            .iter()
            .find(|r| r.after == "partition healed")
            .unwrap();
        let t = rec.converged_after_s.expect("converged after heal");
        assert!(t > 0.0 && t < 600.0, "convergence after heal took {t} s");
        return;
    }
    panic!("every seed tied");
}

#[test]
fn ghost_converges_and_same_seed_same_trace() {
    let mut cfg = RunConfig::quickstart();
    cfg.chain.fork_choice = ForkChoice::Ghost;
    cfg.block_interval = SimDuration::from_secs(10);
    cfg.stop_blocks = Some(150);
    let a = run_one(&cfg, 5).unwrap();
    let b = run_one(&cfg, 5).unwrap();
    let c = run_one(&cfg, 6).unwrap();
    assert_eq!(a.trace_hash, b.trace_hash);
    assert_eq!(a.metrics, b.metrics);
    assert_ne!(a.trace_hash, c.trace_hash);
    assert_eq!(a.metrics.final_tips, 1);
    assert!(
        a.metrics.stale_blocks > 0,
        "10 s blocks with ~4 s propagation must fork"
    );
}

#[test]
fn random_tie_rule_runs_and_differs_from_first_seen() {
    let mut cfg = RunConfig::quickstart();
    cfg.block_interval = SimDuration::from_secs(10);
    cfg.stop_blocks = Some(100);
    let first = run_one(&cfg, 2).unwrap();
    cfg.chain.tie = chain::TieRule::Random;
    let random = run_one(&cfg, 2).unwrap();
    // Coin flips change which parents later blocks extend: a different chain, a different trace.
    assert_ne!(first.trace_hash, random.trace_hash);
    assert_ne!(first.metrics, random.metrics);
    assert_eq!(random.metrics.final_tips, 1);
}
