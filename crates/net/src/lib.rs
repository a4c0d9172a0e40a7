//! `net`: the simulated network of chainsim.
//!
//! Topologies (complete, ring, random regular, Erdős–Rényi, Watts–Strogatz, Barabási–Albert,
//! regional), link latency and bandwidth with per-sender upload queues, faults as an ordered chain
//! of rules (crash, partitions, loss, duplication, jitter, pluggable link rules), accounting of
//! everything done to messages, and the event loop that ties nodes, kernel and network together.
//!
//! Knows nothing of blockchains or files; does no IO.

pub mod faults;
pub mod link;
pub mod network;
pub mod sim;
pub mod testkit;
pub mod topology;

pub use faults::{
    Crash, Isolate, LinkAction, LinkRule, LossMode, MAX_RETRANSMISSIONS, MessageView, Misbehave,
    Partition, RTO_MAX, Rule, Verdict,
};
pub use link::{Bandwidth, Latency, LatencySampler, Spread};
pub use network::{ControlPath, LinkCosts, NetConfig, NetStats, Network, Transit};
pub use sim::{Driver, NET_CONTROL, NetEvent, World, net_control_meaning, run};
pub use topology::{DegreeDist, Topology, TopologyError, TopologyKind, assign_regions};
