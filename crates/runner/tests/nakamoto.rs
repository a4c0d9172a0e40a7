//! Nakamoto replicas validated against theory and under faults. Tolerances come from the sample
//! size (binomial standard errors), never tuned to pass.

use chain::{ChainMsg, ChainNode, ChainNote, ChainParams, ForkChoice, InvDelivery, MsgKind, Relay};
use des::{NodeId, SimDuration, SimTime};
use net::{Driver, Latency, LossMode, TopologyKind, World};
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
    for relay in [Relay::Push, Relay::InvGetData, Relay::Compact] {
        let mut cfg = base(30, 500);
        cfg.chain.relay = relay;
        let m = run_one(&cfg, 7).unwrap().metrics;
        assert_eq!(m.stale_blocks, 0, "{relay}");
        assert_eq!(m.reorgs.count, 0);
        assert_eq!(m.main_chain_length, 500);
    }
}

/// Under 5 % and 20 % loss every block still reaches every node (requests are retried), and
/// propagation slows down.
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
        assert_eq!(m.replicas_missing_abandoned, 0, "loss {loss}");
        assert!(
            m.propagation_s.p90 > last_p90,
            "loss {loss}: p90 {} not above {last_p90}",
            m.propagation_s.p90
        );
        last_p90 = m.propagation_s.p90;
    }
}

/// The quickstart with 10 blocks and one request per announcement wave, and its loss-free
/// metrics (seed 3).
fn one_attempt() -> (RunConfig, metrics::ChainMetrics) {
    let mut cfg = RunConfig::quickstart();
    cfg.stop_blocks = Some(10);
    cfg.chain.max_attempts = 1;
    let clean = run_one(&cfg, 3).unwrap().metrics;
    (cfg, clean)
}

/// With a single request per announcement wave (`max_attempts = 1`), a lost request is given
/// up: the replicas say so, and most of those off the main chain at the end are behind for
/// that (others may sit on an equal-height fork, or fetch from a peer that gave up). Without
/// loss nobody gives up.
#[test]
fn given_up_fetches_are_counted_and_explain_who_stays_behind() {
    let (mut cfg, clean) = one_attempt();
    assert_eq!(
        (clean.fetches_abandoned, clean.replicas_missing_abandoned),
        (0, 0)
    );
    cfg.loss = 0.3;
    let m = run_one(&cfg, 3).unwrap().metrics;
    let n = f64::from(cfg.nodes);
    let off_main = (n - m.final_consistency * n).round() as u32;
    assert!(m.fetches_abandoned > 0);
    assert!(off_main > 0, "expected some replicas behind");
    // Only replicas off the main chain can lack one of its blocks; here most of them do.
    let behind = m.replicas_missing_abandoned;
    assert!(
        2 * behind > off_main && behind <= off_main,
        "{behind} of {off_main}"
    );
}

/// On links that resend (`loss_mode = "retransmit"`, TCP-like) a loss costs time, never a
/// message: under 30 % loss with a single request per block, which gives fetches up above,
/// nothing is given up, every block reaches every node, and propagation is slower than without
/// loss. On a ring, where a dropped announcement is made up only by a later block, resending
/// makes propagation far faster than dropping.
#[test]
fn resending_links_lose_time_not_blocks() {
    let (mut cfg, clean) = one_attempt();
    cfg.loss = 0.3;
    cfg.loss_mode = LossMode::Retransmit;
    let mut ring = cfg.clone();
    let out = run_one(&cfg, 3).unwrap();
    let m = &out.metrics;
    assert_eq!(out.stop_reason, des::StopReason::Done);
    assert_eq!((m.fetches_abandoned, m.final_tips), (0, 1));
    assert_eq!(m.propagation_s.count, m.blocks_mined);
    assert_eq!(out.net.dropped["loss"], 0);
    assert!(out.net.resent > 0 && out.net.resent == out.net.delayed);
    assert!(m.propagation_s.p50 > clean.propagation_s.p50);

    ring.nodes = 40;
    ring.topology = TopologyKind::Ring;
    ring.loss = 0.2;
    ring.chain.max_attempts = ChainParams::default().max_attempts;
    let resent = run_one(&ring, 5).unwrap().metrics;
    ring.loss_mode = LossMode::Drop;
    let dropped = run_one(&ring, 5).unwrap().metrics;
    assert_eq!(resent.propagation_s.count, resent.blocks_mined);
    assert!(
        resent.propagation_s.p50 < dropped.propagation_s.p50,
        "resent {} s, dropped {} s",
        resent.propagation_s.p50,
        dropped.propagation_s.p50
    );
}

