//! Figures and report.html: every figure is written as a valid PNG and SVG of the stated size,
//! with its data as CSV,
//! `chainsim plot` redraws them byte for byte from saved results alone, and a damaged results
//! folder gives a clear error (exit 2), never a panic.

use assert_cmd::Command;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Small and fast, but with everything the figures draw: a two-parameter sweep, replicates, a
/// partition window, forks.
const SCENARIO: &str = r#"
name = "fig-test"
description = "figure test: 2 × 2 sweep, a partition"
seed = 5
replicates = 2

[stop]
blocks = 40

[network]
nodes = 30
topology = "random-regular"
degree = 4
latency = "200ms"
latency_spread = "exponential"

[[network.partitions]]
groups = [["0..15"]]
from = "5m"
until = "15m"

[consensus]
block_interval = "30s"

[consensus.hash_power]
miners = 10

[sweep]
"consensus.block_interval" = ["20s", "40s"]
"network.loss" = [0.0, 0.1]
"#;

fn chainsim() -> Command {
    Command::cargo_bin("chainsim").unwrap()
}

/// Writes `text` as `<name>.toml` in `dir`, runs it into `dir/<name>/` and returns that folder.
fn run_text(dir: &Path, name: &str, text: &str) -> PathBuf {
    let file = dir.join(format!("{name}.toml"));
    std::fs::write(&file, text).unwrap();
    let out = dir.join(name);
    chainsim()
        .args(["run", "--quiet", "--out"])
        .arg(&out)
        .arg(&file)
        .assert()
        .success();
    out
}

fn run_small() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let out = run_text(tmp.path(), "out", SCENARIO);
    (tmp, out)
}

/// A figure's data file: its `#` comment lines and its rows under the fixed header.
fn figure_data(bytes: &[u8]) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::str::from_utf8(bytes).unwrap();
    let comments: Vec<String> = (text.lines())
        .take_while(|l| l.starts_with('#'))
        .map(String::from)
        .collect();
    let mut r = csv::ReaderBuilder::new()
        .comment(Some(b'#'))
        .from_reader(bytes);
    let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        header,
        ["series", "name", "x", "y", "y_low", "y_high", "x_to"]
    );
    let rows = r
        .records()
        .map(|rec| rec.unwrap().iter().map(String::from).collect())
        .collect();
    (comments, rows)
}

fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect()
}

