//! The results folder: per-run records (written atomically as each run finishes, which is what
//! makes an interrupted sweep resumable), time series, per-block records, and the summary.

use crate::ReportError;
use metrics::{BlockRecord, ChainMetrics, MeanCi, ReachCurve, Sample};
use runner::{NetSummary, RunOutput};
use scenario::{Plan, RunSpec};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Writes `bytes` to `path` atomically: a temporary file in the same folder, then a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    let mut f = AtomicFile::create(path)?;
    f.write_all(bytes).map_err(f.io())?;
    f.commit()
}

/// A file written as it goes and published whole: it is written to a temporary file in the
/// same folder, which [`Self::commit`] renames over `path`. Dropped without a commit (an
/// error, a failed check), the temporary file is removed and `path` is left as it was.
pub struct AtomicFile {
    path: PathBuf,
    tmp: PathBuf,
    file: Option<std::io::BufWriter<std::fs::File>>,
}

impl AtomicFile {
    pub fn create(path: &Path) -> Result<AtomicFile, ReportError> {
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(io_error(dir))?;
        let tmp = dir.join(format!(
            ".{}.tmp",
            path.file_name().and_then(|s| s.to_str()).unwrap_or("out")
        ));
        let file = std::fs::File::create(&tmp).map_err(io_error(&tmp))?;
        Ok(AtomicFile {
            path: path.to_path_buf(),
            tmp,
            file: Some(std::io::BufWriter::with_capacity(1 << 16, file)),
        })
    }

    /// Turns a failed write into an error naming the file being written.
    pub fn io(&self) -> impl FnOnce(std::io::Error) -> ReportError + 'static {
        io_error(&self.tmp)
    }

    /// Flushes the file and puts it in place.
    pub fn commit(mut self) -> Result<(), ReportError> {
        let file = self.file.take().expect("committed once");
        file.into_inner()
            .map_err(|e| io_error(&self.tmp)(e.into_error()))?;
        std::fs::rename(&self.tmp, &self.path).map_err(io_error(&self.path))
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.file.as_mut().expect("not committed").write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.file.as_mut().expect("not committed").flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> ReportError + 'static {
    let path = path.to_path_buf();
    move |source| ReportError::Io { path, source }
}

/// Measured metrics of a run plus its cost.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunMetrics {
    #[serde(flatten)]
    pub chain: ChainMetrics,
    pub events: u64,
    pub messages: u64,
    pub bytes_sent: u64,
    pub sim_time_s: f64,
    /// Wall-clock seconds (the only field that differs between identical runs).
    pub wall_time_s: f64,
    pub tie_break_blocks: u64,
    pub mining_stopped_s: Option<f64>,
    /// Why no hash power was left for good (`crashes`, `hash-power-changes`,
    /// `crashes-and-hash-power-changes`), if that happened: before mining's stop it stopped
    /// mining early (`no-hash-power`); after it, no tie-break block could come.
    #[serde(default)]
    pub starved_by: Option<String>,
    /// The last metrics sample at which the network was still busy (messages on their way,
    /// node timers set, a partition or crash change to come).
    #[serde(default)]
    pub busy_until_s: Option<f64>,
    /// The mean wait for the next block at the end (the difficulty then, the hash power of the
    /// nodes up); none if they have no hash power.
    #[serde(default)]
    pub next_block_wait_s: Option<f64>,
}

/// One run's record: `runs/<id>.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub id: String,
    pub point: usize,
    pub replicate: u32,
    pub params: BTreeMap<String, toml::Value>,
    pub seed: u64,
    pub scenario_sha256: String,
    pub trace_hash: String,
    pub stop_reason: String,
    pub metrics: RunMetrics,
    pub network: NetSummary,
    pub propagation_curves: Vec<ReachCurve>,
}

