//! Topologies: built with petgraph from a seeded stream, then frozen into a flat CSR adjacency
//! (offsets + neighbour list) for the hot path.

use des::{NodeId, SimRng};
use petgraph::graph::UnGraph;
use std::fmt;

/// A probability distribution over outbound degrees, as in the Bitcoin 2015 measurement.
#[derive(Debug, Clone, PartialEq)]
pub struct DegreeDist {
    /// (degree, weight) pairs; weights need not be normalised.
    pub table: Vec<(u32, f64)>,
}

impl DegreeDist {
    /// Bitcoin's outbound degree distribution (2015) used by SimBlock; mean 8.645.
    pub fn bitcoin_2015() -> Self {
        let mut table = vec![];
        for d in 1..=4 {
            table.push((d, 0.025));
        }
        for d in 5..=11 {
            table.push((d, 0.10));
        }
        for d in 12..=14 {
            table.push((d, 0.05));
        }
        table.extend([(15, 0.02), (17, 0.01), (18, 0.01), (19, 0.005), (20, 0.005)]);
        DegreeDist { table }
    }

    pub fn mean(&self) -> f64 {
        let w: f64 = self.table.iter().map(|(_, p)| p).sum();
        self.table
            .iter()
            .map(|(d, p)| f64::from(*d) * p)
            .sum::<f64>()
            / w
    }

    fn sample(&self, rng: &mut SimRng) -> u32 {
        let total: f64 = self.table.iter().map(|(_, p)| p).sum();
        let mut x = rng.uniform() * total;
        for (d, p) in &self.table {
            if x < *p {
                return *d;
            }
            x -= p;
        }
        self.table.last().map(|(d, _)| *d).unwrap_or(0)
    }
}

/// Which graph to build.
#[derive(Debug, Clone, PartialEq)]
pub enum TopologyKind {
    Complete,
    /// Each node linked to its two ring neighbours.
    Ring,
    /// Every node has exactly `degree` neighbours (n·degree must be even).
    RandomRegular {
        degree: u32,
    },
    /// G(n, p): each pair linked independently with probability `p`.
    ErdosRenyi {
        p: f64,
    },
    /// Watts–Strogatz: ring lattice of even degree `k`, each edge rewired with probability `beta`.
    WattsStrogatz {
        k: u32,
        beta: f64,
    },
    /// Barabási–Albert: each new node attaches to `m` existing nodes with probability ∝ degree.
    BarabasiAlbert {
        m: u32,
    },
    /// Each node opens an outbound degree drawn from `outbound` to uniformly random peers
    /// (inbound links capped at `max_inbound`); regions are assigned separately by shares.
    Regional {
        outbound: DegreeDist,
        max_inbound: u32,
    },
}

impl TopologyKind {
    pub const NAMES: [&'static str; 7] = [
        "complete",
        "ring",
        "random-regular",
        "erdos-renyi",
        "watts-strogatz",
        "barabasi-albert",
        "regional",
    ];
    pub fn name(&self) -> &'static str {
        match self {
            TopologyKind::Complete => "complete",
            TopologyKind::Ring => "ring",
            TopologyKind::RandomRegular { .. } => "random-regular",
            TopologyKind::ErdosRenyi { .. } => "erdos-renyi",
            TopologyKind::WattsStrogatz { .. } => "watts-strogatz",
            TopologyKind::BarabasiAlbert { .. } => "barabasi-albert",
            TopologyKind::Regional { .. } => "regional",
        }
    }
}

/// The frozen graph.
#[derive(Debug, Clone)]
pub struct Topology {
    offsets: Vec<u32>,
    adj: Vec<NodeId>,
    components: usize,
}

/// Why a topology could not be built.
#[derive(Debug, Clone, PartialEq)]
pub struct TopologyError(pub String);
impl fmt::Display for TopologyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for TopologyError {}

