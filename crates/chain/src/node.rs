//! One replica: which blocks it has, its tip, its orphan pool, its outstanding requests; fork
//! choice and the honest relay protocol.

use crate::block::{BlockId, BlockStore, Invalid};
use crate::roles::{Role, Template};
use des::{Ctx, Message, Node, NodeId, SimDuration, TimerId};

des::named_enum! {
    /// Which chain a replica considers authoritative.
    pub enum ForkChoice {
        /// Most cumulative work (every block has equal work, so: the highest).
        LongestChain = "longest-chain",
        /// Heaviest subtree (GHOST): descend from genesis into the child with most known blocks.
        Ghost = "ghost",
    }
}

des::named_enum! {
    /// How a replica chooses between equally good chains.
    pub enum TieRule {
        /// Keep the one seen first.
        FirstSeen = "first-seen",
        /// Switch with probability 1/2, from the node's own stream.
        Random = "random",
    }
}

des::named_enum! {
    /// How blocks travel.
    pub enum Relay {
        /// Announce → request → block (inv / getdata).
        InvGetData = "inv-getdata",
        /// Push the full block to every peer, unsolicited.
        Push = "push",
    }
}

des::named_enum! {
    /// What an honest replica does with a peer that sent it an invalid block.
    pub enum OnInvalid {
        /// Ignore everything that peer sends from then on.
        Ban = "ban",
        /// Drop the block, keep listening to the peer.
        Ignore = "ignore",
    }
}

des::named_enum! {
    /// Message kinds (the number is the accounting index).
    pub enum MsgKind { Inv = "inv", GetData = "getdata", Block = "block" }
}

/// Consensus and relay parameters, shared by all replicas.
#[derive(Clone, Debug, PartialEq)]
pub struct ChainParams {
    pub fork_choice: ForkChoice,
    pub tie: TieRule,
    pub relay: Relay,
    pub block_size: u32,
    /// Size of an inv or getdata message.
    pub inv_size: u32,
    /// How long to wait for a requested block before asking again (another announcer if any).
    pub request_timeout: SimDuration,
    /// Attempts per block before giving up until it is announced again.
    pub max_attempts: u32,
    pub on_invalid: OnInvalid,
    /// Enforced γ (Eyal & Sirer): in a tie between a block of a `favoured` miner and another,
    /// an honest replica picks the favoured one with this probability. `None`: the tie rule.
    pub gamma: Option<f64>,
}

impl Default for ChainParams {
    fn default() -> Self {
        ChainParams {
            fork_choice: ForkChoice::LongestChain,
            tie: TieRule::FirstSeen,
            relay: Relay::InvGetData,
            block_size: 535_000,
            inv_size: 61,
            request_timeout: SimDuration::from_secs(20),
            max_attempts: 50,
            on_invalid: OnInvalid::Ban,
            gamma: None,
        }
    }
}

/// What every replica can read.
pub struct Shared {
    pub store: BlockStore,
    pub params: ChainParams,
    /// Per node: its blocks are the favoured side of a tie under an enforced γ (empty: none).
    pub favoured: Vec<bool>,
}

impl Shared {
    pub fn new(store: BlockStore, params: ChainParams) -> Shared {
        Shared {
            store,
            params,
            favoured: vec![],
        }
    }

    fn is_favoured(&self, b: BlockId) -> bool {
        let m = self.store.get(b).miner;
        self.favoured.get(m.idx()).copied().unwrap_or(false)
    }
}

/// A message on the wire: a kind, a block id, and its size.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct ChainMsg {
    pub kind: MsgKind,
    pub block: BlockId,
    pub size: u32,
}

impl ChainMsg {
    pub fn new(kind: MsgKind, block: BlockId, p: &ChainParams) -> Self {
        let size = match kind {
            MsgKind::Block => p.block_size,
            _ => p.inv_size,
        };
        ChainMsg { kind, block, size }
    }
}

impl Message for ChainMsg {
    fn kind(&self) -> u8 {
        self.kind as u8
    }
    fn size_bytes(&self) -> u32 {
        self.size
    }
    fn payload_id(&self) -> u64 {
        u64::from(self.block.0)
    }
    fn kind_name(kind: u8) -> &'static str {
        MsgKind::ALL
            .get(kind as usize)
            .map(|k| k.name())
            .unwrap_or("other")
    }
}

