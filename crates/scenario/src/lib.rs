//! `scenario`: scenario files → a validated run plan.
//!
//! Parse (serde, unknown keys rejected, values with units), then validate (ranges, consistency),
//! then expand the `[sweep]` grid × replicates into runs, each with a seed derived from
//! (scenario seed, point, replicate). Every error names the file, line and column, the dotted key,
//! and what is allowed. Takes text, not paths: this crate does no IO.

pub mod schema;
pub mod units;
pub mod validate;

pub use schema::ScenarioFile;
pub use validate::{Issue, validate};

use des::RngFactory;
use runner::RunConfig;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt;
use toml::de::{DeTable, DeValue};

/// The built-in default scenario (the same as `scenarios/quickstart.toml`).
pub const QUICKSTART: &str = include_str!("../../../scenarios/quickstart.toml");

/// A located problem with a scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct ScenarioError {
    pub file: String,
    pub line: Option<usize>,
    pub col: Option<usize>,
    pub key: Option<String>,
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let (Some(l), Some(c)) = (self.line, self.col) {
            write!(f, ":{l}:{c}")?;
        }
        write!(f, ": ")?;
        if let Some(k) = &self.key {
            write!(f, "key `{k}`: ")?;
        }
        write!(f, "{}", self.message)
    }
}

/// All problems found in one file.
#[derive(Clone, Debug, PartialEq)]
pub struct ScenarioErrors(pub Vec<ScenarioError>);

impl fmt::Display for ScenarioErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "error: {e}")?;
        }
        Ok(())
    }
}
impl std::error::Error for ScenarioErrors {}

/// One parameter point of the sweep.
#[derive(Clone, Debug)]
pub struct Point {
    pub index: usize,
    /// The swept values at this point (dotted key → value).
    pub params: BTreeMap<String, toml::Value>,
    pub config: RunConfig,
}

/// One run of the plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunSpec {
    pub id: String,
    pub point: usize,
    pub replicate: u32,
    pub seed: u64,
}

/// A validated scenario, expanded.
#[derive(Clone, Debug)]
pub struct Plan {
    pub name: String,
    pub description: String,
    pub seed: u64,
    pub replicates: u32,
    pub text: String,
    pub sha256: String,
    /// The values its `[[set]]` tables (`--set`) fix, each key once (the last wins).
    pub sets: BTreeMap<String, toml::Value>,
    /// Whether points draw their own seeds or share them (`seeds`).
    pub seeds: Seeds,
    pub points: Vec<Point>,
    pub runs: Vec<RunSpec>,
}

des::named_enum! {
    /// How the points of a sweep draw their runs' seeds (`seeds = "…"`).
    pub enum Seeds {
        /// Every run has its own seed, from (seed, point, replicate): the points are
        /// independent samples.
        Independent = "independent",
        /// Replicate r has the same seed at every point (common random numbers): the points
        /// differ only where their settings make them, so comparisons between points are
        /// paired, and two points with the same settings are the same runs.
        Common = "common",
    }
}

impl Seeds {
    /// What the plan's summary line adds (nothing for independent seeds).
    pub fn plan_note(self) -> &'static str {
        match self {
            Seeds::Independent => "",
            Seeds::Common => ", replicate r with the same seed at every point (seeds = \"common\")",
        }
    }

    /// The point whose seeds point `point` takes.
    pub fn seed_point(self, point: usize) -> usize {
        match self {
            Seeds::Independent => point,
            Seeds::Common => 0,
        }
    }
}

/// The seed of run (point, replicate): independent of every other run and of the plan's size.
pub fn run_seed(scenario_seed: u64, point: usize, replicate: u32) -> u64 {
    RngFactory::new(scenario_seed).derive_seed(&format!("run/point{point}"), u64::from(replicate))
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rfind('\n')
        .map(|i| before.len() - i)
        .unwrap_or(before.len() + 1);
    (line, col)
}