impl Topology {
    /// Builds `kind` over `n` nodes from `rng`.
    pub fn build(kind: &TopologyKind, n: u32, rng: &mut SimRng) -> Result<Topology, TopologyError> {
        if n == 0 {
            return Err(TopologyError("a topology needs at least one node".into()));
        }
        let mut g: UnGraph<(), ()> = UnGraph::with_capacity(n as usize, 0);
        for _ in 0..n {
            g.add_node(());
        }
        let mut edges = EdgeSet::new(n);
        match kind {
            TopologyKind::Complete => {
                for u in 0..n {
                    for v in u + 1..n {
                        edges.add(u, v);
                    }
                }
            }
            TopologyKind::Ring => {
                if n > 1 {
                    for u in 0..n {
                        edges.add(u, (u + 1) % n);
                    }
                }
            }
            TopologyKind::RandomRegular { degree } => random_regular(n, *degree, rng, &mut edges)?,
            TopologyKind::ErdosRenyi { p } => erdos_renyi(n, *p, rng, &mut edges),
            TopologyKind::WattsStrogatz { k, beta } => {
                watts_strogatz(n, *k, *beta, rng, &mut edges)?
            }
            TopologyKind::BarabasiAlbert { m } => barabasi_albert(n, *m, rng, &mut edges)?,
            TopologyKind::Regional {
                outbound,
                max_inbound,
            } => regional(n, outbound, *max_inbound, rng, &mut edges),
        }
        Ok(Self::from_edges(g, &edges))
    }

    /// Adds `edges` to `g` (which has the nodes) and freezes it.
    fn from_edges(mut g: UnGraph<(), ()>, edges: &EdgeSet) -> Topology {
        for (u, list) in edges.adj.iter().enumerate() {
            for &v in list {
                if (u as u32) < v {
                    g.add_edge((u as u32).into(), v.into(), ());
                }
            }
        }
        Self::from_graph(&g)
    }

    /// Sybil identities taking peer slots. Each link (sybil, host) is added and, where the host
    /// has an honest link to spare, displaces one, as a full peer table would: the link to the
    /// host's best-connected honest peer whose removal leaves both ends an honest link and the
    /// honest nodes connected. Returns the new topology and the number of links displaced.
    pub fn crowded(&self, sybil: &[bool], links: &[(NodeId, NodeId)]) -> (Topology, usize) {
        let n = self.node_count();
        let mut es = EdgeSet::new(n);
        for (a, b) in self.edges() {
            es.add(a.0, b.0);
        }
        let honest_degree = |es: &EdgeSet, u: u32| {
            es.adj[u as usize]
                .iter()
                .filter(|&&v| !sybil[v as usize])
                .count()
        };
        let mut displaced = 0;
        for &(s, host) in links {
            if !es.add(s.0, host.0) {
                continue;
            }
            if honest_degree(&es, host.0) < 2 {
                continue;
            }
            let mut candidates: Vec<u32> = es.adj[host.idx()]
                .iter()
                .copied()
                .filter(|&v| !sybil[v as usize] && honest_degree(&es, v) >= 2)
                .collect();
            candidates.sort_by_key(|&v| (std::cmp::Reverse(es.degree(v)), v));
            for v in candidates.into_iter().take(3) {
                es.remove(host.0, v);
                if honest_connected(&es, sybil) {
                    displaced += 1;
                    break;
                }
                es.add(host.0, v);
            }
        }
        let mut g: UnGraph<(), ()> = UnGraph::with_capacity(n as usize, 0);
        for _ in 0..n {
            g.add_node(());
        }
        (Self::from_edges(g, &es), displaced)
    }

    /// Freezes a petgraph graph (edge order is kept, so the CSR is deterministic).
    pub fn from_graph(g: &UnGraph<(), ()>) -> Topology {
        let n = g.node_count();
        let mut lists: Vec<Vec<NodeId>> = vec![vec![]; n];
        for e in g.raw_edges() {
            let (a, b) = (e.source().index() as u32, e.target().index() as u32);
            if a != b {
                lists[a as usize].push(NodeId(b));
                lists[b as usize].push(NodeId(a));
            }
        }
        let mut offsets = Vec::with_capacity(n + 1);
        let mut adj = Vec::new();
        offsets.push(0);
        for mut l in lists {
            l.sort_unstable();
            l.dedup();
            adj.extend(l);
            offsets.push(adj.len() as u32);
        }
        let components = petgraph::algo::connected_components(g);
        Topology {
            offsets,
            adj,
            components,
        }
    }

    #[inline]
    pub fn peers(&self, n: NodeId) -> &[NodeId] {
        &self.adj[self.offsets[n.idx()] as usize..self.offsets[n.idx() + 1] as usize]
    }

    pub fn node_count(&self) -> u32 {
        (self.offsets.len() - 1) as u32
    }

    pub fn edge_count(&self) -> usize {
        self.adj.len() / 2
    }

    pub fn degree(&self, n: NodeId) -> usize {
        self.peers(n).len()
    }

