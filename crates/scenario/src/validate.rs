// `!(x > 0.0)` is deliberate throughout: it also rejects NaN.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

//! Validation: a parsed [`ScenarioFile`] becomes a [`RunConfig`], or a list of problems, each
//! naming the dotted key and what is allowed.

use crate::schema::{CompactToml, DifficultyToml, NodeRef, ScenarioFile};
use chain::{
    ChainParams, CompactRelay, ForkChoice, InvDelivery, Invalid, Missing, OnInvalid, Relay,
    Retarget, RetargetRule, TieRule,
};
use des::SimDuration;
use net::{DegreeDist, Latency, Spread, TopologyKind};
use runner::{
    ByzantineCfg, CrashCfg, EclipseFeed, HashDist, HashPower, PartitionCfg, RegionCfg, RunConfig,
    StrategyKind,
};
use std::str::FromStr;

/// One validation problem.
#[derive(Clone, Debug, PartialEq)]
pub struct Issue {
    pub key: String,
    pub message: String,
}

struct V {
    issues: Vec<Issue>,
}

impl V {
    fn err(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.issues.push(Issue {
            key: key.into(),
            message: message.into(),
        });
    }
    fn prob(&mut self, key: &str, p: f64) {
        if !(0.0..=1.0).contains(&p) {
            self.err(key, format!("{p} is not a probability: must be in [0, 1]"));
        }
    }
    fn positive(&mut self, key: &str, x: f64) {
        if !(x > 0.0 && x.is_finite()) {
            self.err(key, format!("{x} must be a positive number"));
        }
    }
    fn enum_value<T: FromStr<Err = String>>(
        &mut self,
        key: &str,
        s: Option<&str>,
        default: T,
    ) -> T {
        match s {
            None => default,
            Some(s) => s.parse().unwrap_or_else(|e: String| {
                self.err(key, e);
                default
            }),
        }
    }
    fn required<T: Copy>(&mut self, key: &str, v: Option<T>, why: &str) -> Option<T> {
        if v.is_none() {
            self.err(key, format!("is required {why}"));
        }
        v
    }
    fn count(&mut self, key: &str, v: i64, min: i64, max: i64) -> u32 {
        if v < min || v > max {
            self.err(
                key,
                format!("{v} is out of range: must be in {min}..={max}"),
            );
            return min.max(0) as u32;
        }
        v as u32
    }
}

/// "`v` `rule`", where a value the file did not give is named as the default, with a hint to
/// set it: "the default 8 must be … ; set it".
fn breaks(v: i64, given: bool, rule: &str) -> String {
    if given {
        format!("{v} {rule}")
    } else {
        format!("the default {v} {rule}; set it")
    }
}

fn node_ids(v: &mut V, key: &str, refs: &[NodeRef], nodes: u32) -> Vec<u32> {
    let mut out = vec![];
    for r in refs {
        match r {
            NodeRef::Id(i) => {
                if *i < 0 || *i >= i64::from(nodes) {
                    v.err(key, format!("node {i} does not exist: ids are 0..{nodes}"));
                } else {
                    out.push(*i as u32);
                }
            }
            NodeRef::Range(s) => {
                let parsed = s.split_once("..").and_then(|(a, b)| {
                    Some((a.trim().parse::<u32>().ok()?, b.trim().parse::<u32>().ok()?))
                });
                match parsed {
                    Some((a, b)) if a < b && b <= nodes => out.extend(a..b),
                    Some((a, b)) => v.err(
                        key,
                        format!("range \"{a}..{b}\" must be non-empty and within 0..{nodes}"),
                    ),
                    None => v.err(
                        key,
                        format!("\"{s}\" is not a node id or a range like \"0..50\""),
                    ),
                }
            }
        }
    }
    out
}

