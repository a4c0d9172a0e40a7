//! `chainsim trace`: a run's events as CSV, one row per record of its trace hash, optionally
//! narrowed to some nodes, blocks, kinds or a time window.

use des::{SimTime, TraceRecord};
use runner::trace::{describe_in, Described};
use serde::Serialize;
use std::io::Write;

/// Which records to keep. Each list that is not empty must match (a record at any of its
/// nodes, about any of its blocks, of any of its kinds), and the time must be in the window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TraceFilter {
    pub nodes: Vec<u32>,
    pub blocks: Vec<u32>,
    /// Event (`message`, `timer`, `control`, `created`) or kind names (`inv`, `wake`, `mine`, …).
    pub kinds: Vec<String>,
    pub from: Option<SimTime>,
    pub until: Option<SimTime>,
}

impl TraceFilter {
    pub fn keeps(&self, r: &TraceRecord, d: &Described) -> bool {
        (self.nodes.is_empty() || d.nodes.iter().flatten().any(|n| self.nodes.contains(n)))
            && (self.blocks.is_empty() || d.block.is_some_and(|b| self.blocks.contains(&b)))
            && (self.kinds.is_empty() || self.kinds.iter().any(|k| k == d.event || k == d.kind))
            && self.from.is_none_or(|t| r.time >= t)
            && self.until.is_none_or(|t| r.time <= t)
    }
}

/// Every name a [`TraceFilter::kinds`] entry may take.
pub fn kind_names() -> Vec<&'static str> {
    let mut names = vec!["message", "timer", "control", "created"];
    names.extend(runner::trace::message_kinds());
    names.extend(["wake", "request-timeout", "mined"]);
    names.extend(runner::trace::control_kinds());
    let mut unique = vec![];
    for n in names {
        if !unique.contains(&n) {
            unique.push(n);
        }
    }
    unique
}

const HEADER: [&str; 9] = [
    "t_ns", "t_s", "code", "src", "dst", "payload", "event", "kind", "block",
];

/// One CSV row (in [`HEADER`]'s order): the hashed fields as they are, then what they mean.
#[derive(Serialize)]
struct Row {
    t_ns: u64,
    t_s: String,
    code: u8,
    src: u32,
    dst: u32,
    payload: u64,
    event: &'static str,
    kind: &'static str,
    block: Option<u32>,
}

/// Writes the records a filter keeps as CSV, counting what it saw.
pub struct TraceCsv<W: Write> {
    out: csv::Writer<W>,
    filter: TraceFilter,
    /// Records seen, and of those written.
    pub seen: u64,
    pub written: u64,
    /// The first write that failed (writing stops there).
    pub error: Option<csv::Error>,
    /// The run's outages' nodes (`runner::trace::crash_nodes`), so `--node` finds a node's
    /// crashes and restarts.
    crash_nodes: Vec<u32>,
}

impl<W: Write> TraceCsv<W> {
    /// Starts the CSV with its header (there even if no row follows).
    pub fn new(out: W, filter: TraceFilter) -> Self {
        let mut out = csv::WriterBuilder::new()
            .has_headers(false)
            .from_writer(out);
        let error = out.write_record(HEADER).err();
        TraceCsv {
            out,
            filter,
            seen: 0,
            written: 0,
            error,
            crash_nodes: vec![],
        }
    }

    /// With the run's outages' nodes (`runner::trace::crash_nodes`).
    pub fn with_crash_nodes(mut self, nodes: Vec<u32>) -> Self {
        self.crash_nodes = nodes;
        self
    }

    pub fn record(&mut self, r: &TraceRecord) {
        self.seen += 1;
        let d = describe_in(r, &self.crash_nodes);
        if self.error.is_some() || !self.filter.keeps(r, &d) {
            return;
        }
        let t = r.time.as_nanos();
        let row = Row {
            t_ns: t,
            t_s: format!("{}.{:09}", t / 1_000_000_000, t % 1_000_000_000),
            code: r.kind,
            src: r.src,
            dst: r.dst,
            payload: r.payload,
            event: d.event,
            kind: d.kind,
            block: d.block,
        };
        match self.out.serialize(row) {
            Ok(()) => self.written += 1,
            Err(e) => self.error = Some(e),
        }
    }

