//! Turning `[[byzantine]]` tables into a run: observer classes, replica roles, link rules,
//! rewired topology, attack windows, and the per-attacker report at the end.

use crate::config::{ByzantineCfg, EclipseFeed, RunConfig, StrategyKind};
use chain::{ChainNode, DoubleSpend, Fork, Role};
use des::{NodeId, SimDuration, SimRng, SimTime};
use metrics::{AttackReport, ChainMetrics, Dist, Sample};
use net::{Isolate, LinkAction, Misbehave, Rule, Topology};

/// Class per node (0 = honest, i + 1 = table i) and the class names.
pub fn classes(cfg: &RunConfig) -> (Vec<u16>, Vec<String>) {
    let mut class = vec![0u16; cfg.nodes as usize];
    let mut names = vec!["honest".to_string()];
    for (i, b) in cfg.byzantine.iter().enumerate() {
        let name = b.strategy.name();
        let taken = cfg.byzantine[..i].iter().any(|x| x.strategy == b.strategy);
        names.push(if taken {
            format!("{name}-{}", i + 1)
        } else {
            name.to_string()
        });
        for &n in &b.nodes {
            class[n as usize] = (i + 1) as u16;
        }
    }
    (class, names)
}

fn window(b: &ByzantineCfg) -> (SimTime, SimTime) {
    (
        SimTime::ZERO.saturating_add(b.from),
        b.until
            .map_or(SimTime::MAX, |u| SimTime::ZERO.saturating_add(u)),
    )
}

fn member_mask(n: u32, nodes: &[u32]) -> Vec<bool> {
    let mut m = vec![false; n as usize];
    for &i in nodes {
        m[i as usize] = true;
    }
    m
}

/// Eclipse victims get a link to every attacker node, besides their own (which the attack
/// cuts while it lasts: see [`link_rules`]); Sybil identities each take `peers` peer slots of
/// random honest nodes, displacing honest links where the host can spare one (see
/// [`Topology::crowded`]).
pub fn rewire(cfg: &RunConfig, topo: Topology, rng: &mut SimRng) -> Topology {
    let mut add = vec![];
    let mut sybil = vec![false; cfg.nodes as usize];
    let mut slots = vec![];
    for b in &cfg.byzantine {
        match b.strategy {
            StrategyKind::Eclipse => {
                for &t in &b.targets {
                    add.extend(b.nodes.iter().map(|&a| (NodeId(t), NodeId(a))));
                }
            }
            StrategyKind::Sybil => {
                for &s in &b.nodes {
                    sybil[s as usize] = true;
                }
                let others: Vec<u32> = (0..cfg.nodes).filter(|i| !b.nodes.contains(i)).collect();
                for &s in &b.nodes {
                    let mut pool = others.clone();
                    rng.shuffle(&mut pool);
                    slots.extend(
                        pool.iter()
                            .take(b.peers as usize)
                            .map(|&o| (NodeId(s), NodeId(o))),
                    );
                }
            }
            _ => {}
        }
    }
    let topo = if add.is_empty() {
        topo
    } else {
        topo.rewired(&[], &add)
    };
    if slots.is_empty() {
        topo
    } else {
        topo.crowded(&sybil, &slots).0
    }
}

/// The link rules of the link-level strategies, in table order (before the scenario's loss,
/// duplication and jitter: see `build`).
/// An eclipse has two: its hold on the victims (every link of theirs outside the crew is cut
/// during the window), then what the crew feeds them.
pub fn link_rules(cfg: &RunConfig) -> Vec<Rule> {
    let n = cfg.nodes;
    cfg.byzantine
        .iter()
        .flat_map(|b| {
            let (from, until) = window(b);
            let hold = (b.strategy == StrategyKind::Eclipse).then(|| {
                Rule::Link(Box::new(Isolate {
                    name: "eclipse cut".to_string(),
                    victims: member_mask(n, &b.targets),
                    crew: member_mask(n, &b.nodes),
                    from,
                    until,
                }))
            });
            hold.into_iter().chain(feed_rule(b, n, from, until))
        })
        .collect()
}

