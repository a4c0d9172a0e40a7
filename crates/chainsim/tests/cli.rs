//! Drives the real binary: results, determinism across runs and --jobs, reproduce, resume, and
//! bad input.

use assert_cmd::Command;
use serde_json::Value;
use std::path::Path;

fn chainsim() -> Command {
    Command::cargo_bin("chainsim").unwrap()
}

fn run_into(dir: &Path, extra: &[&str]) {
    chainsim()
        .args(["run", "--quiet", "--out"])
        .arg(dir)
        .args(extra)
        .assert()
        .success();
}

fn summary(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()
}

/// The summary with wall-clock fields removed (the only thing allowed to differ).
fn without_wall_time(mut v: Value) -> Value {
    for r in v["runs"].as_array_mut().unwrap() {
        r["metrics"].as_object_mut().unwrap().remove("wall_time_s");
    }
    v
}

#[test]
fn run_writes_a_complete_summary() {
    let tmp = tempfile::tempdir().unwrap();
    run_into(tmp.path(), &[]);
    let s = summary(tmp.path());
    for key in [
        "scenario",
        "scenario_sha256",
        "chainsim_version",
        "seed",
        "runs",
        "points",
    ] {
        assert!(s.get(key).is_some(), "summary lacks {key}");
    }
    assert_eq!(s["scenario"], "quickstart");
    let runs = s["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 3);
    for r in runs {
        for key in ["id", "params", "seed", "trace_hash", "stop_reason"] {
            assert!(r.get(key).is_some(), "run lacks {key}");
        }
        let m = &r["metrics"];
        for key in [
            "blocks_mined",
            "main_chain_length",
            "stale_blocks",
            "fork_rate",
            "convergence_time_s",
            "propagation_s",
            "reorgs",
            "chain_quality",
            "classes",
            "events",
            "messages",
            "sim_time_s",
            "wall_time_s",
        ] {
            assert!(m.get(key).is_some(), "metrics lack {key}");
        }
        for key in ["mean", "p50", "p90", "p99", "max"] {
            assert!(m["convergence_time_s"].get(key).is_some());
        }
        assert!(m["blocks_mined"].as_u64().unwrap() >= 200);
        assert_eq!(r["stop_reason"], "done");
        let id = r["id"].as_str().unwrap();
        let ts = std::fs::read_to_string(tmp.path().join("timeseries").join(format!("{id}.csv")))
            .unwrap();
        assert!(
            ts.starts_with("t_s,consistency,prefix_depth,tips,online\n")
                && ts.lines().count() > 100
        );
    }
    assert!(s["points"][0]["metrics"]["fork_rate"]["ci95"].is_number());
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("scenario.toml")).unwrap(),
        scenario::QUICKSTART
    );
}

#[test]
fn identical_across_runs_and_jobs() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let c = tempfile::tempdir().unwrap();
    run_into(a.path(), &["--jobs", "1"]);
    run_into(b.path(), &["--jobs", "1"]);
    run_into(c.path(), &["--jobs", "2"]);
    let sa = without_wall_time(summary(a.path()));
    assert_eq!(sa, without_wall_time(summary(b.path())), "two runs differ");
    assert_eq!(
        sa,
        without_wall_time(summary(c.path())),
        "--jobs 1 and --jobs 2 differ"
    );
    // A different seed gives different traces.
    let d = tempfile::tempdir().unwrap();
    run_into(d.path(), &["--seed", "99"]);
    assert_ne!(
        summary(d.path())["runs"][0]["trace_hash"],
        sa["runs"][0]["trace_hash"]
    );
}

#[test]
fn reproduce_passes_and_catches_an_altered_hash() {
    let tmp = tempfile::tempdir().unwrap();
    run_into(tmp.path(), &["--seed", "5"]);
    chainsim()
        .arg("reproduce")
        .arg(tmp.path())
        .assert()
        .success();
    let run = tmp.path().join("runs").join("p000-r001.json");
    let text = std::fs::read_to_string(&run).unwrap();
    let mut v: Value = serde_json::from_str(&text).unwrap();
    v["trace_hash"] = Value::String("0".repeat(64));
    std::fs::write(&run, serde_json::to_string(&v).unwrap()).unwrap();
    let out = chainsim()
        .arg("reproduce")
        .arg(tmp.path())
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    assert!(String::from_utf8_lossy(&out).contains("MISMATCH p000-r001"));
    chainsim()
        .args(["reproduce", "--run", "p000-r000"])
        .arg(tmp.path())
        .assert()
        .success();
}