    pub fn mean_degree(&self) -> f64 {
        self.adj.len() as f64 / f64::from(self.node_count())
    }

    pub fn components(&self) -> usize {
        self.components
    }

    pub fn is_connected(&self) -> bool {
        self.components == 1
    }

    pub fn has_edge(&self, a: NodeId, b: NodeId) -> bool {
        self.peers(a).binary_search(&b).is_ok()
    }

    /// This graph with every edge of the nodes in `isolate` removed and the edges in `add`
    /// added (an eclipse's links to its victims; Sybil identities taking peer slots).
    pub fn rewired(&self, isolate: &[NodeId], add: &[(NodeId, NodeId)]) -> Topology {
        let n = self.node_count();
        let mut g: UnGraph<(), ()> = UnGraph::with_capacity(n as usize, 0);
        for _ in 0..n {
            g.add_node(());
        }
        for (a, b) in self.edges() {
            if !isolate.contains(&a) && !isolate.contains(&b) {
                g.add_edge(a.0.into(), b.0.into(), ());
            }
        }
        for &(a, b) in add {
            g.add_edge(a.0.into(), b.0.into(), ());
        }
        Self::from_graph(&g)
    }

    /// All undirected edges (a < b), in order.
    pub fn edges(&self) -> impl Iterator<Item = (NodeId, NodeId)> + '_ {
        (0..self.node_count()).flat_map(move |a| {
            self.peers(NodeId(a))
                .iter()
                .filter(move |b| b.0 > a)
                .map(move |&b| (NodeId(a), b))
        })
    }
}

/// Adjacency lists kept in insertion order (deterministic), with O(degree) membership checks.
/// Whether the non-Sybil nodes are connected using only links among themselves.
fn honest_connected(es: &EdgeSet, sybil: &[bool]) -> bool {
    let honest: Vec<u32> = (0..es.adj.len() as u32)
        .filter(|&u| !sybil[u as usize])
        .collect();
    let Some(&start) = honest.first() else {
        return true;
    };
    let mut seen = vec![false; es.adj.len()];
    let mut stack = vec![start];
    seen[start as usize] = true;
    let mut reached = 1;
    while let Some(u) = stack.pop() {
        for &v in &es.adj[u as usize] {
            if !sybil[v as usize] && !seen[v as usize] {
                seen[v as usize] = true;
                reached += 1;
                stack.push(v);
            }
        }
    }
    reached == honest.len()
}

struct EdgeSet {
    adj: Vec<Vec<u32>>,
}

impl EdgeSet {
    fn new(n: u32) -> Self {
        EdgeSet {
            adj: vec![vec![]; n as usize],
        }
    }
    fn has(&self, u: u32, v: u32) -> bool {
        self.adj[u as usize].contains(&v)
    }
    /// Adds u–v unless it is a loop or already present; returns whether it was added.
    fn add(&mut self, u: u32, v: u32) -> bool {
        if u == v || self.has(u, v) {
            return false;
        }
        self.adj[u as usize].push(v);
        self.adj[v as usize].push(u);
        true
    }
    fn remove(&mut self, u: u32, v: u32) {
        self.adj[u as usize].retain(|&x| x != v);
        self.adj[v as usize].retain(|&x| x != u);
    }
    fn degree(&self, u: u32) -> usize {
        self.adj[u as usize].len()
    }
}

/// Steger–Wormald style pairing: join random free stubs when legal, restart when stuck.
fn random_regular(
    n: u32,
    d: u32,
    rng: &mut SimRng,
    edges: &mut EdgeSet,
) -> Result<(), TopologyError> {
    if d >= n || (u64::from(n) * u64::from(d)) % 2 == 1 {
        return Err(TopologyError(format!(
            "random-regular: degree {d} needs degree < nodes ({n}) and nodes × degree even"
        )));
    }
    for _attempt in 0..100 {
        *edges = EdgeSet::new(n);
        let mut stubs: Vec<u32> = (0..n)
            .flat_map(|u| std::iter::repeat_n(u, d as usize))
            .collect();
        let mut fails = 0usize;
        while stubs.len() >= 2 && fails < 50 * stubs.len() + 1000 {
            let i = rng.below(stubs.len() as u64) as usize;
            let j = rng.below(stubs.len() as u64) as usize;
            let (a, b) = (stubs[i], stubs[j]);
            if i == j || a == b || edges.has(a, b) {
                fails += 1;
                continue;
            }
            edges.add(a, b);
            let (hi, lo) = if i > j { (i, j) } else { (j, i) };
            stubs.swap_remove(hi);
            stubs.swap_remove(lo);
        }
        if stubs.is_empty() {
            return Ok(());
        }
    }
    Err(TopologyError(format!(
        "random-regular: could not pair stubs for n={n}, degree={d}"
    )))
}

