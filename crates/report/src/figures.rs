//! Which figures a results folder gets, and the data behind each: all computed from the saved
//! records, so `chainsim plot` redraws them without running anything.

use crate::plot::{color, Band, Chart, Series};
use crate::{Results, RunData};
use plotters::style::{RGBColor, BLACK};
use std::collections::BTreeMap;

/// Most points one line gets; longer series are reduced to a min/max envelope per bin, which
/// keeps every spike visible.
const MAX_POINTS: usize = 1500;

/// Every figure for these results, in the order the report shows them.
pub fn all(res: &Results) -> Vec<Chart> {
    let mut out = vec![];
    let swept = res.plan.points.len() > 1;
    for p in 0..res.plan.points.len() {
        let suffix = if swept {
            format!("-p{p:03}")
        } else {
            String::new()
        };
        out.push(time_series(res, p, &suffix, Metric::Consistency));
        out.push(time_series(res, p, &suffix, Metric::PrefixDepth));
        if res.plan.points[p].config.retarget.rule != runner::RetargetRule::Fixed {
            out.push(difficulty(res, p, &suffix));
        }
    }
    out.push(convergence_cdf(res));
    out.push(propagation(res));
    if swept {
        out.push(fork_rate(res));
    }
    out.extend(attack_figures(res));
    out
}

/// For sweeps over a selfish pool's hash share, revenue vs α against Eyal & Sirer; for sweeps
/// over a double-spender's confirmations, success vs z against Rosenfeld and Nakamoto.
fn attack_figures(res: &Results) -> Vec<Chart> {
    use crate::validation::{double_spend_chart, revenue_chart, Points};
    let plan = &res.plan;
    let mut out = vec![];
    let Some(first) = plan.points.first() else {
        return out;
    };
    for (i, b) in first.config.byzantine.iter().enumerate() {
        let key = |field: &str| format!("byzantine.{i}.{field}");
        let swept = |k: &str| first.params.contains_key(k);
        if b.strategy == runner::StrategyKind::Selfish && swept(&key("hash_share")) {
            let pts: Points = res
                .summary
                .points
                .iter()
                .filter_map(|p| {
                    let a = plan.points[p.point].config.byzantine[i].hash_share?;
                    let m = p.metrics.get("attacker_share")?;
                    Some((a, m.mean, m.mean - m.ci95, m.mean + m.ci95))
                })
                .collect();
            let gamma = b
                .gamma
                .map_or("γ from the network".to_string(), |g| format!("γ = {g}"));
            out.push(revenue_chart(
                &format!(
                    "{}: selfish pool revenue vs hash share ({gamma})",
                    plan.name
                ),
                &[0.0, 0.5, 1.0],
                &[(format!("simulated, {gamma} (± 95% CI)"), 3, pts)],
            ));
        }
        if b.strategy == runner::StrategyKind::DoubleSpend && swept(&key("confirmations")) {
            let q = b.hash_share.unwrap_or_else(|| {
                res.runs
                    .first()
                    .and_then(|r| r.record.metrics.chain.attacks.get(i))
                    .map_or(0.0, |a| a.hash_share)
            });
            let pts: Points = (0..plan.points.len())
                .map(|p| {
                    let z = f64::from(plan.points[p].config.byzantine[i].confirmations);
                    let (s, f) = res.point_runs(p).fold((0u64, 0u64), |(s, f), r| {
                        let a = r.record.metrics.chain.attacks.get(i);
                        (
                            s + a.map_or(0, |a| a.successes),
                            f + a.map_or(0, |a| a.failures),
                        )
                    });
                    let n = (s + f).max(1);
                    let rate = s as f64 / n as f64;
                    let half = 1.96 * metrics::binomial_se(rate, n);
                    (z, rate, rate - half, rate + half)
                })
                .collect();
            out.push(double_spend_chart(
                &format!("{}: double-spend success vs confirmations", plan.name),
                &[q],
                &[("simulated (± 95% CI, races pooled)".to_string(), 0, pts)],
            ));
        }
    }
    out
}