/// `--set` changes the run, the folder records the scenario as set (so `reproduce` re-runs
/// it as it was), a folder of other settings is refused, and a bad assignment exits 2.
#[test]
fn set_overrides_are_run_recorded_and_reproduced() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("set");
    let set = ["--set", "network.nodes=30", "--set", "stop.blocks=20"];
    run_into(&dir, &set);
    let s = summary(&dir);
    for r in s["runs"].as_array().unwrap() {
        assert_eq!(
            r["metrics"]["blocks_mined"].as_u64().map(|b| b >= 20),
            Some(true)
        );
    }
    let recorded = std::fs::read_to_string(dir.join("scenario.toml")).unwrap();
    assert!(
        recorded.starts_with(scenario::QUICKSTART)
            && recorded.ends_with("[[set]]\n\"network.nodes\" = 30\n\"stop.blocks\" = 20\n"),
        "{recorded}"
    );
    let plain = tmp.path().join("plain");
    run_into(&plain, &[]);
    assert_ne!(summary(&plain)["scenario_sha256"], s["scenario_sha256"]);
    chainsim().arg("reproduce").arg(&dir).assert().success();
    let report = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(
        report.contains("<code>network.nodes=30, stop.blocks=20</code>"),
        "the report names the values set"
    );
    let plain_report = std::fs::read_to_string(plain.join("report.html")).unwrap();
    assert!(!plain_report.contains("--set"));
    // The same folder with other settings holds other results.
    let out = chainsim()
        .args(["run", "--quiet", "--set", "network.nodes=31", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(exited(&out, 2, "other settings").contains("different scenario"));
    let check = chainsim()
        .args(["check", "../../scenarios/quickstart.toml"])
        .args(set)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&check.stdout).to_string();
    assert!(
        text.contains("set: network.nodes=30, stop.blocks=20"),
        "{text}"
    );
    for (arg, needle) in [
        (
            "network.loss=2",
            "error: --set network.loss=2: key `network.loss`",
        ),
        ("network.loss", "is not KEY=VALUE"),
    ] {
        let out = chainsim()
            .args(["check", "../../scenarios/quickstart.toml", "--set", arg])
            .output()
            .unwrap();
        assert!(exited(&out, 2, arg).contains(needle), "{arg}");
    }
}

#[test]
fn interrupted_sweep_resumes_to_the_same_results() {
    let full = tempfile::tempdir().unwrap();
    run_into(full.path(), &[]);
    let part = tempfile::tempdir().unwrap();
    run_into(part.path(), &[]);
    // As if killed: one run never finished (only a temporary file of it exists), no summary yet.
    let runs = part.path().join("runs");
    std::fs::rename(
        runs.join("p000-r001.json"),
        runs.join(".p000-r001.json.tmp"),
    )
    .unwrap();
    std::fs::remove_file(part.path().join("summary.json")).unwrap();
    let before = std::fs::read_to_string(runs.join("p000-r000.json")).unwrap();
    run_into(part.path(), &[]);
    // Completed runs were skipped (their records, wall time included, are untouched) …
    assert_eq!(
        std::fs::read_to_string(runs.join("p000-r000.json")).unwrap(),
        before
    );
    // … and the final results equal an uninterrupted run's.
    assert_eq!(
        without_wall_time(summary(part.path())),
        without_wall_time(summary(full.path()))
    );
    // The same folder refuses a different seed rather than mixing results.
    chainsim()
        .args(["run", "--quiet", "--seed", "8", "--out"])
        .arg(part.path())
        .assert()
        .code(2);
}