fn byzantine(v: &mut V, f: &ScenarioFile, nodes: u32) -> Vec<ByzantineCfg> {
    let mut out = vec![];
    let mut owner: Vec<Option<usize>> = vec![None; nodes as usize];
    let mut share_total = 0.0;
    for (i, t) in f.byzantine.iter().enumerate() {
        let key = format!("byzantine[{i}]");
        let k = |field: &str| format!("{key}.{field}");
        let strategy: StrategyKind =
            v.enum_value(&k("strategy"), Some(&t.strategy), StrategyKind::Withhold);
        let ids = node_ids(v, &k("nodes"), &t.nodes, nodes);
        if ids.is_empty() {
            v.err(k("nodes"), "needs at least one node");
        }
        for &n in &ids {
            match owner[n as usize] {
                Some(j) if j != i => v.err(
                    k("nodes"),
                    format!("node {n} is already in byzantine[{j}]; a node has one strategy"),
                ),
                _ => owner[n as usize] = Some(i),
            }
        }
        let one_node = matches!(strategy, StrategyKind::Selfish | StrategyKind::DoubleSpend);
        if one_node && ids.len() > 1 {
            v.err(
                k("nodes"),
                format!(
                    "{strategy} is one node acting for the whole attacker (give it the pool's hash_share); got {}",
                    ids.len()
                ),
            );
        }
        let mut b = ByzantineCfg::new(strategy, ids);
        // Keys that only mean something for some strategies.
        let only = |v: &mut V, field: &str, set: bool, allowed: &[StrategyKind]| {
            if set && !allowed.contains(&strategy) {
                let names: Vec<&str> = allowed.iter().map(|s| s.name()).collect();
                v.err(
                    format!("{key}.{field}"),
                    format!("applies only to strategy {}", names.join(" or ")),
                );
            }
        };
        only(v, "gamma", t.gamma.is_some(), &[StrategyKind::Selfish]);
        only(
            v,
            "confirmations",
            t.confirmations.is_some(),
            &[StrategyKind::DoubleSpend],
        );
        only(
            v,
            "give_up",
            t.give_up.is_some(),
            &[StrategyKind::DoubleSpend],
        );
        only(
            v,
            "invalid",
            t.invalid.is_some(),
            &[StrategyKind::InvalidBlocks],
        );
        only(
            v,
            "delay",
            t.delay.is_some(),
            &[StrategyKind::Delay, StrategyKind::Eclipse],
        );
        only(v, "drop", t.drop.is_some(), &[StrategyKind::Drop]);
        only(
            v,
            "targets",
            !t.targets.is_empty(),
            &[StrategyKind::Eclipse],
        );
        only(v, "peers", t.peers.is_some(), &[StrategyKind::Sybil]);
        only(v, "feed", t.feed.is_some(), &[StrategyKind::Eclipse]);
        b.feed = v.enum_value(
            &k("feed"),
            t.feed.as_deref(),
            if t.delay.is_some() {
                EclipseFeed::Delay
            } else {
                EclipseFeed::Withhold
            },
        );
        if strategy == StrategyKind::Eclipse
            && b.feed == EclipseFeed::PrivateFork
            && !t.hash_share.is_some_and(|h| h > 0.0)
        {
            v.err(
                k("hash_share"),
                "a private-fork eclipse needs the attackers to have hash power",
            );
        }
        if let Some(h) = t.hash_share {
            if strategy == StrategyKind::Sybil && h != 0.0 {
                v.err(k("hash_share"), "Sybil identities have no hash power");
            } else if !(0.0..1.0).contains(&h) {
                v.err(k("hash_share"), format!("{h} must be in [0, 1)"));
            }
            share_total += h;
        }
        b.hash_share = t.hash_share;
        if let Some(g) = t.gamma {
            v.prob(&k("gamma"), g);
        }
        b.gamma = t.gamma;
        b.confirmations = v.count(&k("confirmations"), t.confirmations.unwrap_or(6), 1, 10_000);
        b.give_up = v.count(&k("give_up"), t.give_up.unwrap_or(20), 1, 100_000);
        b.invalid = v.enum_value(&k("invalid"), t.invalid.as_deref(), Invalid::BadHeight);
        b.delay = t.delay.map(|d| d.0).unwrap_or(SimDuration::ZERO);
        let needs_delay = strategy == StrategyKind::Delay
            || (strategy == StrategyKind::Eclipse && b.feed == EclipseFeed::Delay);
        if needs_delay && b.delay.is_zero() {
            v.err(k("delay"), "needs a positive delay, e.g. \"30s\"");
        }
        b.drop = t.drop.unwrap_or(0.0);
        v.prob(&k("drop"), b.drop);
        if strategy == StrategyKind::Drop && t.drop.is_none() {
            v.err(
                k("drop"),
                "strategy drop needs the fraction to drop, e.g. 0.5",
            );
        }
        b.targets = node_ids(v, &k("targets"), &t.targets, nodes);
        if strategy == StrategyKind::Eclipse {
            if b.targets.is_empty() {
                v.err(k("targets"), "an eclipse needs target nodes");
            }
            if b.targets.iter().any(|x| b.nodes.contains(x)) {
                v.err(k("targets"), "a node cannot eclipse itself");
            }
        }
        // Only Sybils take peer slots: other strategies neither set nor use it.
        let peers = t.peers.unwrap_or(8);
        let most = i64::from(nodes.max(2) - 1);
        if strategy == StrategyKind::Sybil && !(1..=most).contains(&peers) {
            v.err(
                k("peers"),
                breaks(
                    peers,
                    t.peers.is_some(),
                    &format!("is out of range: must be in 1..={most}"),
                ),
            );
        }
        b.peers = peers.clamp(1, most) as u32;
        b.from = t.from.map(|d| d.0).unwrap_or(SimDuration::ZERO);
        b.until = t.until.map(|d| d.0);
        if let Some(u) = b.until
            && u <= b.from
        {
            v.err(k("until"), "the attack must end after it starts");
        }
        out.push(b);
    }
    if share_total >= 1.0 {
        v.err(
            "byzantine",
            format!("the hash shares add up to {share_total}: honest nodes need some (< 1)"),
        );
    }
    out
}