/// "quickstart" or "loss-sweep, p002: network.loss=0.1".
fn point_title(res: &Results, p: usize) -> String {
    if res.plan.points.len() > 1 {
        format!(
            "{}, p{p:03}: {}",
            res.plan.name,
            scenario::fmt_params(&res.plan.points[p].params)
        )
    } else {
        res.plan.name.clone()
    }
}

fn point_label(res: &Results, p: usize) -> String {
    if res.plan.points.len() > 1 {
        format!(
            "p{p:03} {}",
            scenario::fmt_params(&res.plan.points[p].params)
        )
    } else {
        "all blocks".into()
    }
}

/// A time axis in the unit that suits its span.
#[derive(Clone, Copy)]
struct TimeUnit {
    div: f64,
    name: &'static str,
}

fn time_unit(max_s: f64) -> TimeUnit {
    if max_s <= 600.0 {
        TimeUnit {
            div: 1.0,
            name: "s",
        }
    } else if max_s <= 4.0 * 3600.0 {
        TimeUnit {
            div: 60.0,
            name: "min",
        }
    } else {
        TimeUnit {
            div: 3600.0,
            name: "h",
        }
    }
}

/// Min/max envelope per bin, in time order within each bin.
pub fn decimate(pts: &[(f64, f64)], max: usize) -> Vec<(f64, f64)> {
    if pts.len() <= max {
        return pts.to_vec();
    }
    let bins = max / 2;
    let per = pts.len().div_ceil(bins);
    let mut out = Vec::with_capacity(bins * 2);
    for chunk in pts.chunks(per) {
        let (mut lo, mut hi) = (0, 0);
        for (i, p) in chunk.iter().enumerate() {
            if p.1 < chunk[lo].1 {
                lo = i;
            }
            if p.1 > chunk[hi].1 {
                hi = i;
            }
        }
        let (a, b) = (lo.min(hi), lo.max(hi));
        out.push(chunk[a]);
        if b != a {
            out.push(chunk[b]);
        }
    }
    out
}

#[derive(Clone, Copy, PartialEq)]
enum Metric {
    Consistency,
    PrefixDepth,
}

/// At least this many bins for the bold mean line of a time series (fewer when the run is short).
const MEAN_BINS: usize = 150;

/// The smallest round bin width (1 s, 2 s, 5 s, 10 s, …, 1 h, 2 h, …) giving at most
/// [`MEAN_BINS`] bins over `t_max` seconds.
fn nice_bin(t_max: f64) -> f64 {
    let steps = [
        1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0,
    ];
    let want = t_max / MEAN_BINS as f64;
    steps
        .iter()
        .copied()
        .find(|&s| s >= want)
        .unwrap_or_else(|| (want / 3600.0).ceil() * 3600.0)
}

/// The mean over replicates and over each of [`MEAN_BINS`] equal time bins: forks happen at
/// different moments in different replicates, so this is the readable "typical" level (a
/// partition shows as a plateau), while the thin per-replicate lines keep every dip.
fn binned_mean(
    runs: &[&RunData],
    width: f64,
    t_max: f64,
    value: impl Fn(&metrics::Sample) -> f64,
) -> Vec<(f64, f64)> {
    let bins = (t_max / width).ceil().max(1.0) as usize;
    let mut acc = vec![(0.0, 0u32); bins];
    for r in runs {
        for s in &r.samples {
            let b = ((s.t_s / width) as usize).min(bins - 1);
            acc[b].0 += value(s);
            acc[b].1 += 1;
        }
    }
    acc.iter()
        .enumerate()
        .filter(|(_, a)| a.1 > 0)
        .map(|(i, a)| ((i as f64 + 0.5) * width, a.0 / f64::from(a.1)))
        .collect()
}

