//! Why a run did not end with its stop condition met, in words: `chainsim run` warns with it,
//! since the figures of such a run describe an unfinished state the summary table does not show.

use crate::RunRecord;
use des::StopReason;

/// What kept run `r` from finishing (still split replicas and, as far as its records tell,
/// why; or the hard limit that cut it off); `None` if it finished (`done`).
pub fn unfinished(r: &RunRecord) -> Option<String> {
    let why = match r.stop_reason.parse::<StopReason>() {
        Ok(StopReason::Done) => return None,
        Ok(StopReason::Unsettled) => {
            let m = &r.metrics.chain;
            let cut = match m.final_honest_groups {
                0 | 1 => String::new(),
                g => format!(
                    " (they are cut into {g} groups that cannot reach each other: crashes, \
                     a partition or bans)"
                ),
            };
            let behind = match m.replicas_missing_abandoned {
                0 => String::new(),
                k => format!(
                    "; {k} of them {} a block they gave up fetching (consensus.max_attempts \
                     requests failed, or nobody was left to ask) that no later block pulled \
                     in: one of the main chain, or under GHOST, where stale blocks weigh \
                     too, any block",
                    if k == 1 { "lacks" } else { "lack" }
                ),
            };
            let fetching = match m.replicas_fetching {
                0 => String::new(),
                k => format!(
                    "; {k} of them {} still fetching, a request awaiting its block or its \
                     consensus.request_timeout",
                    if k == 1 { "was" } else { "were" }
                ),
            };
            let queued = match r.network.upload_backlog_node {
                Some(node) if r.network.upload_backlog_s > 0.0 => format!(
                    "; node {node}'s upload link was still booked {:.0} s past the end \
                     (more was asked of it than its upload bandwidth carries: blocks too \
                     large for it, or requests timing out and asked again while the first \
                     transfers still waited; see network.upload, consensus.block_size and \
                     consensus.request_timeout)",
                    r.network.upload_backlog_s
                ),
                // A swamped link explains the messages still in flight; without one, say
                // that some were.
                _ if r.network.in_flight_s > 0.0 => format!(
                    "; {} still in flight, the last arriving {:.1} s past the end: the \
                     network was still busy (a longer stop.settle lets it finish)",
                    match r.network.in_flight {
                        // Only announcements their receivers absorbed.
                        0 => "announcements were".to_string(),
                        1 => "1 message was".to_string(),
                        n => format!("{n} messages were"),
                    },
                    r.network.in_flight_s
                ),
                _ => String::new(),
            };
            // No tie-break block could come.
            let starved = match starved(r) {
                Some(why) if m.final_tips > 1 => format!(
                    "; no hash power was left for the tie-break block that settles split \
                     replicas ({why})"
                ),
                _ => String::new(),
            };
            // Split replicas, and nothing above to say why: the network may have gone
            // quiet too late for the tie-break block that would settle them.
            let explained = [&cut, &behind, &fetching, &queued, &starved]
                .iter()
                .any(|c| !c.is_empty());
            // The tie-break block may well not have come in the time left: the difficulty
            // had climbed (retargeting), or the hash power fallen, too far, or the wait for
            // it (exponential) was not far below the time left.
            let quiet_since = (r.metrics.busy_until_s.into_iter())
                .chain(r.metrics.mining_stopped_s)
                .fold(0.0, f64::max);
            let quiet = (r.metrics.sim_time_s - quiet_since).max(0.0);
            // The chance of no block in `quiet` when one comes every `wait` on average.
            let missed = |wait: f64| (-quiet / wait).exp();
            let slow = match r.metrics.next_block_wait_s {
                Some(wait)
                    if m.final_tips > 1 && !explained && wait > 0.0 && missed(wait) >= MISS =>
                {
                    format!(
                        "; at the end a block came only every {} on average (difficulty {:.3} \
                         × genesis's, and the hash power of the nodes up), against the {quiet:.0} s \
                         the replicas stayed quiet and split: the tie-break block that settles \
                         them had a {:.0} % chance of not coming in that time{}",
                        match wait / 86_400.0 {
                            d if d >= 2.0 => format!("{d:.0} days"),
                            // Whole seconds (a draw's nanoseconds say nothing here).
                            _ if wait >= 1.0 => {
                                des::SimDuration::from_secs_f64(wait.round()).to_string()
                            }
                            _ => des::SimDuration::from_secs_f64(wait).to_string(),
                        },
                        m.final_difficulty,
                        100.0 * missed(wait),
                        if wait > quiet {
                            " (it was not due yet)"
                        } else {
                            " (a longer stop.settle lets it come)"
                        },
                    )
                }
                _ => String::new(),
            };
            let late = match (r.metrics.busy_until_s, r.metrics.mining_stopped_s) {
                (Some(busy), Some(stop))
                    if busy >= stop && m.final_tips > 1 && !explained && slow.is_empty() =>
                {
                    format!(
                        "; the network was busy until {busy:.0} s, {:.0} s before the end \
                         (messages on their way or requests awaiting their timeout): too \
                         little time for the tie-break block that settles split replicas \
                         (one per consensus.block_interval on average); a longer \
                         stop.settle lets it finish",
                        r.metrics.sim_time_s - busy
                    )
                }
                _ => String::new(),
            };
            // Still nothing: the messages the network lost are the last thing to point at.
            let dropped: Vec<String> = (r.network.dropped.iter())
                .filter(|(_, &n)| n > 0)
                .map(|(rule, n)| format!("{rule} {n}"))
                .collect();
            let lost = match dropped.is_empty() || explained || !late.is_empty() || !slow.is_empty()
            {
                true => String::new(),
                false => format!(
                    "; the network lost {} of {} messages ({}): a replica that lost every \
                     announcement of a block hears of it only through a later block",
                    r.network.dropped.values().sum::<u64>(),
                    r.network.messages,
                    dropped.join(", ")
                ),
            };
            let state = match m.final_tips {
                0 | 1 => "were on one tip, but the network was not yet quiet (messages \
                          on their way, or requests awaiting their timeout)"
                    .to_string(),
                t => format!("were still on {t} tips"),
            };
            format!(
                "the honest replicas {state} when stop.settle ran out after mining \
                 stopped{cut}{behind}{fetching}{queued}{starved}{slow}{late}{lost}"
            )
        }
        Ok(StopReason::NoHashPower) => format!(
            "{}, so mining stopped after {} blocks",
            starved(r).unwrap_or("no hash power was left"),
            r.metrics.chain.blocks_mined
        ),
        Ok(StopReason::TimeLimit) => "it reached stop.max_time".to_string(),
        Ok(StopReason::EventLimit) => "it reached stop.max_events".to_string(),
        Ok(StopReason::Drained) => "nothing was left to simulate".to_string(),
        Err(_) => format!("it ended with {}", r.stop_reason),
    };
    Some(why)
}