/// Checks `f` and builds the run configuration.
pub fn validate(f: &ScenarioFile) -> Result<RunConfig, Vec<Issue>> {
    let mut v = V { issues: vec![] };
    let n = &f.network;
    if f.name.trim().is_empty() || f.name.contains(['/', '\\']) {
        v.err(
            "name",
            "must be a non-empty name without slashes (it names the results folder)",
        );
    }
    if f.replicates == 0 {
        v.err("replicates", "must be at least 1");
    }
    v.enum_value("seeds", f.seeds.as_deref(), crate::Seeds::Independent);
    let before = v.issues.len();
    let nodes = v.count("network.nodes", n.nodes, 1, 1_000_000);
    if v.issues.len() > before {
        // Node ids, degrees, shares and groups are all checked against the node count: with
        // none to check against, their errors would only echo this one.
        return Err(v.issues);
    }
    let topology = match n.topology.as_str() {
        "complete" => TopologyKind::Complete,
        "ring" => TopologyKind::Ring,
        "random-regular" => {
            let d = n.degree.unwrap_or(8);
            if d < 1 || d >= i64::from(nodes) {
                v.err(
                    "network.degree",
                    breaks(
                        d,
                        n.degree.is_some(),
                        &format!("must be at least 1 and less than network.nodes ({nodes})"),
                    ),
                );
            } else if (d * i64::from(nodes)) % 2 == 1 {
                v.err(
                    "network.degree",
                    format!("nodes × degree must be even ({nodes} × {d} is odd)"),
                );
            }
            TopologyKind::RandomRegular {
                degree: d.max(0) as u32,
            }
        }
        "erdos-renyi" => {
            let p = match (n.p, n.mean_degree) {
                (Some(p), None) => p,
                (None, Some(k)) => k / f64::from(nodes.max(2) - 1),
                _ => {
                    v.err(
                        "network.p",
                        "erdos-renyi needs exactly one of network.p or network.mean_degree",
                    );
                    0.0
                }
            };
            v.prob("network.p", p);
            TopologyKind::ErdosRenyi { p }
        }
        "watts-strogatz" => {
            let k = n.k.unwrap_or(4);
            if k < 2 || k % 2 == 1 || k >= i64::from(nodes) {
                v.err(
                    "network.k",
                    breaks(
                        k,
                        n.k.is_some(),
                        &format!("must be even, at least 2, and less than network.nodes ({nodes})"),
                    ),
                );
            }
            let beta = n.beta.unwrap_or(0.1);
            v.prob("network.beta", beta);
            TopologyKind::WattsStrogatz {
                k: k.max(0) as u32,
                beta,
            }
        }
        "barabasi-albert" => {
            let m = n.m.unwrap_or(3);
            if m < 1 || m >= i64::from(nodes) {
                v.err(
                    "network.m",
                    breaks(
                        m,
                        n.m.is_some(),
                        &format!("must be at least 1 and less than network.nodes ({nodes})"),
                    ),
                );
            }
            TopologyKind::BarabasiAlbert { m: m.max(0) as u32 }
        }
        "regional" => {
            let outbound = match n.outbound.as_deref().unwrap_or("bitcoin-2015") {
                "bitcoin-2015" => DegreeDist::bitcoin_2015(),
                other => {
                    v.err(
                        "network.outbound",
                        format!("unknown distribution \"{other}\"; expected: bitcoin-2015"),
                    );
                    DegreeDist::bitcoin_2015()
                }
            };
            let max_inbound = v.count(
                "network.max_inbound",
                n.max_inbound.unwrap_or(125),
                1,
                1_000_000,
            );
            TopologyKind::Regional {
                outbound,
                max_inbound,
            }
        }
        other => {
            v.err(
                "network.topology",
                format!(
                    "unknown topology \"{other}\"; expected one of: {}",
                    TopologyKind::NAMES.join(", ")
                ),
            );
            TopologyKind::Complete
        }
    };
    for (key, x) in [("network.loss", n.loss), ("network.duplicate", n.duplicate)] {
        v.prob(key, x);
    }
    let loss_mode = v.enum_value(
        "network.loss_mode",
        n.loss_mode.as_deref(),
        net::LossMode::Drop,
    );
    if let Some(t) = n.retransmit_timeout {
        if loss_mode != net::LossMode::Retransmit {
            v.err(
                "network.retransmit_timeout",
                "only applies with network.loss_mode = \"retransmit\"",
            );
        } else if t.0.is_zero() || t.0 > net::RTO_MAX {
            v.err(
                "network.retransmit_timeout",
                format!(
                    "must be positive and at most {} (the longest wait between resends)",
                    net::RTO_MAX
                ),
            );
        }
    }
    // Regions.
    let mut regions = vec![];
    if !n.regions.is_empty() {
        let total: f64 = n.regions.iter().map(|r| r.share).sum();
        if (total - 1.0).abs() > 1e-3 {
            v.err(
                "network.regions",
                format!("region shares sum to {total}, must sum to 1"),
            );
        }
        if n.regions.len() > 255 {
            v.err("network.regions", "at most 255 regions");
        }
        for (i, r) in n.regions.iter().enumerate() {
            if !(r.share >= 0.0) {
                v.err(format!("network.regions[{i}].share"), "must be ≥ 0");
            }
            regions.push(RegionCfg {
                name: r.name.clone(),
                share: r.share,
                upload_bps: r.upload.map(|x| x.0),
                download_bps: r.download.map(|x| x.0),
            });
        }
    }
    // Latency.
    let spread = match n.latency_spread.as_str() {
        "constant" => Some(Spread::Constant),
        "exponential" => Some(Spread::Exponential),
        "lognormal" => {
            let s = n.latency_sigma.unwrap_or(0.5);
            v.positive("network.latency_sigma", s);
            Some(Spread::LogNormal { sigma: s })
        }
        "pareto" => {
            let s = n.latency_shape.unwrap_or(3.0);
            if !(s > 1.0) {
                v.err(
                    "network.latency_shape",
                    format!("{s} must be > 1 for the mean to exist"),
                );
            }
            Some(Spread::Pareto { shape: s })
        }
        "simblock" => Some(Spread::SimBlock),
        "uniform" => None,
        other => {
            let mut names = Spread::NAMES.to_vec();
            names.push("uniform");
            v.err(
                "network.latency_spread",
                format!(
                    "unknown spread \"{other}\"; expected one of: {}",
                    names.join(", ")
                ),
            );
            Some(Spread::Constant)
        }
    };
    let latency = match (spread, &n.latency_matrix_ms) {
        (None, _) => {
            let min = v.required(
                "network.latency_min",
                n.latency_min,
                "with latency_spread = \"uniform\"",
            );
            let max = v.required(
                "network.latency_max",
                n.latency_max,
                "with latency_spread = \"uniform\"",
            );
            let (min, max) = (
                min.map(|d| d.0).unwrap_or_default(),
                max.map(|d| d.0).unwrap_or_default(),
            );
            if min > max {
                v.err(
                    "network.latency_max",
                    "must not be below network.latency_min",
                );
            }
            Latency::Uniform {
                min,
                max: max.max(min),
            }
        }
        (Some(spread), Some(matrix)) => {
            let r = n.regions.len();
            if n.latency.is_some() {
                v.err(
                    "network.latency",
                    "give either network.latency or network.latency_matrix_ms, not both",
                );
            }
            if matrix.len() != r || matrix.iter().any(|row| row.len() != r) {
                v.err(
                    "network.latency_matrix_ms",
                    format!("must be {r} × {r} (one row and column per region)"),
                );
            }
            if matrix.iter().flatten().any(|x| !(*x >= 0.0)) {
                v.err("network.latency_matrix_ms", "latencies must be ≥ 0");
            }
            let m = matrix
                .iter()
                .map(|row| {
                    row.iter()
                        .map(|ms| SimDuration::from_nanos_f64(ms * 1e6))
                        .collect()
                })
                .collect();
            Latency::Regions { matrix: m, spread }
        }
        (Some(spread), None) => Latency::Mean {
            mean: n
                .latency
                .map(|d| d.0)
                .unwrap_or(SimDuration::from_millis(100)),
            spread,
        },
    };
    if let Some(r) = n.upload.or(n.download)
        && r.0 == 0
    {
        v.err("network.upload", "bandwidth must be positive");
    }
    let mut partitions = vec![];
    for (i, p) in n.partitions.iter().enumerate() {
        let key = format!("network.partitions[{i}]");
        let groups: Vec<Vec<u32>> = p
            .groups
            .iter()
            .map(|g| node_ids(&mut v, &format!("{key}.groups"), g, nodes))
            .collect();
        let mut seen = vec![false; nodes as usize];
        for id in groups.iter().flatten() {
            if std::mem::replace(&mut seen[*id as usize], true) {
                v.err(
                    format!("{key}.groups"),
                    format!("node {id} is in more than one group"),
                );
            }
        }
        if groups.is_empty() {
            v.err(
                format!("{key}.groups"),
                "needs at least one group (the nodes not named form another)",
            );
        }
        if let Some(u) = p.until
            && u.0 <= p.from.0
        {
            v.err(
                format!("{key}.until"),
                format!("the heal ({}) must come after the cut ({})", u.0, p.from.0),
            );
        }
        partitions.push(PartitionCfg {
            groups,
            from: p.from.0,
            until: p.until.map(|d| d.0),
        });
    }
    let mut crashes = vec![];
    for (i, c) in n.crashes.iter().enumerate() {
        let key = format!("network.crashes[{i}]");
        if c.node < 0 || c.node >= i64::from(nodes) {
            v.err(
                format!("{key}.node"),
                format!("node {} does not exist: ids are 0..{nodes}", c.node),
            );
        }
        if let Some(r) = c.restart
            && r.0 <= c.at.0
        {
            v.err(
                format!("{key}.restart"),
                "the restart must come after the crash",
            );
        }
        crashes.push(CrashCfg {
            node: c.node.max(0) as u32,
            at: c.at.0,
            restart: c.restart.map(|d| d.0),
        });
    }
    // One node's outages must not overlap: a node is down or up, and a restart that came
    // while an earlier crash still held it down would leave it sending but deaf.
    let mut order: Vec<usize> = (0..crashes.len()).collect();
    order.sort_by_key(|&i| (crashes[i].node, crashes[i].at, i));
    for w in order.windows(2) {
        let (a, b) = (&crashes[w[0]], &crashes[w[1]]);
        if a.node != b.node {
            continue;
        }
        let why = match a.restart {
            None => format!(
                "it crashed for good at {} (network.crashes[{}])",
                a.at, w[0]
            ),
            Some(r) if r > b.at => format!(
                "it is still down from network.crashes[{}] ({} until {r})",
                w[0], a.at
            ),
            Some(_) => continue,
        };
        v.err(
            format!("network.crashes[{}].at", w[1]),
            format!("node {} cannot crash at {}: {why}", b.node, b.at),
        );
    }
    let churn = churn(
        &mut v,
        n.churn.as_ref(),
        nodes,
        &crashes,
        f.stop.time.map(|d| d.0),
    );
    // Consensus.
    let c = &f.consensus;
    let interval = c
        .block_interval
        .map(|d| d.0)
        .unwrap_or(SimDuration::from_secs(600));
    if interval.is_zero() {
        v.err("consensus.block_interval", "must be positive");
    }
    let chain = ChainParams {
        fork_choice: v.enum_value(
            "consensus.fork_choice",
            c.fork_choice.as_deref(),
            ForkChoice::LongestChain,
        ),
        tie: v.enum_value("consensus.tie", c.tie.as_deref(), TieRule::FirstSeen),
        relay: v.enum_value("consensus.relay", c.relay.as_deref(), Relay::InvGetData),
        block_size: c
            .block_size
            .map(|b| b.0)
            .unwrap_or(535_000)
            .min(u64::from(u32::MAX)) as u32,
        inv_size: c
            .inv_size
            .map(|b| b.0)
            .unwrap_or(61)
            .min(u64::from(u32::MAX)) as u32,
        request_timeout: c
            .request_timeout
            .map(|d| d.0)
            .unwrap_or(SimDuration::from_secs(20)),
        max_attempts: v.count(
            "consensus.max_attempts",
            c.max_attempts.unwrap_or(50),
            1,
            1_000_000,
        ),
        on_invalid: v.enum_value(
            "consensus.on_invalid",
            c.on_invalid.as_deref(),
            OnInvalid::Ban,
        ),
        inv_delivery: v.enum_value(
            "consensus.inv_delivery",
            c.inv_delivery.as_deref(),
            InvDelivery::Absorbed,
        ),
        gamma: None,
        compact: compact(&mut v, c.compact.as_ref(), c.relay.as_deref()),
    };
    if chain.request_timeout.is_zero() {
        v.err("consensus.request_timeout", "must be positive");
    }
    let h = &c.hash_power;
    let dist = v.enum_value(
        "consensus.hash_power.dist",
        h.dist.as_deref(),
        if h.shares.is_empty() {
            HashDist::Equal
        } else {
            HashDist::Shares
        },
    );
    let miners = match (dist, h.miners) {
        (HashDist::Shares, m) => {
            let k = h.shares.len() as i64;
            if k == 0 {
                v.err(
                    "consensus.hash_power.shares",
                    "dist = \"shares\" needs a list of shares",
                );
            }
            if let Some(m) = m.filter(|&m| m != k) {
                v.err(
                    "consensus.hash_power.miners",
                    format!("{m} does not match the {k} shares given"),
                );
            }
            if k > i64::from(nodes) {
                v.err(
                    "consensus.hash_power.shares",
                    format!("{k} shares but network.nodes is {nodes}"),
                );
            }
            let total: f64 = h.shares.iter().sum();
            if k > 0 && (total - 1.0).abs() > 1e-6 {
                v.err(
                    "consensus.hash_power.shares",
                    format!("shares sum to {total}, must sum to 1"),
                );
            }
            if h.shares.iter().any(|s| !(*s >= 0.0)) {
                v.err("consensus.hash_power.shares", "shares must be ≥ 0");
            }
            k.max(0) as u32
        }
        (_, Some(m)) if m > i64::from(nodes) => {
            v.err(
                "consensus.hash_power.miners",
                format!("{m} is out of range: must be in 1..={nodes} (network.nodes)"),
            );
            nodes
        }
        (_, Some(m)) => v.count("consensus.hash_power.miners", m, 1, i64::from(nodes)),
        (_, None) => nodes,
    };
    let hash_power = HashPower {
        dist,
        miners,
        shares: h.shares.clone(),
        mean: h.mean.unwrap_or(if dist == HashDist::Normal {
            400_000.0
        } else {
            1.0
        }),
        sd: h.sd.unwrap_or(if dist == HashDist::Normal {
            100_000.0
        } else {
            0.0
        }),
        shape: h.shape.unwrap_or(2.0),
        floor: h.floor.unwrap_or(1.0),
    };
    if dist == HashDist::Pareto && !(hash_power.shape > 0.0) {
        v.err("consensus.hash_power.shape", "must be positive");
    }
    if matches!(dist, HashDist::Normal | HashDist::Exponential) && !(hash_power.mean > 0.0) {
        v.err("consensus.hash_power.mean", "must be positive");
    }
    let retarget = difficulty(&mut v, c.difficulty.as_ref());
    let mut hash_changes = vec![];
    for (i, ch) in h.changes.iter().enumerate() {
        let key = format!("consensus.hash_power.changes[{i}]");
        let ids = node_ids(&mut v, &format!("{key}.nodes"), &ch.nodes, nodes);
        if ch.nodes.is_empty() {
            v.err(format!("{key}.nodes"), "names no node");
        }
        if !(0.0..=runner::MAX_HASH_FACTOR).contains(&ch.factor) {
            v.err(
                format!("{key}.factor"),
                format!(
                    "{} is out of range: a multiple of the nodes' hash power at the start, \
                     0 (they stop mining) to {}",
                    ch.factor,
                    runner::MAX_HASH_FACTOR
                ),
            );
        }
        hash_changes.push(runner::HashChangeCfg {
            at: ch.at.0,
            nodes: ids,
            factor: ch.factor,
        });
    }
    // Stop and limits.
    let s = &f.stop;
    if s.blocks.is_none() && s.time.is_none() {
        v.err("stop", "give stop.blocks, stop.time, or both");
    }
    let max_time = s
        .max_time
        .map(|d| d.0)
        .unwrap_or(SimDuration::DAY.saturating_mul(3650));
    if let Some(t) = s.time
        && t.0 > max_time
    {
        v.err("stop.time", "must not be after stop.max_time");
    }
    if s.settle.is_some_and(|d| d.0.is_zero()) {
        v.err("stop.settle", "must be positive");
    }
    let sample_interval = f
        .metrics
        .sample_interval
        .map(|d| d.0)
        .unwrap_or(SimDuration::from_nanos((interval.as_nanos() / 10).max(1)));
    if sample_interval.is_zero() {
        v.err("metrics.sample_interval", "must be positive");
    }
    let link_costs = net::LinkCosts {
        control: v.enum_value(
            "network.control_messages",
            n.control_messages.as_deref(),
            net::ControlPath::Uplink,
        ),
        control_delay: n.control_delay.map_or(SimDuration::ZERO, |d| d.0),
        transfer_overhead: n.transfer_overhead.map_or(SimDuration::ZERO, |d| d.0),
    };
    let byzantine = byzantine(&mut v, f, nodes);
    if !v.issues.is_empty() {
        return Err(v.issues);
    }
    Ok(RunConfig {
        nodes,
        topology,
        allow_disconnected: n.allow_disconnected,
        regions,
        latency,
        upload_bps: n.upload.map(|r| r.0),
        download_bps: n.download.map(|r| r.0),
        loss: n.loss,
        loss_mode,
        retransmit_timeout: n.retransmit_timeout.map_or(runner::DEFAULT_RTO, |d| d.0),
        duplicate: n.duplicate,
        duplicate_delay: n
            .duplicate_delay
            .map(|d| d.0)
            .unwrap_or(SimDuration::from_millis(10)),
        jitter: n.jitter.map(|d| d.0).unwrap_or(SimDuration::ZERO),
        link_costs,
        partitions,
        crashes,
        churn,
        byzantine,
        chain,
        block_interval: interval,
        retarget,
        hash_changes,
        hash_power,
        stop_blocks: s.blocks,
        stop_time: s.time.map(|d| d.0),
        settle: s.settle.map(|d| d.0),
        max_events: s.max_events.unwrap_or(2_000_000_000),
        max_time,
        sample_interval,
    })
}