/// What a link-level attacker does to the messages it sends, as a rule (none for the
/// replica-level strategies, and for a private-fork eclipse, whose role decides).
fn feed_rule(b: &ByzantineCfg, n: u32, from: SimTime, until: SimTime) -> Option<Rule> {
    let (action, targets) = match b.strategy {
        StrategyKind::Withhold | StrategyKind::Sybil => (LinkAction::Withhold, None),
        StrategyKind::Delay => (LinkAction::Delay(b.delay), None),
        StrategyKind::Drop => (LinkAction::Drop(b.drop), None),
        StrategyKind::Eclipse => (
            match b.feed {
                EclipseFeed::Withhold => LinkAction::Withhold,
                EclipseFeed::Delay => LinkAction::Delay(b.delay),
                // The crew's role decides what it relays.
                EclipseFeed::PrivateFork => return None,
            },
            Some(member_mask(n, &b.targets)),
        ),
        _ => return None,
    };
    Some(Rule::Link(Box::new(Misbehave {
        name: b.strategy.name().to_string(),
        senders: member_mask(n, &b.nodes),
        targets,
        action,
        from,
        until,
    })))
}

/// Gives the replica-level attackers their roles (active from the start if their window is).
pub fn assign_roles(cfg: &RunConfig, nodes: &mut [ChainNode]) {
    for b in &cfg.byzantine {
        let role = match b.strategy {
            StrategyKind::Selfish => Role::Selfish(Box::default()),
            StrategyKind::DoubleSpend => {
                Role::DoubleSpend(Box::new(DoubleSpend::new(b.confirmations, b.give_up)))
            }
            StrategyKind::Equivocate => Role::Equivocate,
            StrategyKind::InvalidBlocks => Role::InvalidBlocks(b.invalid),
            StrategyKind::Eclipse if b.feed == EclipseFeed::PrivateFork => {
                Role::Fork(Box::new(Fork::new(member_mask(cfg.nodes, &b.nodes))))
            }
            _ => continue,
        };
        for &i in &b.nodes {
            let node = &mut nodes[i as usize];
            node.set_role(role.clone());
            node.set_active(b.from.is_zero());
        }
    }
}

/// Nodes whose blocks win ties with the enforced γ, and that γ.
pub fn favoured(cfg: &RunConfig) -> Option<(Vec<bool>, f64)> {
    let b = cfg
        .byzantine
        .iter()
        .find(|b| b.strategy == StrategyKind::Selfish && b.gamma.is_some())?;
    let mut mask = vec![false; cfg.nodes as usize];
    for x in cfg
        .byzantine
        .iter()
        .filter(|x| x.strategy == StrategyKind::Selfish && x.gamma.is_some())
    {
        for &i in &x.nodes {
            mask[i as usize] = true;
        }
    }
    Some((mask, b.gamma.unwrap_or(0.0)))
}

/// Every victim of an eclipse (watched for divergence).
pub fn victims(cfg: &RunConfig) -> Vec<NodeId> {
    let mut v: Vec<NodeId> = cfg
        .byzantine
        .iter()
        .filter(|b| b.strategy == StrategyKind::Eclipse)
        .flat_map(|b| b.targets.iter().map(|&t| NodeId(t)))
        .collect();
    v.sort();
    v.dedup();
    v
}

/// One report per table, from the class shares and the attackers' own counts.
pub fn reports(
    cfg: &RunConfig,
    m: &ChainMetrics,
    nodes: &[ChainNode],
    samples: &[Sample],
) -> Vec<AttackReport> {
    cfg.byzantine
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let class = m.classes.get(i + 1);
            let mut r = AttackReport {
                strategy: b.strategy.name().to_string(),
                class: class.map(|c| c.class.clone()).unwrap_or_default(),
                nodes: b.nodes.len() as u32,
                hash_share: class.map_or(0.0, |c| c.hash_share),
                main_share: class.map_or(0.0, |c| c.main_share),
                ..AttackReport::default()
            };
            let mut times = vec![];
            for &n in &b.nodes {
                if let Some(s) = nodes[n as usize].role().stats() {
                    r.attempts += s.attempts;
                    r.successes += s.successes;
                    r.failures += s.failures;
                    r.published += s.published;
                    r.abandoned += s.abandoned;
                    r.max_depth = r.max_depth.max(s.max_depth);
                    times.extend_from_slice(&s.success_times_s);
                }
            }
            let done = r.successes + r.failures;
            r.success_rate = if done == 0 {
                0.0
            } else {
                r.successes as f64 / done as f64
            };
            r.success_time_s = Dist::of(&mut times);
            let (from, until) = window(b);
            let inside: Vec<&Sample> = samples
                .iter()
                .filter(|s| {
                    let t = SimTime::ZERO.saturating_add(SimDuration::from_secs_f64(s.t_s));
                    t >= from && t < until
                })
                .collect();
            if !inside.is_empty() {
                r.during_consistency =
                    inside.iter().map(|s| s.consistency).sum::<f64>() / inside.len() as f64;
                r.during_prefix_depth_max =
                    inside.iter().map(|s| s.prefix_depth).max().unwrap_or(0);
            }
            r
        })
        .collect()
}
