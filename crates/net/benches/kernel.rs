//! Kernel throughput: a hot-potato message-passing workload on 10,000 nodes.
//! Reports events per second (divan's "items"). Run: `cargo bench -p net --bench kernel`.

use des::{Limits, SimDuration, SimTime};
use net::World;
use net::testkit::{NoDriver, Potato, plain, potato_world, regular8};

const NODES: u32 = 10_000;
const STARTERS: u32 = 1_000;
const HOPS: u32 = 1_000;

fn main() {
    divan::main();
}

fn world() -> World<Potato> {
    world_with(plain(SimDuration::from_millis(50)))
}

/// Latencies of 10–500 µs: every event is scheduled within a millisecond of the current time,
/// where a bucketed queue (a timing wheel with ~1 ms slots, say) does worst. Keep it in any
/// comparison of queue designs: a wheel tried on top of the radix heap ran this 15 % slower.
fn sub_ms_world() -> World<Potato> {
    let mut cfg = plain(SimDuration::ZERO);
    cfg.latency = net::Latency::Uniform {
        min: SimDuration::from_micros(10),
        max: SimDuration::from_micros(500),
    };
    world_with(cfg)
}

fn world_with(cfg: net::NetConfig) -> World<Potato> {
    let nodes = (0..NODES)
        .map(|_| Potato {
            random_hops: false,
            ..Potato::new(STARTERS, HOPS)
        })
        .collect();
    let limits = Limits {
        max_events: u64::MAX,
        end_time: SimTime::MAX,
    };
    potato_world(regular8(NODES, 1), nodes, cfg, 1, limits)
}

fn workload(mut w: World<Potato>) -> u64 {
    net::run(&mut w, &mut NoDriver);
    w.kernel.events_processed()
}

/// Events per workload: STARTERS timers + STARTERS·8 first hops, each carried HOPS more hops.
fn events() -> u64 {
    u64::from(STARTERS) + u64::from(STARTERS) * 8 * (u64::from(HOPS) + 1)
}

/// Times `workload` on fresh worlds from `make`, after checking its event count once.
fn bench(b: divan::Bencher, make: fn() -> World<Potato>) {
    assert_eq!(workload(make()), events());
    b.counter(divan::counter::ItemsCount::new(events()))
        .with_inputs(make)
        .bench_values(workload);
}

#[divan::bench(sample_count = 5)]
fn potato_10k_nodes(b: divan::Bencher) {
    bench(b, world);
}

#[divan::bench(sample_count = 5)]
fn potato_10k_nodes_sub_ms_latency(b: divan::Bencher) {
    bench(b, sub_ms_world);
}