    /// The writer, flushed; the first error if any write failed.
    pub fn finish(self) -> Result<W, csv::Error> {
        if let Some(e) = self.error {
            return Err(e);
        }
        self.out.into_inner().map_err(|e| e.into_error().into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use des::kernel::{TRACE_CONTROL, TRACE_MSG_BASE, TRACE_OUTCOME, TRACE_TIMER};
    use runner::trace::describe;

    fn rec(t: u64, kind: u8, src: u32, dst: u32, payload: u64) -> TraceRecord {
        TraceRecord {
            time: SimTime::from_nanos(t),
            kind,
            src,
            dst,
            payload,
        }
    }

    fn sample() -> Vec<TraceRecord> {
        vec![
            rec(0, TRACE_CONTROL, 0, 0, runner::driver::SAMPLE),
            rec(1_500_000_000, TRACE_OUTCOME, 3, 0, 1),
            rec(1_600_000_001, TRACE_MSG_BASE, 3, 4, 1),
            rec(1_700_000_000, TRACE_MSG_BASE + 1, 4, 3, 1),
            rec(7_000_000_000, TRACE_TIMER, 5, 5, 2),
        ]
    }

    fn csv_of(filter: TraceFilter) -> String {
        let mut w = TraceCsv::new(vec![], filter);
        for r in sample() {
            w.record(&r);
        }
        assert_eq!(w.seen, 5);
        String::from_utf8(w.finish().unwrap()).unwrap()
    }

    #[test]
    fn rows_carry_the_hashed_fields_and_their_meaning() {
        let text = csv_of(TraceFilter::default());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "t_ns,t_s,code,src,dst,payload,event,kind,block");
        assert_eq!(lines[1], "0,0.000000000,2,0,0,2,control,sample,");
        assert_eq!(lines[2], "1500000000,1.500000000,3,3,0,1,created,mined,1");
        assert_eq!(lines[3], "1600000001,1.600000001,16,3,4,1,message,inv,1");
        assert_eq!(
            lines[4],
            "1700000000,1.700000000,17,4,3,1,message,getdata,1"
        );
        assert_eq!(
            lines[5],
            "7000000000,7.000000000,1,5,5,2,timer,request-timeout,2"
        );
        assert_eq!(lines.len(), 6);
    }

    #[test]
    fn filters_narrow_by_node_block_kind_and_time() {
        let rows = |f: TraceFilter| csv_of(f).lines().count() - 1;
        let f = TraceFilter::default;
        assert_eq!(
            rows(TraceFilter {
                nodes: vec![4],
                ..f()
            }),
            2
        );
        assert_eq!(
            rows(TraceFilter {
                nodes: vec![3],
                ..f()
            }),
            3
        );
        assert_eq!(
            rows(TraceFilter {
                blocks: vec![2],
                ..f()
            }),
            1
        );
        assert_eq!(
            rows(TraceFilter {
                kinds: vec!["message".into()],
                ..f()
            }),
            2
        );
        assert_eq!(
            rows(TraceFilter {
                kinds: vec!["getdata".into(), "sample".into()],
                ..f()
            }),
            2
        );
        let from = Some(SimTime::from_nanos(1_600_000_001));
        let until = Some(SimTime::from_nanos(1_700_000_000));
        assert_eq!(rows(TraceFilter { from, until, ..f() }), 2);
        // Every list must match.
        assert_eq!(
            rows(TraceFilter {
                nodes: vec![3],
                blocks: vec![2],
                ..f()
            }),
            0
        );
        assert_eq!(
            rows(TraceFilter {
                nodes: vec![3],
                kinds: vec!["inv".into()],
                ..f()
            }),
            1
        );
    }

    /// Given the run's outages' nodes, `--node` finds a node's crashes and restarts (their
    /// records carry only the outage's index); without them, no node is theirs.
    #[test]
    fn a_nodes_crashes_and_restarts_are_its_records() {
        let tag = |kind: u64, i: u64| net::NET_CONTROL | (kind << 32) | i;
        let records = [
            rec(1_000, TRACE_CONTROL, 0, 0, tag(2, 1)), // crash of outage 1
            rec(2_000, TRACE_CONTROL, 0, 0, tag(3, 1)), // its restart
            rec(3_000, TRACE_CONTROL, 0, 0, tag(2, 0)), // crash of outage 0
        ];
        let filter = TraceFilter {
            nodes: vec![7],
            ..TraceFilter::default()
        };
        let rows = |nodes: Vec<u32>| {
            let mut w = TraceCsv::new(vec![], filter.clone()).with_crash_nodes(nodes);
            for r in &records {
                w.record(r);
            }
            let out = String::from_utf8(w.finish().unwrap()).unwrap();
            out.lines().skip(1).map(String::from).collect::<Vec<_>>()
        };
        let kept = rows(vec![5, 7]);
        assert_eq!(kept.len(), 2, "{kept:?}");
        assert!(kept[0].ends_with("control,crash,") && kept[1].ends_with("control,restart,"));
        assert!(rows(vec![]).is_empty());
    }

    #[test]
    fn every_described_kind_is_a_filter_name() {
        let names = kind_names();
        for r in sample() {
            let d = describe(&r);
            assert!(names.contains(&d.event) && names.contains(&d.kind), "{d:?}");
        }
        for k in [
            "inv",
            "blocktxn",
            "wake",
            "mine",
            "partition-heal",
            "attack-end",
        ] {
            assert!(names.contains(&k), "{k}");
        }
    }
}