/// G(n, p) by geometric skipping (Batagelj & Brandes): O(n + m) draws.
fn erdos_renyi(n: u32, p: f64, rng: &mut SimRng, edges: &mut EdgeSet) {
    if p <= 0.0 || n < 2 {
        return;
    }
    if p >= 1.0 {
        for u in 0..n {
            for v in u + 1..n {
                edges.add(u, v);
            }
        }
        return;
    }
    let lp = libm::log(1.0 - p);
    let (mut v, mut w): (i64, i64) = (1, -1);
    let n = i64::from(n);
    while v < n {
        let r = rng.uniform();
        w += 1 + libm::floor(libm::log(1.0 - r) / lp) as i64;
        while w >= v && v < n {
            w -= v;
            v += 1;
        }
        if v < n {
            edges.add(v as u32, w as u32);
        }
    }
}

fn watts_strogatz(
    n: u32,
    k: u32,
    beta: f64,
    rng: &mut SimRng,
    edges: &mut EdgeSet,
) -> Result<(), TopologyError> {
    if k % 2 == 1 || k >= n {
        return Err(TopologyError(format!(
            "watts-strogatz: k={k} must be even and < nodes ({n})"
        )));
    }
    for u in 0..n {
        for j in 1..=k / 2 {
            edges.add(u, (u + j) % n);
        }
    }
    for j in 1..=k / 2 {
        for u in 0..n {
            let v = (u + j) % n;
            if !rng.bernoulli(beta) || edges.degree(u) as u32 >= n - 1 {
                continue;
            }
            // Rewire u–v to u–w with w uniform among nodes not u and not already linked.
            loop {
                let w = rng.below(u64::from(n)) as u32;
                if w != u && !edges.has(u, w) {
                    edges.remove(u, v);
                    edges.add(u, w);
                    break;
                }
            }
        }
    }
    Ok(())
}

fn barabasi_albert(
    n: u32,
    m: u32,
    rng: &mut SimRng,
    edges: &mut EdgeSet,
) -> Result<(), TopologyError> {
    if m == 0 || m >= n {
        return Err(TopologyError(format!(
            "barabasi-albert: m={m} must be in 1..nodes ({n})"
        )));
    }
    // Seed: a clique of m + 1 nodes; `ends` lists every edge endpoint, so a uniform pick is ∝ degree.
    let mut ends: Vec<u32> = vec![];
    for u in 0..=m.min(n - 1) {
        for v in u + 1..=m.min(n - 1) {
            edges.add(u, v);
            ends.extend([u, v]);
        }
    }
    let mut chosen: Vec<u32> = Vec::with_capacity(m as usize);
    for u in m + 1..n {
        chosen.clear();
        while chosen.len() < m as usize {
            let t = ends[rng.below(ends.len() as u64) as usize];
            if !chosen.contains(&t) {
                chosen.push(t);
            }
        }
        for &t in &chosen {
            edges.add(u, t);
            ends.extend([u, t]);
        }
    }
    Ok(())
}

fn regional(n: u32, dist: &DegreeDist, max_inbound: u32, rng: &mut SimRng, edges: &mut EdgeSet) {
    let mut inbound = vec![0u32; n as usize];
    for u in 0..n {
        let want = dist.sample(rng).min(n - 1);
        let mut tries = 0u32;
        let mut made = 0;
        while made < want && tries < 20 * want + 100 {
            tries += 1;
            let v = rng.below(u64::from(n)) as u32;
            if inbound[v as usize] >= max_inbound {
                continue;
            }
            if edges.add(u, v) {
                inbound[v as usize] += 1;
                made += 1;
            }
        }
    }
}

/// Assigns each node a region index by drawing from `shares` (need not be normalised).
pub fn assign_regions(n: u32, shares: &[f64], rng: &mut SimRng) -> Vec<u8> {
    let total: f64 = shares.iter().sum();
    (0..n)
        .map(|_| {
            let mut x = rng.uniform() * total;
            for (i, s) in shares.iter().enumerate() {
                if x < *s {
                    return i as u8;
                }
                x -= s;
            }
            (shares.len() - 1) as u8
        })
        .collect()
}
