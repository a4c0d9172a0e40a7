use des::{
    Ctx, Limits, Message, Node, NodeId, RngFactory, SimDuration, SimTime, StopReason, TimerId,
};
use net::testkit::{NoDriver, Potato, plain, potato_world, regular8};
use net::*;

fn rng(seed: u64) -> des::SimRng {
    RngFactory::new(seed).stream("topology", 0)
}

#[test]
fn topology_degrees_and_connectivity() {
    let n = 500;
    let t = Topology::build(&TopologyKind::Complete, 50, &mut rng(1)).unwrap();
    assert!((0..50).all(|i| t.degree(NodeId(i)) == 49) && t.is_connected());

    let t = Topology::build(&TopologyKind::Ring, n, &mut rng(1)).unwrap();
    assert!((0..n).all(|i| t.degree(NodeId(i)) == 2) && t.is_connected());
    assert!(t.has_edge(NodeId(0), NodeId(n - 1)));

    let t = Topology::build(&TopologyKind::RandomRegular { degree: 8 }, n, &mut rng(2)).unwrap();
    assert!((0..n).all(|i| t.degree(NodeId(i)) == 8));
    assert!(t.is_connected());
    assert!(
        Topology::build(&TopologyKind::RandomRegular { degree: 3 }, 5, &mut rng(2)).is_err(),
        "n·d odd"
    );

    // G(n, p): the edge count is Binomial(n(n−1)/2, p); within 5 standard deviations.
    let p = 0.02;
    let t = Topology::build(&TopologyKind::ErdosRenyi { p }, n, &mut rng(3)).unwrap();
    let pairs = f64::from(n * (n - 1) / 2);
    let sd = (pairs * p * (1.0 - p)).sqrt();
    assert!(
        (t.edge_count() as f64 - pairs * p).abs() < 5.0 * sd,
        "ER edges {}",
        t.edge_count()
    );
    // Far below the connectivity threshold ln(n)/n, G(n,p) is disconnected and we say so.
    let sparse = Topology::build(&TopologyKind::ErdosRenyi { p: 0.001 }, n, &mut rng(3)).unwrap();
    assert!(!sparse.is_connected() && sparse.components() > 1);

    // Watts–Strogatz keeps the edge count of the lattice: n·k/2.
    let t = Topology::build(
        &TopologyKind::WattsStrogatz { k: 6, beta: 0.2 },
        n,
        &mut rng(4),
    )
    .unwrap();
    assert_eq!(t.edge_count(), (n * 3) as usize);
    assert!((t.mean_degree() - 6.0).abs() < 1e-9);
    let lattice = Topology::build(
        &TopologyKind::WattsStrogatz { k: 6, beta: 0.0 },
        n,
        &mut rng(4),
    )
    .unwrap();
    assert!((0..n).all(|i| lattice.degree(NodeId(i)) == 6));

    // Barabási–Albert: a clique of m+1 nodes, then m edges per new node; every degree ≥ m;
    // the hub is much bigger than the mean (scale free).
    let m = 3;
    let t = Topology::build(&TopologyKind::BarabasiAlbert { m }, n, &mut rng(5)).unwrap();
    assert_eq!(t.edge_count() as u32, m * (m + 1) / 2 + m * (n - m - 1));
    assert!((0..n).all(|i| t.degree(NodeId(i)) >= m as usize) && t.is_connected());
    let max = (0..n).map(|i| t.degree(NodeId(i))).max().unwrap();
    assert!(max as f64 > 4.0 * t.mean_degree(), "hub degree {max}");

    // Regional (Bitcoin 2015 outbound degrees): mean outbound ≈ 8.645, so ≈ 17.3 links per node.
    let dist = DegreeDist::bitcoin_2015();
    assert!((dist.mean() - 8.645).abs() < 1e-9);
    let t = Topology::build(
        &TopologyKind::Regional {
            outbound: dist.clone(),
            max_inbound: 125,
        },
        2000,
        &mut rng(6),
    )
    .unwrap();
    // Outbound degrees are iid with sd ≈ 3.9; the mean of 2000 has sd ≈ 0.09 (a few links are
    // lost to collisions, which are rare at this size).
    let mean = t.mean_degree() / 2.0;
    assert!(
        (mean - dist.mean()).abs() < 5.0 * 0.09 + 0.05,
        "mean outbound {mean}"
    );
    assert!(t.is_connected());
}