/// The simulated time the last of these runs ended at (its last sample; at least 1 s).
fn end_s(runs: &[&RunData]) -> f64 {
    (runs.iter())
        .flat_map(|r| r.samples.last())
        .map(|s| s.t_s)
        .fold(1.0, f64::max)
}

/// The legend entry of the first of `n` replicate lines.
fn replicates_label(n: usize) -> String {
    if n > 1 {
        format!("each of {n} replicates")
    } else {
        "one replicate".into()
    }
}

fn time_series(res: &Results, p: usize, suffix: &str, m: Metric) -> Chart {
    let runs: Vec<&RunData> = res.point_runs(p).collect();
    let value = |s: &metrics::Sample| match m {
        Metric::Consistency => s.consistency,
        Metric::PrefixDepth => f64::from(s.prefix_depth),
    };
    let t_max = end_s(&runs);
    let u = time_unit(t_max);
    let scale = |pts: Vec<(f64, f64)>| -> Vec<(f64, f64)> {
        let pts: Vec<(f64, f64)> = pts.into_iter().map(|(t, y)| (t / u.div, y)).collect();
        decimate(&pts, MAX_POINTS)
    };
    let (name, what, y_label) = match m {
        Metric::Consistency => (
            "convergence",
            "replicas on the most common tip",
            "fraction of honest nodes on the most common tip",
        ),
        Metric::PrefixDepth => (
            "prefix-depth",
            "common-prefix depth",
            "blocks the honest replicas disagree on",
        ),
    };
    let mut c = Chart::new(
        format!("{name}{suffix}"),
        format!("{}: {what}", point_title(res, p)),
    );
    c.x_label = format!("simulated time ({})", u.name);
    c.y_label = y_label.into();
    c.x = (0.0, t_max / u.div);
    let y_max = runs
        .iter()
        .flat_map(|r| r.samples.iter().map(value))
        .fold(1.0, f64::max);
    c.y = match m {
        Metric::Consistency => (0.0, 1.02),
        Metric::PrefixDepth => (0.0, (y_max * 1.1).ceil().max(2.0)),
    };
    let cfg = &res.plan.points[p].config;
    for (i, part) in cfg.partitions.iter().enumerate() {
        let until = part.until.map_or(t_max, |d| d.as_secs_f64());
        c.bands.push(Band {
            from: part.from.as_secs_f64() / u.div,
            to: until / u.div,
            label: if cfg.partitions.len() > 1 {
                format!("partition {}", i + 1)
            } else {
                "partition".into()
            },
            color: RGBColor(214, 39, 40),
        });
    }
    // Attack windows (an attack for the whole run is not a window).
    for b in &cfg.byzantine {
        if b.from.is_zero() && b.until.is_none() {
            continue;
        }
        c.bands.push(Band {
            from: b.from.as_secs_f64() / u.div,
            to: b.until.map_or(t_max, |d| d.as_secs_f64()) / u.div,
            label: format!("{} attack", b.strategy),
            color: RGBColor(148, 103, 189),
        });
    }
    let many = runs.len() > 1;
    for (i, r) in runs.iter().enumerate() {
        let pts = r.samples.iter().map(|s| (s.t_s, value(s))).collect();
        let label = (i == 0).then(|| replicates_label(runs.len()));
        let s = Series::line(label, scale(pts), color(i)).named(r.record.id.clone());
        c.series
            .push(if many { s.width(1).opacity(0.45) } else { s });
    }
    let bin = nice_bin(t_max);
    c.series.push(
        Series::line(
            Some(format!(
                "mean{} per {}",
                if many { " of all" } else { "" },
                des::SimDuration::from_secs_f64(bin)
            )),
            scale(binned_mean(&runs, bin, t_max, value)),
            BLACK,
        )
        .width(2),
    );
    // With outages, how many honest nodes there were to agree: the consistency is over those
    // online.
    let outages = !cfg.crashes.is_empty() || cfg.churn.is_some();
    if m == Metric::Consistency && outages {
        c.series.push(
            Series::line(
                Some("honest nodes online (fraction, mean per bin)".into()),
                scale(binned_mean(&runs, bin, t_max, |s| s.online)),
                RGBColor(127, 127, 127),
            )
            .width(2)
            .dashed(),
        );
    }
    c
}

