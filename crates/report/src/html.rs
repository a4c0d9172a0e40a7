//! `report.html`: one self-contained page (figures inline as SVG, no external assets).

use crate::plot::Chart;
use crate::Results;
use std::fmt::Write;

pub fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// Columns of the per-point table: (metric key, heading, digits).
const COLUMNS: [(&str, &str, usize); 11] = [
    ("fork_rate", "fork rate", 4),
    ("predicted_fork_rate", "predicted fork rate", 4),
    ("stale_blocks", "stale blocks", 1),
    ("main_chain_length", "main chain", 1),
    ("main_interval_mean_s", "block interval mean (s)", 1),
    ("convergence_time_mean_s", "convergence mean (s)", 2),
    ("convergence_time_p90_s", "convergence p90 (s)", 2),
    ("propagation_p50_s", "propagation p50 (s)", 2),
    ("propagation_p90_s", "propagation p90 (s)", 2),
    ("reorg_max_depth", "max reorg depth", 1),
    ("chain_quality", "chain quality", 4),
];

const STYLE: &str = "body{font-family:sans-serif;max-width:1250px;margin:2em auto;padding:0 1em;color:#222}\
table{border-collapse:collapse;margin:1em 0;font-size:14px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}\
th{background:#f3f3f3}td.l,th.l{text-align:left}code,pre{font-family:monospace}\
pre{background:#f7f7f7;padding:1em;overflow-x:auto;font-size:13px}figure{margin:2em 0}\
figure svg{max-width:100%;height:auto;border:1px solid #eee}figcaption{font-size:14px;color:#555}";

/// Columns of the attack table: (metric key, heading, digits).
const ATTACK_COLUMNS: [(&str, &str, usize); 10] = [
    ("attacker_share", "attackers' main-chain share", 4),
    ("honest_fork_rate", "honest fork rate", 4),
    (
        "consistency_during_attack",
        "on the common tip during attack",
        3,
    ),
    (
        "prefix_depth_max_during_attack",
        "max prefix depth during attack",
        1,
    ),
    ("double_spend_success_rate", "double-spend success", 4),
    ("reorg_max_depth", "max reorg depth", 1),
    ("eclipsed_divergence_s", "eclipsed divergence (s)", 0),
    ("rejected_blocks", "invalid blocks rejected", 1),
    ("invalid_bytes_received", "bytes wasted on them", 0),
    ("recovery_after_attack_s", "converged after attack (s)", 1),
];

fn cell(h: &mut String, m: Option<&metrics::MeanCi>, replicates: usize, digits: usize) {
    // `+ 0.0` turns −0.0 into 0.0.
    let m = m.map(|m| metrics::MeanCi {
        mean: m.mean + 0.0,
        ..m.clone()
    });
    match m.as_ref() {
        Some(m) if replicates > 1 => {
            let _ = write!(h, "<td>{:.d$} ± {:.d$}</td>", m.mean, m.ci95, d = digits);
        }
        Some(m) => {
            let _ = write!(h, "<td>{:.d$}</td>", m.mean, d = digits);
        }
        None => h.push_str("<td>–</td>"),
    }
}

