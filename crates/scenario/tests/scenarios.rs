use scenario::{QUICKSTART, ScenarioErrors, parse};

fn with(replace: &str, by: &str) -> String {
    assert!(QUICKSTART.contains(replace), "{replace}");
    QUICKSTART.replacen(replace, by, 1)
}

fn err(text: &str) -> ScenarioErrors {
    parse("t.toml", text).expect_err("must fail")
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).unwrap() + 1
}

#[test]
fn quickstart_is_valid_and_expands() {
    let plan = parse("quickstart.toml", QUICKSTART).unwrap();
    assert_eq!(plan.name, "quickstart");
    assert_eq!(plan.points.len(), 1);
    assert_eq!(plan.runs.len(), 3);
    let seeds: std::collections::BTreeSet<u64> = plan.runs.iter().map(|r| r.seed).collect();
    assert_eq!(seeds.len(), 3);
    assert_eq!(plan.sha256.len(), 64);
}

#[test]
fn every_shipped_scenario_validates() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scenarios");
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "toml") {
            let text = std::fs::read_to_string(&p).unwrap();
            if let Err(e) = parse(&p.display().to_string(), &text) {
                panic!("{e}");
            }
            n += 1;
        }
    }
    assert!(n >= 6, "only {n} scenarios");
}

/// Hash power changes come through as written: time, node ids (ranges expanded), factor.
#[test]
fn hash_power_changes_are_parsed() {
    let text = with(
        "miners = 10             # nodes 0..10 mine, the other 90 only relay",
        "miners = 10\n\n[[consensus.hash_power.changes]]\nat = \"90m\"\nnodes = [\"0..3\", 7]\nfactor = 0.0\n\n[[consensus.hash_power.changes]]\nat = \"3h\"\nnodes = [1]\nfactor = 2.5",
    );
    let plan = parse("t.toml", &text).unwrap();
    let changes = &plan.points[0].config.hash_changes;
    assert_eq!(changes.len(), 2);
    assert_eq!(changes[0].at, des::SimDuration::from_secs(5400));
    assert_eq!(changes[0].nodes, vec![0, 1, 2, 7]);
    assert_eq!((changes[0].factor, changes[1].factor), (0.0, 2.5));
    assert_eq!(changes[1].nodes, vec![1]);
    let e = err(&text.replace("factor = 2.5", "factor = 2.5\nwhen = 3"));
    assert!(e.to_string().contains("when"), "{e}");
}

/// `[consensus.difficulty]`: fixed by default, Bitcoin's epoch parameters by default under
/// `epoch`, Bitcoin Cash's half-life under `asert`, and the values as written.
#[test]
fn difficulty_rules_are_parsed() {
    let cfg = |text: &str| parse("t.toml", text).unwrap().points[0].config.clone();
    assert_eq!(cfg(QUICKSTART).retarget, chain::Retarget::FIXED);
    let epoch = with(
        "[consensus]",
        "[consensus.difficulty]\nretarget = \"epoch\"\n\n[consensus]",
    );
    assert_eq!(cfg(&epoch).retarget, chain::Retarget::epoch(2016, 4.0));
    let set = epoch.replace("\"epoch\"", "\"epoch\"\nevery = 144\nclamp = 2.5");
    assert_eq!(cfg(&set).retarget, chain::Retarget::epoch(144, 2.5));
    let asert = epoch.replace("\"epoch\"", "\"asert\"");
    let two_days = des::SimDuration::from_secs(2 * 86_400);
    assert_eq!(cfg(&asert).retarget, chain::Retarget::asert(two_days));
    let set = asert.replace("\"asert\"", "\"asert\"\nhalf_life = \"1h\"");
    let hour = des::SimDuration::from_secs(3600);
    assert_eq!(cfg(&set).retarget, chain::Retarget::asert(hour));
    let fixed = with(
        "[consensus]",
        "[consensus.difficulty]\nretarget = \"fixed\"\n\n[consensus]",
    );
    assert_eq!(cfg(&fixed).retarget, chain::Retarget::FIXED);
}

