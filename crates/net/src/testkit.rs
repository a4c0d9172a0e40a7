//! A minimal message-passing workload, shared by tests and the kernel benchmark.

use crate::network::{NetConfig, Network};
use crate::sim::{Driver, World};
use crate::{Latency, Topology, TopologyKind};
use des::{Ctx, Limits, Message, Node, NodeId, RngFactory, SimDuration, TimerId};

/// A token passed around; `hops` left before it stops.
#[derive(Copy, Clone, Debug)]
pub struct Token {
    pub id: u32,
    pub hops: u32,
}

impl Message for Token {
    fn kind(&self) -> u8 {
        0
    }
    fn size_bytes(&self) -> u32 {
        64
    }
    fn payload_id(&self) -> u64 {
        u64::from(self.id)
    }
    fn kind_name(_: u8) -> &'static str {
        "token"
    }
}

/// Hot-potato node: forwards each token to a random peer until its hops run out. Nodes whose id
/// is below `starters` inject one token at start. Records what it received.
pub struct Potato {
    pub starters: u32,
    pub hops: u32,
    pub received: u64,
    /// Every (sender, token id) received, if `log` is set.
    pub log: Option<Vec<(NodeId, u32)>>,
    /// Draw one extra, unrelated random number on start (for stream-independence tests).
    pub extra_draw: bool,
    /// Random values this node drew, in order (the first 64).
    pub draws: Vec<u64>,
    /// Pick the next hop from the node's stream (tests) or arithmetically (the kernel benchmark,
    /// which should measure the kernel rather than ChaCha).
    pub random_hops: bool,
}

impl Potato {
    pub fn new(starters: u32, hops: u32) -> Self {
        Potato {
            starters,
            hops,
            received: 0,
            log: None,
            extra_draw: false,
            draws: vec![],
            random_hops: true,
        }
    }
}

impl Node for Potato {
    type Msg = Token;
    type Note = ();
    /// The number of nodes (tokens go to id mod n).
    type Shared = u32;

    fn on_start(&mut self, ctx: &mut Ctx<'_, Self>) {
        if self.extra_draw {
            ctx.rng().next_u64();
        }
        if ctx.id().0 < self.starters {
            ctx.set_timer(SimDuration::MILLISECOND, 0);
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, msg: Token) {
        self.received += 1;
        if let Some(log) = &mut self.log {
            log.push((from, msg.id));
        }
        if msg.hops > 0 {
            let r = if self.random_hops {
                let r = ctx.rng().next_u64();
                if self.draws.len() < 64 {
                    self.draws.push(r);
                }
                r
            } else {
                u64::from(ctx.id().0).wrapping_mul(0x9e37_79b9_7f4a_7c15)
                    ^ u64::from(msg.hops).wrapping_mul(0xbf58_476d_1ce4_e5b9)
            };
            ctx.send(
                NodeId((r >> 32) as u32 % *ctx.shared),
                Token {
                    id: msg.id,
                    hops: msg.hops - 1,
                },
            );
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, _id: TimerId, _tag: u64) {
        ctx.broadcast(Token {
            id: ctx.id().0,
            hops: self.hops,
        });
    }
}

/// A driver that does nothing.
pub struct NoDriver;
impl<N: Node> Driver<N> for NoDriver {
    fn on_control(&mut self, _world: &mut World<N>, _tag: u64) {}
    fn on_note(&mut self, _world: &mut World<N>, _node: NodeId, _note: N::Note) {}
}

/// Builds a potato world on `topo` with constant latency and the given rules.
pub fn potato_world(
    topo: Topology,
    nodes: Vec<Potato>,
    cfg: NetConfig,
    seed: u64,
    limits: Limits,
) -> World<Potato> {
    let rngs = RngFactory::new(seed);
    let net = Network::new(topo, cfg, &rngs);
    let n = net.topo.node_count();
    World::new(nodes, net, n, &rngs, limits)
}

/// A plain network config: constant latency, no bandwidth, no faults.
pub fn plain(latency: SimDuration) -> NetConfig {
    NetConfig {
        latency: Latency::constant(latency),
        bandwidth: None,
        regions: vec![],
        rules: vec![],
        partitions: vec![],
        crashes: vec![],
        costs: crate::LinkCosts::default(),
    }
}

/// A random 8-regular graph over `n` nodes from `seed`.
pub fn regular8(n: u32, seed: u64) -> Topology {
    Topology::build(
        &TopologyKind::RandomRegular { degree: 8 },
        n,
        &mut RngFactory::new(seed).stream("topology", 0),
    )
    .expect("8-regular")
}