/// Writes `text` to `dir/file` and runs it into `dir/out`: (the scenario file, the output).
fn run_text(dir: &Path, file: &str, text: &str) -> (std::path::PathBuf, std::process::Output) {
    let f = dir.join(file);
    std::fs::write(&f, text).unwrap();
    let out = chainsim()
        .args(["run", "--quiet", "--out"])
        .arg(dir.join("out"))
        .arg(&f)
        .output()
        .unwrap();
    (f, out)
}

/// Asserts that `out` exited with `code` (`what` names it in the failure); returns its stderr.
fn exited(out: &std::process::Output, code: i32, what: &str) -> String {
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(code), "{what}: {err}");
    err
}

/// Runs `run` and `check` on `text`: both must exit 2 without a panic; returns `check`'s stderr.
fn bad(text: &str) -> String {
    let tmp = tempfile::tempdir().unwrap();
    let (f, run) = run_text(tmp.path(), "bad.toml", text);
    let check = chainsim().arg("check").arg(&f).output().unwrap();
    for (cmd, out) in [("run", &run), ("check", &check)] {
        let err = exited(out, 2, cmd);
        assert!(!err.contains("panicked"), "{cmd}: {err}");
        assert!(
            err.contains("bad.toml"),
            "{cmd} does not name the file: {err}"
        );
    }
    String::from_utf8_lossy(&check.stderr).to_string()
}

/// A scenario that validates but cannot be built (here a random graph that comes out
/// disconnected) is bad input too: exit 2, naming the run and the key that allows it.
#[test]
fn unbuildable_scenario_exits_2() {
    let tmp = tempfile::tempdir().unwrap();
    let text = scenario::QUICKSTART.replacen(
        "topology = \"random-regular\"\ndegree = 8",
        "topology = \"erdos-renyi\"\np = 0.0",
        1,
    );
    assert_ne!(text, scenario::QUICKSTART);
    let (_, out) = run_text(tmp.path(), "sparse.toml", &text);
    let err = exited(&out, 2, "run");
    assert!(
        err.contains("p000-r000") && err.contains("network.allow_disconnected"),
        "{err}"
    );
}

#[test]
fn bad_input_exits_2_naming_file_line_and_key() {
    let q = scenario::QUICKSTART;
    let e = bad(&q.replace("nodes = 100", "nodes = [100"));
    assert!(e.contains("bad.toml:") && e.contains("error"), "{e}");
    let e = bad(&q.replace("degree = 8", "degree = 8\ndegre = 4"));
    assert!(
        e.contains("degre") && e.contains("did you mean `degree`"),
        "{e}"
    );
    let e = bad(&q.replace("nodes = 100", "nodes = true"));
    assert!(e.contains("network.nodes"), "{e}");
    let e = bad(&q.replace("miners = 10", "miners = 1000"));
    assert!(
        e.contains("consensus.hash_power.miners") && e.contains("1..=100"),
        "{e}"
    );
    let line = q
        .lines()
        .position(|l| l.starts_with("miners = 10"))
        .unwrap()
        + 1;
    assert!(e.contains(&format!("bad.toml:{line}:")), "{e}");
    let out = chainsim()
        .args(["check", "/nonexistent/x.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/x.toml"));
    chainsim()
        .args([
            "run",
            "--jobs",
            "0",
            "--quiet",
            "--out",
            "/tmp/chainsim-jobs0",
        ])
        .assert()
        .code(2);
    chainsim().args(["frobnicate"]).assert().code(2);
}

