//! `chain`: Nakamoto replicas.
//!
//! One shared, append-only [`BlockStore`]; per replica only a known-block bitset, a tip, an orphan
//! pool and outstanding requests. Fork choice (longest chain or GHOST, first-seen or random ties),
//! validation (parent, height, miner), and relay (inv → getdata → block, or push) with retries so a
//! lossy network cannot lose a block forever.
//!
//! Knows nothing of files or plotting.

pub mod block;
pub mod node;
pub mod roles;

pub use block::{
    Block, BlockId, BlockStore, GENESIS_DIFFICULTY, Invalid, MAX_DIFFICULTY, MIN_DIFFICULTY,
    NO_MINER, Retarget, RetargetRule,
};
pub use node::{
    ChainMsg, ChainNode, ChainNote, ChainParams, CompactRelay, ForkChoice, InvDelivery, Missing,
    MsgKind, OnInvalid, Relay, Shared, TieRule, timer_meaning,
};
pub use roles::{AttackStats, DoubleSpend, Fork, Role, Selfish, Template};