impl RunRecord {
    pub fn new(plan: &Plan, spec: &RunSpec, out: &RunOutput, wall: f64) -> Self {
        RunRecord {
            id: spec.id.clone(),
            point: spec.point,
            replicate: spec.replicate,
            params: plan.points[spec.point].params.clone(),
            seed: spec.seed,
            scenario_sha256: plan.sha256.clone(),
            trace_hash: out.trace_hash.clone(),
            stop_reason: out.stop_reason.to_string(),
            metrics: RunMetrics {
                chain: out.metrics.clone(),
                events: out.events,
                messages: out.net.messages,
                bytes_sent: out.net.bytes,
                sim_time_s: out.sim_time_s,
                wall_time_s: wall,
                tie_break_blocks: out.tie_break_blocks,
                mining_stopped_s: out.mining_stopped_s,
                starved_by: out.starved_by.map(|s| s.to_string()),
                busy_until_s: out.busy_until_s,
                next_block_wait_s: out.next_block_wait_s,
            },
            network: out.net.clone(),
            propagation_curves: out.reach.clone(),
        }
    }
}

/// Per parameter point: mean and 95 % CI over replicates of the main metrics.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PointSummary {
    pub point: usize,
    pub params: BTreeMap<String, toml::Value>,
    pub replicates: usize,
    pub metrics: BTreeMap<String, MeanCi>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub scenario: String,
    pub description: String,
    pub scenario_sha256: String,
    pub chainsim_version: String,
    pub seed: u64,
    pub replicates: u32,
    pub runs: Vec<RunRecord>,
    pub points: Vec<PointSummary>,
}

/// The sum, or NaN for no values (the empty float sum is −0.0, which would print as "-0").
fn sum_or_nan(xs: impl Iterator<Item = f64>) -> f64 {
    xs.fold(f64::NAN, |acc, x| if acc.is_nan() { x } else { acc + x })
}

/// The metrics aggregated per point, by name.
pub fn point_metrics(r: &RunRecord) -> Vec<(&'static str, f64)> {
    let m = &r.metrics.chain;
    vec![
        ("fork_rate", m.fork_rate),
        ("predicted_fork_rate", m.predicted_fork_rate),
        ("stale_blocks", m.stale_blocks as f64),
        ("main_chain_length", m.main_chain_length as f64),
        ("convergence_time_mean_s", m.convergence_time_s.mean),
        ("convergence_time_p90_s", m.convergence_time_s.p90),
        ("propagation_p50_s", m.propagation_s.p50),
        ("propagation_p90_s", m.propagation_s.p90),
        ("exposure_mean_s", m.exposure_s.mean),
        ("main_interval_mean_s", m.main_interval_s.mean),
        ("main_interval_p90_s", m.main_interval_s.p90),
        ("final_difficulty", m.final_difficulty),
        ("honest_online_mean", m.honest_online_mean),
        ("honest_outages", m.honest_outages as f64),
        ("reorgs", m.reorgs.count as f64),
        ("reorg_max_depth", f64::from(m.reorgs.max_depth)),
        ("chain_quality", m.chain_quality),
        ("honest_fork_rate", m.honest_fork_rate),
        // NaN (left out of the point summary) where there is no such attacker.
        (
            "attacker_share",
            sum_or_nan(m.attacks.iter().map(|a| a.main_share)),
        ),
        (
            "double_spend_success_rate",
            sum_or_nan(
                m.attacks
                    .iter()
                    .filter(|a| a.strategy == "double-spend")
                    .map(|a| a.success_rate),
            ),
        ),
        ("eclipsed_divergence_s", m.eclipsed_divergence_s),
        (
            "consistency_during_attack",
            m.attacks.first().map_or(f64::NAN, |a| a.during_consistency),
        ),
        (
            "prefix_depth_max_during_attack",
            m.attacks
                .first()
                .map_or(f64::NAN, |a| f64::from(a.during_prefix_depth_max)),
        ),
        ("rejected_blocks", m.rejected_blocks as f64),
        ("fetches_abandoned", m.fetches_abandoned as f64),
        (
            "replicas_missing_abandoned",
            f64::from(m.replicas_missing_abandoned),
        ),
        ("replicas_fetching", f64::from(m.replicas_fetching)),
        ("invalid_bytes_received", m.invalid_bytes_received as f64),
        ("upload_backlog_s", r.network.upload_backlog_s),
        ("in_flight_s", r.network.in_flight_s),
        (
            "recovery_after_attack_s",
            m.recovery
                .iter()
                .find(|r| r.after == "attack ended")
                .and_then(|r| r.converged_after_s)
                .unwrap_or(f64::NAN),
        ),
        ("events", r.metrics.events as f64),
    ]
}