/// Regression: a reader that stops early (`chainsim check X | head -1`) made the next print
/// panic (exit 101): Rust ignores SIGPIPE. The rest of the output is now dropped and the
/// command ends as it would have. The plan (3,000 runs, 125 kB) outgrows the pipe's buffer, so
/// the process is still writing when the reader goes.
#[test]
fn a_reader_that_stops_early_is_no_panic() {
    use std::io::BufRead;
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("many.toml");
    let text = scenario::QUICKSTART.replacen("replicates = 3", "replicates = 3000", 1);
    std::fs::write(&f, text).unwrap();
    let bin = assert_cmd::cargo::cargo_bin("chainsim");
    let mut child = std::process::Command::new(bin)
        .arg("check")
        .arg(&f)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    stdout.read_line(&mut first).unwrap();
    assert!(first.starts_with("scenario quickstart"), "{first}");
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// An output folder that cannot be made is a run failure (exit 1) whose message names the path
/// and the cause, each once (the cause used to be printed twice: in the message and as its
/// source).
#[test]
fn an_output_folder_that_cannot_be_made_names_path_and_cause_once() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("taken");
    std::fs::write(&file, "").unwrap();
    let out = chainsim()
        .args(["run", "--quiet", "--out"])
        .arg(&file)
        .output()
        .unwrap();
    let err = exited(&out, 1, "run into a file");
    let path = file.display().to_string();
    assert_eq!(err.matches(&path).count(), 1, "{err}");
    assert_eq!(err.matches("os error").count(), 1, "{err}");
}

#[test]
fn check_prints_the_plan() {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scenarios/loss-sweep.toml"
    );
    let out = chainsim()
        .args(["check", dir])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let s = String::from_utf8_lossy(&out);
    assert!(
        s.contains("10 point(s) × 4 replicate(s) = 40 run(s), replicate r with the same seed"),
        "{s}"
    );
    // loss-sweep: 150 blocks of 30 s, so the settle window is 100 × 30 s.
    assert!(
        s.contains("stop: mine 150 blocks, then wait up to 50m (stop.settle)")
            && s.contains("3650 days (first point)"),
        "{s}"
    );
    assert!(
        s.contains("p009-r003") && s.contains("network.loss=0.3, network.loss_mode=\"retransmit\""),
        "{s}"
    );
    // Scheduled hash power changes are listed.
    let exodus = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scenarios/hash-exodus.toml"
    );
    let out = chainsim().args(["check", exodus]).output().unwrap();
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(
        s.contains("hash_power.changes[0]: from 4h on, 10 node(s) mine with 0× their hash power")
            && s.contains("hash_power.changes[1]: from 8h on, 10 node(s) mine with 2×"),
        "{s}"
    );
    assert!(
        !s.contains("difficulty:"),
        "a fixed difficulty is not listed: {s}"
    );
    // So is the difficulty rule.
    for (file, line) in [
        (
            "retarget",
            "difficulty: retargets every 144 blocks to one per 1m (at most 4× up or down)",
        ),
        (
            "retarget-asert",
            "difficulty: ASERT toward one block per 1m, halved for every 4h48m behind schedule",
        ),
    ] {
        let path = format!("{}/../../scenarios/{file}.toml", env!("CARGO_MANIFEST_DIR"));
        let out = chainsim().args(["check", &path]).output().unwrap();
        let s = String::from_utf8_lossy(&out.stdout);
        assert!(s.contains(line), "{file}: {s}");
    }
    // So is churn, with the outages it should draw.
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scenarios/churn.toml");
    let out = chainsim().args(["check", path]).output().unwrap();
    let s = String::from_utf8_lossy(&out.stdout);
    for line in [
        "churn (p000): 200 node(s) crash and restart at random, up 1h and down 1m on average, \
         outages from 0s until 12h (about 2361; 1.6 % of node-time down)",
        "churn (p003): 200 node(s) crash and restart at random, up 1h and down 30m on average, \
         outages from 0s until 12h (about 1600; 33.3 % of node-time down)",
    ] {
        assert!(s.contains(line), "{line}: {s}");
    }
    // A swept rule: one line per point.
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scenarios/retarget-rules.toml"
    );
    let out = chainsim().args(["check", path]).output().unwrap();
    let s = String::from_utf8_lossy(&out.stdout);
    for line in [
        "difficulty (p000): fixed",
        "difficulty (p001): retargets every 144 blocks to one per 1m (at most 4× up or down)",
        "difficulty (p002): ASERT toward one block per 1m, halved for every 4h48m behind schedule",
    ] {
        assert!(s.contains(line), "{line}: {s}");
    }
}