/// The most outages `[network.churn]` may be expected to draw.
pub const MAX_CHURN_OUTAGES: f64 = 1_000_000.0;

/// `[network.churn]`: positive mean times, a window with an end (`until`, else `stop.time`),
/// nodes that have no scheduled `network.crashes` of their own.
fn churn(
    v: &mut V,
    c: Option<&crate::schema::ChurnToml>,
    nodes: u32,
    crashes: &[CrashCfg],
    stop_time: Option<SimDuration>,
) -> Option<runner::ChurnCfg> {
    let c = c?;
    let mut ids = match &c.nodes {
        None => (0..nodes).collect(),
        Some(refs) => node_ids(v, "network.churn.nodes", refs, nodes),
    };
    // A set: a node named twice must not get two schedules, whose outages would overlap.
    ids.sort_unstable();
    ids.dedup();
    if c.nodes.as_ref().is_some_and(|r| r.is_empty()) {
        v.err("network.churn.nodes", "names no node");
    }
    for (key, d) in [("uptime", c.uptime.0), ("downtime", c.downtime.0)] {
        if d.is_zero() {
            v.err(format!("network.churn.{key}"), "must be positive");
        }
    }
    let from = c.from.map_or(SimDuration::ZERO, |d| d.0);
    let Some(until) = c.until.map(|d| d.0).or(stop_time) else {
        v.err(
            "network.churn.until",
            "needed when the run stops by block count alone (no stop.time): when do outages end?",
        );
        return None;
    };
    if until <= from {
        v.err(
            "network.churn.until",
            format!("{until} must come after network.churn.from ({from})"),
        );
    }
    let mut own = vec![false; nodes as usize];
    for &i in &ids {
        own[i as usize] = true;
    }
    if let Some((j, k)) = crashes
        .iter()
        .enumerate()
        .find(|(_, k)| own[k.node as usize])
    {
        v.err(
            "network.churn.nodes",
            format!(
                "node {} churns and has a scheduled crash (network.crashes[{j}]): its outages \
                 come from one or the other",
                k.node
            ),
        );
    }
    let cycle = (c.uptime.0.as_nanos() as f64 + c.downtime.0.as_nanos() as f64).max(1.0);
    let span = SimDuration::from_nanos(until.as_nanos().saturating_sub(from.as_nanos()));
    let expected = ids.len() as f64 * span.as_nanos() as f64 / cycle;
    if expected > MAX_CHURN_OUTAGES {
        v.err(
            "network.churn",
            format!(
                "about {expected:.0} outages expected ({} nodes over {}); at most {MAX_CHURN_OUTAGES}",
                ids.len(),
                span
            ),
        );
    }
    Some(runner::ChurnCfg {
        nodes: ids,
        uptime: c.uptime.0,
        downtime: c.downtime.0,
        from,
        until,
    })
}

