//! Blocks and the one shared block store: every block is created once and referenced by id.

use des::{NodeId, SimDuration, SimTime};
use sha2::{Digest, Sha256};

/// Index of a block in the store; genesis is 0.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct BlockId(pub u32);

impl BlockId {
    pub const GENESIS: BlockId = BlockId(0);
    /// A parent that does not exist (used by invalid blocks).
    pub const NONE: BlockId = BlockId(u32::MAX);
    #[inline]
    pub fn idx(self) -> usize {
        self.0 as usize
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    pub parent: BlockId,
    pub height: u32,
    pub miner: NodeId,
    pub created: SimTime,
    pub hash: [u8; 32],
    /// The work a miner had to do for this block, in units where genesis has
    /// [`GENESIS_DIFFICULTY`]: a miner finds it at a rate ∝ its hash power / this.
    pub difficulty: u64,
    /// The chain's cumulative work, genesis (0) excluded: what the fork choice compares.
    pub work: u128,
    /// The difficulty a child of this block gets (the [`Retarget`] rule, worked out once).
    pub next_difficulty: u64,
}

/// Genesis's difficulty: the unit in which difficulties are counted. With a fixed difficulty,
/// every block has it and the fork choice's cumulative work is height × this.
pub const GENESIS_DIFFICULTY: u64 = 1 << 20;
/// Retargeting keeps the difficulty within [`GENESIS_DIFFICULTY`] ÷ 2²⁰ … × 2²⁰, so a chain's
/// work and a GHOST subtree's weight fit a u64 for 2²⁴ blocks even at the largest difficulty.
pub const MIN_DIFFICULTY: u64 = 1;
pub const MAX_DIFFICULTY: u64 = GENESIS_DIFFICULTY << 20;

des::named_enum! {
    /// How a block's difficulty follows from its parent's chain.
    pub enum RetargetRule {
        /// Every block has the genesis difficulty.
        Fixed = "fixed",
        /// Bitcoin's rule, per epoch of `every` blocks: the first block of an epoch gets its
        /// parent's difficulty × `every` × the target interval ÷ the time the last `every`
        /// blocks took (from their creation times), that span clamped to within `clamp` times
        /// the target.
        Epoch = "epoch",
        /// ASERT (Bitcoin Cash's aserti3-2d, anchored at genesis), every block: a block's
        /// child gets genesis's difficulty × 2^((height × the target interval − its creation
        /// time) ÷ `half_life`) — halved for every half-life the chain is behind schedule,
        /// doubled for every one it is ahead.
        Asert = "asert",
    }
}

/// The difficulty adjustment: a rule and its parameters.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct Retarget {
    pub rule: RetargetRule,
    /// Blocks per epoch (`epoch`).
    pub every: u32,
    /// At most this factor up or down per retarget (`epoch`; Bitcoin: 4).
    pub clamp: f64,
    /// How far behind schedule halves the difficulty (`asert`; Bitcoin Cash: 2 days).
    pub half_life: SimDuration,
}

impl Retarget {
    pub const FIXED: Retarget = Retarget {
        rule: RetargetRule::Fixed,
        every: 2016,
        clamp: 4.0,
        half_life: SimDuration::from_secs(2 * 86_400),
    };

    /// The `epoch` rule (Bitcoin: 2016 blocks, clamp 4).
    pub fn epoch(every: u32, clamp: f64) -> Retarget {
        Retarget {
            rule: RetargetRule::Epoch,
            every,
            clamp,
            ..Retarget::FIXED
        }
    }

    /// The `asert` rule (Bitcoin Cash: a half-life of 2 days).
    pub fn asert(half_life: SimDuration) -> Retarget {
        Retarget {
            rule: RetargetRule::Asert,
            half_life,
            ..Retarget::FIXED
        }
    }
}

impl Default for Retarget {
    fn default() -> Self {
        Retarget::FIXED
    }
}

/// [`Retarget`] with its bounds worked out, in nanoseconds.
#[derive(Copy, Clone, Debug)]
enum Rule {
    Epoch {
        every: u32,
        target_ns: u64,
        min_span_ns: u64,
        max_span_ns: u64,
    },
    Asert {
        interval_ns: u64,
        half_life_ns: u64,
    },
}