/// Sybils take peer slots: their links are added, honest links are displaced, and the honest
/// nodes keep a link each and stay connected among themselves; eclipse rewiring isolates.
#[test]
fn sybils_displace_honest_links_without_cutting_the_honest_graph() {
    let n = 200;
    let t = regular8(n, 3);
    let sybil: Vec<bool> = (0..n).map(|i| i >= 180).collect();
    let mut r = rng(5);
    let mut links = vec![];
    for s in 180..n {
        for _ in 0..15 {
            links.push((NodeId(s), NodeId(r.below(180) as u32)));
        }
    }
    let (c, displaced) = t.crowded(&sybil, &links);
    assert!(displaced > 150, "only {displaced} displaced");
    for &(s, h) in &links {
        assert!(c.has_edge(s, h));
    }
    let honest_edges = |t: &Topology| {
        t.edges()
            .filter(|(a, b)| !sybil[a.idx()] && !sybil[b.idx()])
            .count()
    };
    assert_eq!(honest_edges(&c), honest_edges(&t) - displaced);
    for i in 0..180 {
        let honest_peers = c
            .peers(NodeId(i))
            .iter()
            .filter(|p| !sybil[p.idx()])
            .count();
        assert!(honest_peers >= 1, "node {i} lost all honest links");
    }
    // The honest part alone is still connected: drop the Sybils' links and count components.
    let honest_only = c.rewired(&(180..n).map(NodeId).collect::<Vec<_>>(), &[]);
    assert_eq!(honest_only.components(), 1 + 20, "honest part split");

    let e = t.rewired(
        &[NodeId(7)],
        &[(NodeId(7), NodeId(1)), (NodeId(7), NodeId(2))],
    );
    assert_eq!(e.peers(NodeId(7)), &[NodeId(1), NodeId(2)]);
}

#[test]
fn regions_follow_shares() {
    let shares = [0.3316, 0.4998, 0.0090, 0.1177, 0.0224, 0.0195];
    let n = 20_000;
    let r = assign_regions(n, &shares, &mut rng(9));
    for (i, s) in shares.iter().enumerate() {
        let c = r.iter().filter(|&&x| x as usize == i).count() as f64;
        let sd = (f64::from(n) * s * (1.0 - s)).sqrt();
        assert!((c - f64::from(n) * s).abs() < 5.0 * sd, "region {i}: {c}");
    }
}

/// Sends a message stamped with its send time to every peer every 10 ms; logs receipts.
struct Chatter {
    log: Vec<(NodeId, u64, SimTime)>,
    restarted: bool,
}

#[derive(Copy, Clone, Debug)]
struct Stamp(u64);
impl Message for Stamp {
    fn kind(&self) -> u8 {
        1
    }
    fn size_bytes(&self) -> u32 {
        100
    }
    fn payload_id(&self) -> u64 {
        self.0
    }
    fn kind_name(_: u8) -> &'static str {
        "stamp"
    }
}

impl Node for Chatter {
    type Msg = Stamp;
    type Note = ();
    type Shared = ();
    fn on_start(&mut self, ctx: &mut Ctx<'_, Self>) {
        ctx.set_timer(SimDuration::from_millis(10), 0);
    }
    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, msg: Stamp) {
        self.log.push((from, msg.0, ctx.now()));
    }
    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, _: TimerId, _: u64) {
        ctx.broadcast(Stamp(ctx.now().as_nanos()));
        ctx.set_timer(SimDuration::from_millis(10), 0);
    }
    fn on_restart(&mut self, ctx: &mut Ctx<'_, Self>) {
        self.restarted = true;
        self.on_start(ctx);
    }
}