/// A sweep over the rule itself may give each swept rule its keys in one table: each point
/// keeps its own rule's. A key of a rule no point uses, or a swept key of another rule, is
/// still refused.
#[test]
fn a_swept_difficulty_rule_takes_each_rules_keys() {
    let table =
        "[consensus.difficulty]\nevery = 144\nclamp = 2.5\nhalf_life = \"1h\"\n\n[consensus]";
    let text = format!(
        "{}\n[sweep]\n\"consensus.difficulty.retarget\" = [\"fixed\", \"epoch\", \"asert\"]\n",
        with("[consensus]", table)
    );
    let plan = parse("t.toml", &text).unwrap();
    let rules: Vec<chain::Retarget> = plan.points.iter().map(|p| p.config.retarget).collect();
    let hour = des::SimDuration::from_secs(3600);
    assert_eq!(
        rules,
        [
            chain::Retarget::FIXED,
            chain::Retarget::epoch(144, 2.5),
            chain::Retarget::asert(hour)
        ]
    );
    // `fixed` and `epoch` only: half_life belongs to neither.
    let two = text.replace(", \"asert\"]", "]");
    let e = err(&two);
    assert_eq!(
        e.0[0].key.as_deref(),
        Some("consensus.difficulty.half_life"),
        "{e}"
    );
    assert!(e.to_string().contains("only applies with"), "{e}");
    // A swept `every` is set at the asert point too, and refused there.
    let swept = text.replace("every = 144\n", "") + "\"consensus.difficulty.every\" = [72]\n";
    let e = err(&swept);
    assert_eq!(
        e.0[0].key.as_deref(),
        Some("consensus.difficulty.every"),
        "{e}"
    );
    assert!(e.to_string().contains("retarget=\"asert\""), "{e}");
}

/// `[network.churn]`: every node by default, the window's end from stop.time; refused with a
/// key named: no end at all, zero mean times, a window that ends before it starts, a node that
/// also has scheduled crashes, far too many outages.
#[test]
fn churn_is_parsed_and_checked() {
    let table = |body: &str| {
        with(
            "[consensus]",
            &format!("[network.churn]\n{body}\n\n[consensus]"),
        )
    };
    let timed = |t: String| t.replace("blocks = 200 ", "time = \"3h\" ");
    let plan = parse(
        "t.toml",
        &timed(table("uptime = \"1h\"\ndowntime = \"5m\"")),
    )
    .unwrap();
    let c = plan.points[0].config.churn.clone().expect("churn");
    assert_eq!(c.nodes.len(), plan.points[0].config.nodes as usize);
    assert_eq!(c.until, des::SimDuration::from_secs(3 * 3600));
    assert_eq!(c.downtime, des::SimDuration::from_secs(300));
    let some = table(
        "nodes = [\"0..10\"]\nuptime = \"1h\"\ndowntime = \"5m\"\nfrom = \"1h\"\nuntil = \"2h\"",
    );
    let c = parse("t.toml", &some).unwrap().points[0]
        .config
        .churn
        .clone()
        .unwrap();
    assert_eq!((c.nodes.len(), c.from.as_secs_f64()), (10, 3600.0));
    // Named twice, a node still churns once.
    let twice = some.replace("nodes = [\"0..10\"]", "nodes = [\"0..10\", 3, \"2..5\"]");
    let churn = |t: &str| parse("t.toml", t).unwrap().points[0].config.churn.clone();
    assert_eq!(churn(&twice).unwrap().nodes, (0..10).collect::<Vec<u32>>());
    let refused = [
        (
            table("uptime = \"1h\"\ndowntime = \"5m\""),
            "network.churn.until",
            "stop.time",
        ),
        (
            table("uptime = \"0s\"\ndowntime = \"5m\"\nuntil = \"2h\""),
            "network.churn.uptime",
            "positive",
        ),
        (
            table("uptime = \"1h\"\ndowntime = \"5m\"\nfrom = \"2h\"\nuntil = \"1h\""),
            "network.churn.until",
            "after network.churn.from",
        ),
        (
            format!(
                "{}\n[[network.crashes]]\nnode = 4\nat = \"10m\"\n",
                table("nodes = [\"0..10\"]\nuptime = \"1h\"\ndowntime = \"5m\"\nuntil = \"2h\"")
            ),
            "network.churn.nodes",
            "network.crashes[0]",
        ),
        (
            table("uptime = \"1ms\"\ndowntime = \"1ms\"\nuntil = \"1d\""),
            "network.churn",
            "outages expected",
        ),
        (
            table("uptime = \"1h\"\ndowntime = \"5m\"\nuntil = \"2h\"\nrate = 1"),
            "network.churn.rate",
            "unknown field",
        ),
    ];
    for (text, key, says) in refused {
        let e = err(&text);
        assert_eq!(e.0[0].key.as_deref(), Some(key), "{e}");
        assert!(e.to_string().contains(says), "{says}: {e}");
    }
}