/// A lone miner that every peer fetches from, on an upload link too slow for that (39 × 1 MB
/// at 10 Mbit/s is 31 s of sending per 20 s block): with requests timing out after 5 s and
/// asked again while the first transfers still wait, its queue outgrows the run (60 blocks and
/// the default settle time): the replicas are still behind when the run ends unsettled, and it
/// names that link. With a timeout longer than the queue the backlog drains
/// and the run ends done, its links free.
#[test]
fn a_swamped_upload_link_is_named_when_it_keeps_replicas_apart() {
    let mut cfg = base(40, 60);
    cfg.latency = Latency::constant(SimDuration::from_millis(100));
    cfg.upload_bps = Some(10_000_000);
    cfg.download_bps = Some(20_000_000);
    cfg.hash_power = HashPower::equal(1);
    cfg.block_interval = SimDuration::from_secs(20);
    cfg.sample_interval = SimDuration::from_secs(20);
    cfg.chain.relay = Relay::InvGetData;
    cfg.chain.block_size = 1_000_000;
    cfg.chain.max_attempts = 3;
    cfg.chain.request_timeout = SimDuration::from_secs(5);
    let out = run_one(&cfg, 5).unwrap();
    assert_eq!(out.stop_reason, des::StopReason::Unsettled);
    assert!(out.metrics.final_tips > 1);
    assert_eq!(out.net.upload_backlog_node, Some(0));
    assert!(out.net.upload_backlog_s > 0.0);
    cfg.chain.request_timeout = SimDuration::from_secs(3_600);
    let out = run_one(&cfg, 5).unwrap();
    assert_eq!(out.stop_reason, des::StopReason::Done);
    assert_eq!(out.metrics.final_tips, 1);
    assert_eq!(
        (out.net.upload_backlog_node, out.net.upload_backlog_s),
        (None, 0.0)
    );
}

/// A run whose settle window runs out while replicas still wait for a request (lost, with a
/// ten-hour timeout, and no later block to bring the one they miss) counts them; without loss
/// nothing is in flight at the end.
#[test]
fn replicas_still_fetching_at_the_end_are_counted() {
    let mut cfg = base(40, 1);
    cfg.chain.relay = Relay::InvGetData;
    cfg.latency = Latency::constant(SimDuration::from_millis(100));
    cfg.chain.request_timeout = SimDuration::from_secs(36_000);
    cfg.settle = Some(SimDuration::from_secs(600));
    cfg.loss = 0.3;
    let out = run_one(&cfg, 2).unwrap();
    assert_eq!(out.stop_reason, des::StopReason::Unsettled);
    let m = &out.metrics;
    assert!(
        m.replicas_fetching > 0 && m.replicas_fetching <= 40,
        "{}",
        m.replicas_fetching
    );
    cfg.loss = 0.0;
    let out = run_one(&cfg, 2).unwrap();
    assert_eq!(out.stop_reason, des::StopReason::Done);
    assert_eq!(out.metrics.replicas_fetching, 0);
}