/// Per point: the attackers' strategies and hash shares, and what they achieved.
fn attacks(h: &mut String, res: &Results) {
    h.push_str(
        "<h2>Attacks</h2>\n<table><tr><th class=\"l\">point</th><th class=\"l\">attackers</th><th>n</th>",
    );
    for (_, head, _) in ATTACK_COLUMNS {
        let _ = write!(h, "<th>{}</th>", escape(head));
    }
    h.push_str("</tr>\n");
    for p in &res.summary.points {
        let who: Vec<String> = res.plan.points[p.point]
            .config
            .byzantine
            .iter()
            .map(|b| {
                let share = b
                    .hash_share
                    .map_or(String::new(), |s| format!(", hash {s}"));
                format!("{} ×{}{share}", b.strategy, b.nodes.len())
            })
            .collect();
        let _ = write!(
            h,
            "<tr><td class=\"l\">p{:03}</td><td class=\"l\">{}</td><td>{}</td>",
            p.point,
            escape(&who.join("; ")),
            p.replicates
        );
        for (key, _, digits) in ATTACK_COLUMNS {
            cell(h, p.metrics.get(key), p.replicates, digits);
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n");
}

/// The page. `figures` pairs each chart with its SVG text.
pub fn page(res: &Results, figures: &[(&Chart, String)]) -> String {
    let s = &res.summary;
    let plan = &res.plan;
    let mut h = String::new();
    let e = escape;
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>chainsim: {name}</title><style>{STYLE}</style></head><body>\n\
         <h1>chainsim report: {name}</h1>\n<p>{desc}</p>\n<table>\
         <tr><th class=\"l\">scenario sha256</th><td class=\"l\"><code>{sha}</code></td></tr>\
         <tr><th class=\"l\">seed</th><td class=\"l\">{seed}</td></tr>\
         <tr><th class=\"l\">chainsim version</th><td class=\"l\">{ver}</td></tr>\
         <tr><th class=\"l\">plan</th><td class=\"l\">{np} point(s) × {nr} replicate(s) = {runs} run(s){common}</td></tr>{sets}\
         </table>\n<p>Reproduce: <code>chainsim reproduce DIR</code> re-runs every run and checks its trace hash; \
         <code>chainsim trace DIR --run ID</code> writes one run's events as CSV; \
         <code>chainsim plot DIR</code> redraws this page from the saved results.</p>\n",
        name = e(&s.scenario),
        desc = e(&s.description),
        sha = e(&s.scenario_sha256),
        seed = s.seed,
        ver = e(&s.chainsim_version),
        sets = match plan.sets.is_empty() {
            true => String::new(),
            false => format!(
                "<tr><th class=\"l\">set (<code>--set</code>)</th><td class=\"l\"><code>{}</code></td></tr>",
                e(&scenario::fmt_params(&plan.sets))
            ),
        },
        np = plan.points.len(),
        nr = plan.replicates,
        runs = s.runs.len(),
        common = e(plan.seeds.plan_note()),
    );
    h.push_str("<h2>Metrics per point</h2>\n<p>Mean ± 95 % confidence half-width over replicates (Student t). \
                The predicted fork rate is 1 − e<sup>−Δ/T</sup> per block with Δ the measured hash-weighted receive delay.</p>\n<table><tr><th class=\"l\">point</th><th class=\"l\">parameters</th><th>n</th>");
    // Shown when any point has some: replicas left behind by a give-up (lossy runs with few
    // attempts), replicas still fetching at the end, upload links still booked past the end
    // (a swamped sender), and messages still on their way (a network still busy).
    let optional = [
        ("replicas_missing_abandoned", "behind after a give-up", 1),
        ("replicas_fetching", "still fetching at the end", 1),
        ("upload_backlog_s", "upload backlog (s)", 0),
        ("in_flight_s", "in flight past the end (s)", 1),
    ];
    // The honest nodes' time online, when any point has outages.
    let outages = [("honest_online_mean", "honest online (mean)", 3)];
    let crashes =
        (plan.points.iter()).any(|p| !p.config.crashes.is_empty() || p.config.churn.is_some());
    // And the final difficulty, when any point retargets.
    let retargets =
        (plan.points.iter()).any(|p| p.config.retarget.rule != runner::RetargetRule::Fixed);
    let difficulty = [("final_difficulty", "final difficulty (× genesis)", 3)];
    let columns: Vec<_> = (COLUMNS.iter())
        .chain(optional.iter().filter(|(key, _, _)| {
            (s.points.iter()).any(|p| p.metrics.get(*key).is_some_and(|m| m.mean > 0.0))
        }))
        .chain(outages.iter().filter(|_| crashes))
        .chain(difficulty.iter().filter(|_| retargets))
        .collect();
    for (_, head, _) in &columns {
        let _ = write!(h, "<th>{}</th>", e(head));
    }
    h.push_str("</tr>\n");
    for p in &s.points {
        let _ = write!(
            h,
            "<tr><td class=\"l\">p{:03}</td><td class=\"l\">{}</td><td>{}</td>",
            p.point,
            e(&scenario::fmt_params(&p.params)),
            p.replicates
        );
        for &&(key, _, digits) in &columns {
            cell(&mut h, p.metrics.get(key), p.replicates, digits);
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n");
    if !plan.points.iter().all(|p| p.config.byzantine.is_empty()) {
        attacks(&mut h, res);
    }
    h.push_str("<h2>Figures</h2>\n");
    for (c, svg) in figures {
        let body = svg.find("<svg").map_or(svg.as_str(), |i| &svg[i..]);
        let _ = writeln!(
            h,
            "<figure>{body}<figcaption>{} — <code>figures/{n}.svg</code>, <code>figures/{n}.png</code></figcaption></figure>",
            e(&c.title),
            n = e(&c.name)
        );
    }
    h.push_str("<h2>Runs</h2>\n<table><tr><th class=\"l\">run</th><th class=\"l\">parameters</th><th>seed</th>\
                <th>blocks</th><th>stale</th><th>events</th><th>sim time (s)</th><th>wall (s)</th>\
                <th class=\"l\">stop</th><th class=\"l\">trace hash</th></tr>\n");
    for r in &s.runs {
        let m = &r.metrics;
        let _ = writeln!(
            h,
            "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{:.1}</td><td>{:.3}</td><td class=\"l\">{}</td><td class=\"l\"><code>{}</code></td></tr>",
            e(&r.id),
            e(&scenario::fmt_params(&r.params)),
            r.seed,
            m.chain.blocks_mined,
            m.chain.stale_blocks,
            m.events,
            m.sim_time_s,
            m.wall_time_s,
            e(&r.stop_reason),
            e(&r.trace_hash)
        );
    }
    let _ = write!(
        h,
        "</table>\n<h2>Scenario</h2>\n<pre>{}</pre>\n</body></html>\n",
        e(&plan.text)
    );
    h
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_markup() {
        assert_eq!(
            super::escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
