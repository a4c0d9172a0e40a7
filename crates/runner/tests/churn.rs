//! Random churn (`[network.churn]`): nodes crash and restart at random, the replicas still
//! converge, and what the observer measures of the outages matches the alternating renewal
//! process that drew them. Tolerances are standard deviations from the number of nodes.

use des::{NodeId, RngFactory, SimDuration};
use net::{Latency, Spread, TopologyKind};
use runner::{churn_outages, run_one, ChurnCfg, HashPower, RunConfig};

const MIN: f64 = 60.0;

/// 50 nodes on a random 6-regular graph, 100 ms latencies, 60 s blocks, mining for `hours`.
fn net(hours: u64) -> RunConfig {
    let mut c = RunConfig::quickstart();
    c.nodes = 50;
    c.topology = TopologyKind::RandomRegular { degree: 6 };
    c.latency = Latency::Mean {
        mean: SimDuration::from_millis(100),
        spread: Spread::Exponential,
    };
    c.chain.block_size = 50_000;
    c.block_interval = SimDuration::from_secs(60);
    c.hash_power = HashPower::equal(50);
    c.stop_blocks = None;
    c.stop_time = Some(SimDuration::from_secs(hours * 3600));
    c.sample_interval = SimDuration::from_secs(60);
    c
}

fn churn(nodes: std::ops::Range<u32>, up_min: u64, down_min: u64, until_h: u64) -> ChurnCfg {
    ChurnCfg {
        nodes: nodes.collect(),
        uptime: SimDuration::from_secs(up_min * 60),
        downtime: SimDuration::from_secs(down_min * 60),
        from: SimDuration::ZERO,
        until: SimDuration::from_secs(until_h * 3600),
    }
}

/// Every node up 30 min and down 10 min on average for 10 h. Per node, outages start in
/// [0, W) from a process that starts up: the expected time down is q·(W − τ(1 − e^{−W/τ}))
/// (q = D/(U+D), τ = UD/(U+D)), plus D for an outage still running at W (probability
/// q(1 − e^{−W/τ})); its variance is about 2·p·q·τ·W (p = 1 − q). The outages per node number
/// about W/(U+D), with variance W·Var(cycle)/E(cycle)³. The run waits for the last restart,
/// so all of it falls inside the run; the honest replicas agree at the end.
#[test]
fn churning_nodes_are_down_as_often_as_drawn_and_the_replicas_still_agree() {
    let (u, d, w_h) = (30.0, 10.0, 10);
    let mut cfg = net(w_h);
    cfg.churn = Some(churn(0..50, 30, 10, w_h));
    let out = run_one(&cfg, 5).expect("the run and its safety check");
    assert_eq!(out.stop_reason.name(), "done");
    let m = &out.metrics;
    assert_eq!(m.final_tips, 1, "the replicas agree once the churn is over");
    assert_eq!(m.final_consistency, 1.0);

    let n = 50.0;
    let w = w_h as f64 * 60.0 * MIN;
    let (u, d) = (u * MIN, d * MIN);
    let (p, q, tau) = (u / (u + d), d / (u + d), u * d / (u + d));
    let settle = 1.0 - (-w / tau).exp();
    let down = q * (w - tau * settle) + q * settle * d;
    let end = out.sim_time_s;
    let want = 1.0 - down / end;
    let sd = (2.0 * p * q * tau * w / n).sqrt() / end;
    assert!(
        (m.honest_online_mean - want).abs() <= 5.0 * sd,
        "online {:.4}, expected {want:.4} ± {:.4}",
        m.honest_online_mean,
        5.0 * sd
    );
    let cycles = w / (u + d);
    let var_cycle = u * u + d * d;
    let sd = (n * w * var_cycle / (u + d).powi(3)).sqrt();
    let outages = m.honest_outages as f64;
    assert!(
        (outages - n * cycles).abs() <= 5.0 * sd,
        "{outages} outages, expected {:.0} ± {:.0}",
        n * cycles,
        5.0 * sd
    );
    // Blocks kept coming: the hash power down at any time is about q of it.
    assert!(m.main_chain_length as f64 > 0.5 * w / 60.0, "{m:?}");
}

/// A node's outages come from its own stream: they are the same whichever other nodes churn,
/// and they alternate (each restart before the next crash), starting in the window.
#[test]
fn each_nodes_outages_are_its_own() {
    let rngs = RngFactory::new(9);
    let alone = churn_outages(&churn(3..4, 20, 5, 24), &rngs);
    let all = churn_outages(&churn(0..10, 20, 5, 24), &rngs);
    let mine: Vec<_> = all
        .iter()
        .filter(|c| c.node == NodeId(3))
        .cloned()
        .collect();
    assert!(alone.len() > 20, "{} outages in a day", alone.len());
    assert_eq!(alone, mine);
    let until = SimDuration::from_secs(24 * 3600).as_nanos();
    for pair in alone.windows(2) {
        assert!(pair[0].restart.expect("churn always restarts") < pair[1].at);
    }
    assert!(alone.iter().all(|c| c.at.as_nanos() < until));
    // Another seed, another schedule.
    assert_ne!(
        churn_outages(&churn(3..4, 20, 5, 24), &RngFactory::new(10)),
        alone
    );
}

/// Churn is part of the run's randomness: the same seed gives the same trace, another seed
/// another one.
#[test]
fn churn_is_reproducible_from_the_seed() {
    let mut cfg = net(3);
    cfg.churn = Some(churn(0..25, 20, 5, 3));
    let a = run_one(&cfg, 1).unwrap();
    let b = run_one(&cfg, 1).unwrap();
    let c = run_one(&cfg, 2).unwrap();
    assert_eq!(a.trace_hash, b.trace_hash);
    assert_eq!(a.metrics, b.metrics);
    assert_ne!(a.trace_hash, c.trace_hash);
    assert!(a.metrics.honest_outages > 0);
}