/// What a replica reports to observers.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ChainNote {
    /// The block was validated and stored for the first time.
    Accepted(BlockId),
    /// The replica's main chain now ends at `new` instead of `old`.
    Tip { old: BlockId, new: BlockId },
    /// The block failed validation.
    Rejected {
        block: BlockId,
        from: NodeId,
        why: Invalid,
    },
}

#[derive(Clone, Debug)]
struct Request {
    block: BlockId,
    peer: NodeId,
    timer: TimerId,
    attempts: u32,
}

/// A replica: honest unless given a Byzantine [`Role`] (see `crate::roles`).
#[derive(Clone, Debug, Default)]
pub struct ChainNode {
    known: Vec<u64>,
    pub(crate) tip: BlockId,
    orphans: Vec<(BlockId, NodeId)>,
    inflight: Vec<Request>,
    announcers: Vec<(BlockId, NodeId)>,
    rejected: Vec<BlockId>,
    /// GHOST only: known blocks in each block's subtree.
    weight: Vec<u32>,
    /// Peers that sent an invalid block (ignored from then on, under `OnInvalid::Ban`).
    banned: Vec<NodeId>,
    pub(crate) role: Role,
    /// The role acts only while active (its attack window); otherwise the node is honest.
    pub(crate) active: bool,
    /// Set while the role publishes its own blocks, so it does not react to itself.
    pub(crate) publishing: bool,
}

impl ChainNode {
    pub fn new() -> Self {
        let mut n = ChainNode::default();
        n.set_known(BlockId::GENESIS);
        n.weight = vec![1];
        n
    }

    #[inline]
    pub fn knows(&self, b: BlockId) -> bool {
        self.known
            .get(b.idx() / 64)
            .is_some_and(|w| w & (1 << (b.idx() % 64)) != 0)
    }

    pub(crate) fn set_known(&mut self, b: BlockId) {
        let w = b.idx() / 64;
        if self.known.len() <= w {
            self.known.resize(w + 1, 0);
        }
        self.known[w] |= 1 << (b.idx() % 64);
    }

    pub fn tip(&self) -> BlockId {
        self.tip
    }

    /// The block this node's next win builds on (an attacker's private tip, else the tip).
    pub fn mining_parent(&self) -> BlockId {
        match self.role.mining_parent() {
            Some(b) if self.active => b,
            _ => self.tip,
        }
    }

    /// What this node's next win becomes (a valid block, unless its role says otherwise).
    pub fn template(&self) -> Template {
        if self.active {
            match self.role {
                Role::Equivocate => return Template::Twin(self.tip),
                Role::InvalidBlocks(kind) => {
                    return Template::Invalid {
                        parent: self.tip,
                        kind,
                    };
                }
                _ => {}
            }
        }
        Template::Valid(self.mining_parent())
    }

    /// Orphans held (blocks whose parent has not arrived).
    pub fn orphan_count(&self) -> usize {
        self.orphans.len()
    }

    fn is_orphan(&self, b: BlockId) -> bool {
        self.orphans.iter().any(|(o, _)| *o == b)
    }

    fn request(&mut self, ctx: &mut Ctx<'_, Self>, b: BlockId, peer: NodeId, attempts: u32) {
        let p = &ctx.shared.params;
        ctx.send(peer, ChainMsg::new(MsgKind::GetData, b, p));
        let timer = ctx.set_timer(p.request_timeout, u64::from(b.0));
        self.inflight.push(Request {
            block: b,
            peer,
            timer,
            attempts,
        });
    }

    /// How `b` is announced under the relay protocol: an inv, or the block itself.
    pub(crate) fn announcement(&self, ctx: &Ctx<'_, Self>, b: BlockId) -> ChainMsg {
        let kind = match ctx.shared.params.relay {
            Relay::InvGetData => MsgKind::Inv,
            Relay::Push => MsgKind::Block,
        };
        ChainMsg::new(kind, b, &ctx.shared.params)
    }

