//! Byzantine replicas. A [`Role`] changes what a node does with the blocks it wins and how it
//! reacts when its public tip moves; everything else (receiving, validating, answering requests)
//! stays the honest code. Link-level misbehaviour (withhold, delay, drop, eclipse, Sybil) is not
//! here: it is a rule in the network's fault chain.

use crate::block::{BlockId, Invalid};
use crate::node::{ChainNode, ChainNote};
use des::{Ctx, SimTime};

/// What a node's next mining win becomes; the runner creates the block(s) in the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Template {
    /// A valid child of this block.
    Valid(BlockId),
    /// A block that fails validation in the given way (built on `parent`).
    Invalid { parent: BlockId, kind: Invalid },
    /// Two conflicting valid children of this block (equivocation).
    Twin(BlockId),
}

/// What an attacker achieved, as counted by the attacker itself.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AttackStats {
    /// Double spend: races started (payments made). Selfish: tie races entered.
    pub attempts: u64,
    /// Double spend: races won (the private chain replaced ≥ z confirmations).
    pub successes: u64,
    /// Double spend: races given up.
    pub failures: u64,
    /// Seconds from payment to release, per success.
    pub success_times_s: Vec<f64>,
    /// Blocks the attacker made public.
    pub published: u64,
    /// Blocks withheld and never published (abandoned).
    pub abandoned: u64,
    /// Deepest public chain the attacker's release overturned.
    pub max_depth: u32,
}

/// What SM1 does when the public chain moves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sm1 {
    /// The public chain is heavier: give up the private one and mine on the public tip.
    Adopt,
    /// As heavy (the lead was one block): publish everything and race.
    Race,
    /// Heavier by at most one honest block (the lead was two): publish everything and win.
    Override,
    /// Further ahead: publish the withheld blocks up to the public chain's work, keeping the
    /// honest miners on a chain that will lose.
    Match,
}

/// Eyal & Sirer's SM1 rule, on work: the private chain's work `private` against the public
/// tip's `public`, where one honest block on the public tip adds `step`. At a fixed difficulty
/// each block adds `step`, and this is the published rule on the lead in blocks; with
/// retargeting, honest replicas weigh work, so the pool does too.
fn sm1(private: u128, public: u128, step: u128) -> Sm1 {
    match private.checked_sub(public) {
        None => Sm1::Adopt,
        Some(0) => Sm1::Race,
        Some(lead) if lead <= step => Sm1::Override,
        Some(_) => Sm1::Match,
    }
}

/// Where a double-spender's private chain stands against the public one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Standing {
    /// Heavier: released once the merchant has its confirmations.
    Heavier,
    /// Not heavier, and behind by less than `give_up` honest blocks.
    Behind,
    /// Behind by `give_up` honest blocks or more: given up.
    Lost,
}

/// The private chain's work `private` against the public tip's `public`, where one honest
/// block on the public tip adds `step`. At a fixed difficulty this is Rosenfeld's race on
/// blocks (longer; `give_up` blocks behind); with retargeting both sides are weighed in work,
/// so a private chain that is longer but lighter is neither released (honest replicas would
/// not take it) nor kept past `give_up` honest blocks' worth of work behind.
fn race_standing(private: u128, public: u128, step: u128, give_up: u32) -> Standing {
    if private > public {
        Standing::Heavier
    } else if public - private >= step * u128::from(give_up) {
        Standing::Lost
    } else {
        Standing::Behind
    }
}

/// Eyal & Sirer's SM1 selfish mining.
#[derive(Clone, Debug, Default)]
pub struct Selfish {
    /// Tip of the pool's chain; `None` when it has no lead and mines on the public tip.
    private: Option<BlockId>,
    /// Private blocks not yet published, oldest first.
    withheld: Vec<BlockId>,
    /// A tie race is on: the pool published a block as high as the honest one.
    racing: bool,
    pub stats: AttackStats,
}