#[test]
fn malformed_toml_names_the_line() {
    let text = with("nodes = 100", "nodes = = 100");
    let e = err(&text);
    assert_eq!(e.0[0].line, Some(line_of(&text, "nodes = = 100")), "{e}");
    assert!(e.to_string().starts_with("error: t.toml:"), "{e}");
}

#[test]
fn unknown_key_suggests_the_close_one() {
    let text = with("upload = \"20Mbit/s\"", "upload = \"20Mbit/s\"\nlos = 0.1");
    let e = err(&text);
    let s = e.to_string();
    assert!(
        s.contains("los") && s.contains("did you mean `loss`"),
        "{s}"
    );
    assert_eq!(e.0[0].line, Some(line_of(&text, "los = 0.1")));
}

#[test]
fn wrong_type_names_key_and_line() {
    let text = with("nodes = 100", "nodes = \"ten\"");
    let e = err(&text);
    assert_eq!(e.0[0].key.as_deref(), Some("network.nodes"), "{e}");
    assert_eq!(e.0[0].line, Some(line_of(&text, "nodes = \"ten\"")));
    let text = with(
        "block_interval = \"60s\"",
        "block_interval = \"60 parsecs\"",
    );
    let s = err(&text).to_string();
    assert!(
        s.contains("consensus.block_interval") && s.contains("unknown unit"),
        "{s}"
    );
}

/// Regression: a table missing from the top level was blamed on the file's first key
/// ("key `name`: missing field `network`"); a missing field names the table it is missing from.
#[test]
fn missing_fields_name_the_table_they_are_missing_from() {
    let e = err("name = \"x\"\n[consensus]\nblock_interval = \"60s\"\n");
    assert_eq!(e.0[0].key, None, "{e}");
    assert!(e.to_string().contains("missing field `network`"), "{e}");
    let text = "name = \"x\"\n\n[network]\nloss = 0.1\n";
    let e = err(text);
    assert_eq!(e.0[0].key.as_deref(), Some("network"), "{e}");
    assert_eq!(e.0[0].line, Some(line_of(text, "[network]")), "{e}");
    assert!(e.to_string().contains("missing field `nodes`"), "{e}");
}