fn chatter_world(n: u32, cfg: NetConfig, secs: u64, seed: u64) -> (World<Chatter>, StopReason) {
    let topo = Topology::build(&TopologyKind::Complete, n, &mut rng(seed)).unwrap();
    let rngs = RngFactory::new(seed);
    let net = Network::new(topo, cfg, &rngs);
    let nodes = (0..n)
        .map(|_| Chatter {
            log: vec![],
            restarted: false,
        })
        .collect();
    let limits = Limits {
        max_events: 10_000_000,
        end_time: SimTime::ZERO + SimDuration::from_secs(secs),
    };
    let mut w = World::new(nodes, net, (), &rngs, limits);
    let r = run(&mut w, &mut NoDriver);
    (w, r)
}

#[test]
fn loss_rate_within_binomial_tolerance() {
    for p in [0.05, 0.2] {
        let mut cfg = plain(SimDuration::from_millis(5));
        cfg.rules.push(Rule::Loss { p });
        let (w, reason) = chatter_world(4, cfg, 20, 7);
        assert_eq!(reason, StopReason::TimeLimit);
        let s = &w.net.stats;
        let sent = s.total_sent() as f64;
        let lost = s.dropped[s.rule_names.iter().position(|r| r == "loss").unwrap()] as f64;
        let sd = (sent * p * (1.0 - p)).sqrt();
        assert!(
            (lost - sent * p).abs() < 5.0 * sd,
            "p={p}: lost {lost} of {sent}"
        );
        let received: usize = w.nodes.iter().map(|c| c.log.len()).sum();
        // Messages in flight at the end are neither delivered nor dropped.
        assert!(received as u64 == s.delivered && s.delivered as f64 <= sent - lost);
    }
}

/// A link that resends (TCP-like): a message lost k times arrives k backoffs late, the first
/// the timeout and each next one twice the last (up to `RTO_MAX`). k is geometric,
/// P(k) = p^k (1 − p): each k's count is within five binomial standard deviations. A message
/// lost on every resend is dropped after `MAX_RETRANSMISSIONS`.
#[test]
fn retransmissions_back_off_and_their_number_is_geometric() {
    let ms = SimDuration::from_millis;
    let (a, b) = (NodeId(0), NodeId(1));
    let msg = Sized {
        size: 100,
        control: true,
    };
    let timeout = ms(200);
    // The wait after k losses, computed here from the definition.
    let after = |k: u32| -> u64 {
        (0..k)
            .map(|j| (timeout.as_nanos() << j).min(RTO_MAX.as_nanos()))
            .sum()
    };
    // The last resend's timeout runs out 924.6 s after the first send: Linux's figure for
    // tcp_retries2 = 15 with its 200 ms minimum timeout.
    assert_eq!(after(MAX_RETRANSMISSIONS + 1), ms(924_600).as_nanos());
    let network = |p: f64| {
        let mut cfg = plain(ms(50));
        cfg.rules.push(Rule::Resend { p, timeout });
        let topo = Topology::build(&TopologyKind::Complete, 2, &mut rng(1)).unwrap();
        Network::new(topo, cfg, &RngFactory::new(5))
    };
    let (n, p) = (200_000u64, 0.3);
    let mut net = network(p);
    let mut counts = [0u64; MAX_RETRANSMISSIONS as usize + 1];
    for _ in 0..n {
        let Transit::Arrives(t) = net.transmit(SimTime::ZERO, a, b, &msg) else {
            panic!("a message was dropped or duplicated");
        };
        let extra = t.as_nanos() - ms(50).as_nanos();
        let k = (0..=MAX_RETRANSMISSIONS)
            .position(|k| after(k) == extra)
            .unwrap_or_else(|| panic!("{extra} ns is no whole number of backoffs"));
        counts[k] += 1;
    }
    for (k, &c) in counts.iter().enumerate().take(6) {
        let q = p.powi(k as i32) * (1.0 - p);
        let sd = (n as f64 * q * (1.0 - q)).sqrt();
        assert!(
            (c as f64 - n as f64 * q).abs() < 5.0 * sd,
            "{c} messages lost {k} times, expected {}",
            n as f64 * q
        );
    }
    let loss = net
        .stats
        .rule_names
        .iter()
        .position(|r| r == "loss")
        .unwrap();
    assert_eq!(net.stats.delayed[loss], n - counts[0]);
    assert_eq!(net.stats.dropped[loss], 0);

    let mut net = network(1.0);
    assert_eq!(net.transmit(SimTime::ZERO, a, b, &msg), Transit::Lost);
    assert_eq!((net.stats.dropped[loss], net.stats.delayed[loss]), (1, 0));
    for m in LossMode::ALL {
        assert_eq!(m.name().parse::<LossMode>().unwrap(), *m);
    }
}

