//! `metrics`: what the replicas actually did, measured online.
//!
//! The [`Observer`] is fed replica notes (accepted block, tip change, rejection), block creations,
//! crashes and disturbances; it keeps per-block counters, never an event log, and yields
//! [`ChainMetrics`] and a time series at the end. [`stats`] has the summary statistics.
//!
//! Does no IO.

pub mod observer;
pub mod stats;
pub mod theory;

pub use observer::{
    AttackReport, BlockRecord, ChainMetrics, ClassShare, MinerShare, Observer, REACH_STEPS,
    ReachCurve, Recovery, Reorgs, Sample,
};
pub use stats::{Dist, MeanCi, binomial_se, percentile_sorted, t975};