/// The main chain's difficulty over time, per replicate (a step at each retarget), with the
/// scheduled hash power changes marked: what retargeting made of them.
fn difficulty(res: &Results, p: usize, suffix: &str) -> Chart {
    let runs: Vec<&RunData> = res.point_runs(p).collect();
    let t_max = end_s(&runs);
    let u = time_unit(t_max);
    let cfg = &res.plan.points[p].config;
    let mut c = Chart::new(
        format!("difficulty{suffix}"),
        format!(
            "{}: difficulty ({})",
            point_title(res, p),
            match cfg.retarget.rule {
                runner::RetargetRule::Asert =>
                    format!("ASERT, half-life {}", cfg.retarget.half_life),
                _ => format!("retarget every {} blocks", cfg.retarget.every),
            }
        ),
    );
    c.x_label = format!("simulated time ({})", u.name);
    c.y_label = "main-chain difficulty (× genesis)".into();
    c.x = (0.0, t_max / u.div);
    let y_max = runs
        .iter()
        .flat_map(|r| r.blocks.iter().map(|b| b.difficulty))
        .fold(1.0, f64::max);
    c.y = (0.0, (y_max * 1.1).max(1.1));
    for (i, h) in cfg.hash_changes.iter().enumerate() {
        let at = h.at.as_secs_f64() / u.div;
        let label = (i == 0).then(|| "scheduled hash power changes".to_string());
        let s = Series::line(label, vec![(at, c.y.0), (at, c.y.1)], BLACK);
        c.series.push(s.dashed());
    }
    let many = runs.len() > 1;
    for (i, r) in runs.iter().enumerate() {
        // Steps: each block's difficulty holds from the previous block's time to its own.
        let mut pts = vec![];
        let mut t0 = 0.0;
        for b in runner::validate::main_chain(&r.blocks).unwrap_or_default() {
            pts.push((t0 / u.div, b.difficulty));
            pts.push((b.created_s / u.div, b.difficulty));
            t0 = b.created_s;
        }
        let label = (i == 0).then(|| replicates_label(runs.len()));
        let s =
            Series::line(label, decimate(&pts, MAX_POINTS), color(i)).named(r.record.id.clone());
        c.series.push(if many { s.width(1) } else { s });
    }
    c
}

/// The empirical CDF of `xs` as a step line (sorted ascending, y = fraction ≤ x).
pub fn ecdf(mut xs: Vec<f64>) -> Vec<(f64, f64)> {
    xs.sort_by(f64::total_cmp);
    let n = xs.len() as f64;
    let mut out = Vec::with_capacity(xs.len() * 2 + 1);
    let mut prev = 0.0;
    if let Some(&first) = xs.first() {
        out.push((first.min(0.0), 0.0));
    }
    for (i, &x) in xs.iter().enumerate() {
        out.push((x, prev));
        prev = (i + 1) as f64 / n;
        out.push((x, prev));
    }
    out
}