#[test]
fn run_writes_every_figure_as_png_and_svg_and_a_self_contained_report() {
    let (_tmp, out) = run_small();
    let figs = files(&out.join("figures"));
    let mut expected = vec![
        "convergence-cdf".to_string(),
        "propagation".into(),
        "fork-rate".into(),
    ];
    for p in 0..4 {
        expected.push(format!("convergence-p{p:03}"));
        expected.push(format!("prefix-depth-p{p:03}"));
    }
    assert_eq!(figs.len(), expected.len() * 3, "{:?}", figs.keys());
    for name in &expected {
        let png_bytes = &figs[&format!("{name}.png")];
        let reader = png::Decoder::new(std::io::Cursor::new(png_bytes.as_slice()))
            .read_info()
            .unwrap_or_else(|e| panic!("{name}.png is not a PNG: {e}"));
        let info = reader.info();
        assert_eq!((info.width, info.height), (1200, 800), "{name}.png");

        let svg = std::str::from_utf8(&figs[&format!("{name}.svg")]).unwrap();
        let doc = roxmltree::Document::parse(svg)
            .unwrap_or_else(|e| panic!("{name}.svg is not XML: {e}"));
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "svg");
        assert_eq!(root.attribute("width"), Some("1200"));
        assert_eq!(root.attribute("height"), Some("800"));
        // Not an empty plot: data lines and text (title, axis labels) are there.
        let lines = doc
            .descendants()
            .filter(|n| n.tag_name().name() == "polyline")
            .count();
        assert!(lines >= 2, "{name}.svg has {lines} lines");
        let text: String = doc
            .descendants()
            .filter(|n| n.is_text())
            .filter_map(|n| n.text())
            .collect();
        assert!(text.contains("fig-test"), "{name}.svg has no title");

        let (comments, rows) = figure_data(&figs[&format!("{name}.csv")]);
        assert!(comments[0].contains("fig-test") && comments[1].starts_with("# x: "));
        assert!(!rows.is_empty(), "{name}.csv has no rows");
    }
    // The data behind the fork-rate figure is the summary's: one simulated row per point,
    // with its mean and 95 % interval.
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    let (_, rows) = figure_data(&figs["fork-rate.csv"]);
    let simulated: Vec<&Vec<String>> = rows
        .iter()
        .filter(|r| r[1].starts_with("simulated"))
        .collect();
    assert_eq!(simulated.len(), 4);
    for p in summary["points"].as_array().unwrap() {
        let m = &p["metrics"]["fork_rate"];
        let (mean, ci) = (m["mean"].as_f64().unwrap(), m["ci95"].as_f64().unwrap());
        let hit = simulated.iter().any(|r| {
            let f = |i: usize| r[i].parse::<f64>().unwrap();
            f(3) == mean && (f(5) - mean - ci).abs() < 1e-12
        });
        assert!(hit, "no fork-rate row for point {}", p["point"]);
    }
    // The per-replicate lines are named by run; the partition is a band row.
    let (_, rows) = figure_data(&figs["convergence-p000.csv"]);
    assert!(rows.iter().any(|r| r[1] == "p000-r001"));
    let band = rows
        .iter()
        .find(|r| r[0] == "band")
        .expect("partition band");
    assert_eq!(
        (band[1].as_str(), band[2].as_str(), band[6].as_str()),
        ("partition", "5", "15")
    );
    // The partition shows as a band on the time series.
    let conv = std::str::from_utf8(&figs["convergence-p000.svg"]).unwrap();
    assert!(conv.contains("partition"));
    // The fork-rate figure has one line per value of the second parameter, and theory.
    let fr = std::str::from_utf8(&figs["fork-rate.svg"]).unwrap();
    assert!(fr.contains("network.loss=0.1") && fr.contains("network.loss=0.0"));
    assert!(fr.contains("estimate 1 − e^(−Δ/T)"));

    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert_eq!(html.matches("<svg").count(), expected.len());
    for needle in [
        "fig-test",
        "scenario sha256",
        "p003",
        "fork rate",
        "[sweep]",
    ] {
        assert!(html.contains(needle), "report lacks {needle}");
    }
    assert!(
        !html.contains("http://")
            || html.matches("http://").count() == html.matches("xmlns").count()
    );
    assert!(
        !html.contains("src=") && !html.contains("<link"),
        "no external assets"
    );
}

/// A flat table of the folder: its header and rows, by column name.
fn table(path: &Path) -> Vec<BTreeMap<String, String>> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    let mut seen = header.clone();
    seen.sort();
    seen.dedup();
    assert_eq!(
        seen.len(),
        header.len(),
        "{}: repeated columns",
        path.display()
    );
    r.records()
        .map(|rec| {
            header
                .iter()
                .cloned()
                .zip(rec.unwrap().iter().map(String::from))
                .collect()
        })
        .collect()
}