/// A private-chain double spend, with a pre-mined block (Rosenfeld's model): once the attacker
/// has a private block, it pays the merchant (the race starts); honest miners confirm the
/// payment; the attacker releases its chain when it is heavier than the public one (longer, at
/// a fixed difficulty) and the merchant has seen `confirmations` blocks, or gives up `give_up`
/// blocks behind.
#[derive(Clone, Debug)]
pub struct DoubleSpend {
    pub confirmations: u32,
    pub give_up: u32,
    /// The fork point and when the payment was made.
    race: Option<(BlockId, SimTime)>,
    withheld: Vec<BlockId>,
    pub stats: AttackStats,
}

impl DoubleSpend {
    pub fn new(confirmations: u32, give_up: u32) -> Self {
        DoubleSpend {
            confirmations,
            give_up,
            race: None,
            withheld: vec![],
            stats: AttackStats::default(),
        }
    }
}

/// An eclipse that feeds its victims a private fork: the attacker nodes (the crew) mine on their
/// own chain from the moment the attack starts, relay only the crew's blocks, and never relay
/// honest ones — so nodes connected only to the crew see the fork as the whole chain.
#[derive(Clone, Debug)]
pub struct Fork {
    /// Per node: part of the crew.
    pub crew: Vec<bool>,
    /// The crew's best block (None until the first one).
    private: Option<BlockId>,
}

impl Fork {
    pub fn new(crew: Vec<bool>) -> Self {
        Fork {
            crew,
            private: None,
        }
    }
}

#[derive(Clone, Debug, Default)]
pub enum Role {
    #[default]
    Honest,
    // Boxed: attackers are few, and an honest node's role must stay one word (node state is
    // touched on every message).
    Selfish(Box<Selfish>),
    DoubleSpend(Box<DoubleSpend>),
    /// Every win yields two conflicting blocks, one sent to each half of the peers.
    Equivocate,
    /// Every win yields a block that fails validation in this way, announced to every peer.
    InvalidBlocks(Invalid),
    Fork(Box<Fork>),
}

impl Role {
    pub(crate) fn mining_parent(&self) -> Option<BlockId> {
        match self {
            Role::Selfish(s) => s.private,
            Role::DoubleSpend(d) => d.withheld.last().copied(),
            Role::Fork(f) => f.private,
            _ => None,
        }
    }

    /// Whether an active node in this role passes on blocks mined by `miner`.
    pub(crate) fn relays(&self, miner: des::NodeId) -> bool {
        match self {
            Role::Fork(f) => f.crew.get(miner.idx()).copied().unwrap_or(false),
            _ => true,
        }
    }

    /// An active node in this role stored block `b`.
    pub(crate) fn saw(&mut self, store: &crate::BlockStore, b: BlockId) {
        if let Role::Fork(f) = self {
            let mine = f
                .crew
                .get(store.get(b).miner.idx())
                .copied()
                .unwrap_or(false);
            if mine && f.private.is_none_or(|p| store.work(b) > store.work(p)) {
                f.private = Some(b);
            }
        }
    }

    pub fn stats(&self) -> Option<&AttackStats> {
        match self {
            Role::Selfish(s) => Some(&s.stats),
            Role::DoubleSpend(d) => Some(&d.stats),
            _ => None,
        }
    }
}

impl ChainNode {
    /// Gives this node a role; it acts on it only while active (see [`ChainNode::set_active`]).
    pub fn set_role(&mut self, role: Role) {
        self.role = role;
    }

    pub fn role(&self) -> &Role {
        &self.role
    }

    /// Starts or ends the role's attack. Ending it abandons whatever is withheld: the node is
    /// honest from then on, on its public tip.
    pub fn set_active(&mut self, on: bool) {
        self.active = on;
        if !on {
            match &mut self.role {
                Role::Selfish(s) => {
                    s.stats.abandoned += s.withheld.len() as u64;
                    s.withheld.clear();
                    s.private = None;
                    s.racing = false;
                }
                Role::DoubleSpend(d) => {
                    d.stats.abandoned += d.withheld.len() as u64;
                    d.withheld.clear();
                    d.race = None;
                }
                Role::Fork(f) => f.private = None,
                _ => {}
            }
        }
    }