    fn on_inv(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, b: BlockId) {
        if self.knows(b) || self.is_orphan(b) || self.rejected.contains(&b) {
            return;
        }
        if self.inflight.iter().any(|r| r.block == b) {
            if !self.announcers.contains(&(b, from)) {
                self.announcers.push((b, from));
            }
            return;
        }
        self.request(ctx, b, from, 0);
    }

    fn on_block(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, b: BlockId) {
        if let Some(pos) = self.inflight.iter().position(|r| r.block == b) {
            ctx.cancel_timer(self.inflight.swap_remove(pos).timer);
        }
        if self.knows(b) || self.is_orphan(b) || self.rejected.contains(&b) {
            return;
        }
        let store = &ctx.shared.store;
        if b.idx() >= store.len() {
            return; // not a block at all
        }
        let parent = store.parent(b);
        if parent.idx() >= store.len() {
            self.reject(ctx, b, from, Invalid::BadParent);
            return;
        }
        if !self.knows(parent) {
            self.orphans.push((b, from));
            if !self.is_orphan(parent) && !self.inflight.iter().any(|r| r.block == parent) {
                self.request(ctx, parent, from, 0);
            }
            return;
        }
        self.connect(ctx, b, Some(from));
    }

    fn reject(&mut self, ctx: &mut Ctx<'_, Self>, b: BlockId, from: NodeId, why: Invalid) {
        self.rejected.push(b);
        if ctx.shared.params.on_invalid == OnInvalid::Ban
            && from != ctx.id()
            && !self.banned.contains(&from)
        {
            self.banned.push(from);
        }
        self.announcers.retain(|(x, _)| *x != b);
        ctx.note(ChainNote::Rejected {
            block: b,
            from,
            why,
        });
    }

    /// Validates and stores `b` (its parent is known), relays it, runs fork choice, then does the
    /// same for every orphan that can now be connected.
    pub(crate) fn connect(&mut self, ctx: &mut Ctx<'_, Self>, b: BlockId, from: Option<NodeId>) {
        let tip_before = self.tip;
        let mut next = Some((b, from));
        while let Some((x, f)) = next {
            match ctx.shared.store.check(x) {
                Err(why) => self.reject(ctx, x, f.unwrap_or(ctx.id()), why),
                Ok(()) => {
                    self.set_known(x);
                    ctx.note(ChainNote::Accepted(x));
                    // Peers that announced x have it: announce to everyone else (as Bitcoin's
                    // known-inventory filter does). A role may keep some blocks to itself.
                    if !self.active || self.role.relays(ctx.shared.store.get(x).miner) {
                        let msg = self.announcement(ctx, x);
                        let had = self
                            .announcers
                            .iter()
                            .filter(|(y, _)| *y == x)
                            .map(|&(_, p)| p);
                        ctx.broadcast_skipping(msg, f, had);
                    }
                    if self.active {
                        self.role.saw(&ctx.shared.store, x);
                    }
                    self.announcers.retain(|(y, _)| *y != x);
                    self.fork_choice(ctx, x);
                }
            }
            next = self
                .orphans
                .iter()
                .position(|(o, _)| self.knows(ctx.shared.store.parent(*o)))
                .map(|pos| {
                    let (o, p) = self.orphans.swap_remove(pos);
                    (o, Some(p))
                });
        }
        if self.active && !self.publishing && self.tip != tip_before {
            self.public_tip_changed(ctx);
        }
    }

    fn prefer_new(ctx: &mut Ctx<'_, Self>, tip: BlockId, new: BlockId) -> bool {
        if let Some(g) = ctx.shared.params.gamma {
            match (ctx.shared.is_favoured(tip), ctx.shared.is_favoured(new)) {
                (false, true) => return ctx.rng.bernoulli(g),
                (true, false) => return ctx.rng.bernoulli(1.0 - g),
                _ => {}
            }
        }
        match ctx.shared.params.tie {
            TieRule::FirstSeen => false,
            TieRule::Random => ctx.rng.bernoulli(0.5),
        }
    }

