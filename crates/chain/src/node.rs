//! One replica: which blocks it has, its tip, its orphan pool, its outstanding requests; fork
//! choice and the honest relay protocol.

use crate::block::{BlockId, BlockStore, Invalid};
use crate::roles::{Role, Template};
use des::{Ctx, Message, Node, NodeId, SimDuration, SimTime, TimerId};
use smallvec::SmallVec;

des::named_enum! {
    /// Which chain a replica considers authoritative.
    pub enum ForkChoice {
        /// Most cumulative work (with a fixed difficulty: the highest block).
        LongestChain = "longest-chain",
        /// Heaviest subtree (GHOST): descend from genesis into the child whose known subtree
        /// has the most work (with a fixed difficulty: the most blocks).
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
        /// Announce → request → compact block (BIP152 in low-bandwidth mode, as SimBlock models
        /// it): a request between two nodes that both speak it is answered with a compact
        /// block, which the receiver rebuilds from its mempool, or, when that fails, it asks for
        /// the missing transactions (getblocktxn) and gets a part of the block (blocktxn).
        /// Other pairs exchange the full block. See [`CompactRelay`].
        Compact = "compact",
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
    /// How announcements reach a replica that already has, or is already fetching, the block.
    pub enum InvDelivery {
        /// Recorded by the receiver when sent, stamped with the arrival time, and applied when
        /// the replica next looks at that block: no event. Same behaviour as `event`, except that
        /// an announcement arriving at the very nanosecond of another event counts as first.
        Absorbed = "absorbed",
        /// Every announcement is an event.
        Event = "event",
    }
}

des::named_enum! {
    /// Message kinds (the number is the accounting index).
    pub enum MsgKind {
        Inv = "inv",
        GetData = "getdata",
        Block = "block",
        CmpctBlock = "cmpctblock",
        GetBlockTxn = "getblocktxn",
        BlockTxn = "blocktxn",
    }
}

impl MsgKind {
    /// A request for data (getdata, getblocktxn), which the receiver serves.
    pub fn is_request(self) -> bool {
        matches!(self, MsgKind::GetData | MsgKind::GetBlockTxn)
    }
}

/// Compact block relay ([`Relay::Compact`]); defaults are SimBlock's.
#[derive(Clone, Debug, PartialEq)]
pub struct CompactRelay {
    /// Share of nodes that speak it (each node draws once).
    pub usage: f64,
    /// Size of a compact block.
    pub size: u32,
    /// Probability that rebuilding a compact block from the mempool fails.
    pub failure: f64,
    /// After a failure, the part of the block fetched.
    pub missing: Missing,
}

/// Parts of a block, drawn with probabilities proportional to integer weights.
#[derive(Clone, Debug, PartialEq)]
pub struct Missing {
    parts: Vec<f64>,
    cumulative: Vec<u64>,
}

impl Missing {
    /// From (fraction of the block, weight) pairs: at least one, weights positive, their sum
    /// within u64 (the scenario layer checks this first).
    pub fn new(pairs: &[(f64, u64)]) -> Missing {
        assert!(
            !pairs.is_empty() && pairs.iter().all(|p| p.1 > 0),
            "bad weights"
        );
        let mut total = 0u64;
        Missing {
            parts: pairs.iter().map(|p| p.0).collect(),
            cumulative: pairs
                .iter()
                .map(|p| {
                    total = total.checked_add(p.1).expect("weights overflow");
                    total
                })
                .collect(),
        }
    }

    /// SimBlock's table (see [`SIMBLOCK_MISSING_RUNS`]).
    pub fn simblock() -> Missing {
        let pairs: Vec<(f64, u64)> = SIMBLOCK_MISSING_RUNS
            .iter()
            .flat_map(|&(lo, hi, n)| (lo..=hi).map(move |pc| (f64::from(pc) / 100.0, u64::from(n))))
            .collect();
        Missing::new(&pairs)
    }

    pub fn draw(&self, rng: &mut des::SimRng) -> f64 {
        self.parts[rng.pick_cumulative(&self.cumulative)]
    }
}

/// SimBlock's distribution of the part of a block a failed reconstruction fetches (its table
/// for nodes that stay online, `CBR_FAILURE_BLOCK_SIZE_DISTRIBUTION_FOR_CONTROL_NODE`, 952
/// entries, transcribed as runs): (first percent, last percent, entries per value). Most
/// failures miss 1 % of the block, a few most of it.
const SIMBLOCK_MISSING_RUNS: [(u8, u8, u16); 25] = [
    (1, 1, 546),
    (2, 2, 66),
    (3, 3, 39),
    (4, 4, 27),
    (5, 5, 21),
    (6, 6, 17),
    (7, 7, 14),
    (8, 8, 12),
    (9, 9, 11),
    (10, 10, 10),
    (11, 11, 9),
    (12, 12, 8),
    (13, 14, 7),
    (15, 15, 9),
    (16, 16, 6),
    (17, 19, 5),
    (20, 24, 4),
    (25, 25, 5),
    (26, 32, 3),
    (33, 36, 2),
    (37, 37, 3),
    (38, 44, 2),
    (45, 45, 3),
    (46, 48, 2),
    (49, 96, 1),
];

impl Default for CompactRelay {
    fn default() -> Self {
        CompactRelay {
            usage: 0.964,
            size: 18_000,
            failure: 0.13,
            missing: Missing::simblock(),
        }
    }
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
    pub inv_delivery: InvDelivery,
    /// Enforced γ (Eyal & Sirer): in a tie between a block of a `favoured` miner and another,
    /// an honest replica picks the favoured one with this probability. `None`: the tie rule.
    pub gamma: Option<f64>,
    /// Compact block relay's parameters (used with [`Relay::Compact`]).
    pub compact: CompactRelay,
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
            inv_delivery: InvDelivery::Absorbed,
            gamma: None,
            compact: CompactRelay::default(),
        }
    }
}