#[test]
fn out_of_range_values_name_key_line_and_what_is_allowed() {
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "upload = \"20Mbit/s\"",
            "upload = \"20Mbit/s\"\nloss = 1.5",
            "network.loss",
            "[0, 1]",
        ),
        ("nodes = 100", "nodes = 0", "network.nodes", "1..="),
        (
            "[network]",
            "settle = \"0s\"\n\n[network]",
            "stop.settle",
            "must be positive",
        ),
        (
            "degree = 8",
            "degree = 100",
            "network.degree",
            "less than network.nodes",
        ),
        (
            "dist = \"equal\"\nminers = 10",
            "dist = \"shares\"\nshares = [0.5, 0.4]",
            "consensus.hash_power.shares",
            "sum to 1",
        ),
        (
            "tie = \"first-seen\"",
            "tie = \"coin\"",
            "consensus.tie",
            "first-seen, random",
        ),
        (
            "tie = \"first-seen\"",
            "tie = \"first-seen\"\ninv_delivery = \"lazy\"",
            "consensus.inv_delivery",
            "absorbed, event",
        ),
        (
            "upload = \"20Mbit/s\"",
            "upload = \"20Mbit/s\"\nloss_mode = \"tcp\"",
            "network.loss_mode",
            "drop, retransmit",
        ),
        (
            "upload = \"20Mbit/s\"",
            "upload = \"20Mbit/s\"\nretransmit_timeout = \"1s\"",
            "network.retransmit_timeout",
            "only applies with network.loss_mode = \"retransmit\"",
        ),
        (
            "upload = \"20Mbit/s\"",
            "upload = \"20Mbit/s\"\nloss_mode = \"retransmit\"\nretransmit_timeout = \"0ms\"",
            "network.retransmit_timeout",
            "must be positive and at most 2m",
        ),
        (
            "upload = \"20Mbit/s\"",
            "upload = \"20Mbit/s\"\nloss_mode = \"retransmit\"\nretransmit_timeout = \"5m\"",
            "network.retransmit_timeout",
            "at most 2m (the longest wait between resends)",
        ),
        (
            "upload = \"20Mbit/s\"",
            "upload = \"20Mbit/s\"\ncontrol_messages = \"pigeon\"",
            "network.control_messages",
            "uplink, latency-only",
        ),
        (
            "[consensus]",
            "[consensus.compact]\nfailure = 0.1\n\n[consensus]",
            "consensus.compact",
            "relay = \"compact\"",
        ),
        (
            "[consensus]",
            "[consensus.compact]\nfailure = 1.5\n\n[consensus]",
            "consensus.compact.failure",
            "[0, 1]",
        ),
        (
            "[consensus]",
            "[consensus.compact]\nmissing = [[0.5, 1], [0.0, 2]]\n\n[consensus]",
            "consensus.compact.missing[1]",
            "(0, 1]",
        ),
        (
            "[consensus]",
            "[consensus.compact]\nmissing = [[0.5, 0]]\n\n[consensus]",
            "consensus.compact.missing[0]",
            "positive integer",
        ),
        (
            "miners = 10             # nodes 0..10 mine, the other 90 only relay",
            "miners = 10\n\n[[consensus.hash_power.changes]]\nat = \"1h\"\nnodes = [\"0..5\"]\nfactor = -1.0",
            "consensus.hash_power.changes[0].factor",
            "0 (they stop mining) to 1000",
        ),
        (
            "miners = 10             # nodes 0..10 mine, the other 90 only relay",
            "miners = 10\n\n[[consensus.hash_power.changes]]\nat = \"1h\"\nnodes = [100]\nfactor = 0.5",
            "consensus.hash_power.changes[0].nodes",
            "does not exist",
        ),
        (
            "miners = 10             # nodes 0..10 mine, the other 90 only relay",
            "miners = 10\n\n[[consensus.hash_power.changes]]\nat = \"1h\"\nnodes = []\nfactor = 0.5",
            "consensus.hash_power.changes[0].nodes",
            "names no node",
        ),
        (
            "[consensus]",
            "[consensus.difficulty]\nretarget = \"bitcoin\"\n\n[consensus]",
            "consensus.difficulty.retarget",
            "fixed, epoch, asert",
        ),
        (
            "[consensus]",
            "[consensus.difficulty]\nretarget = \"epoch\"\nevery = 0\n\n[consensus]",
            "consensus.difficulty.every",
            "1..=10000000",
        ),
        (
            "[consensus]",
            "[consensus.difficulty]\nretarget = \"epoch\"\nclamp = 0.5\n\n[consensus]",
            "consensus.difficulty.clamp",
            "1 (never) to 1000",
        ),
        (
            "[consensus]",
            "[consensus.difficulty]\nevery = 100\n\n[consensus]",
            "consensus.difficulty.every",
            "only applies with consensus.difficulty.retarget = \"epoch\"",
        ),
        (
            "[consensus]",
            "[consensus.difficulty]\nretarget = \"epoch\"\nhalf_life = \"1d\"\n\n[consensus]",
            "consensus.difficulty.half_life",
            "only applies with consensus.difficulty.retarget = \"asert\"",
        ),
        (
            "[consensus]",
            "[consensus.difficulty]\nretarget = \"asert\"\nclamp = 2\n\n[consensus]",
            "consensus.difficulty.clamp",
            "only applies with consensus.difficulty.retarget = \"epoch\"",
        ),
        (
            "[consensus]",
            "[consensus.difficulty]\nretarget = \"asert\"\nhalf_life = \"0s\"\n\n[consensus]",
            "consensus.difficulty.half_life",
            "must be positive",
        ),
        (
            "topology = \"random-regular\"",
            "topology = \"hypercube\"",
            "network.topology",
            "expected one of",
        ),
        (
            "[consensus]",
            "[[network.partitions]]\ngroups = [[0, 500]]\nfrom = \"1h\"\nuntil = \"2h\"\n\n[consensus]",
            "network.partitions[0].groups",
            "does not exist",
        ),
        (
            "[consensus]",
            "[[network.partitions]]\ngroups = [[\"0..50\"]]\nfrom = \"2h\"\nuntil = \"1h\"\n\n[consensus]",
            "network.partitions[0].until",
            "after the cut",
        ),
        (
            "[consensus]",
            "[[network.crashes]]\nnode = 3\nat = \"2h\"\nrestart = \"1h\"\n\n[consensus]",
            "network.crashes[0].restart",
            "after the crash",
        ),
    ];
    for (from, to, key, allowed) in cases {
        let text = with(from, to);
        let e = err(&text);
        let hit =
            e.0.iter()
                .find(|x| x.key.as_deref() == Some(*key))
                .unwrap_or_else(|| panic!("{key}: {e}"));
        assert!(hit.message.contains(allowed), "{key}: {}", hit.message);
        assert!(hit.line.is_some(), "{key}: no line in {e}");
    }
}