/// All blocks of a run, append-only.
#[derive(Clone, Debug)]
pub struct BlockStore {
    blocks: Vec<Block>,
    children: Vec<Vec<BlockId>>,
    /// Nodes whose blocks are acceptable (all nodes in a permissionless chain).
    miners: u32,
    /// `None`: a fixed difficulty.
    retarget: Option<Rule>,
}

/// A miner id that no node has: blocks claiming it fail validation.
pub const NO_MINER: NodeId = NodeId(u32::MAX);

impl BlockStore {
    pub fn new(miners: u32) -> Self {
        let genesis = Block {
            parent: BlockId::NONE,
            height: 0,
            miner: NO_MINER,
            created: SimTime::ZERO,
            hash: Sha256::digest(b"chainsim genesis").into(),
            difficulty: GENESIS_DIFFICULTY,
            work: 0,
            next_difficulty: GENESIS_DIFFICULTY,
        };
        BlockStore {
            blocks: vec![genesis],
            children: vec![vec![]],
            miners,
            retarget: None,
        }
    }

    /// A store whose difficulty follows `r`, aiming at one block per `interval`. `every` must
    /// be ≥ 1, `clamp` ≥ 1, the interval and half-life positive (scenario validation sees to
    /// it).
    pub fn with_retarget(miners: u32, r: Retarget, interval: SimDuration) -> Self {
        let mut s = BlockStore::new(miners);
        s.retarget = match r.rule {
            RetargetRule::Fixed => None,
            RetargetRule::Epoch => {
                let target_ns = interval.as_nanos().saturating_mul(u64::from(r.every));
                Some(Rule::Epoch {
                    every: r.every,
                    target_ns,
                    min_span_ns: ((target_ns as f64 / r.clamp).round() as u64).max(1),
                    max_span_ns: (target_ns as f64 * r.clamp).round() as u64,
                })
            }
            RetargetRule::Asert => Some(Rule::Asert {
                interval_ns: interval.as_nanos(),
                half_life_ns: r.half_life.as_nanos().max(1),
            }),
        };
        s
    }

    /// The difficulty a child of block `p` (just stored) gets.
    fn work_out_next(&self, p: BlockId) -> u64 {
        let b = self.get(p);
        let within = |d: u128| d.clamp(u128::from(MIN_DIFFICULTY), u128::from(MAX_DIFFICULTY));
        match self.retarget {
            None => b.difficulty,
            Some(Rule::Epoch {
                every,
                target_ns,
                min_span_ns,
                max_span_ns,
            }) => {
                // Epochs are heights 1..=every, every+1..=2·every, …; a new one starts at the
                // child.
                let h = b.height;
                if h == 0 || !h.is_multiple_of(every) {
                    return b.difficulty;
                }
                let first = self.ancestor_at(p, h - every);
                let span = b
                    .created
                    .saturating_since(self.get(first).created)
                    .as_nanos();
                let span = span.clamp(min_span_ns, max_span_ns.max(min_span_ns));
                let d = u128::from(b.difficulty) * u128::from(target_ns) / u128::from(span);
                within(d) as u64
            }
            Some(Rule::Asert {
                interval_ns,
                half_life_ns,
            }) => {
                // Ahead of schedule (made before height × interval) is a positive exponent.
                let due = i128::from(b.height) * i128::from(interval_ns);
                let ahead = due - i128::from(b.created.as_nanos());
                let x = ahead as f64 / half_life_ns as f64;
                // 2^x × genesis stays within the bounds once x is within ±20 (2²⁰ each way).
                let d = GENESIS_DIFFICULTY as f64 * libm::exp2(x.clamp(-21.0, 21.0));
                within(d.round() as u128) as u64
            }
        }
    }