pub fn summarise(plan: &Plan, runs: Vec<RunRecord>) -> Summary {
    let points = plan
        .points
        .iter()
        .map(|p| {
            let mine: Vec<&RunRecord> = runs.iter().filter(|r| r.point == p.index).collect();
            let mut metrics = BTreeMap::new();
            if let Some(first) = mine.first() {
                for (i, (name, _)) in point_metrics(first).into_iter().enumerate() {
                    // NaN marks "does not apply" (e.g. no attack ended): left out.
                    let xs: Vec<f64> = mine
                        .iter()
                        .map(|r| point_metrics(r)[i].1)
                        .filter(|x| x.is_finite())
                        .collect();
                    if !xs.is_empty() {
                        metrics.insert(name.to_string(), MeanCi::of(&xs));
                    }
                }
            }
            PointSummary {
                point: p.index,
                params: p.params.clone(),
                replicates: mine.len(),
                metrics,
            }
        })
        .collect();
    Summary {
        scenario: plan.name.clone(),
        description: plan.description.clone(),
        scenario_sha256: plan.sha256.clone(),
        chainsim_version: VERSION.to_string(),
        seed: plan.seed,
        replicates: plan.replicates,
        runs,
        points,
    }
}

pub struct Layout {
    pub dir: PathBuf,
}

impl Layout {
    pub fn scenario(&self) -> PathBuf {
        self.dir.join("scenario.toml")
    }
    pub fn meta(&self) -> PathBuf {
        self.dir.join("scenario.meta.json")
    }
    pub fn run(&self, id: &str) -> PathBuf {
        self.dir.join("runs").join(format!("{id}.json"))
    }
    pub fn timeseries(&self, id: &str) -> PathBuf {
        self.dir.join("timeseries").join(format!("{id}.csv"))
    }
    pub fn blocks(&self, id: &str) -> PathBuf {
        self.dir.join("blocks").join(format!("{id}.csv"))
    }
    pub fn summary(&self) -> PathBuf {
        self.dir.join("summary.json")
    }
    /// `summary.json`'s per-point table, flat (see [`points_table`]).
    pub fn points_table(&self) -> PathBuf {
        self.dir.join("points.csv")
    }
    /// `summary.json`'s per-run table, flat (see [`runs_table`]).
    pub fn runs_table(&self) -> PathBuf {
        self.dir.join("runs.csv")
    }
    pub fn figures(&self) -> PathBuf {
        self.dir.join("figures")
    }
    pub fn report(&self) -> PathBuf {
        self.dir.join("report.html")
    }
}

/// `scenario.meta.json`: what the exact input was and how it was run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    pub scenario: String,
    pub scenario_sha256: String,
    pub chainsim_version: String,
    pub seed: u64,
}

/// A completed run's record, if present, readable, and of this exact scenario and seed.
pub fn completed(layout: &Layout, plan: &Plan, spec: &RunSpec) -> Option<RunRecord> {
    let text = std::fs::read_to_string(layout.run(&spec.id)).ok()?;
    let r: RunRecord = serde_json::from_str(&text).ok()?;
    let files = layout.timeseries(&spec.id).exists() && layout.blocks(&spec.id).exists();
    (files && r.scenario_sha256 == plan.sha256 && r.seed == spec.seed && r.id == spec.id)
        .then_some(r)
}