fn convergence_cdf(res: &Results) -> Chart {
    let mut c = Chart::new(
        "convergence-cdf",
        format!("{}: per-block convergence time", res.plan.name),
    );
    c.y_label = "fraction of blocks settled".into();
    let per_point: Vec<Vec<f64>> = (0..res.plan.points.len())
        .map(|p| {
            res.point_runs(p)
                .flat_map(|r| r.blocks.iter().filter_map(|b| b.convergence_s))
                .collect()
        })
        .collect();
    // The axis ends at the largest p99 over points: a handful of deep reorgs would otherwise
    // squeeze every curve against the left edge. The legend says how much is cut.
    let x_max = per_point
        .iter()
        .filter(|xs| !xs.is_empty())
        .map(|xs| {
            let mut v = xs.clone();
            v.sort_by(f64::total_cmp);
            metrics::percentile_sorted(&v, 0.99)
        })
        .fold(0.0, f64::max)
        .max(1e-3)
        * 1.1;
    c.x_label = "seconds from block creation until every honest replica agrees on it".into();
    c.x = (0.0, x_max);
    c.y = (0.0, 1.02);
    for (p, xs) in per_point.into_iter().enumerate() {
        let beyond = xs.iter().filter(|&&x| x > x_max).count();
        let n = xs.len();
        let pts: Vec<(f64, f64)> = ecdf(xs).into_iter().filter(|&(x, _)| x <= x_max).collect();
        let mut label = format!("{} (n={n})", point_label(res, p));
        if beyond > 0 {
            label.push_str(&format!(", {beyond} beyond axis"));
        }
        c.series
            .push(Series::line(Some(label), decimate(&pts, MAX_POINTS), color(p)).width(2));
    }
    c
}

fn propagation(res: &Results) -> Chart {
    let mut c = Chart::new(
        "propagation",
        format!(
            "{}: propagation of the median and p90 block (by time to reach all)",
            res.plan.name
        ),
    );
    c.x_label = "seconds since the block was mined".into();
    c.y_label = "fraction of honest nodes that have the block".into();
    c.y = (0.0, 1.02);
    let mut x_max: f64 = 1e-3;
    let several = res.plan.points.len() > 1;
    for p in 0..res.plan.points.len() {
        let runs: Vec<&RunData> = res.point_runs(p).collect();
        // Curve 0 is each run's median block (by time to reach everyone), curve 1 its p90 block;
        // averaged over replicates step by step.
        for (k, which) in ["median block", "p90 block"].iter().enumerate() {
            let curves: Vec<&Vec<f64>> = runs
                .iter()
                .filter_map(|r| r.record.propagation_curves.get(k))
                .map(|c| &c.reach_s)
                .collect();
            if curves.is_empty() {
                continue;
            }
            let steps = curves[0].len();
            let mut pts = vec![(0.0, 0.0)];
            for j in 0..steps {
                let t = curves.iter().map(|c| c[j]).sum::<f64>() / curves.len() as f64;
                pts.push((t, (j + 1) as f64 / steps as f64));
            }
            x_max = x_max.max(pts.last().map_or(0.0, |p| p.0));
            let label = if several {
                format!("{}, {which}", point_label(res, p))
            } else {
                which.to_string()
            };
            let s = Series::line(Some(label), pts, color(if several { p } else { k })).width(2);
            c.series.push(if k == 1 { s.dashed() } else { s });
        }
    }
    c.x = (0.0, x_max * 1.05);
    c
}

/// A swept value as a number, with its unit: plain numbers, durations ("30s" → seconds), sizes,
/// rates. `None` for anything else (plotted as categories).
fn numeric(v: &toml::Value) -> Option<(f64, &'static str)> {
    match v {
        toml::Value::Integer(i) => Some((*i as f64, "")),
        toml::Value::Float(f) => Some((*f, "")),
        toml::Value::String(s) => {
            if let Ok(d) = s.parse::<des::SimDuration>() {
                Some((d.as_secs_f64(), "s"))
            } else if let Ok(b) = scenario::units::parse_size(s) {
                Some((b as f64, "bytes"))
            } else if let Ok(r) = scenario::units::parse_rate(s) {
                Some((r as f64, "bit/s"))
            } else {
                None
            }
        }
        _ => None,
    }
}

/// Honest nodes on a complete graph with one constant delay, no bandwidth limit or loss, and
/// push relay: the setting where 1 − e^(−(N−1)/N·Δ/T) is the exact fork rate.
fn textbook(cfg: &runner::RunConfig) -> bool {
    matches!(cfg.topology, net::TopologyKind::Complete)
        && matches!(
            cfg.latency,
            net::Latency::Mean {
                spread: net::Spread::Constant,
                ..
            }
        )
        && cfg.upload_bps.is_none()
        && cfg.download_bps.is_none()
        && cfg.regions.is_empty()
        && cfg.loss == 0.0
        && cfg.jitter.is_zero()
        && cfg.partitions.is_empty()
        && cfg.crashes.is_empty()
        && cfg.chain.relay == chain::Relay::Push
}