#[test]
fn sweep_expands_grid_times_replicates_and_checks_values() {
    let text = format!(
        "{QUICKSTART}\n[sweep]\n\"network.loss\" = [0.0, 0.1]\n\"consensus.block_interval\" = [\"10s\", \"30s\", \"60s\"]\n"
    );
    let plan = parse("s.toml", &text).unwrap();
    assert_eq!(plan.points.len(), 6);
    assert_eq!(plan.runs.len(), 18);
    assert!((plan.points[5].config.loss - 0.1).abs() < 1e-12);
    assert_eq!(
        plan.points[5].config.block_interval,
        des::SimDuration::from_secs(60)
    );
    // The seed of a run does not depend on the size of the plan.
    assert_eq!(plan.runs[4].seed, scenario::run_seed(1, 1, 1));
    let bad = format!("{QUICKSTART}\n[sweep]\n\"network.loss\" = [0.0, 2.0]\n");
    let e = err(&bad);
    assert_eq!(
        e.0[0].line,
        Some(line_of(&bad, "\"network.loss\" = [0.0, 2.0]")),
        "{e}"
    );
    assert!(e.to_string().contains("sweep point"), "{e}");
    let unknown = format!("{QUICKSTART}\n[sweep]\n\"network.lossy\" = [0.0]\n");
    assert!(
        err(&unknown).to_string().contains("did you mean `loss`"),
        "{}",
        err(&unknown)
    );
}

/// `seeds = "common"` gives replicate r the seed of point 0's replicate r at every point (and
/// keeps doing so under another master seed); by default every run's seed is its own. The key
/// is checked and cannot be swept.
#[test]
fn common_seeds_repeat_across_points() {
    let sweep = "\n[sweep]\n\"network.loss\" = [0.0, 0.1, 0.2]\n";
    let independent = parse("s.toml", &format!("{QUICKSTART}{sweep}")).unwrap();
    let common = with("replicates = 3", "replicates = 3\nseeds = \"common\"");
    let plans = [
        parse("s.toml", &format!("{common}{sweep}")).unwrap(),
        parse("s.toml", &format!("{common}{sweep}"))
            .unwrap()
            .with_seed(99),
    ];
    for plan in &plans {
        assert_eq!(plan.seeds, scenario::Seeds::Common);
        assert_eq!(plan.runs.len(), 9);
        for r in &plan.runs {
            assert_eq!(
                r.seed,
                scenario::run_seed(plan.seed, 0, r.replicate),
                "{}",
                r.id
            );
        }
        let distinct: std::collections::BTreeSet<u64> = plan.runs.iter().map(|r| r.seed).collect();
        assert_eq!(distinct.len(), 3);
    }
    assert_eq!(independent.seeds, scenario::Seeds::Independent);
    let distinct: std::collections::BTreeSet<u64> =
        independent.runs.iter().map(|r| r.seed).collect();
    assert_eq!(distinct.len(), 9);
    // Point 0's seeds are the same either way.
    assert_eq!(independent.runs[1].seed, plans[0].runs[1].seed);

    let bad = with("replicates = 3", "replicates = 3\nseeds = \"paired\"");
    let e = err(&bad);
    assert_eq!(e.0[0].key.as_deref(), Some("seeds"), "{e}");
    assert_eq!(e.0[0].line, Some(line_of(&bad, "seeds = ")), "{e}");
    assert!(e.to_string().contains("independent, common"), "{e}");
    let swept = format!("{QUICKSTART}\n[sweep]\nseeds = [\"common\"]\n");
    assert!(err(&swept).to_string().contains("`seeds` cannot be swept"));
    for s in scenario::Seeds::ALL {
        assert_eq!(s.name().parse::<scenario::Seeds>().unwrap(), *s);
    }
}