    pub(crate) fn fork_choice(&mut self, ctx: &mut Ctx<'_, Self>, b: BlockId) {
        let new_tip = match ctx.shared.params.fork_choice {
            ForkChoice::LongestChain => {
                let (hb, ht) = (
                    ctx.shared.store.height(b),
                    ctx.shared.store.height(self.tip),
                );
                if hb > ht || (hb == ht && b != self.tip && Self::prefer_new(ctx, self.tip, b)) {
                    b
                } else {
                    self.tip
                }
            }
            ForkChoice::Ghost => self.ghost(ctx, b),
        };
        if new_tip != self.tip {
            let old = self.tip;
            self.tip = new_tip;
            ctx.note(ChainNote::Tip { old, new: new_tip });
        }
    }

    /// Adds `b` to the subtree weights and re-descends from the fork point with the current tip.
    /// Ties between equally heavy subtrees keep the current chain, else the earlier-created child
    /// (GHOST ignores the tie rule; it is deterministic per replica).
    fn ghost(&mut self, ctx: &mut Ctx<'_, Self>, b: BlockId) -> BlockId {
        let store = &ctx.shared.store;
        if self.weight.len() < store.len() {
            self.weight.resize(store.len(), 0);
        }
        let mut x = b;
        loop {
            self.weight[x.idx()] += 1;
            if x == BlockId::GENESIS {
                break;
            }
            x = store.parent(x);
        }
        let mut at = store.common_ancestor(self.tip, b);
        loop {
            let mut best: Option<BlockId> = None;
            for &c in store.children(at) {
                if !self.knows(c) {
                    continue;
                }
                best = match best {
                    None => Some(c),
                    Some(cur) => {
                        let (wc, wb) = (self.weight[c.idx()], self.weight[cur.idx()]);
                        let on_chain = |y: BlockId| store.is_ancestor(y, self.tip);
                        if wc > wb || (wc == wb && !on_chain(cur) && on_chain(c)) {
                            Some(c)
                        } else {
                            Some(cur)
                        }
                    }
                };
            }
            match best {
                Some(c) => at = c,
                None => return at,
            }
        }
    }
}

impl Node for ChainNode {
    type Msg = ChainMsg;
    type Note = ChainNote;
    type Shared = Shared;

    fn on_start(&mut self, _ctx: &mut Ctx<'_, Self>) {}

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, msg: ChainMsg) {
        if self.banned.contains(&from) {
            return;
        }
        match msg.kind {
            MsgKind::Inv => self.on_inv(ctx, from, msg.block),
            MsgKind::GetData => {
                if self.knows(msg.block) {
                    ctx.send(
                        from,
                        ChainMsg::new(MsgKind::Block, msg.block, &ctx.shared.params),
                    );
                }
            }
            MsgKind::Block => self.on_block(ctx, from, msg.block),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, id: TimerId, tag: u64) {
        let b = BlockId(tag as u32);
        let Some(pos) = self.inflight.iter().position(|r| r.timer == id) else {
            return;
        };
        let r = self.inflight.swap_remove(pos);
        if self.knows(b) || self.is_orphan(b) {
            return;
        }
        if r.attempts + 1 >= ctx.shared.params.max_attempts {
            self.announcers.retain(|(x, _)| *x != b);
            return;
        }
        // Ask the next peer that announced it; the one that failed goes to the back of the line.
        let next = match self
            .announcers
            .iter()
            .position(|&(x, p)| x == b && p != r.peer)
        {
            Some(i) => self.announcers.remove(i).1,
            None => r.peer,
        };
        if next != r.peer {
            self.announcers.push((b, r.peer));
        }
        self.request(ctx, b, next, r.attempts + 1);
    }

    /// This node won the mining race: `tag` is the block made from its [`Template`] (a twin's
    /// second block, if any, in the high 32 bits plus one).
    fn on_control(&mut self, ctx: &mut Ctx<'_, Self>, tag: u64) {
        let b = BlockId(tag as u32);
        let twin = (tag >> 32).checked_sub(1).map(|t| BlockId(t as u32));
        if self.active {
            self.role_mined(ctx, b, twin);
        } else {
            self.connect(ctx, b, None);
        }
    }

    fn on_restart(&mut self, _ctx: &mut Ctx<'_, Self>) {
        // Timers were lost while down.
        self.inflight.clear();
        self.announcers.clear();
    }

    fn on_reconnect(&mut self, ctx: &mut Ctx<'_, Self>, peer: NodeId) {
        let msg = self.announcement(ctx, self.tip);
        ctx.send(peer, msg);
    }
}