/// The distinct values of a swept key, in the order the sweep lists them (the points' order),
/// so the axis reads as the scenario file does (`fixed`, `epoch`, `asert`, not alphabetically).
fn categories(values: impl Iterator<Item = String>) -> Vec<String> {
    let mut cats: Vec<String> = vec![];
    for v in values {
        if !cats.contains(&v) {
            cats.push(v);
        }
    }
    cats
}

fn fork_rate(res: &Results) -> Chart {
    let points = &res.plan.points;
    let keys: Vec<&String> = points[0].params.keys().collect();
    // The key with the most distinct values goes on the x axis; the others name the lines.
    let distinct = |k: &String| {
        let mut v: Vec<String> = points.iter().map(|p| p.params[k].to_string()).collect();
        v.sort();
        v.dedup();
        v.len()
    };
    let x_key = keys
        .iter()
        .copied()
        .max_by_key(|k| (distinct(k), std::cmp::Reverse(*k)))
        .cloned()
        .unwrap_or_default();
    let nums: Option<Vec<(f64, &str)>> =
        points.iter().map(|p| numeric(&p.params[&x_key])).collect();
    let mut c = Chart::new(
        "fork-rate",
        format!("{}: fork rate vs {x_key}", res.plan.name),
    );
    let xs: Vec<f64> = match &nums {
        Some(v) => v.iter().map(|x| x.0).collect(),
        None => {
            let cats = categories(points.iter().map(|p| p.params[&x_key].to_string()));
            c.x_ticks = cats
                .iter()
                .enumerate()
                .map(|(i, s)| (i as f64, s.trim_matches('"').to_string()))
                .collect();
            points
                .iter()
                .map(|p| {
                    let s = p.params[&x_key].to_string();
                    cats.iter().position(|c| *c == s).unwrap_or(0) as f64
                })
                .collect()
        }
    };
    let unit = nums.as_ref().and_then(|v| v.first()).map_or("", |x| x.1);
    c.x_label = if unit.is_empty() {
        x_key.clone()
    } else {
        format!("{x_key} ({unit})")
    };
    c.y_label = "fork rate (stale blocks / blocks mined)".into();
    // Lines: one per combination of the other keys.
    let mut lines: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for p in points {
        let rest: BTreeMap<String, toml::Value> = p
            .params
            .iter()
            .filter(|(k, _)| **k != x_key)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        lines
            .entry(scenario::fmt_params(&rest))
            .or_default()
            .push(p.index);
    }
    let mut y_max: f64 = 1e-3;
    let interval_sweep = x_key == "consensus.block_interval";
    // In the textbook setting the measured delay is exactly (N−1)/N·Δ and the curve is theory;
    // elsewhere (multi-hop relay, bandwidth, loss) it is Decker & Wattenhofer's estimate from
    // the delays the nodes saw, and is labelled so.
    let exact = points.iter().all(|p| textbook(&p.config));
    let theory_label = if exact {
        "theory 1 − e^(−Δ/T)"
    } else {
        "estimate 1 − e^(−Δ/T) from measured delays Δ"
    };
    for (li, (rest, idx)) in lines.iter().enumerate() {
        let mut idx = idx.clone();
        idx.sort_by(|&a, &b| xs[a].total_cmp(&xs[b]));
        let col = color(li);
        let name = |what: &str| {
            if rest.is_empty() {
                what.to_string()
            } else {
                format!("{what}, {rest}")
            }
        };
        let mut pts = vec![];
        let mut errs = vec![];
        for &p in &idx {
            if let Some(m) = res
                .summary
                .points
                .get(p)
                .and_then(|s| s.metrics.get("fork_rate"))
            {
                pts.push((xs[p], m.mean));
                errs.push((xs[p], m.mean, (m.mean - m.ci95).max(0.0), m.mean + m.ci95));
                y_max = y_max.max(m.mean + m.ci95);
            }
        }
        c.series.push(
            Series::line(Some(name("simulated, mean ± 95% CI")), pts, col)
                .width(2)
                .markers()
                .errors(errs),
        );
        // Theory from the measured delays: 1 − e^(−Δ/T) per block, Δ = hash-weighted receive
        // delay. Over the interval, a smooth curve from the pooled delays of this line's runs.
        let theory: Vec<(f64, f64)> = if interval_sweep && nums.is_some() {
            let delays: Vec<f64> = idx
                .iter()
                .flat_map(|&p| res.point_runs(p))
                .flat_map(|r| r.blocks.iter().filter_map(|b| b.exposure_s))
                .collect();
            let (lo, hi) = (xs[idx[0]], xs[*idx.last().unwrap_or(&idx[0])]);
            (0..=200)
                .map(|i| {
                    let t = lo + (hi - lo) * f64::from(i) / 200.0;
                    let f = delays.iter().map(|d| 1.0 - libm::exp(-d / t)).sum::<f64>()
                        / delays.len().max(1) as f64;
                    (t, f)
                })
                .collect()
        } else {
            idx.iter()
                .filter_map(|&p| {
                    let runs: Vec<f64> = res
                        .point_runs(p)
                        .map(|r| r.record.metrics.chain.predicted_fork_rate)
                        .collect();
                    (!runs.is_empty())
                        .then(|| (xs[p], runs.iter().sum::<f64>() / runs.len() as f64))
                })
                .collect()
        };
        y_max = theory.iter().map(|p| p.1).fold(y_max, f64::max);
        c.series.push(
            Series::line(Some(name(theory_label)), theory, col)
                .width(2)
                .dashed(),
        );
    }
    let (lo, hi) = xs
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
            (a.min(x), b.max(x))
        });
    c.x = if !c.x_ticks.is_empty() {
        (-0.5, c.x_ticks.len() as f64 - 0.5)
    } else {
        let pad = if hi > lo {
            (hi - lo) * 0.08
        } else {
            (lo.abs() * 0.1).max(0.5)
        };
        (lo - pad, hi + pad)
    };
    c.y = (0.0, y_max * 1.1);
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimate_keeps_extremes_and_order() {
        let pts: Vec<(f64, f64)> = (0..10_000)
            .map(|i| {
                (
                    f64::from(i),
                    if i == 4321 { -5.0 } else { f64::from(i % 7) },
                )
            })
            .collect();
        let d = decimate(&pts, 1000);
        assert!(d.len() <= 1000);
        assert!(d.contains(&(4321.0, -5.0)));
        assert!(d.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(decimate(&pts[..10], 1000), pts[..10].to_vec());
    }

    #[test]
    fn ecdf_steps_to_one() {
        let c = ecdf(vec![3.0, 1.0, 2.0]);
        assert_eq!(c.first(), Some(&(0.0, 0.0)));
        assert_eq!(c.last(), Some(&(3.0, 1.0)));
        assert!(c.windows(2).all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1));
    }

    #[test]
    fn categories_keep_the_sweeps_order() {
        let swept = ["fixed", "epoch", "asert", "fixed", "epoch", "asert"];
        let cats = categories(swept.iter().map(|s| s.to_string()));
        assert_eq!(cats, ["fixed", "epoch", "asert"]);
    }

    #[test]
    fn swept_values_become_numbers() {
        assert_eq!(
            numeric(&toml::Value::String("2m".into())),
            Some((120.0, "s"))
        );
        assert_eq!(numeric(&toml::Value::Float(0.05)), Some((0.05, "")));
        assert_eq!(numeric(&toml::Value::String("ghost".into())), None);
    }
}