/// The largest `consensus.difficulty.clamp`.
pub const MAX_CLAMP: f64 = 1000.0;

/// The keys of `[consensus.difficulty]` that belong to one retarget rule each, with it.
pub(crate) const DIFFICULTY_KEYS: [(&str, RetargetRule); 3] = [
    ("every", RetargetRule::Epoch),
    ("clamp", RetargetRule::Epoch),
    ("half_life", RetargetRule::Asert),
];

/// `[consensus.difficulty]`: each key belongs to one rule; Bitcoin's (epoch) and Bitcoin
/// Cash's (asert) values where a key is missing.
fn difficulty(v: &mut V, d: Option<&DifficultyToml>) -> Retarget {
    let Some(d) = d else {
        return Retarget::FIXED;
    };
    let rule = v.enum_value(
        "consensus.difficulty.retarget",
        d.retarget.as_deref(),
        RetargetRule::Fixed,
    );
    let given = [d.every.is_some(), d.clamp.is_some(), d.half_life.is_some()];
    for ((key, owner), given) in DIFFICULTY_KEYS.into_iter().zip(given) {
        if given && rule != owner {
            v.err(
                format!("consensus.difficulty.{key}"),
                format!("only applies with consensus.difficulty.retarget = \"{owner}\""),
            );
        }
    }
    match rule {
        RetargetRule::Fixed => Retarget::FIXED,
        RetargetRule::Epoch => {
            let every = v.count(
                "consensus.difficulty.every",
                d.every.unwrap_or(2016),
                1,
                10_000_000,
            );
            let clamp = d.clamp.unwrap_or(4.0);
            if !(1.0..=MAX_CLAMP).contains(&clamp) {
                v.err(
                    "consensus.difficulty.clamp",
                    format!(
                        "{clamp} is out of range: the most a retarget may change the difficulty \
                         by, 1 (never) to {MAX_CLAMP}"
                    ),
                );
            }
            Retarget::epoch(every.max(1), clamp.clamp(1.0, MAX_CLAMP))
        }
        RetargetRule::Asert => {
            let most = SimDuration::DAY.saturating_mul(3650);
            let half_life = d.half_life.map_or(Retarget::FIXED.half_life, |h| h.0);
            if half_life.is_zero() || half_life > most {
                v.err(
                    "consensus.difficulty.half_life",
                    format!("{half_life} must be positive and at most 3650 days"),
                );
            }
            Retarget::asert(half_life)
        }
    }
}

