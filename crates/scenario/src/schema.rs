//! The scenario file format: serde structs that only parse (unknown keys are errors). Values with
//! units are typed ([`Dur`], [`Bytes`], [`Rate`]); enum-like values are strings checked by
//! validation so its errors can list what is allowed.

use crate::units::{Bytes, Dur, Rate};
use serde::Deserialize;
use std::collections::BTreeMap;

fn one() -> u64 {
    1
}
fn one_u32() -> u32 {
    1
}

#[derive(Deserialize, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default = "one")]
    pub seed: u64,
    #[serde(default = "one_u32")]
    pub replicates: u32,
    /// How a sweep's points draw their seeds: independent | common.
    pub seeds: Option<String>,
    #[serde(default)]
    pub stop: StopToml,
    pub network: NetworkToml,
    #[serde(default)]
    pub consensus: ConsensusToml,
    #[serde(default)]
    pub metrics: MetricsToml,
    /// Byzantine actors, one table per strategy group.
    #[serde(default)]
    pub byzantine: Vec<ByzantineToml>,
    /// Dotted key → list of values; the run plan is every combination × replicates.
    #[serde(default)]
    pub sweep: BTreeMap<String, Vec<toml::Value>>,
    /// Dotted key → value, applied over the rest of the file in table order (`chainsim run
    /// --set` appends one such table to the scenario it records). A set key leaves the sweep.
    #[serde(default)]
    pub set: Vec<BTreeMap<String, toml::Value>>,
}

#[derive(Deserialize, Clone, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct StopToml {
    /// Mine at least this many blocks, then stop once the honest replicas agree.
    pub blocks: Option<u64>,
    /// Stop mining at this simulated time (whichever of blocks/time comes first).
    pub time: Option<Dur>,
    /// Once mining has stopped (and the last scheduled partition or crash change is past), how
    /// long the honest replicas get to agree before the run ends unsettled.
    pub settle: Option<Dur>,
    pub max_events: Option<u64>,
    pub max_time: Option<Dur>,
}

#[derive(Deserialize, Clone, Debug)]
#[serde(untagged)]
pub enum NodeRef {
    Id(i64),
    /// "a..b": ids a (inclusive) to b (exclusive).
    Range(String),
}

#[derive(Deserialize, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct RegionToml {
    pub name: String,
    pub share: f64,
    pub upload: Option<Rate>,
    pub download: Option<Rate>,
}

#[derive(Deserialize, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct PartitionToml {
    pub groups: Vec<Vec<NodeRef>>,
    pub from: Dur,
    pub until: Option<Dur>,
}

#[derive(Deserialize, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct ByzantineToml {
    /// selfish | double-spend | equivocate | invalid-blocks | withhold | delay | drop | eclipse |
    /// sybil
    pub strategy: String,
    /// The attacker's nodes: ids and "a..b" ranges.
    pub nodes: Vec<NodeRef>,
    /// Total hash share of these nodes (default: what consensus.hash_power gives them).
    pub hash_share: Option<f64>,
    pub gamma: Option<f64>,
    pub confirmations: Option<i64>,
    pub give_up: Option<i64>,
    pub invalid: Option<String>,
    pub delay: Option<Dur>,
    pub drop: Option<f64>,
    #[serde(default)]
    pub targets: Vec<NodeRef>,
    /// Eclipse: withhold | delay | private-fork.
    pub feed: Option<String>,
    pub peers: Option<i64>,
    pub from: Option<Dur>,
    pub until: Option<Dur>,
}

#[derive(Deserialize, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct CrashToml {
    pub node: i64,
    pub at: Dur,
    pub restart: Option<Dur>,
}