/// Regression: a swept node count that is out of range also produced "degree 8 must be less
/// than network.nodes (1)" (checked against a stand-in count); and a key weighed against a
/// swept one did not say at which point it failed.
#[test]
fn sweep_errors_name_their_point_without_echoes() {
    let zero = format!("{QUICKSTART}\n[sweep]\n\"network.nodes\" = [10, 0]\n");
    let e = err(&zero);
    assert_eq!(e.0.len(), 1, "{e}");
    assert_eq!(e.0[0].key.as_deref(), Some("network.nodes"), "{e}");
    let four = format!("{QUICKSTART}\n[sweep]\n\"network.nodes\" = [10, 4]\n");
    let e = err(&four);
    let keys: Vec<_> = e.0.iter().map(|x| x.key.as_deref().unwrap()).collect();
    assert_eq!(
        keys,
        ["network.degree", "consensus.hash_power.miners"],
        "{e}"
    );
    for x in &e.0 {
        assert!(
            x.message.ends_with("(at sweep point network.nodes=4)"),
            "{e}"
        );
    }
    assert_eq!(e.0[0].line, Some(line_of(&four, "degree = 8")), "{e}");
}

/// Regression (scenario fuzz): a node that crashed for good and had a later crash with a
/// restart came back sending but deaf (every message to it still counted as lost to the first
/// crash), and the run ended unsettled. One node's outages may not overlap.
#[test]
fn one_nodes_outages_may_not_overlap() {
    let crash = |at: &str, restart: Option<&str>| {
        let r = restart.map_or(String::new(), |r| format!("restart = \"{r}\"\n"));
        format!("[[network.crashes]]\nnode = 3\nat = \"{at}\"\n{r}\n")
    };
    let with_crashes =
        |cs: &[String]| with("[consensus]\n", &format!("{}[consensus]\n", cs.concat()));
    let forever = with_crashes(&[crash("40m", Some("50m")), crash("3m", None)]);
    let e = err(&forever);
    assert_eq!(e.0[0].key.as_deref(), Some("network.crashes[0].at"), "{e}");
    assert!(e.0[0].message.contains("crashed for good at 3m"), "{e}");
    let overlap = with_crashes(&[crash("10m", Some("20m")), crash("15m", Some("30m"))]);
    let e = err(&overlap);
    assert_eq!(e.0[0].key.as_deref(), Some("network.crashes[1].at"), "{e}");
    assert!(e.0[0].message.contains("still down"), "{e}");
    let back_to_back = with_crashes(&[crash("10m", Some("20m")), crash("20m", None)]);
    parse("t.toml", &back_to_back).unwrap();
}

/// Regression: `[[byzantine]]` problems were collected after the error check and so ignored.
#[test]
fn byzantine_tables_are_validated_with_located_keys() {
    let text = format!(
        "{QUICKSTART}\n[[byzantine]]\nstrategy = \"withhold\"\nnodes = [1]\ngamma = 0.5\n\n\
         [[byzantine]]\nstrategy = \"selfish\"\nnodes = [\"1..3\"]\nhash_share = 1.5\n\n\
         [[byzantine]]\nstrategy = \"eclipse\"\nnodes = [4]\n"
    );
    let e = err(&text);
    let keys: Vec<&str> = e.0.iter().filter_map(|x| x.key.as_deref()).collect();
    for want in [
        "byzantine[0].gamma",
        "byzantine[1].nodes",
        "byzantine[1].hash_share",
        "byzantine[2].targets",
    ] {
        assert!(keys.contains(&want), "no error for {want}: {e}");
    }
    let gamma =
        e.0.iter()
            .find(|x| x.key.as_deref() == Some("byzantine[0].gamma"))
            .unwrap();
    assert_eq!(gamma.line, Some(line_of(&text, "gamma = 0.5")), "{e}");
}

#[test]
fn sweeps_reach_into_byzantine_tables() {
    let text = format!(
        "{QUICKSTART}\n[[byzantine]]\nstrategy = \"selfish\"\nnodes = [0]\nhash_share = 0.2\n\n\
         [sweep]\n\"byzantine.0.hash_share\" = [0.1, 0.3]\n"
    );
    let plan = parse("t.toml", &text).unwrap();
    let shares: Vec<Option<f64>> = plan
        .points
        .iter()
        .map(|p| p.config.byzantine[0].hash_share)
        .collect();
    assert_eq!(shares, vec![Some(0.1), Some(0.3)]);
    let bad = text.replace("byzantine.0.hash_share", "byzantine.3.hash_share");
    assert!(
        err(&bad).to_string().contains("past the end"),
        "{}",
        err(&bad)
    );
}

/// Regression: a string continuation left a run of spaces inside this message.
#[test]
fn one_node_strategy_message_reads_cleanly() {
    let text = format!(
        "{QUICKSTART}\n[[byzantine]]\nstrategy = \"selfish\"\nnodes = [0, 1]\nhash_share = 0.3\n"
    );
    let e = err(&text);
    let hit =
        e.0.iter()
            .find(|x| x.key.as_deref() == Some("byzantine[0].nodes"));
    let m = &hit.unwrap_or_else(|| panic!("{e}")).message;
    assert!(m.contains("the pool's hash_share); got 2"), "{m}");
    assert!(!m.contains("  "), "{m}");
}