    /// Makes `blocks` public: stored, relayed and run through fork choice like any block, without
    /// the role reacting to its own release.
    fn publish(&mut self, ctx: &mut Ctx<'_, Self>, blocks: &[BlockId]) {
        self.publishing = true;
        for &b in blocks {
            self.connect(ctx, b, None);
        }
        self.publishing = false;
    }

    pub(crate) fn role_mined(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        b: BlockId,
        twin: Option<BlockId>,
    ) {
        match &mut self.role {
            // A fork block is stored, relayed (to the crew's peers) and becomes the crew's tip.
            Role::Honest | Role::Fork(_) => self.connect(ctx, b, None),
            Role::Selfish(s) => {
                s.private = Some(b);
                s.withheld.push(b);
                if s.racing {
                    // The pool wins the tie race: its branch is now one longer.
                    s.racing = false;
                    let out = std::mem::take(&mut s.withheld);
                    s.stats.published += out.len() as u64;
                    self.publish(ctx, &out);
                }
            }
            Role::DoubleSpend(d) => {
                if d.race.is_none() {
                    // The pre-mined block exists: pay the merchant now.
                    d.race = Some((ctx.shared.store.parent(b), ctx.now()));
                    d.stats.attempts += 1;
                }
                d.withheld.push(b);
                self.double_spend_check(ctx);
            }
            Role::Equivocate => {
                let b2 = twin.unwrap_or(b);
                for x in [b, b2] {
                    self.set_known(x);
                    ctx.note(ChainNote::Accepted(x));
                }
                self.fork_choice(ctx, b);
                let (m1, m2) = (self.announcement(ctx, b), self.announcement(ctx, b2));
                ctx.broadcast_split(m1, m2);
            }
            Role::InvalidBlocks(_) => {
                self.made_invalid(b);
                let m = self.announcement(ctx, b);
                ctx.broadcast(m);
            }
        }
    }

    /// The public tip moved because of someone else's block.
    pub(crate) fn public_tip_changed(&mut self, ctx: &mut Ctx<'_, Self>) {
        let store = &ctx.shared.store;
        match &mut self.role {
            Role::Selfish(s) => {
                let Some(private) = s.private else { return };
                let (wp, wh) = (store.work(private), store.work(self.tip));
                let step = u128::from(store.next_difficulty(self.tip));
                let out: Vec<BlockId> = match sm1(wp, wh, step) {
                    Sm1::Adopt => {
                        s.stats.abandoned += s.withheld.len() as u64;
                        s.withheld.clear();
                        s.private = None;
                        s.racing = false;
                        vec![]
                    }
                    Sm1::Race => {
                        s.racing = !s.withheld.is_empty();
                        if s.racing {
                            s.stats.attempts += 1;
                        }
                        std::mem::take(&mut s.withheld)
                    }
                    Sm1::Override => {
                        s.racing = false;
                        std::mem::take(&mut s.withheld)
                    }
                    Sm1::Match => {
                        s.racing = false;
                        let k = (s.withheld.iter())
                            .take_while(|&&b| store.work(b) <= wh)
                            .count();
                        s.withheld.drain(..k).collect()
                    }
                };
                s.stats.published += out.len() as u64;
                self.publish(ctx, &out);
            }
            Role::DoubleSpend(_) => self.double_spend_check(ctx),
            _ => {}
        }
    }