/// A request timeout shorter than one block's transfer (1 MB at 20 Mbit/s: 0.4 s) is valid
/// but defeats itself: `check` lists it as a caution and `run` warns before it runs. So is a
/// link that resends later than the request times out.
#[test]
fn self_defeating_settings_are_cautioned_by_check_and_run() {
    let tmp = tempfile::tempdir().unwrap();
    let edits = [
        ("blocks = 200", "blocks = 5"),
        (
            "relay = \"inv-getdata\"",
            "relay = \"inv-getdata\"\nrequest_timeout = \"100ms\"",
        ),
    ];
    let (dir, err) = run_quickstart_with(tmp.path(), "hasty", &edits);
    let said = "consensus.request_timeout (100ms) is shorter than one block's transfer";
    assert!(err.contains(&format!("warning: {said}")), "{err}");
    let check = chainsim()
        .arg("check")
        .arg(dir.join("hasty.toml"))
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&check.stdout);
    assert!(out.contains(&format!("  caution: {said}")), "{out}");
    assert!(out.contains("take 400ms"), "{out}");
    // A link whose first resend comes after the request has timed out.
    let edits = [
        ("blocks = 200", "blocks = 5"),
        (
            "download = \"20Mbit/s\"",
            "download = \"20Mbit/s\"\nloss = 0.1\nloss_mode = \"retransmit\"\nretransmit_timeout = \"30s\"",
        ),
        (
            "relay = \"inv-getdata\"",
            "relay = \"inv-getdata\"\nrequest_timeout = \"10s\"",
        ),
    ];
    let (_, err) = run_quickstart_with(tmp.path(), "late-resend", &edits);
    let said =
        "network.retransmit_timeout (30s) is not shorter than consensus.request_timeout (10s)";
    assert!(err.contains(&format!("warning: {said}")), "{err}");
    // A hash power change for nodes that have none.
    let edits = [
        ("blocks = 200", "blocks = 5"),
        (
            "miners = 10             # nodes 0..10 mine, the other 90 only relay",
            "miners = 10\n\n[[consensus.hash_power.changes]]\nat = \"1m\"\nnodes = [\"5..20\"]\nfactor = 2.0",
        ),
    ];
    let (_, err) = run_quickstart_with(tmp.path(), "idle-change", &edits);
    let said =
        "consensus.hash_power.changes[0]: 10 of its nodes (the first: 10) have no hash power";
    assert!(err.contains(&format!("warning: {said}")), "{err}");
    // The quickstart as shipped has nothing to caution about.
    let (_, err) = run_quickstart_with(tmp.path(), "plain", &[("blocks = 200", "blocks = 5")]);
    assert!(!err.contains("warning"), "{err}");
}

/// Runs one replicate of the quickstart with `edits` (replacements) in its own folder under
/// `tmp`, which must exit 0; its folder and stderr.
fn run_quickstart_with(
    tmp: &Path,
    name: &str,
    edits: &[(&str, &str)],
) -> (std::path::PathBuf, String) {
    let mut text = scenario::QUICKSTART.replacen("replicates = 3", "replicates = 1", 1);
    for (from, to) in edits {
        assert!(text.contains(from), "{from}");
        text = text.replacen(from, to, 1);
    }
    let dir = tmp.join(name);
    std::fs::create_dir(&dir).unwrap();
    let (_, out) = run_text(&dir, &format!("{name}.toml"), &text);
    let err = exited(&out, 0, "run");
    (dir, err)
}

