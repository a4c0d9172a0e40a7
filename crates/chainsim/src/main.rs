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
    /// Redraw the figures, report.html and the flat tables (points.csv, runs.csv) of a results
    /// folder from its saved results (runs nothing).
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
    /// Re-run one recorded run and write its events as CSV: every record its trace hash is
    /// computed over, with what each one is (message, timer, control, block created). The
    /// hash is checked against the record before the file is put in place.
    Trace {
        dir: PathBuf,
        /// The run (e.g. p000-r001); may be left out when the folder has only one.
        #[arg(long)]
        run: Option<String>,
        /// Where the CSV goes (default: DIR/traces/RUN.csv).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Only records at this node: a message it sent or received, its timer, a block it
        /// mined (repeatable).
        #[arg(long = "node", value_name = "ID")]
        nodes: Vec<u32>,
        /// Only records about this block (repeatable).
        #[arg(long = "block", value_name = "ID")]
        blocks: Vec<u32>,
        /// Only records of this event or kind: message, timer, control, created, inv,
        /// getdata, block, wake, mine, mined, … (repeatable).
        #[arg(long = "kind", value_name = "NAME")]
        kinds: Vec<String>,
        /// Only records at or after this simulated time (e.g. 30m).
        #[arg(long)]
        from: Option<String>,
        /// Only records at or before this simulated time.
        #[arg(long)]
        until: Option<String>,
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
        Command::Trace {
            dir,
            run,
            out,
            nodes,
            blocks,
            kinds,
            from,
            until,
        } => {
            let at = |flag: &str, v: Option<String>| -> Result<Option<des::SimTime>> {
                v.map(|v| {
                    v.parse::<des::SimDuration>()
                        .map(|d| des::SimTime::ZERO + d)
                        .map_err(|e| BadInput(format!("error: --{flag} {v}: {e}")).into())
                })
                .transpose()
            };
            let filter = report::trace::TraceFilter {
                nodes,
                blocks,
                kinds,
                from: at("from", from)?,
                until: at("until", until)?,
            };
            if let (Some(f), Some(u)) = (filter.from, filter.until) {
                if u < f {
                    bail!(BadInput(format!(
                        "error: --until {u} is before --from {f}: no record could be kept"
                    )));
                }
            }
            cmd_trace(&dir, run.as_deref(), out, filter)
        }
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
    per_point(plan, "difficulty", "fixed", difficulty_line);
    per_point(plan, "churn", "none", churn_line);
    for (i, h) in plan.points[0].config.hash_changes.iter().enumerate() {
        outln!(
            "  hash_power.changes[{i}]: from {} on, {} node(s) mine with {}× their hash power at the start",
            h.at,
            h.nodes.len(),
            h.factor
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

/// `  label: …` once if every point says the same (nothing if none says anything), else one
/// line per point, `none` for a point that says nothing.
fn per_point(plan: &Plan, label: &str, none: &str, say: fn(&runner::RunConfig) -> Option<String>) {
    let first = say(&plan.points[0].config);
    if plan.points.iter().all(|p| say(&p.config) == first) {
        if let Some(l) = first {
            outln!("  {label}: {l}");
        }
        return;
    }
    for p in &plan.points {
        let l = say(&p.config).unwrap_or_else(|| none.to_string());
        outln!("  {label} (p{:03}): {l}", p.index);
    }
}

/// What `check` says of a point's churn, if it has any.
fn churn_line(c: &runner::RunConfig) -> Option<String> {
    let ch = c.churn.as_ref()?;
    let cycle = ch.uptime.as_secs_f64() + ch.downtime.as_secs_f64();
    let span = ch.until.as_secs_f64() - ch.from.as_secs_f64();
    Some(format!(
        "{} node(s) crash and restart at random, up {} and down {} on average, outages from {} \
         until {} (about {:.0}; {:.1} % of node-time down)",
        ch.nodes.len(),
        ch.uptime,
        ch.downtime,
        ch.from,
        ch.until,
        ch.nodes.len() as f64 * span / cycle,
        100.0 * ch.downtime.as_secs_f64() / cycle
    ))
}

/// What `check` says of a point's difficulty rule (nothing for a fixed difficulty).
fn difficulty_line(c: &runner::RunConfig) -> Option<String> {
    Some(match c.retarget.rule {
        runner::RetargetRule::Fixed => return None,
        runner::RetargetRule::Epoch => format!(
            "retargets every {} blocks to one per {} (at most {}× up or down)",
            c.retarget.every, c.block_interval, c.retarget.clamp
        ),
        runner::RetargetRule::Asert => format!(
            "ASERT toward one block per {}, halved for every {} behind schedule",
            c.block_interval, c.retarget.half_life
        ),
    })
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
        report::plot::write(&out.join("figures"), &chart)?;
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

/// The plan a results folder was run from (its scenario file with its recorded seed).
fn recorded_plan(layout: &Layout) -> Result<Plan> {
    let text = read_input(&layout.scenario())?;
    let meta: Meta = serde_json::from_str(&read_input(&layout.meta())?)
        .map_err(|e| BadInput(format!("error: {}: {e}", layout.meta().display())))?;
    Ok(
        scenario::parse(&layout.scenario().display().to_string(), &text)
            .map_err(|e| BadInput(e.to_string()))?
            .with_seed(meta.seed),
    )
}

/// A file of a results folder; a missing or unreadable one is bad input.
fn read_input(p: &Path) -> Result<String> {
    std::fs::read_to_string(p).map_err(|e| BadInput(format!("error: {}: {e}", p.display())).into())
}

/// The recorded runs of `plan` (only `only` if given; at least one).
fn recorded_runs<'p>(
    layout: &Layout,
    plan: &'p Plan,
    only: Option<&str>,
) -> Result<Vec<(&'p RunSpec, RunRecord)>> {
    let specs: Vec<&RunSpec> = plan
        .runs
        .iter()
        .filter(|r| only.is_none_or(|id| r.id == id))
        .collect();
    if specs.is_empty() {
        bail!(BadInput(format!(
            "error: no run {} in {}",
            only.unwrap_or("at all"),
            layout.dir.display()
        )));
    }
    specs
        .into_iter()
        .map(|s| {
            let p = layout.run(&s.id);
            let rec: RunRecord = serde_json::from_str(&read_input(&p)?)
                .map_err(|e| BadInput(format!("error: {}: {e}", p.display())))?;
            Ok((s, rec))
        })
        .collect()
}

fn cmd_reproduce(dir: &Path, only: Option<&str>, jobs: Option<usize>) -> Result<ExitCode> {
    let layout = Layout {
        dir: dir.to_path_buf(),
    };
    let plan = recorded_plan(&layout)?;
    let (specs, recorded): (Vec<&RunSpec>, Vec<RunRecord>) =
        recorded_runs(&layout, &plan, only)?.into_iter().unzip();
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

fn cmd_trace(
    dir: &Path,
    only: Option<&str>,
    out: Option<PathBuf>,
    filter: report::trace::TraceFilter,
) -> Result<ExitCode> {
    let names = report::trace::kind_names();
    if let Some(k) = filter.kinds.iter().find(|k| !names.contains(&k.as_str())) {
        bail!(BadInput(format!(
            "error: --kind {k}: not an event or kind; one of: {}",
            names.join(", ")
        )));
    }
    let layout = Layout {
        dir: dir.to_path_buf(),
    };
    let plan = recorded_plan(&layout)?;
    let mut runs = recorded_runs(&layout, &plan, only)?;
    if runs.len() > 1 {
        let ids: Vec<&str> = runs.iter().map(|(s, _)| s.id.as_str()).collect();
        bail!(BadInput(format!(
            "error: {} holds {} runs: name one with --run ({})",
            dir.display(),
            runs.len(),
            ids.join(", ")
        )));
    }
    let (spec, rec) = runs.pop().expect("at least one run");
    let cfg = &plan.points[spec.point].config;
    if let Some(n) = filter.nodes.iter().find(|&&n| n >= cfg.nodes) {
        bail!(BadInput(format!(
            "error: --node {n}: run {} has nodes 0..{}",
            spec.id,
            cfg.nodes - 1
        )));
    }
    let path = out.unwrap_or_else(|| dir.join("traces").join(format!("{}.csv", spec.id)));
    let file = report::AtomicFile::create(&path)?;
    let crash_nodes = runner::trace::crash_nodes(cfg, spec.seed);
    let csv = Arc::new(std::sync::Mutex::new(
        report::trace::TraceCsv::new(file, filter).with_crash_nodes(crash_nodes),
    ));
    let sink = csv.clone();
    let fresh = runner::trace::run_traced(
        cfg,
        spec.seed,
        Box::new(move |r| sink.lock().expect("trace writer").record(r)),
    )
    .with_context(|| format!("run {}", spec.id))?;
    let csv = Arc::into_inner(csv)
        .expect("the run is over: nothing else holds the writer")
        .into_inner()
        .expect("trace writer");
    let (seen, written) = (csv.seen, csv.written);
    let file = csv
        .finish()
        .with_context(|| format!("writing {}", path.display()))?;
    if fresh.trace_hash != rec.trace_hash {
        // The file is dropped unpublished.
        outln!(
            "MISMATCH {}: recorded {} re-run {}; no trace written",
            rec.id,
            rec.trace_hash,
            fresh.trace_hash
        );
        return Ok(ExitCode::from(1));
    }
    file.commit()?;
    outln!(
        "wrote {written} of {seen} records of {} to {} (trace hash {} as recorded)",
        rec.id,
        path.display(),
        &rec.trace_hash[..16]
    );
    Ok(ExitCode::SUCCESS)
}
