//! `chainsim validate`: every check against the published formulas passes, the table states its
//! sample sizes, and the figures are written.

use assert_cmd::Command;

#[test]
fn validation_suite_passes_and_writes_its_table_and_figures() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::cargo_bin("chainsim")
        .unwrap()
        .args(["validate", "--quiet", "--out"])
        .arg(tmp.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "validate failed:\n{stdout}");
    for group in [
        "selfish mining revenue",
        "double-spend success",
        "honest stale rate",
        "miner share, no attacker",
        "selfish profitability threshold",
        "difficulty retarget",
        "selfish mining revenue, retargeting",
    ] {
        assert!(stdout.contains(group), "no {group} rows");
    }
    // 7 α × 3 γ revenue rows, 7 double-spend rows, 3 stale rows, 4 shares, 3 thresholds, 2
    // rules × 2 hash powers × 2 retarget rows, 3 revenue rows under retargeting.
    let rows = stdout.lines().filter(|l| l.ends_with("| pass |")).count();
    assert_eq!(rows, 21 + 7 + 3 + 4 + 3 + 8 + 3, "{stdout}");
    assert!(!stdout.contains("FAIL"));
    assert!(stdout.contains("20 runs × 3000 blocks") && stdout.contains("races"));
    let table = std::fs::read_to_string(tmp.path().join("validation.md")).unwrap();
    assert!(stdout.starts_with(&table));
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("validation.json")).unwrap())
            .unwrap();
    assert_eq!(json.as_array().unwrap().len(), rows);
    for f in ["selfish-revenue", "double-spend"] {
        for ext in ["png", "svg"] {
            let p = tmp.path().join("figures").join(format!("{f}.{ext}"));
            assert!(
                std::fs::metadata(&p).unwrap().len() > 1000,
                "{}",
                p.display()
            );
        }
    }
}