/// A run whose replicas never agree (every message lost) finishes, exit 0, records
/// `stop_reason = "unsettled"`, and warns on stderr that its metrics describe that state.
#[test]
fn unsettled_runs_finish_and_warn() {
    let tmp = tempfile::tempdir().unwrap();
    let short = ("blocks = 200", "blocks = 10\nsettle = \"1h\"");
    let (dir, err) = run_quickstart_with(
        tmp.path(),
        "lost",
        &[short, ("[consensus]", "loss = 1.0\n\n[consensus]")],
    );
    assert!(
        err.contains("warning: run p000-r000 ended unsettled") && err.contains("stop.settle"),
        "{err}"
    );
    assert_eq!(
        summary(&dir.join("out"))["runs"][0]["stop_reason"],
        "unsettled"
    );
    assert!(!err.contains("groups"), "loss cuts no links: {err}");
    let net = &summary(&dir.join("out"))["runs"][0]["network"];
    let lost = format!(
        "the network lost {0} of {0} messages (loss {0})",
        net["messages"]
    );
    assert!(err.contains(&lost), "{err}");
    assert!(
        !err.contains("upload link"),
        "nothing was sent twice: {err}"
    );
    assert!(
        !err.contains("gave up"),
        "nothing arrived, so nothing was fetched: {err}"
    );
    let report = |dir: &Path| std::fs::read_to_string(dir.join("out/report.html")).unwrap();
    assert!(!report(&dir).contains("behind after a give-up"));
    assert!(!report(&dir).contains("upload backlog"));
    assert!(!err.contains("in flight") && !report(&dir).contains("in flight past"));
    // Lossy, with one request per announcement wave: replicas give up, and the warning says
    // how many are still behind for that.
    let once = ("[consensus]", "loss = 0.3\n\n[consensus]\nmax_attempts = 1");
    let (dir, err) = run_quickstart_with(tmp.path(), "once", &[short, once]);
    let m = &summary(&dir.join("out"))["runs"][0]["metrics"];
    let behind = m["replicas_missing_abandoned"].as_u64().unwrap();
    assert!(
        behind > 0 && m["fetches_abandoned"].as_u64().unwrap() >= behind,
        "{m}"
    );
    let said = format!("{behind} of them lack a block they gave up fetching");
    assert!(err.contains(&said), "{err}");
    assert!(report(&dir).contains("<th>behind after a give-up</th>"));
    // Lossy, one block, requests that wait ten hours: the settle window closes while some
    // replicas still wait, and the warning counts them.
    let waiting = [
        ("blocks = 200", "blocks = 1\nsettle = \"10m\""),
        (
            "[consensus]",
            "loss = 0.3\n\n[consensus]\nrequest_timeout = \"10h\"",
        ),
    ];
    let (dir, err) = run_quickstart_with(tmp.path(), "waiting", &waiting);
    let k = summary(&dir.join("out"))["runs"][0]["metrics"]["replicas_fetching"].as_u64();
    assert!(k.is_some_and(|k| k > 0), "{k:?}");
    let verb = if k == Some(1) { "was" } else { "were" };
    let said = format!(
        "{} of them {verb} still fetching, a request awaiting",
        k.unwrap()
    );
    assert!(err.contains(&said), "{err}");
    assert!(report(&dir).contains("<th>still fetching at the end</th>"));
    // One block, and an hour's latency: the settle window closes while the miner's
    // announcements are still on their way, and the warning counts them.
    let slow = [
        ("blocks = 200", "blocks = 1\nsettle = \"10m\""),
        ("latency = \"100ms\"", "latency = \"1h\""),
        (
            "latency_spread = \"exponential\"",
            "latency_spread = \"constant\"",
        ),
    ];
    let (dir, err) = run_quickstart_with(tmp.path(), "slow", &slow);
    let net = &summary(&dir.join("out"))["runs"][0]["network"];
    assert_eq!(net["in_flight"], 8, "the miner's 8 announcements: {net}");
    let past = net["in_flight_s"].as_f64().unwrap();
    assert!(past > 0.0 && past < 3600.0, "{net}");
    let said = format!("8 messages were still in flight, the last arriving {past:.1} s past");
    assert!(err.contains(&said), "{err}");
    assert!(report(&dir).contains("<th>in flight past the end (s)</th>"));
    // A lone miner everyone fetches from, with requests asked again while the first
    // transfers still wait: the warning names its swamped upload link.
    let swamped = [
        ("blocks = 200", "blocks = 20\nsettle = \"10m\""),
        (
            "topology = \"random-regular\"\ndegree = 8",
            "topology = \"complete\"",
        ),
        ("miners = 10", "miners = 1"),
        (
            "block_interval = \"60s\"",
            "block_interval = \"20s\"\nrequest_timeout = \"5s\"\nmax_attempts = 3",
        ),
    ];
    let (dir, err) = run_quickstart_with(tmp.path(), "swamped", &swamped);
    let net = &summary(&dir.join("out"))["runs"][0]["network"];
    assert_eq!(net["upload_backlog_node"], 0, "{net}");
    assert!(
        err.contains("node 0's upload link was still booked"),
        "{err}"
    );
    assert!(report(&dir).contains("<th>upload backlog (s)</th>"));
    assert!(err.contains("the honest replicas were still on "), "{err}");
    // Fewer blocks: every replica has them all by the end, but transfers asked again still
    // wait on the miner's link, so the network is not quiet.
    let mut fewer = swamped;
    fewer[0] = ("blocks = 200", "blocks = 10\nsettle = \"10m\"");
    let (_, err) = run_quickstart_with(tmp.path(), "swamped-few", &fewer);
    assert!(
        err.contains("the honest replicas were on one tip, but the network was not yet quiet")
            && err.contains("node 0's upload link was still booked"),
        "{err}"
    );
    // A partition that never heals: the warning says the replicas are cut apart.
    let partition = "[[network.partitions]]\ngroups = [[\"0..50\"]]\nfrom = \"0s\"\n\n[consensus]";
    let (_, err) = run_quickstart_with(tmp.path(), "split", &[short, ("[consensus]", partition)]);
    assert!(err.contains("groups that cannot reach each other"), "{err}");
    // Every miner down for good: mining stops there, and the warning says why.
    let crash = "[[network.crashes]]\nnode = 0\nat = \"10m\"\n\n[consensus]";
    let (_, err) = run_quickstart_with(
        tmp.path(),
        "starved",
        &[("miners = 10", "miners = 1"), ("[consensus]", crash)],
    );
    assert!(
        err.contains("warning: run p000-r000 ended no-hash-power: every miner was down for good"),
        "{err}"
    );
}

