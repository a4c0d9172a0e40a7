//! Blocks and the one shared block store: every block is created once and referenced by id.

use des::{NodeId, SimTime};
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
}

/// All blocks of a run, append-only.
#[derive(Clone, Debug)]
pub struct BlockStore {
    blocks: Vec<Block>,
    children: Vec<Vec<BlockId>>,
    /// Nodes whose blocks are acceptable (all nodes in a permissionless chain).
    miners: u32,
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
        };
        BlockStore {
            blocks: vec![genesis],
            children: vec![vec![]],
            miners,
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
        self.blocks.push(Block {
            parent,
            height,
            miner,
            created,
            hash: h.finalize().into(),
        });
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
}