/// `points.csv` and `runs.csv` say what `summary.json` says, one row per point and per run,
/// with the swept keys as columns.
#[test]
fn flat_tables_match_the_summary() {
    let (_tmp, out) = run_small();
    let s: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    let num = |v: &str| v.parse::<f64>().unwrap();
    let points = table(&out.join("points.csv"));
    let spoints = s["points"].as_array().unwrap();
    assert_eq!(points.len(), spoints.len());
    for (row, p) in points.iter().zip(spoints) {
        assert_eq!(num(&row["point"]), p["point"].as_f64().unwrap());
        assert_eq!(row["replicates"], "2");
        let interval = p["params"]["consensus.block_interval"].as_str().unwrap();
        assert_eq!(row["consensus.block_interval"], interval);
        let loss = p["params"]["network.loss"].as_f64().unwrap();
        assert_eq!(num(&row["network.loss"]), loss);
        for m in ["fork_rate", "convergence_time_mean_s", "events"] {
            let want = &p["metrics"][m];
            assert_eq!(
                num(&row[&format!("{m}_mean")]),
                want["mean"].as_f64().unwrap(),
                "{m}"
            );
            assert_eq!(
                num(&row[&format!("{m}_ci95")]),
                want["ci95"].as_f64().unwrap(),
                "{m}"
            );
        }
        // No attacker: the attacker columns are blank, not zero.
        assert_eq!(row["attacker_share_mean"], "");
    }
    let runs = table(&out.join("runs.csv"));
    let sruns = s["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 8);
    for (row, r) in runs.iter().zip(sruns) {
        assert_eq!(row["id"], r["id"].as_str().unwrap());
        assert_eq!(row["trace_hash"], r["trace_hash"].as_str().unwrap());
        assert_eq!(row["seed"], r["seed"].to_string());
        let m = &r["metrics"];
        assert_eq!(num(&row["fork_rate"]), m["fork_rate"].as_f64().unwrap());
        assert_eq!(num(&row["messages"]), m["messages"].as_f64().unwrap());
        assert_eq!(num(&row["events"]), m["events"].as_f64().unwrap());
    }
}

#[test]
fn plot_redraws_byte_for_byte_from_saved_results_alone() {
    let (_tmp, out) = run_small();
    let before = files(&out.join("figures"));
    let report = std::fs::read(out.join("report.html")).unwrap();
    let tables = ["points.csv", "runs.csv"].map(|f| std::fs::read(out.join(f)).unwrap());
    std::fs::remove_dir_all(out.join("figures")).unwrap();
    std::fs::remove_file(out.join("report.html")).unwrap();
    for f in ["points.csv", "runs.csv"] {
        std::fs::remove_file(out.join(f)).unwrap();
    }
    // Without the per-run records nothing could be re-run or resumed; plot must not need them.
    std::fs::remove_dir_all(out.join("runs")).unwrap();
    chainsim().arg("plot").arg(&out).assert().success();
    let after = files(&out.join("figures"));
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>()
    );
    for (name, bytes) in &before {
        if name.ends_with(".svg") || name.ends_with(".csv") {
            assert!(bytes == &after[name], "{name} differs after plot");
        }
    }
    assert!(report == std::fs::read(out.join("report.html")).unwrap());
    assert!(tables == ["points.csv", "runs.csv"].map(|f| std::fs::read(out.join(f)).unwrap()));
    assert!(!out.join("runs").exists(), "plot ran something");
}

fn plot_fails(dir: &Path, needles: &[&str]) {
    let o = chainsim().arg("plot").arg(dir).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "stderr: {err}");
    for n in needles {
        assert!(err.contains(n), "stderr lacks {n:?}: {err}");
    }
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn damaged_results_give_a_clear_error() {
    let (tmp, out) = run_small();
    plot_fails(
        &tmp.path().join("nothing-here"),
        &["scenario.meta.json", "missing"],
    );

    let blocks = out.join("blocks").join("p001-r001.csv");
    let good = std::fs::read_to_string(&blocks).unwrap();
    let mut lines: Vec<&str> = good.lines().collect();
    lines[3] = "3,3,not-a-miner,1.0,true,,,,,";
    std::fs::write(&blocks, lines.join("\n")).unwrap();
    plot_fails(&out, &["p001-r001.csv", "corrupt", "line 4"]);
    std::fs::write(&blocks, good).unwrap();

    let ts = out.join("timeseries").join("p002-r000.csv");
    std::fs::remove_file(&ts).unwrap();
    plot_fails(&out, &["p002-r000.csv", "missing"]);

    let summary = out.join("summary.json");
    std::fs::write(&summary, "{ \"scenario\": ").unwrap();
    plot_fails(&out, &["summary.json", "corrupt"]);
}

