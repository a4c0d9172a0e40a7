//! A run's event trace, record by record: what `chainsim trace` writes out. The records are the
//! ones the trace hash is computed over (`des::trace`), so a trace and the hash cannot disagree;
//! [`describe`] names what each one is.

use crate::driver::{mine_generation, ATTACK, HASH_CHANGE, MINE_GEN, SAMPLE, STOP_MINING};
use crate::{run_inner, RunConfig, RunError, RunOutput};
use chain::MsgKind;
use des::kernel::{TRACE_CONTROL, TRACE_MSG_BASE, TRACE_OUTCOME, TRACE_TIMER};
use des::{Message, TraceRecord, TraceSink};

/// Runs `cfg` with `seed` as [`crate::run_one`] does (same events, same hash), handing every
/// traced record to `sink` as it happens.
pub fn run_traced(cfg: &RunConfig, seed: u64, sink: TraceSink) -> Result<RunOutput, RunError> {
    run_inner(cfg, seed, None, Some(sink))
}

/// What one trace record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Described {
    /// `message` (src → dst), `timer` (a replica's: src = dst = the replica), `control` (the
    /// runner's or the network's), or `created` (a block mined, an attacker's invalid ones
    /// too: src = the miner, dst = its parent block).
    pub event: &'static str,
    /// The message kind (`inv`, `getdata`, `block`, …); for timers `wake` or
    /// `request-timeout`; for controls `mine` (a win of the mining race, which may have been
    /// abandoned), `sample`, `stop-mining`, `hash-change`, `attack-start`,
    /// `attack-end`, `partition-start`, `partition-heal`, `crash` or `restart`; `mined` for
    /// created blocks.
    pub kind: &'static str,
    /// The block a message, timer or creation is about.
    pub block: Option<u32>,
    /// The nodes it happens at: a message's sender and receiver, a timer's replica, a block's
    /// miner, a crash's or restart's node (given the run's [`crash_nodes`]; none for other
    /// controls).
    pub nodes: [Option<u32>; 2],
}

/// The node of each of a run's outages, by the index its crash and restart events carry.
pub fn crash_nodes(cfg: &RunConfig, seed: u64) -> Vec<u32> {
    (crate::outages(cfg, &des::RngFactory::new(seed)).iter())
        .map(|c| c.node.0)
        .collect()
}

/// Names a record of a chainsim run's trace.
pub fn describe(r: &TraceRecord) -> Described {
    describe_in(r, &[])
}

/// [`describe`], with the run's [`crash_nodes`]: a crash or restart is at its node.
pub fn describe_in(r: &TraceRecord, crash_nodes: &[u32]) -> Described {
    let block = Some(r.payload as u32);
    match r.kind {
        TRACE_TIMER => {
            let (kind, b) = chain::timer_meaning(r.payload);
            Described {
                event: "timer",
                kind,
                block: Some(b.0),
                nodes: [Some(r.src), None],
            }
        }
        TRACE_CONTROL => Described {
            event: "control",
            kind: control_meaning(r.payload),
            block: None,
            nodes: match net::net_control_meaning(r.payload) {
                Some(("crash" | "restart", i)) => [crash_nodes.get(i).copied(), None],
                _ => [None, None],
            },
        },
        TRACE_OUTCOME => Described {
            event: "created",
            kind: "mined",
            block,
            nodes: [Some(r.src), None],
        },
        k => Described {
            event: "message",
            kind: if k >= TRACE_MSG_BASE {
                chain::ChainMsg::kind_name(k - TRACE_MSG_BASE)
            } else {
                "other"
            },
            block,
            nodes: [Some(r.src), Some(r.dst)],
        },
    }
}

/// What a control tag means (the driver's tags, then the network's).
fn control_meaning(tag: u64) -> &'static str {
    if let Some((name, _)) = net::net_control_meaning(tag) {
        return name;
    }
    if mine_generation(tag).is_some() {
        return "mine";
    }
    match tag {
        SAMPLE => "sample",
        STOP_MINING => "stop-mining",
        t if (HASH_CHANGE..MINE_GEN).contains(&t) => "hash-change",
        t if t >= ATTACK && (t - ATTACK) % 2 == 0 => "attack-start",
        t if t >= ATTACK => "attack-end",
        _ => "other",
    }
}