/// Regression: on a 4-node network, a withhold table was refused for `byzantine[0].peers`, a
/// Sybil-only key it never set (its default 8 was checked for every strategy), and a missing
/// `network.degree` was reported as "8 must be … less than network.nodes" as if the file said
/// 8. Defaults are now named as such, and keys a strategy does not use are not checked.
#[test]
fn defaults_are_named_as_defaults_and_unused_keys_go_unchecked() {
    let small = "name = \"s\"\n[stop]\nblocks = 5\n[network]\nnodes = 4\n";
    let table =
        |strategy: &str| format!("\n[[byzantine]]\nstrategy = \"{strategy}\"\nnodes = [0]\n");
    let e = err(&format!("{small}{}", table("withhold")));
    assert_eq!(e.0.len(), 1, "{e}");
    assert_eq!(e.0[0].key.as_deref(), Some("network.degree"), "{e}");
    assert!(
        e.0[0].message.starts_with("the default 8 must be") && e.0[0].message.ends_with("; set it"),
        "{e}"
    );
    let complete = small.replace("nodes = 4\n", "nodes = 4\ntopology = \"complete\"\n");
    assert!(parse("t.toml", &format!("{complete}{}", table("withhold"))).is_ok());
    let e = err(&format!("{complete}{}", table("sybil")));
    assert_eq!(e.0.len(), 1, "{e}");
    assert_eq!(e.0[0].key.as_deref(), Some("byzantine[0].peers"), "{e}");
    assert!(
        e.0[0].message.starts_with("the default 8 is out of range"),
        "{e}"
    );
    // A value the file gives is shown as given.
    let e = err(&format!("{small}degree = 9\n"));
    assert!(e.0[0].message.starts_with("9 must be"), "{e}");
}

fn sets(args: &[&str]) -> Vec<(String, toml::Value)> {
    args.iter()
        .map(|a| scenario::assignment(a).unwrap())
        .collect()
}

/// `KEY=VALUE` reads the value as TOML where it is TOML, else as a string; a bad argument says
/// what was expected.
#[test]
fn assignments_read_toml_values_and_bare_strings() {
    let v = |a: &str| scenario::assignment(a).unwrap().1;
    assert_eq!(v("network.loss=0.05"), toml::Value::Float(0.05));
    assert_eq!(v("network.nodes = 40"), toml::Value::Integer(40));
    assert_eq!(v("x=true"), toml::Value::Boolean(true));
    assert_eq!(v("x=\"1m\""), toml::Value::String("1m".into()));
    assert_eq!(v("x=250ms"), toml::Value::String("250ms".into()));
    assert_eq!(v("x=ghost"), toml::Value::String("ghost".into()));
    assert_eq!(v("x=[1, 2]").as_array().map(Vec::len), Some(2));
    assert_eq!(
        scenario::assignment("byzantine.0.gamma=0.5").unwrap().0,
        "byzantine.0.gamma"
    );
    for bad in ["network.loss", "=1", "network..loss=1", "a b=1", "\"x\"=1"] {
        let e = scenario::assignment(bad).expect_err(bad);
        assert!(
            e.contains("KEY=VALUE") || e.contains("dotted key"),
            "{bad}: {e}"
        );
    }
}

/// Regression: a table the file lacks takes several `--set`s to fill (`[network.churn]` needs
/// uptime and downtime); the first was refused for the field only the second gives. A field
/// still missing after the last set is an error naming the set.
#[test]
fn sets_may_build_a_table_the_file_lacks() {
    let text = QUICKSTART.replace("blocks = 200 ", "time = \"3h\" ");
    let s = sets(&[
        "network.churn.uptime=\"1h\"",
        "network.churn.downtime=\"5m\"",
    ]);
    let plan = scenario::parse_with_sets("s.toml", &text, &s).unwrap();
    let churn = plan.points[0].config.churn.clone().expect("churn set");
    assert_eq!(churn.uptime, des::SimDuration::from_secs(3600));
    let e = scenario::parse_with_sets("s.toml", &text, &s[..1]).expect_err("downtime missing");
    let said = e.to_string();
    assert!(
        said.contains("--set network.churn.uptime") && said.contains("downtime"),
        "{said}"
    );
}