/// `[consensus.compact]`: SimBlock's values where a key is missing; the table only goes with
/// `relay = "compact"`.
fn compact(v: &mut V, c: Option<&CompactToml>, relay: Option<&str>) -> CompactRelay {
    let mut out = CompactRelay::default();
    let Some(c) = c else {
        return out;
    };
    if relay != Some(Relay::Compact.name()) {
        v.err(
            "consensus.compact",
            "only applies with consensus.relay = \"compact\"",
        );
    }
    if let Some(u) = c.usage {
        v.prob("consensus.compact.usage", u);
        out.usage = u;
    }
    if let Some(f) = c.failure {
        v.prob("consensus.compact.failure", f);
        out.failure = f;
    }
    if let Some(s) = c.size {
        if s.0 == 0 || s.0 > u64::from(u32::MAX) {
            v.err("consensus.compact.size", "must be between 1 B and 4 GB");
        }
        out.size = s.0.clamp(1, u64::from(u32::MAX)) as u32;
    }
    if let Some(m) = &c.missing {
        let before = v.issues.len();
        if m.is_empty() {
            v.err(
                "consensus.compact.missing",
                "needs at least one [fraction, weight] pair",
            );
        }
        let mut total = Some(0u64);
        for (i, &(part, weight)) in m.iter().enumerate() {
            let key = format!("consensus.compact.missing[{i}]");
            if !(part > 0.0 && part <= 1.0) {
                v.err(&key, format!("fraction {part} must be in (0, 1]"));
            }
            if weight == 0 {
                v.err(&key, "the weight must be a positive integer");
            }
            total = total.and_then(|t| t.checked_add(weight));
        }
        if total.is_none() {
            v.err(
                "consensus.compact.missing",
                "the weights add up to more than 2^64",
            );
        }
        if v.issues.len() == before {
            out.missing = Missing::new(m);
        }
    }
    out
}
