//! The `chainsim` command line: a thin layer over the library crates.

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;
use report::{
    completed, summarise, write_atomic, write_run, Layout, Meta, RunRecord, Summary, VERSION,
};
use scenario::{Plan, RunSpec};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// `println!` that cannot panic: when its reader has gone (`chainsim check X | head`) the rest
/// of the output is dropped and the command still finishes its work and exit code (Rust ignores
/// SIGPIPE, so `println!` would panic there). Any other failure to write ends it with exit 1.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = writeln!(std::io::stdout().lock(), $($arg)*) {
            output_failed(e)
        }
    }};
}

/// `print!` with [`outln!`]'s handling of failures.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let mut o = std::io::stdout().lock();
        if let Err(e) = write!(o, $($arg)*).and_then(|()| o.flush()) {
            output_failed(e)
        }
    }};
}

/// `eprintln!` that cannot panic: with nowhere left to report to, a message is dropped.
macro_rules! errln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

fn output_failed(e: std::io::Error) {
    if e.kind() != std::io::ErrorKind::BrokenPipe {
        errln!("error: writing to stdout: {e}");
        std::process::exit(1);
    }
}

/// chainsim: a deterministic simulator of blockchain replicas converging on one chain.
#[derive(Parser)]
#[command(name = "chainsim", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a scenario (default: the built-in quickstart) and write results.
    Run {
        /// Scenario TOML file; omit to run the built-in default (= scenarios/quickstart.toml).
        scenario: Option<PathBuf>,
        /// Override the scenario's master seed.
        #[arg(long)]
        seed: Option<u64>,
        /// Override one value of the scenario, e.g. --set network.loss=0.05 or --set
        /// consensus.block_interval=1m (repeatable; a set key leaves the sweep). The results
        /// folder records the scenario with the values set.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
        /// Results folder (default: results/<scenario name>/). Re-running into the same folder
        /// skips runs that already completed.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Parallel runs (default: all cores). Results do not depend on it.
        #[arg(long)]
        jobs: Option<usize>,
        /// No progress bar and no summary table.
        #[arg(long)]
        quiet: bool,
    },
    /// Parse and validate a scenario; print the run plan.
    Check {
        scenario: PathBuf,
        /// Override one value, as for `run`.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
    },
    /// Run the validation suite (selfish mining, double spend, stale rate, miner share) against
    /// the published formulas; print the table, write it and its figures; exit 1 on any failure.
    Validate {
        /// Where the table and figures go.
        #[arg(long, default_value = "results/validate")]
        out: PathBuf,
        #[arg(long)]
        jobs: Option<usize>,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
    },
    /// Redraw the figures and report.html of a results folder from its saved results (runs
    /// nothing).
    Plot { dir: PathBuf },
    /// Re-run recorded runs from a results folder and verify their trace hashes.
    Reproduce {
        dir: PathBuf,
        /// Only this run id (e.g. p000-r001).
        #[arg(long)]
        run: Option<String>,
        #[arg(long)]
        jobs: Option<usize>,
    },
}

/// Bad input: exit code 2.
#[derive(Debug)]
struct BadInput(String);
impl std::fmt::Display for BadInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for BadInput {}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            if let Some(b) = e.downcast_ref::<BadInput>() {
                errln!("{b}");
                ExitCode::from(2)
            } else {
                errln!("error: {e:#}");
                ExitCode::from(1)
            }
        }
    }
}

