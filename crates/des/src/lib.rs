//! `des`: the deterministic discrete-event kernel of chainsim.
//!
//! Integer simulated time ([`SimTime`], [`SimDuration`]), an event queue totally ordered by
//! (time, insertion sequence), O(1) cancellable timers, named ChaCha random streams derived from
//! one seed, a SHA-256 trace hash over processed events, and the node API (nodes react to events
//! and push commands into an outbox; they never act on the world directly).
//!
//! This crate knows nothing of blockchains, networks or files, and does no IO.

pub mod kernel;
pub mod names;
pub mod node;
pub mod queue;
pub mod rng;
pub mod time;
pub mod trace;

pub use kernel::{Event, Kernel, Limits, StopReason};
pub use node::{Command, Ctx, Message, Node, NodeId, Outbox, TimerId, TimerTable};
pub use queue::EventQueue;
pub use rng::{LazyStream, RngFactory, SimRng};
pub use time::{ParseDurationError, SimDuration, SimTime};
pub use trace::{TraceHasher, TraceRecord, TraceSink};