/// The chance of no tie-break block in the time left from which that is named as the reason
/// split replicas stayed split.
const MISS: f64 = 0.01;

/// Why the run had no hash power left, in words (records before `starved_by` say nothing).
fn starved(r: &RunRecord) -> Option<&'static str> {
    let by = r.metrics.starved_by.as_deref()?;
    by.parse::<runner::Starved>()
        .ok()
        .map(runner::Starved::says)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RunMetrics;

    /// An unsettled run on `tips` tips that stopped mining at 600 s and ended at 3152 s; the
    /// rest of its record is empty.
    fn unsettled(tips: u32) -> RunRecord {
        let mut r = RunRecord {
            id: "p000-r000".into(),
            point: 0,
            replicate: 0,
            params: Default::default(),
            seed: 1,
            scenario_sha256: String::new(),
            trace_hash: String::new(),
            stop_reason: StopReason::Unsettled.to_string(),
            metrics: RunMetrics {
                chain: Default::default(),
                events: 0,
                messages: 0,
                bytes_sent: 0,
                sim_time_s: 3152.0,
                wall_time_s: 0.0,
                tie_break_blocks: 0,
                mining_stopped_s: Some(600.0),
                starved_by: None,
                busy_until_s: Some(590.0),
                next_block_wait_s: None,
            },
            network: Default::default(),
            propagation_curves: vec![],
        };
        r.metrics.chain.final_tips = tips;
        r
    }

    /// Split replicas whose tie-break block was due only after the settle window (a difficulty
    /// at its top bound, say), or had a fair chance of not coming within it, are told so, with
    /// that chance, not that the network went quiet too late; a block all but sure to come
    /// within the window explains nothing.
    #[test]
    fn a_tie_break_not_yet_due_is_named() {
        let mut r = unsettled(2);
        r.metrics.busy_until_s = Some(700.0);
        r.metrics.next_block_wait_s = Some(10_000.0);
        r.metrics.chain.final_difficulty = 1024.0;
        says(&r, "a block came only every 2h46m40s", "too little time");
        assert!(unfinished(&r).unwrap().contains("difficulty 1024.000"));
        // 2,452 s of quiet against a mean wait of 10,000 s.
        says(
            &r,
            "a 78 % chance of not coming in that time (it was not due yet)",
            "lets it",
        );
        r.metrics.next_block_wait_s = Some(1e9);
        says(&r, "a block came only every 11574 days", "too little time");
        // A mean wait of 1,000 s against 2,452 s of quiet: missed with a chance of 9 %.
        r.metrics.next_block_wait_s = Some(1000.0);
        says(
            &r,
            "a 9 % chance of not coming in that time (a longer",
            "not due",
        );
        // Of 500 s: 0.7 %, too unlikely to be the reason; of 60 s, even less.
        for wait in [500.0, 60.0] {
            r.metrics.next_block_wait_s = Some(wait);
            let w = unfinished(&r).unwrap();
            assert!(!w.contains("a block came only"), "{w}");
        }
        r.metrics.next_block_wait_s = Some(10_000.0);
        r.metrics.chain.final_honest_groups = 2;
        says(&r, "cut into 2 groups", "a block came only");
    }

    /// Asserts that run `r`'s warning says `yes` and not `no`.
    #[track_caller]
    fn says(r: &RunRecord, yes: &str, no: &str) {
        let why = unfinished(r).expect("unfinished");
        assert!(why.contains(yes) && !why.contains(no), "{why}");
    }

    /// Mining that stopped for lack of hash power names why, and split replicas left so are
    /// explained by it (not by the quiet that came too late for a tie-break that could not
    /// come).
    #[test]
    fn no_hash_power_left_names_its_cause() {
        let mut r = unsettled(2);
        r.metrics.busy_until_s = Some(3088.0);
        r.metrics.starved_by = Some(runner::Starved::Changes.to_string());
        says(
            &r,
            "no hash power was left for the tie-break block that settles split replicas \
             (hash power changes left no node with hash power)",
            "busy until",
        );
        r.stop_reason = StopReason::NoHashPower.to_string();
        says(
            &r,
            "hash power changes left no node with hash power, so mining stopped",
            "down",
        );
        r.metrics.starved_by = Some(runner::Starved::Crashes.to_string());
        says(
            &r,
            "every miner was down for good, so mining stopped",
            "changes",
        );
        // A record from before the cause was kept.
        r.metrics.starved_by = None;
        says(&r, "no hash power was left, so mining stopped", "down");
    }

    #[test]
    fn a_run_that_went_quiet_too_late_for_a_tie_break_says_so() {
        let mut r = unsettled(3);
        // Quiet since before mining stopped: nothing to say about it.
        says(&r, "the honest replicas were still on 3 tips when", "busy");
        r.metrics.busy_until_s = Some(3088.0);
        let late = "the network was busy until 3088 s, 64 s before the end";
        says(&r, late, "upload link");
        // Something else explains it: that is said instead.
        r.network.upload_backlog_s = 2.0;
        r.network.upload_backlog_node = Some(7);
        says(
            &r,
            "node 7's upload link was still booked 2 s",
            "busy until",
        );
        // On one tip, the state itself says the network was not yet quiet.
        let mut one = unsettled(1);
        one.metrics.busy_until_s = Some(3150.0);
        says(
            &one,
            "on one tip, but the network was not yet quiet",
            "busy until",
        );
    }

    #[test]
    fn messages_still_in_flight_are_counted_unless_a_swamped_link_explains_them() {
        let mut r = unsettled(2);
        r.metrics.busy_until_s = Some(3152.0);
        r.network.in_flight = 3;
        r.network.in_flight_s = 12.5;
        let flight = "3 messages were still in flight, the last arriving 12.5 s past the end";
        says(&r, flight, "busy until");
        r.network.in_flight = 0;
        says(&r, "; announcements were still in flight", "messages were");
        r.network.upload_backlog_s = 4.0;
        r.network.upload_backlog_node = Some(0);
        says(&r, "upload link", "in flight");
    }

    /// Nothing else to say: the messages the network lost are named, by rule.
    #[test]
    fn lost_messages_are_the_last_resort() {
        let mut r = unsettled(4);
        r.network.messages = 1000;
        r.network.dropped = [("loss", 990), ("partition", 0), ("crash", 3)]
            .map(|(k, n)| (k.to_string(), n))
            .into();
        says(
            &r,
            "the network lost 993 of 1000 messages (crash 3, loss 990)",
            "busy",
        );
        r.metrics.busy_until_s = Some(3088.0);
        says(&r, "busy until 3088 s", "the network lost");
    }

    #[test]
    fn finished_runs_need_no_words_and_limits_are_named() {
        let mut r = unsettled(1);
        r.stop_reason = StopReason::Done.to_string();
        assert_eq!(unfinished(&r), None);
        r.stop_reason = StopReason::EventLimit.to_string();
        assert_eq!(
            unfinished(&r).as_deref(),
            Some("it reached stop.max_events")
        );
    }
}