#[test]
fn partition_blocks_exactly_cross_group_traffic_in_window() {
    let from = SimTime::ZERO + SimDuration::from_secs(1);
    let until = SimTime::ZERO + SimDuration::from_secs(2);
    let groups = vec![(0..3).map(NodeId).collect::<Vec<_>>()];
    let mut cfg = plain(SimDuration::from_millis(5));
    cfg.partitions
        .push(Partition::from_groups(6, &groups, from, until));
    let (w, _) = chatter_world(6, cfg, 3, 1);
    let side = |n: NodeId| n.0 < 3;
    let mut cross_in = 0;
    let mut cross_out = 0;
    for (dst, node) in w.nodes.iter().enumerate() {
        for &(src, sent_ns, _) in &node.log {
            let sent = SimTime::from_nanos(sent_ns);
            let cross = side(src) != side(NodeId(dst as u32));
            if cross && sent >= from && sent < until {
                cross_in += 1;
            } else if cross {
                cross_out += 1;
            }
        }
    }
    assert_eq!(
        cross_in, 0,
        "cross-group messages sent during the partition arrived"
    );
    // Outside the window every cross-group message sent before the end arrived: ticks at
    // 10 ms .. 2990 ms minus the 100 ticks in [1 s, 2 s), 9 cross pairs × 2 directions.
    let ticks_outside = (1..=299).filter(|k| !(100..200).contains(k)).count();
    assert_eq!(cross_out, ticks_outside * 18);
    // Within a side nothing was lost.
    let within: usize = w
        .nodes
        .iter()
        .enumerate()
        .map(|(d, n)| {
            n.log
                .iter()
                .filter(|(s, _, _)| side(*s) == side(NodeId(d as u32)))
                .count()
        })
        .sum();
    assert_eq!(within, 299 * 6 * 2);
}

/// An eclipse's hold: in its window a victim hears from and reaches only the crew (not other
/// victims, not anyone else), both ways; outside it every link works.
#[test]
fn an_eclipse_cuts_exactly_the_victims_links_outside_the_crew_in_window() {
    let from = SimTime::ZERO + SimDuration::from_secs(1);
    let until = SimTime::ZERO + SimDuration::from_secs(2);
    let n = 6;
    let mask = |m: &[u32]| (0..n).map(|i| m.contains(&i)).collect::<Vec<bool>>();
    let hold = Isolate {
        name: "eclipse cut".into(),
        victims: mask(&[4, 5]),
        crew: mask(&[0]),
        from,
        until,
    };
    let mut cfg = plain(SimDuration::from_millis(5));
    cfg.rules.push(Rule::Link(Box::new(hold)));
    let (w, _) = chatter_world(n, cfg, 3, 1);
    let victim = |x: u32| x >= 4;
    let cut = |a: u32, b: u32| (victim(a) && b != 0) || (victim(b) && a != 0);
    // Per ordered pair, messages sent in the window and outside it that arrived.
    let mut inside = vec![vec![0; n as usize]; n as usize];
    let mut outside = inside.clone();
    for (dst, node) in w.nodes.iter().enumerate() {
        for &(src, sent_ns, _) in &node.log {
            let sent = SimTime::from_nanos(sent_ns);
            let cell = if sent >= from && sent < until {
                &mut inside
            } else {
                &mut outside
            };
            cell[src.idx()][dst] += 1;
        }
    }
    let ticks_outside = (1..=299).filter(|k| !(100..200).contains(k)).count();
    for a in 0..n {
        for b in (0..n).filter(|&b| b != a) {
            let expect = if cut(a, b) { 0 } else { 100 };
            assert_eq!(
                inside[a as usize][b as usize], expect,
                "{a} → {b} in the window"
            );
            assert_eq!(
                outside[a as usize][b as usize], ticks_outside,
                "{a} → {b} outside"
            );
            let mid = from + SimDuration::from_millis(500);
            assert_eq!(w.net.link_works(NodeId(a), NodeId(b), mid), !cut(a, b));
            assert!(w.net.link_works(NodeId(a), NodeId(b), until));
        }
    }
    let s = &w.net.stats;
    let i = s
        .rule_names
        .iter()
        .position(|r| r == "eclipse cut")
        .unwrap();
    // Cut ordered pairs: 4 and 5 each to and from the four others not the crew, and 4 ↔ 5 once.
    assert_eq!(s.dropped[i], 100 * (2 * 4 * 2 - 2));
}

