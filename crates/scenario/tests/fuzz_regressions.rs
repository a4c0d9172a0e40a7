//! Scenario files the fuzz (`scripts/fuzz.py`) found, run as found.

use chain::InvDelivery;

/// The scenario's first run, with announcements absorbed (the default) and as events.
fn both_deliveries(file: &str, text: &str) -> (runner::RunOutput, runner::RunOutput) {
    let plan = scenario::parse(file, text).unwrap();
    let mut cfg = plan.points[0].config.clone();
    let seed = plan.runs[0].seed;
    let absorbed = runner::run_one(&cfg, seed).unwrap();
    cfg.chain.inv_delivery = InvDelivery::Event;
    (absorbed, runner::run_one(&cfg, seed).unwrap())
}

/// Fuzz case 73308 (minimised): on continuous latencies, a compact block delayed 60 s by an
/// attacker and another peer's announcement reached node 35 at the same nanosecond. As events
/// the block came first (it was sent first), so node 35 relayed its own announcement to that
/// peer; absorbed, the announcement counted as first and the peer was skipped — a different,
/// equally valid path. Such a coincidence is now counted (`same_instant_announcements`), so
/// the comparison of the two deliveries knows when it does not apply.
#[test]
fn fuzz_73308_an_announcement_at_the_nanosecond_of_a_block_is_counted() {
    let text = r#"
name = "fuzz73308"
seed = 517

[stop]
blocks = 10

[network]
nodes = 80
topology = "complete"
latency = "1s"
latency_spread = "lognormal"

[[network.partitions]]
groups = [["0..3"]]
from = "0s"
until = "300s"

[consensus]
block_interval = "60s"
relay = "compact"
request_timeout = "5s"
max_attempts = 1

[[byzantine]]
strategy = "sybil"
nodes = [77, 27]

[[byzantine]]
strategy = "delay"
nodes = [19, 58]
delay = "60s"
"#;
    let (absorbed, event) = both_deliveries("fuzz73308.toml", text);
    assert_eq!(absorbed.net.same_instant_announcements, 1);
    assert_eq!(
        event.net.same_instant_announcements, 0,
        "nothing is absorbed"
    );
    // Here the two paths part: as events, node 35 announced the block to the peer it skipped
    // absorbed, and what followed differed.
    assert_ne!(event.net.messages, absorbed.net.messages);
}

/// Fuzz case 86711 (minimised): SimBlock's whole-millisecond latencies, and fetches given up
/// after one request, so absorbed announcements come back as wake-up timers. Two replicas' wake-ups
/// fired at the same nanosecond and sent their getdata to the same peer; as events the two
/// announcements were ordered by when they were sent, as wake-ups by when the timers were set,
/// so the getdatas — and what followed — came in the other order. Nothing was counted: each
/// wake-up applied only its own announcement, and the tie was between two replicas. A wake-up
/// that shares its nanosecond with another event anywhere now counts.
#[test]
fn fuzz_86711_wake_ups_at_one_nanosecond_at_two_replicas_are_counted() {
    let text = r#"
name = "fuzz86711"

[stop]
blocks = 10

[network]
nodes = 40
topology = "regional"
latency_spread = "simblock"

[consensus]
block_size = "1MB"
request_timeout = "5s"
max_attempts = 1

[[network.regions]]
name = "a"
share = 0.6
upload = "19Mbit/s"

[[network.regions]]
name = "b"
share = 0.4
upload = "5Mbit/s"
"#;
    let (absorbed, event) = both_deliveries("fuzz86711.toml", text);
    assert!(
        absorbed.net.same_instant_announcements > 0,
        "the tie is counted"
    );
    assert_eq!(event.net.same_instant_announcements, 0);
    // The two paths part here (the premise of the case).
    assert_ne!(event.net.messages, absorbed.net.messages);
}