/// Sweeps over an attacker's hash share or confirmations get the published curves; attack
/// windows are shaded on the time series.
#[test]
fn attack_sweeps_get_their_figures_and_windows_are_shaded() {
    let tmp = tempfile::tempdir().unwrap();
    let common = r#"
replicates = 1
[stop]
blocks = 150
[network]
nodes = 21
topology = "complete"
latency = "10ms"
[consensus]
block_interval = "10m"
relay = "push"
"#;
    let cases = [
        (
            "sm",
            "[[byzantine]]\nstrategy = \"selfish\"\nnodes = [0]\nhash_share = 0.3\nuntil = \"10h\"\n\
             [sweep]\n\"byzantine.0.hash_share\" = [0.2, 0.4]\n",
            "selfish-revenue",
            "Eyal–Sirer",
        ),
        (
            "ds",
            "[[byzantine]]\nstrategy = \"double-spend\"\nnodes = [0]\nhash_share = 0.3\n\
             [sweep]\n\"byzantine.0.confirmations\" = [1, 3]\n",
            "double-spend",
            "Rosenfeld",
        ),
    ];
    for (name, table, figure, curve) in cases {
        let out = run_text(
            tmp.path(),
            name,
            &format!("name = \"{name}\"\n{common}{table}"),
        );
        let svg = std::fs::read_to_string(out.join("figures").join(format!("{figure}.svg")))
            .unwrap_or_else(|e| panic!("{name}: no {figure}.svg: {e}"));
        roxmltree::Document::parse(&svg).unwrap();
        assert!(svg.contains(curve) && svg.contains("simulated"), "{name}");
        assert!(out.join("figures").join(format!("{figure}.png")).exists());
    }
    let conv = std::fs::read_to_string(tmp.path().join("sm/figures/convergence-p000.svg")).unwrap();
    assert!(
        conv.contains("selfish attack"),
        "the attack window is not shaded"
    );
    let html = std::fs::read_to_string(tmp.path().join("ds/report.html")).unwrap();
    assert!(html.contains("<h2>Attacks</h2>") && html.contains("double-spend success"));
}

/// With retargeting a point gets a `difficulty` figure: per replicate, the main chain's
/// difficulty as steps (one pair of rows per block, read from blocks/<id>.csv), a dashed line
/// at each scheduled hash power change, and `plot` redraws it byte for byte.
#[test]
fn retargeting_runs_get_a_difficulty_figure_from_their_blocks() {
    let tmp = tempfile::tempdir().unwrap();
    let text = r#"
name = "diff"
seed = 3
replicates = 2
[stop]
blocks = 60
[network]
nodes = 12
topology = "complete"
latency = "10ms"
[consensus]
block_interval = "1m"
relay = "push"
[consensus.difficulty]
retarget = "epoch"
every = 10
[[consensus.hash_power.changes]]
at = "20m"
nodes = ["0..12"]
factor = 3.0
"#;
    let out = run_text(tmp.path(), "diff", text);
    let figs = out.join("figures");
    let (comments, rows) = figure_data(&std::fs::read(figs.join("difficulty.csv")).unwrap());
    assert!(
        comments[0].contains("retarget every 10 blocks"),
        "{comments:?}"
    );
    let change: Vec<_> = rows
        .iter()
        .filter(|r| r[1] == "scheduled hash power changes")
        .collect();
    assert_eq!(change.len(), 2, "one dashed line from bottom to top");
    assert!(change.iter().all(|r| r[2] == change[0][2]));
    for id in ["p000-r000", "p000-r001"] {
        let mut main: Vec<(u32, String)> = (table(&out.join("blocks").join(format!("{id}.csv"))))
            .into_iter()
            .filter(|b| b["main"] == "true")
            .map(|b| (b["height"].parse().unwrap(), b["difficulty"].clone()))
            .collect();
        main.sort();
        let ys: Vec<f64> = (rows.iter())
            .filter(|r| r[1] == id)
            .map(|r| r[3].parse().unwrap())
            .collect();
        assert_eq!(ys.len(), 2 * main.len(), "{id}: two rows a block");
        for (i, (_, d)) in main.iter().enumerate() {
            let d: f64 = d.parse().unwrap();
            assert_eq!((ys[2 * i], ys[2 * i + 1]), (d, d), "{id}, block {}", i + 1);
        }
        assert!(
            ys.iter().any(|&y| y > 1.5),
            "{id}: 3× the hash power, no retarget up"
        );
    }
    let before = files(&figs);
    chainsim().arg("plot").arg(&out).assert().success();
    let after = files(&figs);
    for ext in ["svg", "csv"] {
        let f = format!("difficulty.{ext}");
        assert!(before[&f] == after[&f], "{f} drawn differently");
    }
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("final difficulty") && html.contains("block interval mean"));
    let (_tmp, fixed) = run_small();
    let html = std::fs::read_to_string(fixed.join("report.html")).unwrap();
    assert!(!html.contains("final difficulty") && html.contains("block interval mean"));
    assert!(!fixed.join("figures/difficulty.png").exists());
}