    /// Creates a block. `parent` must exist unless the block is deliberately invalid, in which
    /// case `height` is taken as given.
    pub fn create(
        &mut self,
        parent: BlockId,
        height: u32,
        miner: NodeId,
        created: SimTime,
        nonce: u64,
    ) -> BlockId {
        let parent_hash = self
            .blocks
            .get(parent.idx())
            .map(|b| b.hash)
            .unwrap_or([0; 32]);
        let mut h = Sha256::new();
        h.update(parent_hash);
        h.update(height.to_le_bytes());
        h.update(miner.0.to_le_bytes());
        h.update(nonce.to_le_bytes());
        let id = BlockId(self.blocks.len() as u32);
        let (difficulty, work, well_formed) = match self.blocks.get(parent.idx()) {
            Some(p) => (p.next_difficulty, p.work, p.height + 1 == height),
            None => (GENESIS_DIFFICULTY, 0, false),
        };
        self.blocks.push(Block {
            parent,
            height,
            miner,
            created,
            hash: h.finalize().into(),
            difficulty,
            work: work + u128::from(difficulty),
            next_difficulty: difficulty,
        });
        // A block with a missing parent or a wrong height has no epoch to speak of.
        if self.retarget.is_some() && well_formed {
            let next = self.work_out_next(id);
            self.blocks[id.idx()].next_difficulty = next;
        }
        self.children.push(vec![]);
        if let Some(c) = self.children.get_mut(parent.idx()) {
            c.push(id);
        }
        id
    }

    /// Creates a valid child of `parent`.
    pub fn extend(
        &mut self,
        parent: BlockId,
        miner: NodeId,
        created: SimTime,
        nonce: u64,
    ) -> BlockId {
        let h = self.get(parent).height + 1;
        self.create(parent, h, miner, created, nonce)
    }

    #[inline]
    pub fn get(&self, id: BlockId) -> &Block {
        &self.blocks[id.idx()]
    }

    #[inline]
    pub fn height(&self, id: BlockId) -> u32 {
        self.blocks[id.idx()].height
    }

    /// The chain's cumulative work up to `id` (what the fork choice compares).
    #[inline]
    pub fn work(&self, id: BlockId) -> u128 {
        self.blocks[id.idx()].work
    }

    #[inline]
    pub fn difficulty(&self, id: BlockId) -> u64 {
        self.blocks[id.idx()].difficulty
    }

    /// The difficulty a child of `id` gets.
    #[inline]
    pub fn next_difficulty(&self, id: BlockId) -> u64 {
        self.blocks[id.idx()].next_difficulty
    }

    /// The difficulty varies (a retarget rule other than `fixed`).
    pub fn retargets(&self) -> bool {
        self.retarget.is_some()
    }

    #[inline]
    pub fn parent(&self, id: BlockId) -> BlockId {
        self.blocks[id.idx()].parent
    }

    pub fn children(&self, id: BlockId) -> &[BlockId] {
        &self.children[id.idx()]
    }

