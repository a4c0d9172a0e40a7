//! `report`: the results folder of a `chainsim run` and everything drawn from it.
//!
//! [`results`] defines the files (per-run records, time series, per-block records, the summary)
//! and writes them atomically. [`Results::load`] reads a folder back, checking every file, so
//! `chainsim plot DIR` can redraw the [`figures`] and `report.html` ([`html`]) without running
//! anything. Library IO is limited to this crate's results and figure writers.

pub mod figures;
pub mod html;
pub mod plot;
pub mod results;
pub mod trace;
pub mod unfinished;
pub mod validation;

pub use results::{
    completed, point_metrics, read_csv, summarise, to_csv, write_atomic, write_run, AtomicFile,
    Layout, Meta, PointSummary, RunMetrics, RunRecord, Summary, VERSION,
};
pub use unfinished::unfinished;

use metrics::{BlockRecord, Sample};
use scenario::Plan;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    // The cause is the source: `{:#}` (anyhow's chain) prints "path: cause" once.
    #[error("{}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: missing (not a complete chainsim results folder; run `chainsim run` into it first)", path.display())]
    Missing { path: PathBuf },
    #[error("{}: corrupt: {why}", path.display())]
    Corrupt { path: PathBuf, why: String },
    #[error("drawing {figure}: {why}")]
    Plot { figure: String, why: String },
}

impl ReportError {
    /// The folder's content is wrong (as opposed to the machine failing us).
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            ReportError::Missing { .. } | ReportError::Corrupt { .. }
        )
    }
}

/// Reads a file; a missing file is [`ReportError::Missing`].
pub fn read(path: &Path) -> Result<Vec<u8>, ReportError> {
    std::fs::read(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            ReportError::Missing {
                path: path.to_path_buf(),
            }
        } else {
            ReportError::Io {
                path: path.to_path_buf(),
                source,
            }
        }
    })
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, ReportError> {
    serde_json::from_slice(&read(path)?).map_err(|e| ReportError::Corrupt {
        path: path.to_path_buf(),
        why: e.to_string(),
    })
}

/// One run's saved data.
pub struct RunData {
    pub record: RunRecord,
    pub samples: Vec<Sample>,
    pub blocks: Vec<BlockRecord>,
}

/// A results folder, read back and checked.
pub struct Results {
    pub layout: Layout,
    pub plan: Plan,
    pub summary: Summary,
    pub runs: Vec<RunData>,
}

impl Results {
    /// Reads every file `chainsim run` wrote into `dir`. Missing or unreadable files are errors
    /// naming the file (and line, for CSV); so is a summary that does not match the scenario.
    pub fn load(dir: &Path) -> Result<Results, ReportError> {
        let layout = Layout {
            dir: dir.to_path_buf(),
        };
        let meta: Meta = read_json(&layout.meta())?;
        let path = layout.scenario();
        let text = String::from_utf8(read(&path)?).map_err(|e| ReportError::Corrupt {
            path: path.clone(),
            why: e.to_string(),
        })?;
        let plan = scenario::parse(&path.display().to_string(), &text)
            .map_err(|e| ReportError::Corrupt {
                path: path.clone(),
                why: e.to_string(),
            })?
            .with_seed(meta.seed);
        let summary: Summary = read_json(&layout.summary())?;
        let mismatch = |why: String| ReportError::Corrupt {
            path: layout.summary(),
            why,
        };
        if summary.scenario_sha256 != plan.sha256 || meta.scenario_sha256 != plan.sha256 {
            return Err(mismatch(
                "its scenario hash does not match scenario.toml".into(),
            ));
        }
        if summary.runs.len() != plan.runs.len()
            || summary
                .runs
                .iter()
                .zip(&plan.runs)
                .any(|(r, s)| r.id != s.id || r.seed != s.seed)
        {
            return Err(mismatch(format!(
                "it lists {} run(s) that do not match the plan's {}",
                summary.runs.len(),
                plan.runs.len()
            )));
        }
        let runs = summary
            .runs
            .iter()
            .map(|r| {
                Ok(RunData {
                    record: r.clone(),
                    samples: read_csv(&layout.timeseries(&r.id))?,
                    blocks: read_csv(&layout.blocks(&r.id))?,
                })
            })
            .collect::<Result<Vec<_>, ReportError>>()?;
        Ok(Results {
            layout,
            plan,
            summary,
            runs,
        })
    }

    /// Runs of parameter point `p`, in replicate order.
    pub fn point_runs(&self, p: usize) -> impl Iterator<Item = &RunData> {
        self.runs.iter().filter(move |r| r.record.point == p)
    }
}

/// Draws every figure and the report for the results in `dir`, and the flat tables of its
/// summary (`points.csv`, `runs.csv`), writing them atomically into `dir/figures/`,
/// `dir/report.html` and `dir`. Returns the files written.
pub fn render(dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    let res = Results::load(dir)?;
    let figs = figures::all(&res);
    let mut written = vec![];
    let mut drawn = vec![];
    for f in &figs {
        let (svg, files) = plot::write(&res.layout.figures(), f)?;
        written.extend(files);
        drawn.push((f, svg));
    }
    for (path, bytes) in [
        (
            res.layout.points_table(),
            results::points_table(&res.summary),
        ),
        (res.layout.runs_table(), results::runs_table(&res.summary)),
    ] {
        write_atomic(&path, &bytes)?;
        written.push(path);
    }
    let page = html::page(&res, &drawn);
    write_atomic(&res.layout.report(), page.as_bytes())?;
    written.push(res.layout.report());
    Ok(written)
}