/// `--set` values override the file's (the last assignment of a key wins), a set key leaves
/// the sweep, and the recorded text (the file plus a `[[set]]` table) parses to the same plan.
#[test]
fn sets_override_the_file_and_the_recorded_text_reproduces_them() {
    let text = format!(
        "{QUICKSTART}\n[sweep]\n\"network.loss\" = [0.0, 0.1]\n\"consensus.block_interval\" = [\"10s\", \"30s\"]\n"
    );
    let s = sets(&[
        "network.loss=0.2",
        "network.nodes=40",
        "network.nodes=30",
        "replicates=2",
    ]);
    let plan = scenario::parse_with_sets("s.toml", &text, &s).unwrap();
    assert_eq!(plan.points.len(), 2, "network.loss left the sweep");
    assert_eq!(plan.runs.len(), 4);
    for p in &plan.points {
        assert!((p.config.loss - 0.2).abs() < 1e-12);
        assert_eq!(p.config.nodes, 30);
        assert_eq!(p.params.len(), 1, "{:?}", p.params);
    }
    assert_eq!(plan.sets.len(), 3);
    assert!(plan.text.starts_with(&text) && plan.text.contains("[[set]]"));
    let again = parse("recorded.toml", &plan.text).unwrap();
    assert_eq!(again.sha256, plan.sha256);
    assert_eq!(again.sets, plan.sets);
    let configs = |p: &scenario::Plan| {
        p.points
            .iter()
            .map(|x| x.config.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(configs(&again), configs(&plan));
    assert_eq!(again.runs, plan.runs);
    // No assignments: the file itself.
    let plain = scenario::parse_with_sets("s.toml", &text, &[]).unwrap();
    assert_eq!(plain.text, text);
    assert_eq!(plain.points.len(), 4);
    // A recorded file takes more assignments on top of its own.
    let more =
        scenario::parse_with_sets("r.toml", &plan.text, &sets(&["network.nodes=20"])).unwrap();
    assert_eq!(more.points[0].config.nodes, 20);
    assert!((more.points[0].config.loss - 0.2).abs() < 1e-12);
}

/// A bad assigned value is blamed on its `--set`, not on a line of text no file has; a value
/// it makes wrong elsewhere is located in the file as usual.
#[test]
fn set_errors_name_the_assignment() {
    let e = scenario::parse_with_sets("q.toml", QUICKSTART, &sets(&["network.loss=2"]))
        .expect_err("loss 2");
    assert_eq!(e.0.len(), 1, "{e}");
    assert_eq!(e.0[0].file, "--set network.loss=2");
    assert_eq!((e.0[0].line, e.0[0].col), (None, None));
    assert!(e.to_string().contains("probability"), "{e}");
    let e = scenario::parse_with_sets("q.toml", QUICKSTART, &sets(&["network.lossy=0.1"]))
        .expect_err("unknown key");
    assert!(e.to_string().contains("did you mean `loss`"), "{e}");
    assert!(
        e.to_string().starts_with("error: --set network.lossy=0.1"),
        "{e}"
    );
    let e = scenario::parse_with_sets("q.toml", QUICKSTART, &sets(&["network.nodes=abc"]))
        .expect_err("type");
    assert_eq!(e.0[0].key.as_deref(), Some("network.nodes"), "{e}");
    assert!(e.0[0].file.starts_with("--set network.nodes"), "{e}");
    // An index into a list the file does not have (it is not made up as a table).
    let e = scenario::parse_with_sets("q.toml", QUICKSTART, &sets(&["byzantine.0.gamma=0.5"]))
        .expect_err("no byzantine tables");
    assert!(
        e.to_string()
            .contains("there is no list `byzantine` to index"),
        "{e}"
    );
    let e =
        scenario::parse_with_sets("q.toml", QUICKSTART, &sets(&["sweep.x=1"])).expect_err("sweep");
    assert!(e.to_string().contains("cannot be set"), "{e}");
    // Four nodes: the file's degree 8 is now out of range, and is located in the file.
    let e = scenario::parse_with_sets("q.toml", QUICKSTART, &sets(&["network.nodes=4"]))
        .expect_err("degree");
    let degree =
        e.0.iter()
            .find(|x| x.key.as_deref() == Some("network.degree"))
            .expect("degree");
    assert_eq!(degree.file, "q.toml");
    assert_eq!(degree.line, Some(line_of(QUICKSTART, "degree = 8")), "{e}");
}