/// A parameter's value as a table cell: strings bare, everything else as TOML writes it.
fn param_cell(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        v => v.to_string(),
    }
}

/// A number as a table cell: blank for NaN (a metric that does not apply).
fn num_cell(x: f64) -> String {
    if x.is_nan() {
        String::new()
    } else {
        x.to_string()
    }
}

/// The swept keys, in the order the points name them.
fn param_keys(s: &Summary) -> Vec<String> {
    let mut keys: Vec<String> = vec![];
    for k in s.points.iter().flat_map(|p| p.params.keys()) {
        if !keys.contains(k) {
            keys.push(k.clone());
        }
    }
    keys
}

/// Writes header and rows as CSV into memory.
pub(crate) fn table(header: Vec<String>, rows: Vec<Vec<String>>) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(vec![]);
    for r in std::iter::once(header).chain(rows) {
        w.write_record(&r)
            .expect("writing CSV into memory cannot fail");
    }
    w.into_inner().expect("an in-memory writer cannot fail")
}

/// `points.csv`: one row per parameter point — `point`, the swept keys, `replicates`, then
/// for each metric of [`point_metrics`] its `_mean`, `_ci95` (half-width) and `_n` (replicates
/// it applied to; blank cells where it applied to none).
pub fn points_table(s: &Summary) -> Vec<u8> {
    let keys = param_keys(s);
    let names: Vec<&str> = s.runs.first().map_or(vec![], |r| {
        point_metrics(r).into_iter().map(|(n, _)| n).collect()
    });
    let mut header: Vec<String> = vec!["point".into()];
    header.extend(keys.iter().cloned());
    header.push("replicates".into());
    for n in &names {
        header.extend([format!("{n}_mean"), format!("{n}_ci95"), format!("{n}_n")]);
    }
    let rows = (s.points.iter())
        .map(|p| {
            let mut row = vec![p.point.to_string()];
            row.extend(
                keys.iter()
                    .map(|k| p.params.get(k).map(param_cell).unwrap_or_default()),
            );
            row.push(p.replicates.to_string());
            for n in &names {
                match p.metrics.get(*n) {
                    Some(m) => row.extend([num_cell(m.mean), num_cell(m.ci95), m.n.to_string()]),
                    None => row.extend([String::new(), String::new(), String::new()]),
                }
            }
            row
        })
        .collect();
    table(header, rows)
}

/// `runs.csv`: one row per run — `id`, `point`, `replicate`, `seed`, the swept keys,
/// `stop_reason`, `trace_hash`, each metric of [`point_metrics`] (blank where it does not
/// apply; `events` is among them), then `messages`, `sim_time_s` and `wall_time_s` (the one
/// column that differs between identical runs).
pub fn runs_table(s: &Summary) -> Vec<u8> {
    let keys = param_keys(s);
    let mut header: Vec<String> = ["id", "point", "replicate", "seed"]
        .map(String::from)
        .to_vec();
    header.extend(keys.iter().cloned());
    header.extend(["stop_reason", "trace_hash"].map(String::from));
    if let Some(r) = s.runs.first() {
        header.extend(point_metrics(r).into_iter().map(|(n, _)| n.to_string()));
    }
    header.extend(["messages", "sim_time_s", "wall_time_s"].map(String::from));
    let rows = (s.runs.iter())
        .map(|r| {
            let mut row = vec![
                r.id.clone(),
                r.point.to_string(),
                r.replicate.to_string(),
                r.seed.to_string(),
            ];
            row.extend(
                keys.iter()
                    .map(|k| r.params.get(k).map(param_cell).unwrap_or_default()),
            );
            row.extend([r.stop_reason.clone(), r.trace_hash.clone()]);
            row.extend(point_metrics(r).into_iter().map(|(_, x)| num_cell(x)));
            let m = &r.metrics;
            row.extend([
                m.messages.to_string(),
                num_cell(m.sim_time_s),
                num_cell(m.wall_time_s),
            ]);
            row
        })
        .collect();
    table(header, rows)
}