#[derive(Deserialize, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct NetworkToml {
    pub nodes: i64,
    #[serde(default = "default_topology")]
    pub topology: String,
    pub degree: Option<i64>,
    pub p: Option<f64>,
    pub mean_degree: Option<f64>,
    pub k: Option<i64>,
    pub beta: Option<f64>,
    pub m: Option<i64>,
    /// Outbound degree distribution of the regional topology: "bitcoin-2015".
    pub outbound: Option<String>,
    pub max_inbound: Option<i64>,
    #[serde(default)]
    pub allow_disconnected: bool,
    /// Mean one-way latency.
    pub latency: Option<Dur>,
    /// constant, uniform, exponential, lognormal, pareto, simblock.
    #[serde(default = "default_spread")]
    pub latency_spread: String,
    pub latency_sigma: Option<f64>,
    pub latency_shape: Option<f64>,
    pub latency_min: Option<Dur>,
    pub latency_max: Option<Dur>,
    /// Region × region mean latency in milliseconds (row = sender's region).
    pub latency_matrix_ms: Option<Vec<Vec<f64>>>,
    pub upload: Option<Rate>,
    pub download: Option<Rate>,
    #[serde(default)]
    pub loss: f64,
    /// What a loss does: drop | retransmit.
    pub loss_mode: Option<String>,
    /// The first retransmission timeout (with loss_mode = "retransmit").
    pub retransmit_timeout: Option<Dur>,
    #[serde(default)]
    pub duplicate: f64,
    pub duplicate_delay: Option<Dur>,
    pub jitter: Option<Dur>,
    /// Whether announcements and requests use the upload link: uplink | latency-only.
    pub control_messages: Option<String>,
    /// Added to the latency of every announcement and request.
    pub control_delay: Option<Dur>,
    /// Added to every transfer on the upload link (processing), which it occupies.
    pub transfer_overhead: Option<Dur>,
    #[serde(default)]
    pub regions: Vec<RegionToml>,
    #[serde(default)]
    pub partitions: Vec<PartitionToml>,
    #[serde(default)]
    pub crashes: Vec<CrashToml>,
    pub churn: Option<ChurnToml>,
}

/// `[network.churn]`: nodes crash and restart at random.
#[derive(Deserialize, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct ChurnToml {
    /// Which nodes churn (default: every node).
    pub nodes: Option<Vec<NodeRef>>,
    /// Mean time up between outages.
    pub uptime: Dur,
    /// Mean outage.
    pub downtime: Dur,
    pub from: Option<Dur>,
    /// Outages start before this (default: stop.time).
    pub until: Option<Dur>,
}

fn default_topology() -> String {
    "random-regular".into()
}
fn default_spread() -> String {
    "constant".into()
}

#[derive(Deserialize, Clone, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct HashPowerToml {
    pub dist: Option<String>,
    /// Nodes 0..miners mine (default: every node).
    pub miners: Option<i64>,
    #[serde(default)]
    pub shares: Vec<f64>,
    pub mean: Option<f64>,
    pub sd: Option<f64>,
    pub shape: Option<f64>,
    pub floor: Option<f64>,
    /// Scheduled changes of some nodes' hash power.
    #[serde(default)]
    pub changes: Vec<HashChangeToml>,
}

#[derive(Deserialize, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct HashChangeToml {
    pub at: Dur,
    /// Ids and "a..b" ranges.
    pub nodes: Vec<NodeRef>,
    /// Their hash power from `at` on, as a multiple of the start's (0: they stop mining).
    pub factor: f64,
}

#[derive(Deserialize, Clone, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct ConsensusToml {
    pub block_interval: Option<Dur>,
    pub block_size: Option<Bytes>,
    pub fork_choice: Option<String>,
    pub tie: Option<String>,
    pub relay: Option<String>,
    pub request_timeout: Option<Dur>,
    pub inv_size: Option<Bytes>,
    pub max_attempts: Option<i64>,
    /// What honest nodes do with a peer that sent an invalid block: ban | ignore.
    pub on_invalid: Option<String>,
    /// Announcements a node need not act on: absorbed | event (same behaviour, more events).
    pub inv_delivery: Option<String>,
    #[serde(default)]
    pub hash_power: HashPowerToml,
    /// Difficulty adjustment (default: a fixed difficulty).
    pub difficulty: Option<DifficultyToml>,
    /// Compact block relay (only with relay = "compact").
    pub compact: Option<CompactToml>,
}

#[derive(Deserialize, Clone, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct DifficultyToml {
    /// fixed | epoch | asert.
    pub retarget: Option<String>,
    /// Blocks per epoch (epoch only; default 2016).
    pub every: Option<i64>,
    /// At most this factor up or down per retarget (epoch only; default 4).
    pub clamp: Option<f64>,
    /// How far behind schedule halves the difficulty (asert only; default 2 days).
    pub half_life: Option<Dur>,
}

#[derive(Deserialize, Clone, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct CompactToml {
    /// Share of nodes that speak it.
    pub usage: Option<f64>,
    pub size: Option<Bytes>,
    /// Probability that rebuilding a compact block from the mempool fails.
    pub failure: Option<f64>,
    /// After a failure, the part of the block fetched: [fraction, weight] pairs (integer
    /// weights).
    pub missing: Option<Vec<(f64, u64)>>,
}

#[derive(Deserialize, Clone, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct MetricsToml {
    /// Time between samples of the consistency time series (default: block interval / 10).
    pub sample_interval: Option<Dur>,
}
