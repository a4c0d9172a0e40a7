//! Figures and the table of `chainsim validate`.

use crate::plot::{color, Chart, Series};
use plotters::style::RGBColor;
use runner::validate::{Row, SELFISH_GAMMAS};
use std::fmt::Write;

const GREY: RGBColor = RGBColor(110, 110, 110);
/// 95 % confidence half-width in standard errors (normal).
const CI95: f64 = 1.96;

/// Simulated points with their 95 % interval: (x, mean, low, high).
pub type Points = Vec<(f64, f64, f64, f64)>;

fn sim_series(label: String, pts: &Points, col: RGBColor) -> Series {
    Series::line(Some(label), pts.iter().map(|p| (p.0, p.1)).collect(), col)
        .points()
        .errors(pts.clone())
}

/// Revenue vs α: Eyal & Sirer's R(α, γ) for each γ in `gammas`, the honest line y = α, and
/// simulated series (label, colour index, points).
pub fn revenue_chart(title: &str, gammas: &[f64], sims: &[(String, usize, Points)]) -> Chart {
    let mut c = Chart::new("selfish-revenue", title);
    c.x_label = "pool hash share α".into();
    c.y_label = "pool share of the main chain".into();
    c.x = (0.0, 0.5);
    c.y = (0.0, 0.8);
    let honest = (0..=50)
        .map(|i| (f64::from(i) / 100.0, f64::from(i) / 100.0))
        .collect();
    c.series
        .push(Series::line(Some("honest mining: revenue = α".into()), honest, GREY).dashed());
    for (i, &g) in gammas.iter().enumerate() {
        let curve = (0..=90)
            .map(|k| {
                let a = f64::from(k) / 200.0;
                (a, metrics::theory::selfish_revenue(a, g))
            })
            .collect();
        c.series.push(Series::line(
            Some(format!("Eyal–Sirer R(α, γ={g})")),
            curve,
            color(i),
        ));
    }
    for (label, col, pts) in sims {
        c.series.push(sim_series(label.clone(), pts, color(*col)));
    }
    c
}

/// Double-spend success vs z on a log scale: Rosenfeld (exact) and Nakamoto (approximate) for
/// each q in `qs`, and simulated series (label, index into `qs`, points).
pub fn double_spend_chart(title: &str, qs: &[f64], sims: &[(String, usize, Points)]) -> Chart {
    let mut c = Chart::new("double-spend", title);
    c.x_label = "confirmations z the merchant waits for".into();
    c.y_label = "probability the attacker succeeds".into();
    c.y_log = true;
    let z_max = sims
        .iter()
        .flat_map(|s| s.2.iter().map(|p| p.0 as u32))
        .max()
        .unwrap_or(6)
        .max(6);
    c.x = (0.0, f64::from(z_max) + 0.5);
    let mut y_min: f64 = 1.0;
    for (i, &q) in qs.iter().enumerate() {
        let ros: Vec<(f64, f64)> = (0..=z_max)
            .map(|z| (f64::from(z), metrics::theory::double_spend_rosenfeld(q, z)))
            .collect();
        let nak: Vec<(f64, f64)> = (0..=z_max)
            .map(|z| (f64::from(z), metrics::theory::double_spend_nakamoto(q, z)))
            .collect();
        y_min = ros.iter().chain(&nak).map(|p| p.1).fold(y_min, f64::min);
        c.series.push(Series::line(
            Some(format!("Rosenfeld (exact), q={q}")),
            ros,
            color(i),
        ));
        c.series
            .push(Series::line(Some(format!("Nakamoto (approx.), q={q}")), nak, color(i)).dashed());
    }
    for (label, i, pts) in sims {
        // A log axis cannot show 0: clip the interval's foot at a tenth of the value.
        let pts: Points = pts
            .iter()
            .map(|&(x, m, lo, hi)| (x, m, lo.max(m / 10.0), hi))
            .collect();
        y_min = pts.iter().map(|p| p.2).fold(y_min, f64::min);
        c.series.push(sim_series(label.clone(), &pts, color(*i)));
    }
    c.y = (
        libm::pow(10.0, libm::floor(libm::log10(y_min.max(1e-9)))),
        1.5,
    );
    c
}

fn ci(r: &Row) -> (f64, f64, f64, f64) {
    (
        r.x,
        r.simulated,
        r.simulated - CI95 * r.se,
        r.simulated + CI95 * r.se,
    )
}

/// The validation suite's revenue figure.
pub fn revenue(rows: &[Row]) -> Chart {
    let sims: Vec<(String, usize, Points)> = SELFISH_GAMMAS
        .iter()
        .enumerate()
        .map(|(i, &g)| {
            let pts = rows
                .iter()
                .filter(|r| r.group == "selfish mining revenue" && r.line == g)
                .map(ci)
                .collect();
            (format!("simulated, γ={g} (± 95% CI)"), i, pts)
        })
        .collect();
    revenue_chart(
        "selfish mining (SM1): pool revenue vs hash share",
        &SELFISH_GAMMAS,
        &sims,
    )
}

/// The validation suite's double-spend figure.
pub fn double_spend(rows: &[Row]) -> Chart {
    let sim: Vec<&Row> = rows
        .iter()
        .filter(|r| r.group == "double-spend success")
        .collect();
    let mut qs: Vec<f64> = sim.iter().map(|r| r.line).collect();
    qs.sort_by(f64::total_cmp);
    qs.dedup();
    let sims: Vec<(String, usize, Points)> = qs
        .iter()
        .enumerate()
        .map(|(i, &q)| {
            let pts = sim.iter().filter(|r| r.line == q).map(|r| ci(r)).collect();
            (format!("simulated, q={q} (± 95% CI)"), i, pts)
        })
        .collect();
    double_spend_chart(
        "double spend: success probability vs confirmations",
        &qs,
        &sims,
    )
}

fn num(x: f64) -> String {
    if x.is_nan() {
        "–".into()
    } else {
        format!("{x:.4}")
    }
}

/// The table as Markdown (also what the CLI prints).
pub fn table(rows: &[Row]) -> String {
    let mut s = String::from(
        "| check | case | simulated | theory | Nakamoto | tolerance | sample | result |\n|---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            r.group,
            r.case,
            num(r.simulated),
            num(r.theory),
            r.other.map_or("".into(), num),
            if r.tolerance.is_nan() {
                "sign".into()
            } else {
                format!("±{}", num(r.tolerance))
            },
            r.sample,
            if r.pass { "pass" } else { "FAIL" }
        );
    }
    s
}