/// The span of a dotted key like `network.partitions[0].until` (its value, or the key itself).
pub fn locate(text: &str, key: &str) -> Option<std::ops::Range<usize>> {
    let root = DeTable::parse(text).ok()?;
    let mut table: &DeTable = root.get_ref();
    let mut span = None;
    let segs: Vec<&str> = key.split('.').collect();
    for (i, seg) in segs.iter().enumerate() {
        let (name, index) = match seg.split_once('[') {
            Some((n, rest)) => (n, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (*seg, None),
        };
        let (k, mut val) = table.iter().find(|(k, _)| k.get_ref().as_ref() == name)?;
        span = Some(k.span());
        if let Some(ix) = index
            && let DeValue::Array(a) = val.get_ref()
        {
            val = a.get(ix)?;
            span = Some(val.span());
        }
        match val.get_ref() {
            DeValue::Table(t) if i + 1 < segs.len() => table = t,
            _ => {
                if i + 1 == segs.len() {
                    return Some(val.span()).filter(|s| s.start < s.end).or(span);
                }
                return span;
            }
        }
    }
    span
}

/// The dotted key whose key or value holds all of `span` (the deepest one). The empty span at
/// the start is the top-level table's (a field missing there) and names none.
fn key_at(text: &str, span: std::ops::Range<usize>) -> Option<String> {
    type Span = std::ops::Range<usize>;
    fn walk(t: &DeTable, span: &Span, prefix: &str, best: &mut Option<String>) {
        for (k, v) in t.iter() {
            let name = if prefix.is_empty() {
                k.get_ref().to_string()
            } else {
                format!("{prefix}.{}", k.get_ref())
            };
            let within = |s: Span| {
                s.start <= span.start && span.end.max(span.start + 1) <= s.end.max(s.start + 1)
            };
            if within(k.span()) || within(v.span()) {
                *best = Some(name.clone());
            }
            match v.get_ref() {
                DeValue::Table(sub) => walk(sub, span, &name, best),
                DeValue::Array(a) => {
                    for (i, item) in a.iter().enumerate() {
                        let iname = format!("{name}[{i}]");
                        if within(item.span()) {
                            *best = Some(iname.clone());
                        }
                        if let DeValue::Table(sub) = item.get_ref() {
                            walk(sub, span, &iname, best);
                        }
                    }
                }
                _ => {}
            }
        }
    }
    if span == (0..0) {
        return None;
    }
    let root = DeTable::parse(text).ok()?;
    let mut best = None;
    walk(root.get_ref(), &span, "", &mut best);
    best
}

/// Adds "did you mean `x`?" to serde's unknown-field messages.
fn did_you_mean(message: &str) -> String {
    let Some(rest) = message.split("unknown field `").nth(1) else {
        return message.to_string();
    };
    let Some(field) = rest.split('`').next() else {
        return message.to_string();
    };
    let expected: Vec<&str> = message
        .split("expected")
        .nth(1)
        .map(|s| s.split('`').skip(1).step_by(2).collect())
        .unwrap_or_default();
    let best = expected
        .iter()
        .map(|e| (strsim::damerau_levenshtein(field, e), *e))
        .filter(|(d, e)| *d <= 2.max(e.len() / 3))
        .min();
    match best {
        Some((_, e)) => format!("{}; did you mean `{e}`?", message.trim_end()),
        None => message.trim_end().to_string(),
    }
}

fn toml_error(file: &str, text: &str, e: &toml::de::Error) -> ScenarioError {
    let (line, col, key) = match e.span() {
        Some(s) => {
            let (l, c) = line_col(text, s.start);
            (Some(l), Some(c), key_at(text, s.clone()))
        }
        None => (None, None, None),
    };
    ScenarioError {
        file: file.to_string(),
        line,
        col,
        key,
        message: did_you_mean(e.message()),
    }
}

fn issue_error(
    file: &str,
    text: &str,
    issue: &Issue,
    point: Option<&BTreeMap<String, toml::Value>>,
    sets: &Sets,
) -> ScenarioError {
    // A problem caused by a swept (or set) value points at the sweep (or set) entry.
    let by = |k: &String| issue.key == *k || issue.key.starts_with(&format!("{k}."));
    let swept = point.and_then(|p| p.keys().find(|k| by(k)));
    let set = sets.keys().find(|k| by(k));
    let located = match (swept, set) {
        (Some(k), _) => {
            locate(text, &format!("sweep.\"{k}\"")).or_else(|| entry_span(text, "sweep", k))
        }
        (None, Some(k)) => entry_span(text, "set", k),
        (None, None) => locate(text, &issue.key)
            .or_else(|| locate(text, issue.key.split('.').next().unwrap_or(""))),
    };
    let (line, col) = located
        .map(|s| line_col(text, s.start))
        .map(|(l, c)| (Some(l), Some(c)))
        .unwrap_or((None, None));
    // Which point it is matters too when the message weighs the key against a swept one.
    let weighed = point.is_some_and(|p| p.keys().any(|k| issue.message.contains(k.as_str())));
    let message = match point {
        Some(p) if swept.is_some() || weighed => {
            format!("{} (at sweep point {})", issue.message, fmt_params(p))
        }
        _ => issue.message.clone(),
    };
    ScenarioError {
        file: file.to_string(),
        line,
        col,
        key: Some(issue.key.clone()),
        message,
    }
}

/// The span of `key` (a dotted key in quotes, as in `[sweep]`) in the top-level table `name`;
/// for an array of tables (`[[set]]`), in the last one that has it.
fn entry_span(text: &str, name: &str, key: &str) -> Option<std::ops::Range<usize>> {
    let root = DeTable::parse(text).ok()?;
    let (_, v) = (root.get_ref().iter()).find(|(k, _)| k.get_ref().as_ref() == name)?;
    let in_table = |v: &DeValue| match v {
        DeValue::Table(t) => (t.iter())
            .find(|(k, _)| k.get_ref().as_ref() == key)
            .map(|(k, _)| k.span()),
        _ => None,
    };
    match v.get_ref() {
        DeValue::Array(a) => a.iter().rev().find_map(|t| in_table(t.get_ref())),
        other => in_table(other),
    }
}

/// "network.loss=0.05, consensus.block_interval=\"1m\""
pub fn fmt_params(p: &BTreeMap<String, toml::Value>) -> String {
    p.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn set_dotted(root: &mut toml::Table, key: &str, value: toml::Value) -> Result<(), String> {
    // Segments name tables, or index arrays of tables: "byzantine.0.gamma".
    fn walk<'a>(
        v: &'a mut toml::Value,
        seg: &str,
        create: bool,
    ) -> Result<&'a mut toml::Value, String> {
        match v {
            toml::Value::Table(t) => {
                if create {
                    Ok(t.entry(seg.to_string())
                        .or_insert_with(|| toml::Value::Table(toml::Table::new())))
                } else {
                    t.get_mut(seg).ok_or_else(|| format!("no `{seg}` to set"))
                }
            }
            toml::Value::Array(a) => {
                let n = a.len();
                let i: usize = seg
                    .parse()
                    .map_err(|_| format!("`{seg}` is not an index into a list of {n}"))?;
                a.get_mut(i)
                    .ok_or_else(|| format!("index {i} is past the end of a list of {n}"))
            }
            _ => Err(format!("`{seg}` is not in a table or a list")),
        }
    }
    let segs: Vec<&str> = key.split('.').collect();
    let mut cur = toml::Value::Table(std::mem::take(root));
    let result = (|| {
        let mut t = &mut cur;
        for (i, seg) in segs[..segs.len() - 1].iter().enumerate() {
            // A missing table is made, but not a missing list (an index follows).
            let next_is_index = segs[i + 1].parse::<usize>().is_ok();
            let create = matches!(t, toml::Value::Table(_)) && !next_is_index;
            t = walk(t, seg, create).map_err(|m| match next_is_index {
                true => format!("there is no list `{}` to index", segs[..=i].join(".")),
                false => m,
            })?;
        }
        match t {
            toml::Value::Table(tab) => {
                tab.insert(segs[segs.len() - 1].to_string(), value);
                Ok(())
            }
            _ => Err(format!(
                "`{}` is not a table",
                segs[..segs.len() - 1].join(".")
            )),
        }
    })();
    if let toml::Value::Table(t) = cur {
        *root = t;
    }
    result
}