#[test]
fn crash_drops_a_nodes_traffic_and_restart_resumes() {
    let down = SimTime::ZERO + SimDuration::from_millis(1005);
    let up = SimTime::ZERO + SimDuration::from_millis(2005);
    let mut cfg = plain(SimDuration::from_millis(1));
    cfg.crashes.push(Crash {
        node: NodeId(2),
        at: down,
        restart: Some(up),
    });
    let (w, _) = chatter_world(4, cfg, 3, 2);
    assert!(w.nodes[2].restarted);
    for (dst, node) in w.nodes.iter().enumerate() {
        for &(src, sent, at) in &node.log {
            let sent = SimTime::from_nanos(sent);
            if src == NodeId(2) {
                assert!(sent < down || sent >= up, "crashed node sent at {sent}");
            }
            if dst == 2 {
                assert!(at < down || at >= up, "crashed node received at {at}");
            }
        }
    }
    // Node 2 heard from the others before and after the crash.
    assert!(
        w.nodes[2].log.iter().any(|&(_, _, t)| t < down)
            && w.nodes[2].log.iter().any(|&(_, _, t)| t > up)
    );
    assert!(
        w.nodes[0]
            .log
            .iter()
            .any(|&(s, _, t)| s == NodeId(2) && t > up)
    );
    let s = &w.net.stats;
    assert!(s.dropped[0] > 0 && s.rule_names[0] == "crash");
}

/// A node with many outages (listed out of order, as churn and hand-written crashes may be)
/// receives nothing during any of them — a message sent while it is up that would arrive
/// while it is down is lost too — and hears from the others in every spell it is up.
#[test]
fn a_node_with_many_outages_is_deaf_in_each_and_hears_between() {
    let ms = |x: u64| SimTime::ZERO + SimDuration::from_millis(x);
    let spells: Vec<(SimTime, SimTime)> = (0..12)
        .rev()
        .map(|k| (ms(100 + 200 * k), ms(197 + 200 * k)))
        .collect();
    let mut cfg = plain(SimDuration::from_millis(3));
    for &(at, up) in &spells {
        cfg.crashes.push(Crash {
            node: NodeId(1),
            at,
            restart: Some(up),
        });
    }
    let (w, _) = chatter_world(3, cfg, 3, 4);
    let log = &w.nodes[1].log;
    for &(_, _, at) in log {
        assert!(
            !spells.iter().any(|&(d, u)| d <= at && at < u),
            "heard at {at} while down"
        );
    }
    for k in 0..12u64 {
        let (from, to) = (ms(200 * k + 197), ms(200 * k + 300));
        assert!(
            log.iter().any(|&(_, _, t)| from <= t && t < to),
            "deaf between outages {k} and {}",
            k + 1
        );
    }
}

#[test]
fn duplication_and_jitter_are_counted_and_reorder() {
    let mut cfg = plain(SimDuration::from_millis(1));
    cfg.rules.push(Rule::Duplicate {
        p: 0.1,
        delay: SimDuration::from_millis(3),
    });
    cfg.rules.push(Rule::Jitter {
        max: SimDuration::from_millis(30),
    });
    let (w, _) = chatter_world(3, cfg, 5, 3);
    let s = &w.net.stats;
    let dups = s.duplicated[1];
    let sent = s.total_sent();
    let sd = (sent as f64 * 0.1 * 0.9).sqrt();
    assert!((dups as f64 - 0.1 * sent as f64).abs() < 5.0 * sd);
    // Jitter decides for every message the duplicate rule passed.
    assert_eq!(s.delayed[2], sent - dups);
    let mut reordered = false;
    for node in &w.nodes {
        for pair in node.log.windows(2) {
            if pair[0].0 == pair[1].0 && pair[1].1 < pair[0].1 {
                reordered = true;
            }
        }
    }
    assert!(
        reordered,
        "30 ms jitter on a 10 ms send period must reorder some messages"
    );
}