/// Compact block relay on a bandwidth-limited network (1 MB blocks at 20 Mbit/s): every block
/// reaches every node, also under 5 % loss; the share of compact blocks that need a
/// getblocktxn round is the failure probability (within 4 binomial standard errors); pairs
/// where a node does not speak it exchange full blocks; and blocks spread faster, with fewer
/// bytes, than as full blocks.
#[test]
fn compact_relay_rebuilds_or_fetches_what_is_missing() {
    let mut cfg = RunConfig::quickstart();
    cfg.stop_blocks = Some(100);
    let full = run_one(&cfg, 3).unwrap();
    cfg.chain.relay = Relay::Compact;
    cfg.chain.compact.usage = 0.8;
    for loss in [0.0, 0.05] {
        cfg.loss = loss;
        let out = run_one(&cfg, 3).unwrap();
        let (m, kind) = (&out.metrics, |k: &str| out.net.by_kind[k]);
        assert_eq!(
            m.propagation_s.count, m.blocks_mined,
            "loss {loss}: a block got lost"
        );
        assert_eq!(m.final_tips, 1);
        assert!(
            kind("block") > 0,
            "nodes that do not speak it get full blocks"
        );
        let (cmpct, asked) = (kind("cmpctblock") as f64, kind("getblocktxn") as f64);
        let p = cfg.chain.compact.failure;
        let se = (p * (1.0 - p) / cmpct).sqrt();
        if loss == 0.0 {
            assert_eq!(
                kind("blocktxn"),
                kind("getblocktxn"),
                "every request answered"
            );
            assert!(
                (asked / cmpct - p).abs() < 4.0 * se,
                "failure share {} vs {p} ± {}",
                asked / cmpct,
                4.0 * se
            );
            assert!(m.propagation_s.p50 < full.metrics.propagation_s.p50);
            assert!(out.net.bytes < full.net.bytes / 2);
        }
    }
    for (usage, absent) in [(1.0, "block"), (0.0, "cmpctblock")] {
        cfg.chain.compact.usage = usage;
        let out = run_one(&cfg, 4).unwrap();
        assert_eq!(out.net.by_kind[absent], 0, "usage {usage}");
        assert_eq!(out.metrics.propagation_s.count, out.metrics.blocks_mined);
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

/// Regression (fuzz case 14110): under GHOST, two halves that forked apart for two hours
/// learned only each other's tips at the heal, not the blocks off them; each half counted its
/// own subtree heavier (it alone knew its own stale blocks), so each went on mining on its own
/// side and the split outlived the settle window. A reconnecting replica now announces every
/// leaf of its tree: they converge within the window.
#[test]
fn ghost_halves_learn_each_others_forks_at_a_heal_and_converge() {
    let n = 20;
    for seed in 1..7 {
        let mut cfg = base(n, 10_000);
        cfg.chain.fork_choice = ForkChoice::Ghost;
        cfg.chain.relay = Relay::InvGetData;
        // 2 s links and 10 s blocks: plenty of stale blocks on each side.
        cfg.latency = Latency::constant(SimDuration::from_secs(2));
        cfg.block_interval = SimDuration::from_secs(10);
        cfg.sample_interval = SimDuration::from_secs(10);
        let heal = SimDuration::from_secs(7200);
        cfg.partitions = vec![PartitionCfg {
            groups: vec![(0..n / 2).collect()],
            from: SimDuration::ZERO,
            until: Some(heal),
        }];
        cfg.stop_time = Some(heal);
        cfg.settle = Some(SimDuration::from_secs(600));
        let out = run_one(&cfg, seed).unwrap();
        assert!(out.metrics.stale_blocks > 20, "seed {seed}: too few forks");
        assert_eq!(out.stop_reason, des::StopReason::Done, "seed {seed}");
        assert_eq!(out.metrics.final_tips, 1, "seed {seed}");
    }
}

/// Regression: with every message lost the replicas can never agree, and the run used to mine
/// tie-break blocks until its ten-year time limit (hours of wall time). It now ends unsettled
/// one settle window after mining stops, with its metrics.
#[test]
fn replicas_that_cannot_agree_end_the_run_unsettled() {
    let mut cfg = RunConfig::quickstart();
    cfg.stop_blocks = Some(20);
    cfg.loss = 1.0;
    cfg.settle = Some(SimDuration::from_secs(3600));
    let out = run_one(&cfg, 3).unwrap();
    assert_eq!(out.stop_reason, des::StopReason::Unsettled);
    assert!(out.metrics.final_tips > 1);
    assert_eq!(
        out.metrics.final_honest_groups, 1,
        "loss does not cut links"
    );
    assert!(out.tie_break_blocks > 0, "it still tries to break the tie");
    let stopped = out.mining_stopped_s.unwrap();
    let end = stopped + 3600.0;
    let sample = cfg.sample_interval.as_secs_f64();
    assert!(
        out.sim_time_s >= end && out.sim_time_s <= end + sample,
        "ended at {} s, mining stopped at {stopped} s",
        out.sim_time_s
    );
    // The default window is 100 of the longest of block interval, request timeout and sample
    // interval (quickstart: 60 s blocks, 20 s timeout, 5 s samples).
    cfg.settle = None;
    assert_eq!(cfg.settle(), SimDuration::from_secs(6000));
}

/// Regression: with every miner crashed for good the run used to keep drawing wins for nobody
/// until stop.max_time (ten simulated years, seconds of wall time) and end `time-limit`. Mining
/// now stops when the last miner goes down with no restart to come — not while one is still to
/// restart — and the run ends `no-hash-power` once the replicas agree.
#[test]
fn mining_stops_when_no_hash_power_is_left() {
    let mut cfg = RunConfig::quickstart(); // 10 equal miners, 60 s blocks, 200 of them
    let secs = SimDuration::from_secs;
    let mut crashes: Vec<runner::CrashCfg> = (0..9)
        .map(|i| runner::CrashCfg {
            node: i,
            at: secs(100 * u64::from(i + 1)),
            restart: None,
        })
        .collect();
    // The last miner is down for a while (mining goes on: it comes back), then for good.
    crashes.push(runner::CrashCfg {
        node: 9,
        at: secs(1000),
        restart: Some(secs(1500)),
    });
    crashes.push(runner::CrashCfg {
        node: 9,
        at: secs(3000),
        restart: None,
    });
    cfg.crashes = crashes;
    let out = run_one(&cfg, 4).unwrap();
    assert_eq!(out.stop_reason, des::StopReason::NoHashPower);
    assert_eq!(out.starved_by, Some(runner::Starved::Crashes));
    assert_eq!(out.mining_stopped_s, Some(3000.0));
    assert!(out.metrics.blocks_mined < 200);
    assert_eq!(out.tie_break_blocks, 0, "nobody left to break a tie");
    assert_eq!(out.metrics.final_tips, 1);
    assert!(out.sim_time_s < 3000.0 + cfg.settle().as_secs_f64());
}

/// Regression: under GHOST an invalid-block attacker descended into the invalid blocks it had
/// marked known (to serve them): a descent from a fork point down to its tip went on into its
/// own invalid child, which became its tip, and the next common-ancestor walk ran past genesis
/// and panicked. It now only serves them: every replica, the attackers' too, is a valid chain.
#[test]
fn ghost_replicas_never_descend_into_invalid_blocks() {
    for kind in ["bad-parent", "bad-height", "bad-miner"] {
        let mut cfg = RunConfig::quickstart();
        cfg.stop_blocks = Some(60);
        cfg.chain.fork_choice = ForkChoice::Ghost;
        // Slow blocks against the interval: forks are common, so descents from fork points
        // run down to the attackers' tips, where their invalid children wait.
        cfg.latency = Latency::constant(SimDuration::from_secs(2));
        cfg.block_interval = SimDuration::from_secs(15);
        let mut bad = runner::ByzantineCfg::new(runner::StrategyKind::InvalidBlocks, vec![3, 4]);
        bad.hash_share = Some(0.4);
        bad.invalid = kind.parse().unwrap();
        cfg.byzantine = vec![bad];
        for seed in 1..6 {
            let (mut world, mut driver, _) = runner::build(&cfg, seed).unwrap();
            net::run(&mut world, &mut driver);
            let everyone = vec![true; world.nodes.len()];
            if let Err(e) = runner::check_safety(&world, &everyone) {
                panic!("{kind}, seed {seed}: {e}");
            }
            let m = driver.observer.finish(world.now(), &world.shared.store);
            assert!(m.rejected_blocks > 0, "{kind}: no invalid block was seen");
        }
    }
}

/// A partition that never heals leaves the honest replicas in two groups, and the run says so;
/// crashed nodes and bans cut links too.
#[test]
fn final_groups_count_what_still_connects_the_honest_replicas() {
    let mut cfg = RunConfig::quickstart();
    cfg.stop_blocks = Some(10);
    cfg.settle = Some(SimDuration::from_secs(600));
    let out = run_one(&cfg, 1).unwrap();
    assert_eq!(out.metrics.final_honest_groups, 1);
    cfg.partitions = vec![PartitionCfg {
        groups: vec![(0..50).collect()],
        from: SimDuration::ZERO,
        until: None,
    }];
    let out = run_one(&cfg, 1).unwrap();
    assert_eq!(out.stop_reason, des::StopReason::Unsettled);
    assert_eq!(out.metrics.final_honest_groups, 2);
    // A ring whose nodes 10 and 30 are down for good: two arcs.
    let mut ring = RunConfig::quickstart();
    ring.nodes = 40;
    ring.topology = TopologyKind::Ring;
    ring.stop_blocks = Some(10);
    ring.settle = Some(SimDuration::from_secs(600));
    ring.crashes = [10, 30]
        .map(|node| runner::CrashCfg {
            node,
            at: SimDuration::from_secs(1),
            restart: None,
        })
        .to_vec();
    let (mut world, mut driver, honest) = runner::build(&ring, 3).unwrap();
    net::run(&mut world, &mut driver);
    assert_eq!(runner::honest_groups(&world, &honest), 2);
}

/// The settle window opens at the last scheduled heal, not when mining stops: a partition that
/// heals long after mining stopped still ends in agreement.
#[test]
fn settle_window_opens_at_the_last_heal() {
    let mut cfg = RunConfig::quickstart();
    cfg.stop_blocks = Some(30);
    cfg.settle = Some(SimDuration::from_secs(600));
    let heal = SimDuration::from_secs(30 * 24 * 3600);
    cfg.partitions = vec![PartitionCfg {
        groups: vec![(0..50).collect()],
        from: SimDuration::ZERO,
        until: Some(heal),
    }];
    let out = run_one(&cfg, 5).unwrap();
    assert!(out.mining_stopped_s.unwrap() < heal.as_secs_f64());
    assert_eq!(out.stop_reason, des::StopReason::Done);
    assert_eq!(out.metrics.final_tips, 1);
    assert!(out.sim_time_s >= heal.as_secs_f64());
    // No tie-break mining while the partition is still to heal (it split the replicas, not a
    // tie): that mined a block a minute for the 30 days.
    assert!(
        out.tie_break_blocks < 10,
        "{} tie-break blocks",
        out.tie_break_blocks
    );
}

/// Regression (scenario fuzz): a crash scheduled for after mining stopped kept the network
/// from being quiet, but did not open the settle window, so replicas that had long agreed
/// ended `unsettled`. The window now opens at the last scheduled network change of any kind.
#[test]
fn a_late_crash_is_waited_for() {
    let mut cfg = RunConfig::quickstart();
    cfg.stop_blocks = Some(10);
    cfg.settle = Some(SimDuration::from_secs(600));
    let late = SimDuration::from_secs(10 * 3600);
    cfg.crashes = vec![runner::CrashCfg {
        node: 50,
        at: late,
        restart: None,
    }];
    let out = run_one(&cfg, 2).unwrap();
    assert!(out.mining_stopped_s.unwrap() < late.as_secs_f64());
    assert_eq!(out.stop_reason, des::StopReason::Done);
    assert!(out.sim_time_s >= late.as_secs_f64());
}

/// Regression (scenario fuzz): invalid-block attackers, banned by every neighbour, did not
/// know it: after their attack they retried requests nobody would answer, a thousand seconds a
/// block, and the run ended `unsettled` long after the honest replicas had agreed. A ban now
/// drops the connection, the banned side learns it, and the run is done soon after mining.
#[test]
fn banned_nodes_know_it_and_the_run_ends() {
    let mut cfg = base(10, 40);
    cfg.latency = Latency::constant(SimDuration::from_millis(10));
    cfg.block_interval = SimDuration::from_secs(10);
    cfg.sample_interval = SimDuration::from_secs(1);
    cfg.chain.request_timeout = SimDuration::from_secs(20);
    cfg.chain.relay = Relay::InvGetData; // a banned node's requests go unanswered
    let mut bad = runner::ByzantineCfg::new(runner::StrategyKind::InvalidBlocks, vec![5, 6]);
    bad.hash_share = Some(0.1);
    cfg.byzantine = vec![bad];
    for seed in 1..4 {
        let (mut world, mut driver, honest) = runner::build(&cfg, seed).unwrap();
        let reason = net::run(&mut world, &mut driver);
        assert_eq!(reason, des::StopReason::Done, "seed {seed}");
        runner::check_safety(&world, &honest).unwrap();
        let m = driver.observer.finish(world.now(), &world.shared.store);
        assert!(m.rejected_blocks > 0, "seed {seed}: nobody was banned");
        let stopped = driver.mining_stopped_at.unwrap();
        assert!(
            world.now() < stopped + SimDuration::from_secs(300),
            "seed {seed}: ended at {}, mining stopped at {stopped}",
            world.now()
        );
    }
}

/// Regression (scenario fuzz): an orphan only ever asked for its parent, so when the request
/// for the lowest missing block of an orphan chain was lost (to a crash of the requester, here)
/// the replica kept its orphans for good and the run ended `unsettled`. A new orphan now asks
/// for the first block missing below it.
#[test]
fn orphan_chains_are_fetched_from_their_lowest_missing_block() {
    let mut cfg = RunConfig::quickstart();
    cfg.nodes = 30;
    cfg.topology = TopologyKind::BarabasiAlbert { m: 2 };
    cfg.hash_power = HashPower::equal(30);
    cfg.block_interval = SimDuration::from_secs(10);
    cfg.stop_blocks = Some(40);
    cfg.loss = 0.01;
    cfg.chain.relay = Relay::Compact;
    cfg.chain.request_timeout = SimDuration::from_secs(20);
    let secs = SimDuration::from_secs;
    let mut stuck = 0;
    for seed in 1..=12 {
        cfg.crashes = (0..6)
            .map(|i| runner::CrashCfg {
                node: (seed * 7 + i * 5) % 30,
                at: secs(u64::from(60 + 37 * i)),
                restart: Some(secs(u64::from(200 + 41 * i))),
            })
            .collect();
        let out = run_one(&cfg, u64::from(seed)).unwrap();
        stuck += usize::from(out.stop_reason != des::StopReason::Done);
    }
    assert_eq!(stuck, 0, "{stuck} of 12 runs ended with replicas apart");
}

/// A run far longer than its sample interval keeps a bounded, evenly spaced time series: every
/// other sample at twice the interval each time it fills (1 ms samples over ~2 h here).
#[test]
fn long_runs_keep_a_bounded_time_series() {
    let mut cfg = RunConfig::quickstart();
    cfg.nodes = 20;
    cfg.topology = TopologyKind::Complete;
    cfg.hash_power = HashPower::equal(20);
    cfg.stop_blocks = Some(120);
    cfg.sample_interval = SimDuration::from_millis(1);
    let out = run_one(&cfg, 9).unwrap();
    let n = out.samples.len();
    assert!(n <= runner::MAX_SAMPLES + 1, "{n} samples");
    assert!(n > runner::MAX_SAMPLES / 4, "{n} samples: thinned too far");
    let steps: Vec<f64> = out.samples[..n - 1]
        .windows(2)
        .map(|w| w[1].t_s - w[0].t_s)
        .collect();
    let step = steps[0];
    assert!(step > 0.001, "the interval grew ({step} s)");
    assert!(
        steps.iter().all(|d| (d - step).abs() < 1e-6),
        "uneven spacing"
    );
    let last = out.samples[n - 1].t_s - out.samples[n - 2].t_s;
    assert!(last <= step + 1e-6, "the final sample is the run's end");
    assert!(out.sim_time_s / step < 2.0 * runner::MAX_SAMPLES as f64);
}

/// GHOST follows the heaviest subtree, longest chain the longest chain: a replica that holds
/// A1 ← A2 ← A3 and B1 with three children B2, B2', B2'' (all on genesis's two sides) ends on
/// A3 under the longest chain (height 3 against 2), and under GHOST on B2 (B1's subtree holds 4
/// blocks against A1's 3; among B1's equally heavy children the earliest made), whatever the
/// order the blocks arrive in.
#[test]
fn ghost_takes_the_heaviest_subtree_where_the_longest_chain_differs() {
    for fork_choice in [ForkChoice::LongestChain, ForkChoice::Ghost] {
        for a_first in [true, false] {
            let mut cfg = base(2, 1);
            cfg.chain.fork_choice = fork_choice;
            let (mut world, _, _) = runner::build(&cfg, 1).unwrap();
            let store = &mut world.shared.store;
            let mut make = |parent: chain::BlockId| {
                let height = store.height(parent) + 1;
                let nonce = store.len() as u64;
                store.create(parent, height, NodeId(1), SimTime::ZERO, nonce)
            };
            let g = chain::BlockId::GENESIS;
            let a1 = make(g);
            let a2 = make(a1);
            let a3 = make(a2);
            let b1 = make(g);
            let b2 = [make(b1), make(b1), make(b1)];
            let (a, b) = (vec![a1, a2, a3], [vec![b1], b2.to_vec()].concat());
            let order = if a_first { [a, b] } else { [b, a] }.concat();
            for blk in order {
                let msg = ChainMsg::new(MsgKind::Block, blk, &world.shared.params);
                world.invoke(NodeId(0), |n, ctx| {
                    des::Node::on_message(n, ctx, NodeId(1), msg)
                });
            }
            let want = match fork_choice {
                ForkChoice::LongestChain => a3,
                ForkChoice::Ghost => b2[0],
            };
            assert_eq!(
                world.nodes[0].tip(),
                want,
                "{fork_choice}, a first: {a_first}"
            );
        }
    }
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

/// Four settings that exercise every path of the relay: plain; 20 % loss with duplicates,
/// jitter and give-ups; 200 short crashes and a partition; invalid-block attackers with bans
/// under loss.
fn fault_configs() -> Vec<(&'static str, RunConfig)> {
    let mut lossy = RunConfig::quickstart();
    lossy.loss = 0.2;
    lossy.duplicate = 0.05;
    lossy.jitter = SimDuration::from_millis(300);
    lossy.chain.request_timeout = SimDuration::from_secs(1);
    lossy.chain.max_attempts = 3; // nodes give up, and start again on a later announcement
    lossy.max_time = SimDuration::from_secs(4 * 3600);
    let mut faulty = RunConfig::quickstart();
    faulty.block_interval = SimDuration::from_secs(10);
    faulty.latency = Latency::Mean {
        mean: SimDuration::from_millis(400),
        spread: net::Spread::Exponential,
    };
    // Short outages while blocks are on their way: announcements absorbed before a crash
    // arrive after the restart.
    faulty.crashes = (0..200)
        .map(|i| {
            let at = SimDuration::from_millis(300_000 + 4_321 * u64::from(i));
            runner::CrashCfg {
                node: i % 100,
                at,
                restart: Some(at + SimDuration::from_millis(20 + u64::from(i % 7) * 30)),
            }
        })
        .collect();
    faulty.partitions = vec![PartitionCfg {
        groups: vec![(0..50).collect()],
        from: SimDuration::from_secs(900),
        until: Some(SimDuration::from_secs(1200)),
    }];
    let mut banning = RunConfig::quickstart();
    banning.loss = 0.1;
    banning.block_interval = SimDuration::from_secs(10);
    banning.chain.request_timeout = SimDuration::from_secs(2);
    let mut bad = runner::ByzantineCfg::new(runner::StrategyKind::InvalidBlocks, vec![3, 4]);
    bad.hash_share = Some(0.4);
    banning.byzantine = vec![bad];
    // Regression (scenario fuzz): bans are disconnects; an announcement from the banned peer
    // recorded before the ban and applied after it filed the peer as an announcer again.
    let mut churn = RunConfig::quickstart();
    churn.nodes = 12;
    churn.topology = TopologyKind::Complete;
    churn.hash_power = HashPower::equal(12);
    churn.latency = Latency::Mean {
        mean: SimDuration::from_millis(200),
        spread: net::Spread::Exponential,
    };
    churn.loss = 0.02;
    churn.duplicate = 0.05;
    churn.jitter = SimDuration::from_secs(2);
    churn.block_interval = SimDuration::from_secs(20);
    churn.chain.block_size = 10_000;
    churn.chain.request_timeout = SimDuration::from_secs(5);
    let mut invalid = runner::ByzantineCfg::new(runner::StrategyKind::InvalidBlocks, vec![4, 3]);
    invalid.invalid = chain::Invalid::BadMiner;
    invalid.from = SimDuration::from_secs(60);
    invalid.until = Some(SimDuration::from_secs(1500));
    let mut sybil = runner::ByzantineCfg::new(runner::StrategyKind::Sybil, vec![1, 8]);
    sybil.from = SimDuration::from_secs(60);
    sybil.until = Some(SimDuration::from_secs(600));
    churn.byzantine = vec![invalid, sybil];
    vec![
        ("quickstart", RunConfig::quickstart()),
        ("lossy", lossy),
        ("faulty", faulty),
        ("banning", banning),
        ("banning in churn", churn),
    ]
}

/// Absorbing announcements is an optimisation, not a model change: on continuous latencies (no
/// two messages at the same nanosecond) every metric, block record and sample is the same as
/// with every announcement an event — through loss and give-ups, duplicates, crashes and
/// restarts, a partition, and bans; with full and with compact blocks — while the run needs
/// far fewer events.
#[test]
fn absorbed_announcements_change_the_event_count_not_the_behaviour() {
    let compact = fault_configs().into_iter().map(|(name, mut cfg)| {
        cfg.chain.relay = Relay::Compact;
        cfg.chain.compact.usage = 0.8;
        (name, cfg)
    });
    for (name, mut cfg) in fault_configs().into_iter().chain(compact) {
        let name = format!("{name} {}", cfg.chain.relay);
        cfg.stop_blocks = Some(100);
        for seed in 1..=4 {
            cfg.chain.inv_delivery = InvDelivery::Absorbed;
            let a = run_one(&cfg, seed).unwrap();
            cfg.chain.inv_delivery = InvDelivery::Event;
            let e = run_one(&cfg, seed).unwrap();
            assert_eq!(a.metrics, e.metrics, "{name}");
            assert_eq!(a.blocks, e.blocks, "{name}");
            assert_eq!(a.samples, e.samples, "{name}");
            assert_eq!(a.net.messages, e.net.messages, "{name}");
            assert_eq!(a.net.dropped, e.net.dropped, "{name}");
            assert!(a.net.absorbed > 0 && e.net.absorbed == 0, "{name}");
            // The premise: no absorbed announcement met another event at its very nanosecond.
            assert_eq!(a.net.same_instant_announcements, 0, "{name}");
            // Replica by replica: every block accepted, tip change and rejection, to the ns.
            cfg.chain.inv_delivery = InvDelivery::Absorbed;
            let ha = history(&cfg, seed);
            cfg.chain.inv_delivery = InvDelivery::Event;
            let he = history(&cfg, seed);
            assert!(
                ha.len() > 100 * cfg.nodes as usize,
                "{name}: {} notes",
                ha.len()
            );
            if let Some(i) = (0..ha.len().min(he.len())).find(|&i| ha[i] != he[i]) {
                panic!("{name} seed {seed}: note {i}: {:?} vs {:?}", ha[i], he[i]);
            }
            assert_eq!(ha.len(), he.len(), "{name} seed {seed}");
            assert!(
                (a.events as f64) < 0.8 * e.events as f64,
                "{name}: {} events absorbed vs {} as events",
                a.events,
                e.events
            );
        }
    }
}

/// Every note every replica made, in order, with its time.
fn history(cfg: &RunConfig, seed: u64) -> Vec<(SimTime, NodeId, ChainNote)> {
    struct Recording(runner::ChainDriver, Vec<(SimTime, NodeId, ChainNote)>);
    impl Driver<ChainNode> for Recording {
        fn on_start(&mut self, world: &mut World<ChainNode>) {
            self.0.on_start(world)
        }
        fn on_control(&mut self, world: &mut World<ChainNode>, tag: u64) {
            self.0.on_control(world, tag)
        }
        fn on_note(&mut self, world: &mut World<ChainNode>, node: NodeId, note: ChainNote) {
            self.1.push((world.now(), node, note));
            self.0.on_note(world, node, note)
        }
        fn on_net_event(&mut self, world: &mut World<ChainNode>, ev: net::NetEvent) {
            self.0.on_net_event(world, ev)
        }
    }
    let (mut world, driver, _) = runner::build(cfg, seed).unwrap();
    let mut rec = Recording(driver, vec![]);
    net::run(&mut world, &mut rec);
    rec.1
}

/// Regression (bitcoin-2019 profile, 2026-12-02): the same-instant tie count lived in each
/// replica's rarely used state, so with whole-millisecond latencies that state existed at most
/// replicas and every absorbed announcement paid a cache miss asking whether its sender was
/// banned. Ties are counted through notes now, and plain honest replicas keep no rare state.
#[test]
fn same_instant_ties_are_counted_without_rare_state() {
    let mut cfg = RunConfig::quickstart();
    cfg.nodes = 60;
    cfg.hash_power = HashPower::equal(60);
    cfg.latency = Latency::constant(SimDuration::from_millis(50));
    cfg.chain.relay = Relay::InvGetData;
    cfg.stop_blocks = Some(30);
    let (mut world, mut driver, honest) = runner::build(&cfg, 5).unwrap();
    net::run(&mut world, &mut driver);
    runner::check_safety(&world, &honest).unwrap();
    assert!(driver.same_instant_announcements > 0, "no tie to count");
    let holding = world.nodes.iter().filter(|n| n.holds_rare_state()).count();
    assert_eq!(holding, 0, "{holding} replicas hold rare state");
}