/// Rows as CSV with a header (the column names are the fields' names).
pub fn to_csv<T: Serialize>(rows: &[T]) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(vec![]);
    for r in rows {
        w.serialize(r)
            .expect("serialising plain records into memory cannot fail");
    }
    w.into_inner().expect("an in-memory writer cannot fail")
}

/// Reads a CSV written by [`to_csv`]; a bad row is an error naming the file and line.
pub fn read_csv<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Vec<T>, ReportError> {
    let bytes = crate::read(path)?;
    let mut r = csv::Reader::from_reader(bytes.as_slice());
    r.deserialize()
        .map(|row| {
            row.map_err(|e| ReportError::Corrupt {
                path: path.to_path_buf(),
                why: match e.position() {
                    Some(p) => format!("line {}: {}", p.line(), e),
                    None => e.to_string(),
                },
            })
        })
        .collect()
}

/// Writes one run's files: its time series, its block records, then its record (last, so a
/// record on disk means the run's files are complete).
pub fn write_run(layout: &Layout, rec: &RunRecord, out: &RunOutput) -> Result<(), ReportError> {
    write_atomic(&layout.timeseries(&rec.id), &to_csv::<Sample>(&out.samples))?;
    write_atomic(&layout.blocks(&rec.id), &to_csv::<BlockRecord>(&out.blocks))?;
    let json = serde_json::to_vec_pretty(rec).expect("records serialise");
    write_atomic(&layout.run(&rec.id), &json)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Time series written before samples had `online` still read (as all online), so `plot`
    /// redraws older results folders.
    #[test]
    fn timeseries_without_online_still_read() {
        let dir = std::env::temp_dir().join(format!("chainsim-ts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("old.csv");
        std::fs::write(
            &f,
            "t_s,consistency,prefix_depth,tips\n0.0,1.0,0,1\n30.0,0.5,1,2\n",
        )
        .unwrap();
        let rows: Vec<Sample> = read_csv(&f).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!((rows.len(), rows[1].tips, rows[1].online), (2, 2, 1.0));
    }

    /// Regression: a record must read back exactly as written, or resume re-runs completed runs
    /// and `reproduce` cannot read them (a map with integer keys under `flatten` did not).
    #[test]
    fn run_record_round_trips_through_json() {
        let plan = scenario::parse("q", scenario::QUICKSTART).unwrap();
        let mut cfg = plan.points[0].config.clone();
        cfg.stop_blocks = Some(30);
        cfg.block_interval = des::SimDuration::from_secs(5);
        let out = runner::run_one(&cfg, 3).unwrap();
        assert!(out.metrics.reorgs.count > 0, "want a run with reorgs");
        let rec = RunRecord::new(&plan, &plan.runs[0], &out, 0.5);
        let back: RunRecord =
            serde_json::from_str(&serde_json::to_string_pretty(&rec).unwrap()).unwrap();
        assert_eq!(back, rec);

        // Regression: records written before the attack metrics existed must still be readable
        // (`reproduce` on an older results folder failed on the first missing field).
        let mut v = serde_json::to_value(&rec).unwrap();
        let m = v["metrics"].as_object_mut().unwrap();
        for newer in [
            "exposure_s",
            "predicted_fork_rate",
            "honest_fork_rate",
            "invalid_blocks",
            "invalid_bytes_received",
            "eclipsed_divergence_s",
            "attacks",
            "main_interval_s",
            "final_difficulty",
            "next_block_wait_s",
            "honest_outages",
            "honest_online_mean",
        ] {
            assert!(m.remove(newer).is_some(), "{newer}");
        }
        let old: RunRecord = serde_json::from_value(v).unwrap();
        assert_eq!(old.trace_hash, rec.trace_hash);
    }
}