    fn double_spend_check(&mut self, ctx: &mut Ctx<'_, Self>) {
        let store = &ctx.shared.store;
        let hp = store.height(self.tip);
        let Role::DoubleSpend(d) = &mut self.role else {
            return;
        };
        let Some((fork, start)) = d.race else { return };
        let public = hp.saturating_sub(store.height(fork));
        let private = d.withheld.len() as u32;
        let private_tip = d.withheld.last().copied().unwrap_or(fork);
        let (wp, wh) = (store.work(private_tip), store.work(self.tip));
        let step = u128::from(store.next_difficulty(self.tip));
        let standing = race_standing(wp, wh, step, d.give_up);
        if public >= d.confirmations && standing == Standing::Heavier {
            d.stats.successes += 1;
            d.stats
                .success_times_s
                .push((ctx.now() - start).as_secs_f64());
            d.stats.max_depth = d.stats.max_depth.max(public);
            d.stats.published += u64::from(private);
            d.race = None;
            let out = std::mem::take(&mut d.withheld);
            self.publish(ctx, &out);
        } else if standing == Standing::Lost {
            d.stats.failures += 1;
            d.stats.abandoned += u64::from(private);
            d.withheld.clear();
            d.race = None;
        }
    }
}

#[cfg(test)]
mod tests {
    /// Node state is touched on every message: keep an honest replica small.
    use super::{Sm1, Standing, race_standing, sm1};

    /// At a fixed difficulty the race is Rosenfeld's on blocks: released when longer, given up
    /// `give_up` blocks behind.
    #[test]
    fn race_on_work_is_the_race_on_blocks_at_a_fixed_difficulty() {
        for d in [1u128, 7, 1 << 20] {
            for give_up in 0u32..5 {
                for public in 0u128..8 {
                    for private in 0u128..8 {
                        let want = if private > public {
                            Standing::Heavier
                        } else if public >= private + u128::from(give_up) {
                            Standing::Lost
                        } else {
                            Standing::Behind
                        };
                        let got = race_standing(private * d, public * d, d, give_up);
                        assert_eq!(got, want, "{private} vs {public}, give up {give_up}");
                    }
                }
            }
        }
    }

    /// A longer but lighter private chain is not released, and is given up once the public
    /// chain is `give_up` honest blocks' worth of work ahead, however many blocks it has.
    #[test]
    fn race_follows_work_where_blocks_and_work_disagree() {
        // Six private blocks at 100 against four public at 200: behind by one honest block.
        assert_eq!(race_standing(600, 800, 200, 3), Standing::Behind);
        // Ten at 100 against eight at 200: three honest blocks behind, given up.
        assert_eq!(race_standing(1000, 1600, 200, 3), Standing::Lost);
        // Two at 400 against three at 200: heavier, though shorter.
        assert_eq!(race_standing(800, 600, 200, 3), Standing::Heavier);
    }

    /// At a fixed difficulty the rule is SM1's on the lead in blocks after the honest block:
    /// behind → adopt, level → race, one ahead → override, more → match.
    #[test]
    fn sm1_on_work_is_sm1_on_blocks_at_a_fixed_difficulty() {
        for d in [1u128, 7, 1 << 20] {
            for hp in 0u128..6 {
                for hs in 0u128..9 {
                    let want = match hs as i64 - hp as i64 {
                        ..0 => Sm1::Adopt,
                        0 => Sm1::Race,
                        1 => Sm1::Override,
                        _ => Sm1::Match,
                    };
                    assert_eq!(sm1(hs * d, hp * d, d), want, "{hs} vs {hp} at {d}");
                }
            }
        }
    }

    /// Across a retarget the lead in blocks misleads: more blocks at a lower difficulty can be
    /// the lighter chain (adopt), and fewer blocks at a higher one the heavier.
    #[test]
    fn sm1_follows_work_where_blocks_and_work_disagree() {
        // Three private blocks at 100 against two public ones at 200: lighter.
        assert_eq!(sm1(300, 400, 200), Sm1::Adopt);
        // Two private blocks at 400 against three public at 200: a lead of 200, one block.
        assert_eq!(sm1(800, 600, 200), Sm1::Override);
        // ... but more than a cheap honest block can catch up with: match.
        assert_eq!(sm1(800, 600, 100), Sm1::Match);
    }

    #[test]
    fn an_honest_replica_stays_small() {
        let size = std::mem::size_of::<crate::ChainNode>();
        assert!(size <= 192, "ChainNode is {size} bytes");
        assert!(std::mem::size_of::<super::Role>() <= 16);
    }
}