/// One `KEY=VALUE` assignment from the command line: the value is read as TOML (`0.05`,
/// `true`, `"1m"`, `[1, 2]`), or else taken as a string (`250ms`, `ghost`).
pub fn assignment(arg: &str) -> Result<(String, toml::Value), String> {
    let (key, value) = arg
        .split_once('=')
        .ok_or_else(|| format!("`{arg}` is not KEY=VALUE (e.g. network.loss=0.05)"))?;
    let (key, value) = (key.trim(), value.trim());
    let valid = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || c == '_');
    if !key.split('.').all(valid) {
        return Err(format!(
            "`{key}` is not a dotted key (e.g. network.loss, byzantine.0.gamma)"
        ));
    }
    let value = toml::from_str::<toml::Table>(&format!("v = {value}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(value.to_string()));
    Ok((key.to_string(), value))
}

/// `text` with `sets` appended as one `[[set]]` table (a later assignment of a key wins): the
/// scenario a run with `--set` records, so the results folder reproduces it as it is.
pub fn with_sets(text: &str, sets: &[(String, toml::Value)]) -> String {
    if sets.is_empty() {
        return text.to_string();
    }
    let mut out = text.to_string();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str("\n# chainsim --set\n[[set]]\n");
    let last: BTreeMap<&str, &toml::Value> = sets.iter().map(|(k, v)| (k.as_str(), v)).collect();
    for (k, v) in last {
        out.push_str(&format!("{} = {v}\n", toml::Value::String(k.to_string())));
    }
    out
}

/// [`parse`] of `text` with `sets` applied (see [`with_sets`]). A problem located in what the
/// assignments added names the assignment instead of a line no file has.
pub fn parse_with_sets(
    file: &str,
    text: &str,
    sets: &[(String, toml::Value)],
) -> Result<Plan, ScenarioErrors> {
    let effective = with_sets(text, sets);
    let own_lines = text.lines().count();
    parse(file, &effective).map_err(|mut errs| {
        for e in &mut errs.0 {
            if e.line.is_some_and(|l| l > own_lines) {
                let by = e.key.as_ref().and_then(|k| {
                    (sets.iter().rev()).find(|(s, _)| k == s || k.starts_with(&format!("{s}.")))
                });
                e.file = match by {
                    Some((k, v)) => format!("--set {k}={v}"),
                    None => "--set".to_string(),
                };
                (e.line, e.col) = (None, None);
            }
        }
        errs
    })
}

/// Values fixed by `[[set]]` tables: dotted key → value.
type Sets = BTreeMap<String, toml::Value>;

/// Applies the `[[set]]` tables to `doc` in order, re-reading the file after each so that a
/// value of the wrong type is blamed on its assignment (a missing field, on the last set if
/// the ones after it leave it missing); returns the file as set, and the
/// values set (each key once: the last wins).
fn apply_sets(
    file: &str,
    text: &str,
    doc: &mut toml::Table,
    mut base: ScenarioFile,
) -> Result<(ScenarioFile, Sets), ScenarioError> {
    let mut sets = Sets::new();
    let mut incomplete = None;
    doc.remove("set");
    for (k, v) in std::mem::take(&mut base.set).iter().flatten() {
        let fail = |message: String| {
            let loc = entry_span(text, "set", k).map(|s| line_col(text, s.start));
            ScenarioError {
                file: file.to_string(),
                line: loc.map(|l| l.0),
                col: loc.map(|l| l.1),
                key: Some(k.clone()),
                message,
            }
        };
        if k == "set" || k == "sweep" || k.starts_with("set.") || k.starts_with("sweep.") {
            return Err(fail(format!(
                "`{k}` cannot be set; edit the file's [sweep] table"
            )));
        }
        set_dotted(doc, k, v.clone()).map_err(fail)?;
        sets.insert(k.clone(), v.clone());
        match toml::Value::Table(doc.clone()).try_into() {
            Ok(b) => {
                base = b;
                incomplete = None;
            }
            // A table the file lacks takes several sets to fill: a missing field waits for
            // the sets after it (and is this one's to answer for if they leave it missing).
            Err(e) if e.message().starts_with("missing field") => {
                incomplete = Some(fail(did_you_mean(e.message())));
            }
            Err(e) => return Err(fail(did_you_mean(e.message()))),
        }
    }
    if let Some(e) = incomplete {
        return Err(e);
    }
    // A set key is fixed: it leaves the sweep.
    base.sweep.retain(|k, _| !sets.contains_key(k));
    Ok((base, sets))
}

/// The swept key that picks the difficulty rule.
const RETARGET: &str = "consensus.difficulty.retarget";

/// With the difficulty rule swept, the file's `[consensus.difficulty]` may hold the keys of
/// every swept rule: a point drops those of the swept rules other than its `rule`, before its
/// swept values are set (so a swept key of another rule is still an error, as is a key of a
/// rule no point uses).
fn drop_other_rules_keys(doc: &mut toml::Table, rule: &toml::Value, swept: &[toml::Value]) {
    let Some(toml::Value::Table(c)) = doc.get_mut("consensus") else {
        return;
    };
    let Some(toml::Value::Table(d)) = c.get_mut("difficulty") else {
        return;
    };
    for (key, owner) in validate::DIFFICULTY_KEYS {
        let name = toml::Value::String(owner.name().to_string());
        if *rule != name && swept.contains(&name) {
            d.remove(key);
        }
    }
}

/// Parses, validates and expands a scenario. `file` is only used in messages.
pub fn parse(file: &str, text: &str) -> Result<Plan, ScenarioErrors> {
    let errs = |v: Vec<ScenarioError>| ScenarioErrors(v);
    let one = |e: ScenarioError| ScenarioErrors(vec![e]);
    let base: ScenarioFile = toml::from_str(text).map_err(|e| one(toml_error(file, text, &e)))?;
    let mut doc: toml::Table = toml::from_str(text).map_err(|e| one(toml_error(file, text, &e)))?;
    let (base, sets) = apply_sets(file, text, &mut doc, base).map_err(one)?;
    // The grid: every combination of swept values, keys in sorted order, last key fastest.
    let mut grid: Vec<BTreeMap<String, toml::Value>> = vec![BTreeMap::new()];
    for (key, values) in &base.sweep {
        let loc = entry_span(text, "sweep", key).map(|s| line_col(text, s.start));
        let fail = |message: String| ScenarioError {
            file: file.to_string(),
            line: loc.map(|l| l.0),
            col: loc.map(|l| l.1),
            key: Some(format!("sweep.{key}")),
            message,
        };
        if values.is_empty() {
            return Err(one(fail("a swept key needs at least one value".into())));
        }
        if ["name", "seed", "seeds", "replicates", "description"].contains(&key.as_str())
            || key.starts_with("sweep")
        {
            return Err(one(fail(format!("`{key}` cannot be swept"))));
        }
        grid = grid
            .into_iter()
            .flat_map(|p| {
                values.iter().map(move |v| {
                    let mut q = p.clone();
                    q.insert(key.clone(), v.clone());
                    q
                })
            })
            .collect();
    }
    if grid.len() * base.replicates as usize > 1_000_000 {
        return Err(one(ScenarioError {
            file: file.into(),
            line: None,
            col: None,
            key: Some("sweep".into()),
            message: format!(
                "the plan has {} runs; at most 1,000,000",
                grid.len() * base.replicates as usize
            ),
        }));
    }
    let mut points = vec![];
    let mut problems = vec![];
    let swept_rules = base.sweep.get(RETARGET).cloned().unwrap_or_default();
    for (index, params) in grid.into_iter().enumerate() {
        let mut d = doc.clone();
        d.remove("sweep");
        if let Some(rule) = params.get(RETARGET) {
            drop_other_rules_keys(&mut d, rule, &swept_rules);
        }
        for (k, v) in &params {
            if let Err(m) = set_dotted(&mut d, k, v.clone()) {
                problems.push(issue_error(
                    file,
                    text,
                    &Issue {
                        key: k.clone(),
                        message: m,
                    },
                    Some(&params),
                    &sets,
                ));
            }
        }
        let parsed: Result<ScenarioFile, _> = toml::Value::Table(d).try_into();
        let sf = match parsed {
            Ok(sf) => sf,
            Err(e) => {
                let key = params.keys().next().cloned().unwrap_or_default();
                problems.push(issue_error(
                    file,
                    text,
                    &Issue {
                        key,
                        message: did_you_mean(&e.to_string()),
                    },
                    Some(&params),
                    &sets,
                ));
                continue;
            }
        };
        match validate(&sf) {
            Ok(config) => points.push(Point {
                index,
                params,
                config,
            }),
            Err(issues) => {
                for i in issues {
                    let e = issue_error(file, text, &i, Some(&params), &sets);
                    if !problems.contains(&e) {
                        problems.push(e);
                    }
                }
            }
        }
    }
    if !problems.is_empty() {
        return Err(errs(problems));
    }
    // `validate` refused any other value.
    let seeds = (base.seeds.as_deref())
        .and_then(|s| s.parse().ok())
        .unwrap_or(Seeds::Independent);
    let runs = points
        .iter()
        .flat_map(|p| {
            (0..base.replicates).map(move |r| RunSpec {
                id: format!("p{:03}-r{:03}", p.index, r),
                point: p.index,
                replicate: r,
                seed: run_seed(base.seed, seeds.seed_point(p.index), r),
            })
        })
        .collect();
    Ok(Plan {
        name: base.name.clone(),
        description: base.description.clone(),
        seed: base.seed,
        replicates: base.replicates,
        text: text.to_string(),
        sha256: Sha256::digest(text.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
        sets,
        seeds,
        points,
        runs,
    })
}

impl Plan {
    /// The same scenario with another master seed (run seeds are re-derived).
    pub fn with_seed(mut self, seed: u64) -> Plan {
        self.seed = seed;
        for r in &mut self.runs {
            r.seed = run_seed(seed, self.seeds.seed_point(r.point), r.replicate);
        }
        self
    }
}