/// The control kinds, by name, as [`describe`] gives them (for filters).
pub fn control_kinds() -> [&'static str; 10] {
    [
        "mine",
        "sample",
        "stop-mining",
        "hash-change",
        "attack-start",
        "attack-end",
        "partition-start",
        "partition-heal",
        "crash",
        "restart",
    ]
}

/// The message kinds, by name, as [`describe`] gives them (for checks and filters).
pub fn message_kinds() -> impl Iterator<Item = &'static str> {
    MsgKind::ALL.iter().map(|k| k.name())
}

#[cfg(test)]
mod tests {
    use super::*;
    use des::SimTime;
    use std::sync::{Arc, Mutex};

    fn traced(cfg: &RunConfig, seed: u64) -> (RunOutput, Vec<TraceRecord>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let out =
            run_traced(cfg, seed, Box::new(move |r| log.lock().unwrap().push(*r))).expect("run");
        let seen = std::mem::take(&mut *seen.lock().unwrap());
        (out, seen)
    }

    /// The trace is the hashed sequence (hashing it again gives the run's hash), watching it
    /// changes nothing, and what `describe` counts agrees with the run's own accounting:
    /// blocks created, events, message events by kind, the partition's start and end, requests
    /// timing out under loss.
    #[test]
    fn the_trace_is_what_was_hashed_and_describes_the_run() {
        let mut cfg = RunConfig {
            stop_blocks: Some(30),
            ..RunConfig::quickstart()
        };
        for cut in [false, true] {
            if cut {
                // Lost requests time out, too.
                cfg.loss = 0.2;
                cfg.partitions.push(crate::PartitionCfg {
                    groups: vec![(0..10).collect()],
                    from: des::SimDuration::from_secs(60),
                    until: Some(des::SimDuration::from_secs(600)),
                });
            }
            let plain = crate::run_one(&cfg, 5).expect("run");
            let (out, recs) = traced(&cfg, 5);
            assert_eq!(out, plain, "watching the trace changed the run");
            let mut h = des::TraceHasher::new();
            for r in &recs {
                h.record(r.time, r.kind, r.src, r.dst, r.payload);
            }
            assert_eq!(h.hex(), out.trace_hash);
            assert!(recs.windows(2).all(|w| w[0].time <= w[1].time));
            let end = SimTime::ZERO + des::SimDuration::from_secs_f64(out.sim_time_s);
            assert!(recs.iter().all(|r| r.time <= end));

            let all: Vec<Described> = recs.iter().map(describe).collect();
            let count = |e: &str, k: &str| {
                all.iter().filter(|d| d.event == e && d.kind == k).count() as u64
            };
            assert!(
                all.iter().all(|d| d.kind != "other"),
                "every record is named"
            );
            assert_eq!(count("created", "mined"), out.metrics.blocks_mined);
            let events = all.iter().filter(|d| d.event != "created").count() as u64;
            assert_eq!(events, out.events);
            assert!(count("control", "mine") >= out.metrics.blocks_mined);
            assert!(count("control", "sample") > 1);
            if cut {
                assert!(count("timer", "request-timeout") > 0);
            }
            assert_eq!(count("control", "partition-start"), u64::from(cut));
            assert_eq!(count("control", "partition-heal"), u64::from(cut));
            let messages = all.iter().filter(|d| d.event == "message").count() as u64;
            assert_eq!(
                messages, out.net.delivered,
                "no crashes: every message event lands"
            );
            if !cut {
                // Nothing is lost: every message sent is an event, but absorbed announcements.
                for kind in message_kinds() {
                    let sent = out.net.by_kind.get(kind).copied().unwrap_or(0);
                    let absorbed = if kind == "inv" { out.net.absorbed } else { 0 };
                    assert_eq!(count("message", kind) + absorbed, sent, "{kind}");
                }
                assert!(count("message", "getdata") > 0);
            }
        }
    }
}