fn run() -> Result<ExitCode> {
    let cli = Cli::parse();
    match cli.command {
        Command::Run {
            scenario,
            seed,
            sets,
            out,
            jobs,
            quiet,
        } => {
            let mut plan = load(scenario.as_deref(), &sets)?;
            if let Some(s) = seed {
                plan = plan.with_seed(s);
            }
            let dir = out.unwrap_or_else(|| PathBuf::from("results").join(&plan.name));
            cmd_run(&plan, &dir, jobs, quiet)
        }
        Command::Check { scenario, sets } => {
            let plan = load(Some(&scenario), &sets)?;
            print_plan(&plan);
            Ok(ExitCode::SUCCESS)
        }
        Command::Reproduce { dir, run, jobs } => cmd_reproduce(&dir, run.as_deref(), jobs),
        Command::Validate { out, jobs, quiet } => cmd_validate(&out, jobs, quiet),
        Command::Plot { dir } => {
            let files = plot(&dir)?;
            outln!(
                "wrote {} files: {}",
                files.len(),
                dir.join("report.html").display()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Figures and report for a results folder; a missing or corrupt file there is bad input.
fn plot(dir: &Path) -> Result<Vec<PathBuf>> {
    report::render(dir).map_err(|e| {
        if e.is_bad_input() {
            BadInput(format!("error: {e}")).into()
        } else {
            anyhow::Error::new(e)
        }
    })
}

/// Reads, parses and validates a scenario (the built-in one without a path), with `sets`
/// (`KEY=VALUE` arguments) applied.
fn load(path: Option<&Path>, sets: &[String]) -> Result<Plan> {
    let sets = (sets.iter())
        .map(|a| scenario::assignment(a).map_err(|m| BadInput(format!("error: --set: {m}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let (name, text) = match path {
        None => (
            "<built-in quickstart>".to_string(),
            scenario::QUICKSTART.to_string(),
        ),
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| {
                BadInput(format!(
                    "error: {}: cannot read the scenario: {e}",
                    p.display()
                ))
            })?;
            (p.display().to_string(), text)
        }
    };
    scenario::parse_with_sets(&name, &text, &sets).map_err(|e| BadInput(e.to_string()).into())
}

/// The cautions of every point (see `RunConfig::cautions`), each once, naming the points it
/// applies to when there are several.
fn cautions(plan: &Plan) -> Vec<String> {
    let mut seen: Vec<(String, Vec<usize>)> = vec![];
    for p in &plan.points {
        for c in p.config.cautions() {
            match seen.iter_mut().find(|(s, _)| *s == c) {
                Some((_, points)) => points.push(p.index),
                None => seen.push((c, vec![p.index])),
            }
        }
    }
    let many = plan.points.len() > 1;
    (seen.into_iter())
        .map(|(c, points)| match many {
            false => c,
            true => {
                let ids: Vec<String> = points.iter().map(|i| format!("p{i:03}")).collect();
                format!("{}: {c}", ids.join(", "))
            }
        })
        .collect()
}

fn print_plan(plan: &Plan) {
    outln!(
        "scenario {} (sha256 {}), seed {}",
        plan.name,
        &plan.sha256[..16],
        plan.seed
    );
    if !plan.description.is_empty() {
        outln!("  {}", plan.description);
    }
    if !plan.sets.is_empty() {
        outln!("  set: {}", scenario::fmt_params(&plan.sets));
    }
    let c = &plan.points[0].config;
    let mining = match (c.stop_blocks, c.stop_time) {
        (Some(b), Some(t)) => format!("mine {b} blocks or until {t}, whichever is first"),
        (Some(b), None) => format!("mine {b} blocks"),
        (None, Some(t)) => format!("mine until {t}"),
        (None, None) => "mine".to_string(),
    };
    outln!(
        "  stop: {mining}, then wait up to {} (stop.settle) for the replicas to agree; limits {} events, {}{}",
        c.settle(),
        c.max_events,
        match c.max_time.as_secs_f64() / 86_400.0 {
            d if d >= 1.0 && d.fract() == 0.0 => format!("{d} days"),
            _ => c.max_time.to_string(),
        },
        if plan.points.len() > 1 {
            " (first point)"
        } else {
            ""
        }
    );
    for (i, b) in plan.points[0].config.byzantine.iter().enumerate() {
        let window = match b.until {
            Some(u) => format!("{} to {u}", b.from),
            None if b.from.is_zero() => "the whole run".to_string(),
            None => format!("from {}", b.from),
        };
        outln!(
            "  byzantine[{i}]: {} on {} node(s), hash share {}, {window}",
            b.strategy,
            b.nodes.len(),
            b.hash_share
                .map_or("from consensus.hash_power".to_string(), |h| h.to_string()),
        );
    }
    for c in cautions(plan) {
        outln!("  caution: {c}");
    }
    outln!(
        "{} point(s) × {} replicate(s) = {} run(s){}",
        plan.points.len(),
        plan.replicates,
        plan.runs.len(),
        plan.seeds.plan_note()
    );
    for r in &plan.runs {
        let p = &plan.points[r.point];
        outln!(
            "  {}  seed {:>20}  {}",
            r.id,
            r.seed,
            scenario::fmt_params(&p.params)
        );
    }
}

fn pool(jobs: Option<usize>) -> Result<rayon::ThreadPool> {
    let n = jobs.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    if n == 0 {
        return Err(BadInput("error: --jobs must be at least 1".into()).into());
    }
    Ok(rayon::ThreadPoolBuilder::new().num_threads(n).build()?)
}

fn progress(len: u64, quiet: bool) -> (ProgressBar, Option<MultiProgress>) {
    let visible = !quiet && std::io::stderr().is_terminal();
    let multi = visible.then(MultiProgress::new);
    let pb = match &multi {
        Some(m) => m.add(ProgressBar::new(len)),
        None => ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::hidden()),
    };
    pb.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} runs (eta {eta}) {msg}",
        )
        .expect("valid template"),
    );
    if multi.is_some() {
        pb.enable_steady_tick(std::time::Duration::from_millis(200));
    }
    (pb, multi)
}

/// Runs one spec and times it; the wall time is measured here, outside the simulation. With a
/// visible `multi`, a bar shows the run's blocks mined and simulated time while it runs.
fn execute(
    plan: &Plan,
    spec: &RunSpec,
    multi: Option<&MultiProgress>,
) -> Result<(RunRecord, runner::RunOutput)> {
    let cfg = &plan.points[spec.point].config;
    let t = Instant::now();
    let progress = std::sync::Arc::new(runner::Progress::default());
    let done = AtomicBool::new(false);
    let out = std::thread::scope(|scope| {
        if let Some(multi) = multi {
            let bar = multi.add(ProgressBar::new(cfg.stop_blocks.unwrap_or(0)));
            bar.set_style(
                ProgressStyle::with_template("  {prefix} {bar:30} {pos}/{len} blocks  {msg}")
                    .expect("valid template"),
            );
            bar.set_prefix(spec.id.clone());
            let (progress, done) = (progress.clone(), &done);
            scope.spawn(move || {
                while !done.load(Ordering::Relaxed) {
                    bar.set_position(progress.blocks.load(Ordering::Relaxed));
                    let sim = des::SimDuration::from_millis(
                        progress.sim_ms.load(Ordering::Relaxed) / 1000 * 1000,
                    );
                    bar.set_message(format!("sim {sim}"));
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                bar.finish_and_clear();
            });
        }
        let out = runner::run_with_progress(cfg, spec.seed, Some(progress.clone()));
        done.store(true, Ordering::Relaxed);
        out
    });
    let out = match out {
        Err(e) if e.is_bad_input() => {
            let msg = format!("error: scenario {}: run {}: {e}", plan.name, spec.id);
            return Err(BadInput(msg).into());
        }
        r => r.with_context(|| format!("run {}", spec.id))?,
    };
    let wall = t.elapsed().as_secs_f64();
    Ok((RunRecord::new(plan, spec, &out, wall), out))
}

fn cmd_run(plan: &Plan, dir: &Path, jobs: Option<usize>, quiet: bool) -> Result<ExitCode> {
    let layout = Layout {
        dir: dir.to_path_buf(),
    };
    if let Ok(old) = std::fs::read_to_string(layout.meta()) {
        let old: Meta = serde_json::from_str(&old).context("reading scenario.meta.json")?;
        if old.scenario_sha256 != plan.sha256 || old.seed != plan.seed {
            return Err(BadInput(format!(
                "error: {} holds results of a different scenario or seed; choose another --out",
                dir.display()
            ))
            .into());
        }
    }
    for c in cautions(plan) {
        errln!("warning: {c}");
    }
    write_atomic(&layout.scenario(), plan.text.as_bytes())?;
    let meta = Meta {
        scenario: plan.name.clone(),
        scenario_sha256: plan.sha256.clone(),
        chainsim_version: VERSION.to_string(),
        seed: plan.seed,
    };
    write_atomic(&layout.meta(), &serde_json::to_vec_pretty(&meta)?)?;

    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        // Finish the runs under way, start no new ones; completed runs are already on disk.
        let _ = ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst));
    }
    let (pb, multi) = progress(plan.runs.len() as u64, quiet);
    let results: Vec<Option<Result<RunRecord>>> = pool(jobs)?.install(|| {
        plan.runs
            .par_iter()
            .map(|spec| {
                if let Some(done) = completed(&layout, plan, spec) {
                    pb.inc(1);
                    return Some(Ok(done));
                }
                if stop.load(Ordering::SeqCst) {
                    return None;
                }
                let r = execute(plan, spec, multi.as_ref()).and_then(|(rec, out)| {
                    write_run(&layout, &rec, &out)?;
                    Ok(rec)
                });
                pb.inc(1);
                Some(r)
            })
            .collect()
    });
    pb.finish_and_clear();
    let mut records = vec![];
    let mut missing = 0;
    for r in results {
        match r {
            Some(Ok(rec)) => records.push(rec),
            Some(Err(e)) => return Err(e),
            None => missing += 1,
        }
    }
    if missing > 0 {
        errln!("interrupted: {missing} run(s) not done; run the same command again to finish them");
        return Ok(ExitCode::from(130));
    }
    let summary = summarise(plan, records);
    write_atomic(&layout.summary(), &serde_json::to_vec_pretty(&summary)?)?;
    plot(dir)?;
    warn_unfinished(&summary);
    if !quiet {
        print_summary(&summary);
        outln!(
            "results: {}  (report: {})",
            dir.display(),
            layout.report().display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs that did not end with their stop condition met: their figures describe an unfinished
/// state (still split replicas, or cut off by a hard limit), which the table does not show.
fn warn_unfinished(s: &Summary) {
    for r in &s.runs {
        if let Some(why) = report::unfinished(r) {
            errln!(
                "warning: run {} ended {}: {why}; its metrics describe that unfinished state",
                r.id,
                r.stop_reason
            );
        }
    }
}

fn print_summary(s: &Summary) {
    outln!("{} — {} run(s)", s.scenario, s.runs.len());
    outln!(
        "{:<12} {:>7} {:>6} {:>6} {:>9} {:>9} {:>9} {:>7} {:>6} {:>8} {:>8}  trace",
        "run",
        "mined",
        "main",
        "stale",
        "fork%",
        "conv p50",
        "prop p50",
        "reorgs",
        "depth",
        "wall s",
        "Mev/s"
    );
    for r in &s.runs {
        let m = &r.metrics.chain;
        outln!(
            "{:<12} {:>7} {:>6} {:>6} {:>8.3}% {:>8.2}s {:>8.2}s {:>7} {:>6} {:>8.3} {:>8.2}  {}",
            r.id,
            m.blocks_mined,
            m.main_chain_length,
            m.stale_blocks,
            100.0 * m.fork_rate,
            m.convergence_time_s.p50,
            m.propagation_s.p50,
            m.reorgs.count,
            m.reorgs.max_depth,
            r.metrics.wall_time_s,
            r.metrics.events as f64 / r.metrics.wall_time_s.max(1e-9) / 1e6,
            &r.trace_hash[..16]
        );
    }
    if s.points.len() > 1 || s.replicates > 1 {
        outln!("per point (mean ± 95 % CI over replicates):");
        for p in &s.points {
            let f = &p.metrics["fork_rate"];
            let c = &p.metrics["convergence_time_mean_s"];
            let attack = match p.metrics.get("attacker_share") {
                Some(a) if s.runs.iter().any(|r| !r.metrics.chain.attacks.is_empty()) => {
                    format!("   attackers' share {:.4} ± {:.4}", a.mean, a.ci95)
                }
                _ => String::new(),
            };
            outln!(
                "  p{:03} {:<40} fork rate {:.4} ± {:.4}   convergence {:.2} ± {:.2} s{attack}",
                p.point,
                scenario::fmt_params(&p.params),
                f.mean,
                f.ci95,
                c.mean,
                c.ci95
            );
        }
    }
}

fn cmd_validate(out: &Path, jobs: Option<usize>, quiet: bool) -> Result<ExitCode> {
    let t = Instant::now();
    let cases = runner::validate::suite();
    let jobs_list: Vec<(&runner::RunConfig, u64)> = cases
        .iter()
        .flat_map(|c| c.runs.iter().map(|(cfg, s)| (cfg, *s)))
        .collect();
    let (pb, _multi) = progress(jobs_list.len() as u64, quiet);
    let outs: Vec<Result<runner::RunOutput>> = pool(jobs)?.install(|| {
        jobs_list
            .par_iter()
            .map(|(cfg, seed)| {
                let r = runner::run_one(cfg, *seed).map_err(anyhow::Error::new);
                pb.inc(1);
                r
            })
            .collect()
    });
    pb.finish_and_clear();
    let mut outs = outs.into_iter();
    let mut rows = vec![];
    for c in &cases {
        let mine = outs
            .by_ref()
            .take(c.runs.len())
            .collect::<Result<Vec<_>>>()
            .with_context(|| format!("validation case {}", c.name))?;
        rows.extend(c.evaluate(&mine));
    }
    let thresholds = runner::validate::thresholds(&rows);
    rows.extend(thresholds);
    let table = report::validation::table(&rows);
    write_atomic(&out.join("validation.md"), table.as_bytes())?;
    write_atomic(
        &out.join("validation.json"),
        &serde_json::to_vec_pretty(&rows)?,
    )?;
    for chart in [
        report::validation::revenue(&rows),
        report::validation::double_spend(&rows),
    ] {
        let base = out.join("figures").join(&chart.name);
        write_atomic(
            &base.with_extension("svg"),
            report::plot::svg(&chart)?.as_bytes(),
        )?;
        write_atomic(&base.with_extension("png"), &report::plot::png(&chart)?)?;
    }
    // Printed once everything is on disk: a reader that stops early loses nothing.
    out!("{table}");
    let failed = rows.iter().filter(|r| !r.pass).count();
    outln!(
        "{} checks, {} failed, {} runs in {:.1} s; table and figures in {}",
        rows.len(),
        failed,
        jobs_list.len(),
        t.elapsed().as_secs_f64(),
        out.display()
    );
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn cmd_reproduce(dir: &Path, only: Option<&str>, jobs: Option<usize>) -> Result<ExitCode> {
    let layout = Layout {
        dir: dir.to_path_buf(),
    };
    let read = |p: PathBuf| {
        std::fs::read_to_string(&p).map_err(|e| BadInput(format!("error: {}: {e}", p.display())))
    };
    let text = read(layout.scenario())?;
    let meta: Meta = serde_json::from_str(&read(layout.meta())?)
        .map_err(|e| BadInput(format!("error: {}: {e}", layout.meta().display())))?;
    let plan = scenario::parse(&layout.scenario().display().to_string(), &text)
        .map_err(|e| BadInput(e.to_string()))?
        .with_seed(meta.seed);
    let specs: Vec<&RunSpec> = plan
        .runs
        .iter()
        .filter(|r| only.is_none_or(|id| r.id == id))
        .collect();
    if specs.is_empty() {
        bail!(BadInput(format!(
            "error: no run {} in {}",
            only.unwrap_or("at all"),
            dir.display()
        )));
    }
    let mut recorded = vec![];
    for s in &specs {
        let p = layout.run(&s.id);
        let rec: RunRecord = serde_json::from_str(&read(p.clone())?)
            .map_err(|e| BadInput(format!("error: {}: {e}", p.display())))?;
        recorded.push(rec);
    }
    let fresh: Vec<Result<String>> = pool(jobs)?.install(|| {
        specs
            .par_iter()
            .map(|s| execute(&plan, s, None).map(|(r, _)| r.trace_hash))
            .collect()
    });
    for (rec, hash) in recorded.iter().zip(fresh) {
        let hash = hash?;
        if hash != rec.trace_hash {
            outln!(
                "MISMATCH {}: recorded {} re-run {}",
                rec.id,
                rec.trace_hash,
                hash
            );
            return Ok(ExitCode::from(1));
        }
        outln!("ok {}  {}", rec.id, hash);
    }
    outln!("{} run(s) reproduced bit for bit", recorded.len());
    Ok(ExitCode::SUCCESS)
}
