//! Kernel throughput: a hot-potato message-passing workload on 10,000 and 1,000 nodes, and the
//! latency draw every message costs. Reports events (draws) per second (divan's "items").
//! Run: `cargo bench -p net --bench kernel`.
//!
//! Together they are a floor under any run of the message-level model: each event costs at least
//! a potato hop (queue, dispatch, trace hash, a send) and each message at least one draw, before
//! any protocol work. `scripts/bench.sh` prints that floor for the reference networks.

use des::{Limits, RngFactory, SimDuration, SimTime};
use net::testkit::{NoDriver, Potato, plain, potato_world, regular8};
use net::{Latency, LatencySampler, Spread, World, assign_regions};

const NODES: u32 = 10_000;
const STARTERS: u32 = 1_000;
const HOPS: u32 = 1_000;

fn main() {
    divan::main();
}

fn world() -> World<Potato> {
    world_with(plain(SimDuration::from_millis(50)))
}

/// The same on 1,000 nodes (bitcoin-2019's size, whose node state stays in cache).
fn world_1k() -> World<Potato> {
    world_sized(1_000, plain(SimDuration::from_millis(50)))
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
    world_sized(NODES, cfg)
}

fn world_sized(n: u32, cfg: net::NetConfig) -> World<Potato> {
    let nodes = (0..n)
        .map(|_| Potato {
            random_hops: false,
            ..Potato::new(STARTERS, HOPS)
        })
        .collect();
    let limits = Limits {
        max_events: u64::MAX,
        end_time: SimTime::MAX,
    };
    potato_world(regular8(n, 1), nodes, cfg, 1, limits)
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
fn potato_1k_nodes(b: divan::Bencher) {
    bench(b, world_1k);
}

#[divan::bench(sample_count = 5)]
fn potato_10k_nodes_sub_ms_latency(b: divan::Bencher) {
    bench(b, sub_ms_world);
}

/// bitcoin-2019's latency model, read from `scenarios/bitcoin-2019.toml` (so the floor follows
/// the scenario): its region × region mean latencies in ms and its regions' node shares.
fn bitcoin_2019() -> (Vec<Vec<SimDuration>>, Vec<f64>) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scenarios/bitcoin-2019.toml"
    );
    let text = std::fs::read_to_string(path).expect("scenarios/bitcoin-2019.toml");
    let doc: toml::Table = toml::from_str(&text).expect("a TOML scenario");
    let net = doc["network"].as_table().expect("[network]");
    let ms = |v: &toml::Value| SimDuration::from_millis(v.as_integer().expect("ms") as u64);
    let matrix = (net["latency_matrix_ms"]
        .as_array()
        .expect("latency_matrix_ms")
        .iter())
    .map(|row| row.as_array().expect("a row").iter().map(ms).collect())
    .collect();
    let shares = (net["regions"]
        .as_array()
        .expect("[[network.regions]]")
        .iter())
    .map(|r| r["share"].as_float().expect("share"))
    .collect();
    (matrix, shares)
}

const DRAW_NODES: u32 = 1_000;
const DRAWS: u64 = 2_000_000;
/// Messages one sender sends in a row (bitcoin-2019: ~12 per replica and block).
const BURST: u64 = 12;

/// SimBlock-spread latency draws between bitcoin-2019's regions, from the network's one latency
/// stream as a broadcast draws them: senders take turns sending `BURST` messages to
/// pseudo-random receivers. The per-message cost no message escapes (an absorbed announcement
/// still draws its arrival time).
#[divan::bench(sample_count = 5)]
fn simblock_latency_draws(b: divan::Bencher) {
    let (matrix, shares) = bitcoin_2019();
    let sampler = LatencySampler::new(Latency::Regions {
        matrix,
        spread: Spread::SimBlock,
    });
    let f = RngFactory::new(2019);
    let regions = assign_regions(DRAW_NODES, &shares, &mut f.stream("regions", 0));
    let n = u64::from(DRAW_NODES);
    b.counter(divan::counter::ItemsCount::new(DRAWS))
        .with_inputs(|| f.stream("latency", 0))
        .bench_local_values(|mut rng| {
            let mut total = 0u64;
            for i in 0..DRAWS {
                let src = (i / BURST * 7_919 % n) as usize;
                let dst = ((i * 104_729 + 13) % n) as usize;
                total += sampler
                    .sample(regions[src], regions[dst], &mut rng)
                    .as_nanos();
            }
            // Every draw is at least SimBlock's smallest scale (a few ms): the loop was not
            // optimised away.
            assert!(total >= DRAWS * 1_000_000);
            total
        });
}