#[test]
fn bandwidth_queues_uploads_one_at_a_time() {
    // 100-byte stamps at 8 kbit/s upload take 100 ms each; a node broadcasting to 3 peers
    // finishes its third upload 300 ms after the tick.
    let mut cfg = plain(SimDuration::ZERO);
    cfg.bandwidth = Some(Bandwidth {
        upload_bps: vec![8_000; 4],
        download_bps: vec![1_000_000; 4],
    });
    let (w, _) = chatter_world(4, cfg, 1, 4);
    let first: Vec<SimDuration> = w.nodes[3]
        .log
        .iter()
        .filter(|(_, sent, _)| *sent == 10_000_000)
        .map(|&(_, sent, at)| at - SimTime::from_nanos(sent))
        .collect();
    // Node 3 is the third peer of each of the three senders.
    assert_eq!(first, vec![SimDuration::from_millis(300); 3]);
}

fn potato_hash(seed: u64, extra_draw_on: Option<u32>) -> (String, Vec<u64>, u64) {
    let n = 200;
    let nodes = (0..n)
        .map(|i| {
            let mut p = Potato::new(20, 50);
            p.extra_draw = Some(i) == extra_draw_on;
            p
        })
        .collect();
    let mut cfg = plain(SimDuration::ZERO);
    cfg.latency = Latency::Mean {
        mean: SimDuration::from_millis(50),
        spread: Spread::Exponential,
    };
    cfg.rules.push(Rule::Loss { p: 0.01 });
    let limits = Limits {
        max_events: 1_000_000,
        end_time: SimTime::MAX,
    };
    let mut w = potato_world(regular8(n, seed), nodes, cfg, seed, limits);
    let reason = run(&mut w, &mut NoDriver);
    assert_eq!(reason, StopReason::Drained);
    (
        w.kernel.trace_hash(),
        w.nodes[7].draws.clone(),
        w.kernel.events_processed(),
    )
}

#[test]
fn same_seed_same_trace_different_seed_different_trace() {
    let (a, _, events) = potato_hash(1, None);
    let (b, _, _) = potato_hash(1, None);
    let (c, _, _) = potato_hash(2, None);
    assert!(events > 500);
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn an_extra_draw_in_one_node_leaves_other_streams_alone() {
    let (_, draws, _) = potato_hash(5, None);
    // Node 3 draws one unrelated number at start: node 7's stream is untouched, so its first
    // draw is the same (later ones may differ because the token paths change).
    let (_, draws2, _) = potato_hash(5, Some(3));
    assert!(!draws.is_empty());
    assert_eq!(RngFactory::new(5).stream("node", 7).next_u64(), draws[0]);
    assert_eq!(draws[0], draws2[0]);
}

/// A message that is either a bulk transfer or a control message (an announcement, a request).
#[derive(Copy, Clone, Debug)]
struct Sized {
    size: u32,
    control: bool,
}
impl Message for Sized {
    fn kind(&self) -> u8 {
        u8::from(self.control)
    }
    fn size_bytes(&self) -> u32 {
        self.size
    }
    fn payload_id(&self) -> u64 {
        0
    }
    fn kind_name(_: u8) -> &'static str {
        "sized"
    }
    fn is_control(&self) -> bool {
        self.control
    }
}