/// What every replica can read.
pub struct Shared {
    pub store: BlockStore,
    pub params: ChainParams,
    /// Per node: its blocks are the favoured side of a tie under an enforced γ (empty: none).
    pub favoured: Vec<bool>,
    /// Per node: it speaks compact block relay (empty: none does).
    pub compact: Vec<bool>,
}

impl Shared {
    pub fn new(store: BlockStore, params: ChainParams) -> Shared {
        Shared {
            store,
            params,
            favoured: vec![],
            compact: vec![],
        }
    }

    /// A request from `to` to `from` is answered with a compact block.
    fn compact_between(&self, from: NodeId, to: NodeId) -> bool {
        self.params.relay == Relay::Compact
            && self.compact.get(from.idx()).copied().unwrap_or(false)
            && self.compact.get(to.idx()).copied().unwrap_or(false)
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
            MsgKind::Block | MsgKind::BlockTxn => p.block_size,
            MsgKind::CmpctBlock => p.compact.size,
            MsgKind::Inv | MsgKind::GetData | MsgKind::GetBlockTxn => p.inv_size,
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
    fn is_control(&self) -> bool {
        self.kind.is_request() || self.kind == MsgKind::Inv
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
    /// The replica stopped fetching the block: `max_attempts` requests failed, or nobody was
    /// left to ask. It fetches it again only if it is announced again (or a child arrives).
    GaveUp(BlockId),
    /// This many absorbed announcements were applied at the very nanosecond of another event
    /// the replica handled (or of its restart), or by a wake-up that shared its nanosecond
    /// with another event at any node: as events, they would have come in the order they were
    /// sent, while absorbed the announcement counts as first, or as of when its wake-up was
    /// set. Rounded latencies (SimBlock's whole milliseconds) make such ties common,
    /// continuous ones next to never; where one happened, `inv_delivery = "event"` may take a
    /// different, equally valid path. (A note, not replica state: kept on the replica, the
    /// count made its rarely used state exist at most replicas, and every absorbed message
    /// looked there: an eighth of bitcoin-2019's L1 data misses, a tenth of its time.)
    SameInstant(u64),
}

/// An absorbed announcement: `peer` announced `block`, arriving at `at`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
struct Pending {
    block: BlockId,
    peer: NodeId,
    at: SimTime,
}

/// Timer tags with this bit are wake-ups for an absorbed announcement (the low 32 bits: block).
const WAKE: u64 = 1 << 40;

/// What a replica's timer tag means, for traces: `"wake"` (an absorbed announcement of the
/// block arrives) or `"request-timeout"` (a request for the block times out), and the block.
pub fn timer_meaning(tag: u64) -> (&'static str, BlockId) {
    let b = BlockId(tag as u32);
    if tag & WAKE != 0 {
        ("wake", b)
    } else {
        ("request-timeout", b)
    }
}

#[derive(Clone, Debug)]
struct Request {
    block: BlockId,
    peer: NodeId,
    timer: TimerId,
    attempts: u32,
}

#[derive(Clone, Debug, Default)]
struct Rare {
    /// GHOST only: the work of the known blocks in each block's subtree (genesis counts 1).
    weight: Vec<u64>,
    rejected: Vec<BlockId>,
    /// Invalid blocks this node made (an invalid-blocks attacker): it serves them, but they are
    /// not on its replica (a GHOST descent through known blocks once made one its tip).
    made_invalid: Vec<BlockId>,
    /// Peers this node is no longer connected to, and since when (ignored from then on): ones
    /// that sent it an invalid block, under `OnInvalid::Ban`, and ones that banned it.
    banned: Vec<(NodeId, SimTime)>,
}

impl Rare {
    /// An absorbed announcement counts unless its sender was banned before it arrived.
    fn heard(rare: &Option<Box<Rare>>, a: &Pending) -> bool {
        !rare
            .as_ref()
            .is_some_and(|r| r.banned.iter().any(|&(p, t)| p == a.peer && t <= a.at))
    }
}

/// The blocks a replica holds, as a bit set: the word of the newest blocks inline (the blocks
/// being relayed, and their parents, are nearly always there, so asking costs no cache miss
/// beyond the replica itself), older words on the heap.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[repr(C)] // the inline word and its index first: they sit in the replica's second cache line
struct Known {
    /// Bit `i`: block `64 · base + i`.
    newest: u64,
    /// The word index of `newest`; never decreases.
    base: u32,
    /// Words `0..base` (shorter where all zero). A boxed slice, not a `Vec`, to keep the
    /// replica within three cache lines; it grows at most once per 64 blocks.
    older: Box<[u64]>,
}

impl Known {
    #[inline]
    fn contains(&self, b: BlockId) -> bool {
        let (w, bit) = (b.0 / 64, b.0 % 64);
        if w == self.base {
            self.newest & (1 << bit) != 0
        } else {
            (self.older.get(w as usize)).is_some_and(|x| x & (1 << bit) != 0)
        }
    }

    fn insert(&mut self, b: BlockId) {
        let (w, bit) = (b.0 / 64, b.0 % 64);
        if w > self.base {
            // A newer word: the current one moves to the heap.
            if self.newest != 0 {
                *self.older_word(self.base) = self.newest;
            }
            self.base = w;
            self.newest = 0;
        }
        if w == self.base {
            self.newest |= 1 << bit;
        } else {
            *self.older_word(w) |= 1 << bit;
        }
    }

    fn older_word(&mut self, w: u32) -> &mut u64 {
        let i = w as usize;
        if self.older.len() <= i {
            let mut v = std::mem::take(&mut self.older).into_vec();
            v.resize(i + 1, 0);
            self.older = v.into_boxed_slice();
        }
        &mut self.older[i]
    }
}

/// Moves a list that once outgrew its inline room back inline when it fits again (a
/// `SmallVec` stays on the heap otherwise, and one busy moment would cost every later access a
/// cache miss).
#[inline]
fn inline_again<A: smallvec::Array>(v: &mut SmallVec<A>) {
    if v.spilled() && v.len() <= v.inline_size() {
        v.shrink_to_fit();
    }
}

/// A replica: honest unless given a Byzantine [`Role`] (see `crate::roles`).
///
/// Laid out by hand: what absorbing an announcement reads (the most frequent operation, on a
/// random replica, so a cache miss per line) fills the first two cache lines.
#[derive(Clone, Debug, Default)]
#[repr(C, align(64))]
pub struct ChainNode {
    // Absorbing reads the fields up to `known`'s inline word and `base`.
    /// Requests in flight: one block at a time, nearly always, kept inline (asked on every
    /// announcement that arrives, so its own cache miss showed).
    inflight: SmallVec<[Request; 1]>,
    /// Per block: the earliest announcement event (message or wake timer) still to come. A
    /// later announcement may be absorbed only if one is due no later than it, or the block is
    /// being fetched: then the replica's state at its arrival cannot be "not fetching".
    wakes: SmallVec<[(BlockId, SimTime); 1]>,
    /// Absorbed announcements not yet applied (see [`InvDelivery::Absorbed`]). Every handler
    /// that looks at a block's announcers or fetch state first applies those that have arrived.
    pending: Vec<Pending>,
    /// State most replicas never need, allocated on first use (keeps the hot part small).
    rare: Option<Box<Rare>>,
    orphans: Vec<(BlockId, NodeId)>,
    known: Known,
    announcers: Vec<(BlockId, NodeId)>,
    pub(crate) tip: BlockId,
    /// The role acts only while active (its attack window); otherwise the node is honest.
    pub(crate) active: bool,
    /// Set while the role publishes its own blocks, so it does not react to itself.
    pub(crate) publishing: bool,
    pub(crate) role: Role,
}

impl ChainNode {
    pub fn new() -> Self {
        let mut n = ChainNode::default();
        n.set_known(BlockId::GENESIS);
        n
    }

    #[inline]
    pub fn knows(&self, b: BlockId) -> bool {
        self.known.contains(b)
    }

    pub(crate) fn set_known(&mut self, b: BlockId) {
        self.known.insert(b);
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

    /// Whether this replica passes `b` on: always, unless its role (while active) keeps
    /// some blocks to itself.
    fn relays(&self, store: &BlockStore, b: BlockId) -> bool {
        !self.active || self.role.relays(store.get(b).miner)
    }

    /// How `b` is announced under the relay protocol: an inv, or the block itself.
    pub(crate) fn announcement(&self, ctx: &Ctx<'_, Self>, b: BlockId) -> ChainMsg {
        let kind = match ctx.shared.params.relay {
            Relay::InvGetData | Relay::Compact => MsgKind::Inv,
            Relay::Push => MsgKind::Block,
        };
        ChainMsg::new(kind, b, &ctx.shared.params)
    }

    /// Has the block, holds it as an orphan or rejected it: announcements change nothing.
    fn settled(&self, b: BlockId) -> bool {
        self.can_serve(b) || self.is_orphan(b) || self.rejected(b)
    }

    /// Can send the block to a peer that asks: it is on the replica, or this node made it
    /// invalid.
    fn can_serve(&self, b: BlockId) -> bool {
        self.knows(b) || (self.rare.as_ref()).is_some_and(|r| r.made_invalid.contains(&b))
    }

    /// An invalid block this node made, to serve and never to build on.
    pub(crate) fn made_invalid(&mut self, b: BlockId) {
        self.rare().made_invalid.push(b);
    }

    fn rejected(&self, b: BlockId) -> bool {
        self.rare.as_ref().is_some_and(|r| r.rejected.contains(&b))
    }

    /// Whether the replica allocated the state that only bans, rejections, invalid blocks of
    /// its own and GHOST need (honest replicas of a plain run keep without it, so asking
    /// whether a sender is banned costs no cache miss).
    pub fn holds_rare_state(&self) -> bool {
        self.rare.is_some()
    }

    fn rare(&mut self) -> &mut Rare {
        self.rare.get_or_insert_with(Default::default)
    }

    fn fetching(&self, b: BlockId) -> bool {
        self.inflight.iter().any(|r| r.block == b)
    }

    /// Some request of this replica awaits its block (or its timeout).
    pub fn is_fetching(&self) -> bool {
        !self.inflight.is_empty()
    }

    /// Stops listening to `peer` (either side of a ban), and moves what was being fetched from
    /// it to other peers that announced it (or gives it up).
    fn drop_peer(&mut self, ctx: &mut Ctx<'_, Self>, peer: NodeId) {
        if self.is_banned(peer) {
            return;
        }
        let now = ctx.now();
        // Its announcements that have arrived count first (as events they would have been
        // handled already): otherwise one applied later would file it as an announcer again.
        let mut heard: Vec<BlockId> = (self.pending.iter())
            .filter(|a| a.peer == peer && a.at <= now)
            .map(|a| a.block)
            .collect();
        heard.sort_unstable();
        heard.dedup();
        for b in heard {
            self.catch_up(ctx, b);
        }
        self.rare().banned.push((peer, now));
        self.announcers.retain(|&(_, p)| p != peer);
        while let Some(b) = self
            .inflight
            .iter()
            .find(|r| r.peer == peer)
            .map(|r| r.block)
        {
            // Announcements that have arrived count first, as at a timeout.
            self.catch_up(ctx, b);
            self.announcers.retain(|&(_, p)| p != peer);
            let Some(pos) = (self.inflight.iter()).position(|r| r.peer == peer && r.block == b)
            else {
                continue;
            };
            let r = self.inflight.swap_remove(pos);
            ctx.cancel_timer(r.timer);
            self.retry(ctx, r);
        }
    }

    /// Request `r` failed (timed out, or its peer is gone): ask the next peer that announced
    /// the block, the failed one going to the back of the line, or give up after
    /// `max_attempts` or when nobody is left to ask.
    fn retry(&mut self, ctx: &mut Ctx<'_, Self>, r: Request) {
        let b = r.block;
        if self.knows(b) || self.is_orphan(b) {
            return;
        }
        let next = if r.attempts + 1 >= ctx.shared.params.max_attempts {
            None
        } else {
            match (self.announcers.iter()).position(|&(x, p)| x == b && p != r.peer) {
                Some(i) => Some(self.announcers.remove(i).1),
                None => Some(r.peer).filter(|&p| !self.is_banned(p)),
            }
        };
        let Some(next) = next else {
            // Give up until announced again (absorbed announcements still to arrive count).
            ctx.note(ChainNote::GaveUp(b));
            self.announcers.retain(|(x, _)| *x != b);
            self.rewake(ctx, b);
            return;
        };
        if next != r.peer && !self.is_banned(r.peer) {
            self.announcers.push((b, r.peer));
        }
        self.request(ctx, b, next, r.attempts + 1);
    }

    /// Still connected to `peer` (neither side banned the other).
    pub fn listens_to(&self, peer: NodeId) -> bool {
        !self.is_banned(peer)
    }

    fn is_banned(&self, peer: NodeId) -> bool {
        (self.rare.as_ref()).is_some_and(|r| r.banned.iter().any(|&(p, _)| p == peer))
    }

    fn heard(&self, a: &Pending) -> bool {
        Rare::heard(&self.rare, a)
    }

    fn forget(&mut self, b: BlockId) {
        self.announcers.retain(|(x, _)| *x != b);
        self.pending.retain(|a| a.block != b);
        self.wakes.retain(|w| w.0 != b);
    }

    /// The earliest absorbed announcement of `b` (the first recorded among equals).
    fn first_pending(&self, b: BlockId) -> Option<(usize, Pending)> {
        self.pending
            .iter()
            .enumerate()
            .filter(|(_, a)| a.block == b)
            .min_by_key(|(_, a)| a.at)
            .map(|(i, a)| (i, *a))
    }

    /// Applies, in arrival order, the absorbed announcements of `b` that have arrived by now,
    /// exactly as their events would have been handled.
    fn catch_up(&mut self, ctx: &mut Ctx<'_, Self>, b: BlockId) {
        self.catch_up_from(ctx, b, false);
    }

    /// [`Self::catch_up`] from the wake timer of an announcement due now (`waking`: the first
    /// applied is the one its event stands for, not a coincidence), or from any other handler.
    fn catch_up_from(&mut self, ctx: &mut Ctx<'_, Self>, b: BlockId, mut waking: bool) {
        while let Some((i, a)) = self.first_pending(b).filter(|(_, a)| a.at <= ctx.now()) {
            self.pending.remove(i);
            if a.at == ctx.now() && !std::mem::replace(&mut waking, false) {
                Self::same_instant(ctx, 1);
            }
            if self.heard(&a) {
                self.inv_arrived(ctx, a.peer, b);
            }
        }
    }

    /// Reports `n` absorbed announcements applied at the very nanosecond of another event
    /// ([`ChainNote::SameInstant`]).
    fn same_instant(ctx: &mut Ctx<'_, Self>, n: u64) {
        if n > 0 {
            ctx.note(ChainNote::SameInstant(n));
        }
    }

    /// What [`Self::catch_up`] does while `b` is being fetched (every arrival files its
    /// announcer), in one pass, in no particular order and without removing duplicates: it is
    /// called only as `b` arrives for a fetch, and from then on `b`'s announcers are only
    /// marked as peers to skip (idempotent) and forgotten. (A membership check per entry made
    /// this quadratic in the node's degree: 4 % of bitcoin-2019's instructions.)
    /// Returns how many of them arrived at `now` exactly.
    fn file_arrived(&mut self, b: BlockId, now: SimTime) -> u64 {
        let (rare, announcers) = (&self.rare, &mut self.announcers);
        let mut ties = 0;
        self.pending.retain(|a| {
            if a.block != b || a.at > now {
                return true;
            }
            ties += u64::from(a.at == now);
            if Rare::heard(rare, a) {
                announcers.push((b, a.peer));
            }
            false
        });
        ties
    }

    /// An announcement event for `b` arrived (or its wake fired): it is no longer to come.
    fn woken(&mut self, b: BlockId, now: SimTime) {
        self.wakes.retain(|w| w.0 != b || w.1 > now);
        inline_again(&mut self.wakes);
    }

    /// Restores the wake invariant for a block nobody is fetching any more: the earliest
    /// absorbed announcement of it gets a wake timer (unless an earlier event is due).
    fn rewake(&mut self, ctx: &mut Ctx<'_, Self>, b: BlockId) {
        if self.settled(b) || self.fetching(b) {
            return;
        }
        let Some((_, first)) = self.first_pending(b) else {
            return;
        };
        if first.at <= ctx.now() {
            self.catch_up(ctx, b);
        } else if self.wakes.iter().all(|w| w.0 != b || w.1 > first.at) {
            self.wakes.retain(|w| w.0 != b);
            self.wakes.push((b, first.at));
            ctx.set_timer(first.at - ctx.now(), WAKE | u64::from(b.0));
        }
    }

    fn on_inv(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, b: BlockId) {
        self.woken(b, ctx.now());
        self.catch_up(ctx, b);
        self.inv_arrived(ctx, from, b);
    }

    /// What an announcement's arrival does (whether it came as an event or was absorbed).
    fn inv_arrived(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, b: BlockId) {
        if self.settled(b) {
            return;
        }
        if self.fetching(b) {
            if !self.announcers.contains(&(b, from)) {
                self.announcers.push((b, from));
            }
            return;
        }
        self.request(ctx, b, from, 0);
    }

    fn on_block(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, b: BlockId) {
        if self.fetching(b) && b.idx() < ctx.shared.store.len() {
            // The fetch ends here and the block is settled whatever it turns out to be, so
            // its announcers are only ever read as a set from now on: file them unsorted.
            let ties = self.file_arrived(b, ctx.now());
            Self::same_instant(ctx, ties);
        } else {
            self.catch_up(ctx, b);
        }
        if let Some(pos) = self.inflight.iter().position(|r| r.block == b) {
            ctx.cancel_timer(self.inflight.swap_remove(pos).timer);
            inline_again(&mut self.inflight);
        }
        if self.settled(b) {
            return;
        }
        let store = &ctx.shared.store;
        if b.idx() >= store.len() {
            self.rewake(ctx, b);
            return; // not a block at all
        }
        let parent = store.parent(b);
        if parent.idx() >= store.len() {
            self.reject(ctx, b, from, Invalid::BadParent);
            return;
        }
        if !self.knows(parent) {
            self.orphans.push((b, from));
            // Fetch the first missing ancestor from the sender (which has them all): the
            // parent, or below a chain of orphans the parent of its lowest. (Only the parent
            // was asked for, so a lost request for the lowest — a crash, a give-up — left a
            // replica holding its orphans for good.)
            let mut missing = parent;
            while self.is_orphan(missing) {
                missing = store.parent(missing);
            }
            if !self.knows(missing) && !self.fetching(missing) {
                self.request(ctx, missing, from, 0);
            }
            return;
        }
        self.connect(ctx, b, Some(from));
    }

    fn reject(&mut self, ctx: &mut Ctx<'_, Self>, b: BlockId, from: NodeId, why: Invalid) {
        self.rare().rejected.push(b);
        if ctx.shared.params.on_invalid == OnInvalid::Ban
            && from != ctx.id()
            && !self.is_banned(from)
        {
            self.drop_peer(ctx, from);
            ctx.disconnect(from);
        }
        self.forget(b);
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
                    if self.relays(&ctx.shared.store, x) {
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
                    self.forget(x);
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
                (false, true) => return ctx.rng().bernoulli(g),
                (true, false) => return ctx.rng().bernoulli(1.0 - g),
                _ => {}
            }
        }
        match ctx.shared.params.tie {
            TieRule::FirstSeen => false,
            TieRule::Random => ctx.rng().bernoulli(0.5),
        }
    }

    pub(crate) fn fork_choice(&mut self, ctx: &mut Ctx<'_, Self>, b: BlockId) {
        let new_tip = match ctx.shared.params.fork_choice {
            ForkChoice::LongestChain => {
                let (wb, wt) = (ctx.shared.store.work(b), ctx.shared.store.work(self.tip));
                if wb > wt || (wb == wt && b != self.tip && Self::prefer_new(ctx, self.tip, b)) {
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
        let rare = self.rare.get_or_insert_with(Default::default);
        let weight = &mut rare.weight;
        if weight.len() < store.len() {
            let fresh = weight.is_empty();
            weight.resize(store.len(), 0);
            if fresh {
                weight[BlockId::GENESIS.idx()] = 1;
            }
        }
        let w = store.difficulty(b);
        let mut x = b;
        loop {
            weight[x.idx()] += w;
            if x == BlockId::GENESIS {
                break;
            }
            x = store.parent(x);
        }
        let weight = &self
            .rare
            .as_ref()
            .expect("weights were just updated")
            .weight;
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
                        let (wc, wb) = (weight[c.idx()], weight[cur.idx()]);
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
        if self.is_banned(from) {
            if msg.kind == MsgKind::Inv {
                self.woken(msg.block, ctx.now());
                self.catch_up(ctx, msg.block);
                self.rewake(ctx, msg.block);
            }
            return;
        }
        let (b, p) = (msg.block, &ctx.shared.params);
        match msg.kind {
            MsgKind::Inv => self.on_inv(ctx, from, b),
            MsgKind::GetData if self.can_serve(b) => {
                let kind = if ctx.shared.compact_between(ctx.id(), from) {
                    MsgKind::CmpctBlock
                } else {
                    MsgKind::Block
                };
                ctx.send(from, ChainMsg::new(kind, b, p));
            }
            MsgKind::GetBlockTxn if self.can_serve(b) => {
                // The missing transactions: a part of the block.
                let part = p.compact.missing.draw(ctx.common);
                let size = ((part * f64::from(p.block_size)).round() as u32).max(1);
                ctx.send(
                    from,
                    ChainMsg {
                        kind: MsgKind::BlockTxn,
                        block: b,
                        size,
                    },
                );
            }
            MsgKind::GetData | MsgKind::GetBlockTxn => {}
            MsgKind::CmpctBlock
                if !self.settled(b)
                    && b.idx() < ctx.shared.store.len()
                    && ctx.common.bernoulli(p.compact.failure) =>
            {
                // The mempool lacks some of its transactions: ask the sender for them (the
                // request stays in flight, its timeout running).
                ctx.send(from, ChainMsg::new(MsgKind::GetBlockTxn, b, p));
            }
            MsgKind::Block | MsgKind::CmpctBlock | MsgKind::BlockTxn => self.on_block(ctx, from, b),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, id: TimerId, tag: u64) {
        let b = BlockId(tag as u32);
        if tag & WAKE != 0 {
            // The wake stands in for its announcement's event, which would have been ordered
            // among any other events at this nanosecond (at any node) by when it was sent.
            if ctx.instant_shared() {
                Self::same_instant(ctx, 1);
            }
            self.woken(b, ctx.now());
            self.catch_up_from(ctx, b, true);
            self.rewake(ctx, b);
            return;
        }
        if !self.inflight.iter().any(|r| r.timer == id) {
            return;
        }
        self.catch_up(ctx, b);
        let Some(pos) = self.inflight.iter().position(|r| r.timer == id) else {
            return;
        };
        let r = self.inflight.swap_remove(pos);
        self.retry(ctx, r);
    }

    /// `peer` dropped its connection to this node (it banned this node): this node stops
    /// listening to it too, and what it was fetching from it, it asks others for now (a node
    /// banned by every neighbour once retried requests nobody would answer, for as long as
    /// its attempts lasted, keeping the run from ever being quiet).
    fn on_disconnect(&mut self, ctx: &mut Ctx<'_, Self>, peer: NodeId) {
        self.drop_peer(ctx, peer);
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

    fn on_restart(&mut self, ctx: &mut Ctx<'_, Self>) {
        // Timers were lost while down, and so were announcements arriving meanwhile; absorbed
        // ones still to arrive will, and need their wakes.
        let now = ctx.now();
        self.inflight.clear();
        self.announcers.clear();
        let ties = self.pending.iter().filter(|a| a.at == now).count() as u64;
        Self::same_instant(ctx, ties);
        self.pending.retain(|a| a.at > now);
        self.wakes.retain(|w| w.1 > now);
        let mut blocks: Vec<BlockId> = self.pending.iter().map(|a| a.block).collect();
        blocks.sort_unstable();
        blocks.dedup();
        for b in blocks {
            self.rewake(ctx, b);
        }
    }

    /// Under [`InvDelivery::Absorbed`]: an announcement of a block this replica has, holds as an
    /// orphan or rejected, or one from a banned peer, is dropped (its event would change
    /// nothing); one of a block it is fetching, or whose earlier announcement is already due, is
    /// recorded with its arrival time. Any other (it could start a fetch) comes as an event.
    #[inline]
    fn absorb(&mut self, shared: &Shared, from: NodeId, msg: &ChainMsg, at: SimTime) -> bool {
        if msg.kind != MsgKind::Inv || shared.params.inv_delivery == InvDelivery::Event {
            return false;
        }
        let b = msg.block;
        if self.is_banned(from) {
            return true;
        }
        // The usual case first (a block being fetched is never settled).
        let fetching = self.fetching(b);
        if !fetching && self.settled(b) {
            return true;
        }
        if fetching || self.wakes.iter().any(|w| w.0 == b && w.1 <= at) {
            self.pending.push(Pending {
                block: b,
                peer: from,
                at,
            });
            return true;
        }
        self.wakes.retain(|w| w.0 != b);
        self.wakes.push((b, at));
        false
    }

    fn warm(&self) -> u64 {
        // Absorbing reads the first two cache lines (see the layout of `ChainNode`).
        self.pending.len() as u64 ^ self.wakes.len() as u64 ^ self.inflight.len() as u64
    }

    fn on_reconnect(&mut self, ctx: &mut Ctx<'_, Self>, peer: NodeId) {
        let msg = self.announcement(ctx, self.tip);
        ctx.send(peer, msg);
        if ctx.shared.params.fork_choice == ForkChoice::Ghost {
            // GHOST weighs the blocks off the main chain too: a peer that never heard of them
            // (it was cut off while they spread) counts this side lighter, and each side can
            // go on preferring its own subtree for good. Every other leaf of the replica's
            // tree is announced as well, so the two learn each other's whole trees.
            let store = &ctx.shared.store;
            let leaf = |b: BlockId| store.children(b).iter().all(|&c| !self.knows(c));
            let leaves: Vec<BlockId> = (0..store.len() as u32)
                .map(BlockId)
                .filter(|&b| b != self.tip && self.knows(b) && leaf(b) && self.relays(store, b))
                .collect();
            for b in leaves {
                let msg = self.announcement(ctx, b);
                ctx.send(peer, msg);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The known set answers like a plain set whatever the order blocks come in (newer words
    /// move the inline one to the heap; older blocks land there directly).
    #[test]
    fn known_set_is_a_set() {
        let mut rng = des::RngFactory::new(2).stream("t", 0);
        for spread in [3u64, 70, 300, 5_000] {
            let mut k = Known::default();
            let mut plain = std::collections::BTreeSet::new();
            let mut top = 0u64;
            for _ in 0..3_000 {
                // Mostly new blocks, sometimes far older ones (forks, orphans' parents).
                top += rng.below(3);
                let b = top.saturating_sub(rng.below(spread) * u64::from(rng.bernoulli(0.2)));
                k.insert(BlockId(b as u32));
                plain.insert(b);
            }
            for b in 0..top + 130 {
                assert_eq!(
                    k.contains(BlockId(b as u32)),
                    plain.contains(&b),
                    "{spread} {b}"
                );
            }
        }
    }

    /// The transcribed table has SimBlock's 952 entries, from 1 % to 96 % of the block, and
    /// draws only its own values.
    #[test]
    fn simblock_missing_table_is_simblocks() {
        let m = Missing::simblock();
        assert_eq!(m.cumulative.last(), Some(&952));
        assert_eq!(m.parts.first(), Some(&0.01));
        assert_eq!(m.parts.last(), Some(&0.96));
        assert!(m.cumulative.windows(2).all(|w| w[0] < w[1]));
        let mut rng = des::RngFactory::new(1).stream("t", 0);
        let ones = (0..10_000).filter(|_| m.draw(&mut rng) == 0.01).count() as f64 / 1e4;
        let p: f64 = 546.0 / 952.0;
        let se = (p * (1.0 - p) / 1e4).sqrt();
        assert!((ones - p).abs() < 4.0 * se, "{ones} vs {p}");
    }
}