    pub fn len(&self) -> usize {
        self.blocks.len()
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    /// Why `id` is invalid given a known parent, if it is: the checks every honest replica runs.
    pub fn check(&self, id: BlockId) -> Result<(), Invalid> {
        let b = self.get(id);
        let parent = self.blocks.get(b.parent.idx()).ok_or(Invalid::BadParent)?;
        if b.height != parent.height + 1 {
            return Err(Invalid::BadHeight);
        }
        if b.miner.0 >= self.miners {
            return Err(Invalid::BadMiner);
        }
        Ok(())
    }

    /// The ancestor of `id` at `height` (walks parents).
    pub fn ancestor_at(&self, mut id: BlockId, height: u32) -> BlockId {
        while self.height(id) > height {
            id = self.parent(id);
        }
        id
    }

    /// Whether `a` is an ancestor of (or equal to) `b`.
    pub fn is_ancestor(&self, a: BlockId, b: BlockId) -> bool {
        self.height(a) <= self.height(b) && self.ancestor_at(b, self.height(a)) == a
    }

    /// The last common ancestor of two blocks.
    pub fn common_ancestor(&self, mut a: BlockId, mut b: BlockId) -> BlockId {
        let h = self.height(a).min(self.height(b));
        a = self.ancestor_at(a, h);
        b = self.ancestor_at(b, h);
        while a != b {
            a = self.parent(a);
            b = self.parent(b);
        }
        a
    }

    /// The chain from genesis to `tip` (inclusive), genesis first.
    pub fn chain_to(&self, tip: BlockId) -> Vec<BlockId> {
        let mut v = Vec::with_capacity(self.height(tip) as usize + 1);
        let mut x = tip;
        loop {
            v.push(x);
            if x == BlockId::GENESIS {
                break;
            }
            x = self.parent(x);
        }
        v.reverse();
        v
    }
}

des::named_enum! {
    /// Why a replica rejected a block.
    pub enum Invalid {
        BadParent = "bad-parent",
        BadHeight = "bad-height",
        BadMiner = "bad-miner",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ancestry() {
        let mut s = BlockStore::new(4);
        let t = SimTime::ZERO;
        let a = s.extend(BlockId::GENESIS, NodeId(0), t, 1);
        let b = s.extend(a, NodeId(1), t, 2);
        let c = s.extend(a, NodeId(2), t, 3);
        let d = s.extend(c, NodeId(2), t, 4);
        assert_eq!(s.common_ancestor(b, d), a);
        assert!(s.is_ancestor(a, d) && !s.is_ancestor(b, d) && s.is_ancestor(d, d));
        assert_eq!(s.chain_to(d), vec![BlockId::GENESIS, a, c, d]);
        assert_ne!(s.get(b).hash, s.get(c).hash);
        assert_eq!(s.check(d), Ok(()));
        let bad_h = s.create(a, 7, NodeId(0), t, 5);
        assert_eq!(s.check(bad_h), Err(Invalid::BadHeight));
        let bad_p = s.create(BlockId::NONE, 1, NodeId(0), t, 6);
        assert_eq!(s.check(bad_p), Err(Invalid::BadParent));
        let bad_m = s.extend(a, NodeId(9), t, 7);
        assert_eq!(s.check(bad_m), Err(Invalid::BadMiner));
    }

    fn secs(x: f64) -> SimTime {
        SimTime::ZERO.saturating_add(SimDuration::from_secs_f64(x))
    }

    /// A chain whose blocks come at these times.
    fn chain_at(s: &mut BlockStore, times: &[f64]) -> Vec<BlockId> {
        let mut tip = BlockId::GENESIS;
        (times.iter().enumerate())
            .map(|(i, &t)| {
                tip = s.extend(tip, NodeId(0), secs(t), i as u64);
                tip
            })
            .collect()
    }

    const D: u64 = GENESIS_DIFFICULTY;

    #[test]
    fn a_fixed_difficulty_makes_work_the_height() {
        let mut s = BlockStore::new(1);
        let c = chain_at(&mut s, &[1.0, 2.0, 3.0, 900.0, 901.0]);
        for (i, &b) in c.iter().enumerate() {
            assert_eq!(s.difficulty(b), D);
            assert_eq!(s.work(b), (i as u128 + 1) * u128::from(D));
        }
        assert!(!s.retargets());
    }

    /// Epochs of 4 blocks aiming at 10 s each (40 s an epoch): an epoch in 20 s doubles the
    /// difficulty, one in 80 s halves it, a far too fast or slow one moves it by the clamp only;
    /// inside an epoch it stays. The work adds up the difficulties.
    #[test]
    fn epochs_retarget_by_their_span_within_the_clamp() {
        let mut s =
            BlockStore::with_retarget(1, Retarget::epoch(4, 4.0), SimDuration::from_secs(10));
        assert!(s.retargets());
        // Epoch 1 (heights 1..=4) ends at 20 s; epoch 2 at difficulty 2 takes 80 s (to 100 s);
        // epoch 3 at 1 takes 1 s (clamped: ×4); epoch 4 at 4 takes 4000 s (clamped: ÷4).
        let times = [
            5.0, 10.0, 15.0, 20.0, 40.0, 60.0, 80.0, 100.0, 100.25, 100.5, 100.75, 101.0, 1101.0,
            2101.0, 3101.0, 4101.0, 4102.0,
        ];
        let c = chain_at(&mut s, &times);
        let want = [1, 1, 1, 1, 2, 2, 2, 2, 1, 1, 1, 1, 4, 4, 4, 4];
        let got: Vec<f64> = c
            .iter()
            .map(|&b| s.difficulty(b) as f64 / D as f64)
            .collect();
        let mut work = 0u128;
        for (i, &b) in c.iter().enumerate().take(want.len()) {
            assert_eq!(s.difficulty(b), want[i] * D, "height {}: {got:?}", i + 1);
            work += u128::from(want[i] * D);
            assert_eq!(s.work(b), work);
        }
        assert_eq!(
            s.difficulty(c[16]),
            D,
            "4000 s against 40 s is clamped to ÷4"
        );
        assert_eq!(s.next_difficulty(c[15]), D);
        assert_eq!(s.next_difficulty(c[14]), 4 * D, "inside an epoch");
    }

    /// Two branches off one block retarget each by its own history.
    #[test]
    fn branches_retarget_apart() {
        let mut s =
            BlockStore::with_retarget(1, Retarget::epoch(2, 4.0), SimDuration::from_secs(10));
        let slow = chain_at(&mut s, &[20.0, 40.0, 41.0]);
        let mut fast = vec![s.extend(BlockId::GENESIS, NodeId(0), secs(1.0), 90)];
        fast.push(s.extend(fast[0], NodeId(0), secs(2.0), 91));
        fast.push(s.extend(fast[1], NodeId(0), secs(3.0), 92));
        assert_eq!(s.difficulty(slow[2]), D / 2, "40 s for a 20 s epoch");
        assert_eq!(
            s.difficulty(fast[2]),
            4 * D,
            "2 s for a 20 s epoch: the clamp"
        );
        assert!(s.work(fast[2]) > s.work(slow[2]));
    }

    /// Deliberately invalid blocks at an epoch's end (no parent, or a height that skips) get a
    /// difficulty without walking a chain that is not there.
    #[test]
    fn invalid_blocks_at_an_epochs_end_do_not_retarget() {
        let mut s =
            BlockStore::with_retarget(1, Retarget::epoch(2, 4.0), SimDuration::from_secs(10));
        let c = chain_at(&mut s, &[1.0]);
        let orphan = s.create(BlockId::NONE, 2, NodeId(0), secs(2.0), 7);
        let skip = s.create(c[0], 4, NodeId(0), secs(2.0), 8);
        assert_eq!(s.next_difficulty(orphan), D);
        assert_eq!(s.next_difficulty(skip), D);
        let ok = s.extend(c[0], NodeId(0), secs(2.0), 9);
        assert_eq!(
            s.next_difficulty(ok),
            4 * D,
            "2 s for a 20 s epoch: the clamp"
        );
    }

    /// ASERT with 10 s blocks and a 100 s half-life: on schedule the child keeps genesis's
    /// difficulty; 100 s behind halves it; 50 s ahead multiplies it by √2; far off, the bounds
    /// hold. A child's difficulty depends on its parent's height and time alone.
    #[test]
    fn asert_doubles_per_half_life_ahead_of_schedule() {
        let mut s = BlockStore::with_retarget(
            1,
            Retarget::asert(SimDuration::from_secs(100)),
            SimDuration::from_secs(10),
        );
        let c = chain_at(&mut s, &[10.0, 20.0, 130.0, 140.0, 0.0]);
        assert_eq!(s.difficulty(c[0]), D, "genesis's child");
        assert_eq!(s.next_difficulty(c[1]), D, "height 2 at 20 s: on schedule");
        assert_eq!(
            s.next_difficulty(c[2]),
            D / 2,
            "height 3 at 130 s: 100 s behind"
        );
        assert_eq!(s.difficulty(c[3]), D / 2);
        assert_eq!(
            s.next_difficulty(c[3]),
            D / 2,
            "height 4 at 140 s: still 100 s behind"
        );
        // Height 5 at 0 s (out of order, as a test may make it): 50 s ahead.
        let half = (D as f64 * libm::exp2(0.5)).round() as u64;
        assert_eq!(s.next_difficulty(c[4]), half);
        let fast = s.extend(BlockId::GENESIS, NodeId(0), secs(0.0), 50);
        let fast = s.extend(fast, NodeId(0), secs(0.0), 51);
        let fast = s.extend(fast, NodeId(0), secs(0.0), 52);
        assert_eq!(s.get(fast).height, 3);
        assert_eq!(
            s.next_difficulty(fast),
            (D as f64 * libm::exp2(0.3)).round() as u64
        );
        let far_behind = s.extend(BlockId::GENESIS, NodeId(0), secs(1e9), 53);
        assert_eq!(s.next_difficulty(far_behind), MIN_DIFFICULTY);
        let mut far_ahead = BlockId::GENESIS;
        for i in 0..300 {
            far_ahead = s.extend(far_ahead, NodeId(0), secs(0.0), 60 + i);
        }
        assert_eq!(s.next_difficulty(far_ahead), MAX_DIFFICULTY);
    }

    #[test]
    fn retarget_rule_names_round_trip() {
        for r in RetargetRule::ALL {
            assert_eq!(r.name().parse::<RetargetRule>(), Ok(*r));
        }
        assert!("bitcoin".parse::<RetargetRule>().is_err());
    }
}