/// Control messages queue behind a transfer on the upload link, or (SimBlock's model) skip it
/// and pay only their latency plus the control delay; every transfer occupies the link for
/// size / rate plus the transfer overhead.
#[test]
fn link_costs_route_control_messages_and_charge_transfers() {
    let ms = SimDuration::from_millis;
    let at = |t: Transit| match t {
        Transit::Arrives(t) => t.as_nanos() / 1_000_000,
        other => panic!("{other:?}"),
    };
    let (a, b) = (NodeId(0), NodeId(1));
    let block = Sized {
        size: 1000,
        control: false,
    };
    let inv = Sized {
        size: 100,
        control: true,
    };
    for control in [ControlPath::Uplink, ControlPath::LatencyOnly] {
        let mut cfg = plain(ms(50));
        // 8 kbit/s: 1000 B take 1 s, 100 B 100 ms.
        cfg.bandwidth = Some(Bandwidth {
            upload_bps: vec![8_000; 2],
            download_bps: vec![1_000_000; 2],
        });
        cfg.costs = LinkCosts {
            control,
            control_delay: ms(10),
            transfer_overhead: ms(2),
        };
        let topo = Topology::build(&TopologyKind::Complete, 2, &mut rng(1)).unwrap();
        let mut net = Network::new(topo, cfg, &RngFactory::new(1));
        let now = SimTime::ZERO;
        // The block leaves after 1 s + 2 ms and arrives 50 ms later.
        assert_eq!(at(net.transmit(now, a, b, &block)), 1052);
        let (inv_at, next_block_at) = match control {
            // Queued behind the block: 1002 + 100 + 2 ms, then 10 + 50 ms on the way; the next
            // block waits for it.
            ControlPath::Uplink => (1164, 1104 + 1002 + 50),
            // Leaves now: 10 + 50 ms; the next block follows the first directly.
            ControlPath::LatencyOnly => (60, 1002 + 1002 + 50),
        };
        assert_eq!(at(net.transmit(now, a, b, &inv)), inv_at, "{control}");
        assert_eq!(
            at(net.transmit(now, a, b, &block)),
            next_block_at,
            "{control}"
        );
    }
    for c in ControlPath::ALL {
        assert_eq!(c.name().parse::<ControlPath>().unwrap(), *c);
    }
}

/// Node 0 drops its connection to node 1 ten seconds in; node 1 logs when it hears of it.
struct Quitter {
    heard: Vec<(SimTime, NodeId)>,
}

impl Node for Quitter {
    type Msg = testkit::Token;
    type Note = ();
    type Shared = ();
    fn on_start(&mut self, ctx: &mut Ctx<'_, Self>) {
        if ctx.id() == NodeId(0) {
            ctx.set_timer(SimDuration::from_secs(10), 0);
        }
    }
    fn on_message(&mut self, _ctx: &mut Ctx<'_, Self>, _from: NodeId, _msg: testkit::Token) {}
    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, _id: TimerId, _tag: u64) {
        ctx.disconnect(NodeId(1));
    }
    fn on_disconnect(&mut self, ctx: &mut Ctx<'_, Self>, peer: NodeId) {
        self.heard.push((ctx.now(), peer));
    }
}

/// A disconnect reaches the peer at once, or, if it is down then, when it restarts (its
/// handlers never run while it is down).
#[test]
fn a_disconnect_reaches_the_peer_when_it_is_up() {
    let secs = |s: u64| SimTime::ZERO + SimDuration::from_secs(s);
    for crash in [None, Some((secs(5), secs(20)))] {
        let mut cfg = plain(SimDuration::from_millis(1));
        if let Some((at, restart)) = crash {
            cfg.crashes.push(Crash {
                node: NodeId(1),
                at,
                restart: Some(restart),
            });
        }
        let topo = Topology::build(&TopologyKind::Complete, 2, &mut rng(1)).unwrap();
        let rngs = RngFactory::new(1);
        let net = Network::new(topo, cfg, &rngs);
        let nodes = (0..2).map(|_| Quitter { heard: vec![] }).collect();
        let mut w = World::new(nodes, net, (), &rngs, Limits::default());
        run(&mut w, &mut NoDriver);
        let when = crash.map_or(secs(10), |(_, restart)| restart);
        assert_eq!(w.nodes[1].heard, vec![(when, NodeId(0))], "crash {crash:?}");
        assert!(w.nodes[0].heard.is_empty());
    }
}