/// `chainsim trace` writes every record the trace hash was computed over: hashing its raw
/// columns again gives the recorded hash. Its filters keep only what they name, a run whose
/// hash no longer matches its record gets no trace, and bad arguments exit 2.
#[test]
fn trace_writes_what_was_hashed_and_filters_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("q");
    let small = ["--set", "stop.blocks=15", "--set", "network.loss=0.1"];
    run_into(&dir, &small);
    let trace = |args: &[&str]| {
        let mut c = chainsim();
        c.arg("trace").arg(&dir).args(args);
        c.output().unwrap()
    };
    let rows = |path: &Path| -> Vec<Vec<String>> {
        let text = std::fs::read_to_string(path).unwrap();
        let mut lines = text.lines();
        assert_eq!(
            lines.next(),
            Some("t_ns,t_s,code,src,dst,payload,event,kind,block")
        );
        lines
            .map(|l| l.split(',').map(String::from).collect())
            .collect()
    };
    let recorded = |id: &str| -> String {
        let text = std::fs::read_to_string(dir.join("runs").join(format!("{id}.json"))).unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        v["trace_hash"].as_str().unwrap().to_string()
    };

    let out = trace(&["--run", "p000-r001"]);
    exited(&out, 0, "trace");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("as recorded"), "{said}");
    let all = rows(&dir.join("traces").join("p000-r001.csv"));
    let mut h = des::TraceHasher::new();
    for r in &all {
        let n = |i: usize| r[i].parse::<u64>().unwrap();
        h.record(
            des::SimTime::from_nanos(n(0)),
            n(2) as u8,
            n(3) as u32,
            n(4) as u32,
            n(5),
        );
    }
    assert_eq!(h.hex(), recorded("p000-r001"));
    for kind in ["message", "timer", "control", "created"] {
        assert!(all.iter().any(|r| r[6] == kind), "no {kind} rows");
    }

    let some = tmp.path().join("node3.csv");
    let out = trace(&[
        "--run",
        "p000-r001",
        "--node",
        "3",
        "--kind",
        "message",
        "--from",
        "1m",
        "--out",
        some.to_str().unwrap(),
    ]);
    exited(&out, 0, "filtered trace");
    let kept = rows(&some);
    assert!(!kept.is_empty());
    assert!(kept.len() < all.len());
    for r in &kept {
        assert!(r[3] == "3" || r[4] == "3", "{r:?}");
        assert_eq!(r[6], "message");
        assert!(r[0].parse::<u64>().unwrap() >= 60_000_000_000);
    }
    let expected = all
        .iter()
        .filter(|r| r[6] == "message" && (r[3] == "3" || r[4] == "3"))
        .filter(|r| r[0].parse::<u64>().unwrap() >= 60_000_000_000)
        .count();
    assert_eq!(kept.len(), expected);

    for (args, says) in [
        (vec![], "name one with --run"),
        (vec!["--run", "p009-r000"], "no run p009-r000"),
        (
            vec!["--run", "p000-r000", "--kind", "bogus"],
            "--kind bogus",
        ),
        (vec!["--run", "p000-r000", "--node", "100"], "--node 100"),
        (vec!["--run", "p000-r000", "--from", "soon"], "--from soon"),
        (
            vec!["--run", "p000-r000", "--from", "2m", "--until", "1m"],
            "is before --from",
        ),
    ] {
        let out = trace(&args);
        let err = exited(&out, 2, &format!("{args:?}"));
        assert!(err.contains(says), "{args:?}: {err}");
    }

    // An altered record: no trace is put in place, and nothing is left behind.
    let run = dir.join("runs").join("p000-r000.json");
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&run).unwrap()).unwrap();
    v["trace_hash"] = Value::String("0".repeat(64));
    std::fs::write(&run, serde_json::to_string(&v).unwrap()).unwrap();
    let out = trace(&["--run", "p000-r000"]);
    exited(&out, 1, "mismatch");
    assert!(String::from_utf8_lossy(&out.stdout).contains("MISMATCH p000-r000"));
    let left: Vec<_> = std::fs::read_dir(dir.join("traces"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(left, vec!["p000-r001.csv".to_string()]);
}

/// A churning run records its outages and the time its honest nodes were online, and the
/// report shows that column (only when some point has crashes or churn).
#[test]
fn churn_outages_are_recorded_and_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let edits = [
        ("blocks = 200", "blocks = 30"),
        (
            "[consensus]",
            "[network.churn]\nuptime = \"5m\"\ndowntime = \"1m\"\nuntil = \"20m\"\n\n[consensus]",
        ),
    ];
    let (dir, _) = run_quickstart_with(tmp.path(), "churny", &edits);
    let out = dir.join("out");
    let rec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("runs/p000-r000.json")).unwrap())
            .unwrap();
    let m = &rec["metrics"];
    assert!(m["honest_outages"].as_u64().unwrap() > 50, "{m}");
    let online = m["honest_online_mean"].as_f64().unwrap();
    assert!(online > 0.5 && online < 1.0, "{online}");
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("honest online (mean)"));
    // The time series has the fraction online, and the convergence figure draws it.
    let ts = std::fs::read_to_string(out.join("timeseries/p000-r000.csv")).unwrap();
    assert!(
        ts.starts_with("t_s,consistency,prefix_depth,tips,online\n"),
        "{ts}"
    );
    let online: Vec<f64> = (ts.lines().skip(1))
        .map(|l| l.rsplit(',').next().unwrap().parse().unwrap())
        .collect();
    assert!(online.iter().any(|&x| x < 1.0) && online.iter().all(|&x| x > 0.0));
    let fig = std::fs::read_to_string(out.join("figures/convergence.csv")).unwrap();
    assert!(fig.contains("honest nodes online"));
    let (dir, _) = run_quickstart_with(tmp.path(), "steady", &[("blocks = 200", "blocks = 5")]);
    let html = std::fs::read_to_string(dir.join("out/report.html")).unwrap();
    assert!(!html.contains("honest online"));
    let fig = std::fs::read_to_string(dir.join("out/figures/convergence.csv")).unwrap();
    assert!(!fig.contains("honest nodes online"));
}
