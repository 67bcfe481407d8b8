//! The charts section: starts vs approvals, conversion, delivery success per provider,
//! p50/p95 delivery latency per provider, refusals by reason; per minute over the last
//! hour or per hour over 48 h, from the same report as `GET /v1/admin/stats`.

use super::svg::{bars, lines, Series, Unit};
use super::{unavailable, Fleet, Section, View};
use crate::error::Error;
use serde_json::Value;

/// A number of a report's JSON (0 when absent).
pub fn num(v: &Value, k: &str) -> f64 {
    v[k].as_f64().unwrap_or(0.0)
}

/// The x axis labels: `HH:MM` per minute, `DD HH:00` per hour.
fn labels(report: &Value) -> Vec<String> {
    let points = match report["step_seconds"].as_i64() {
        Some(3600) => 48,
        _ => 60,
    };
    let step_ms = report["step_seconds"].as_i64().unwrap_or(60) * 1000;
    let from = report["from"]
        .as_str()
        .and_then(|s| {
            time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
        })
        .map_or(0, |t| (t.unix_timestamp_nanos() / 1_000_000) as i64);
    (0..points)
        .map(|i| {
            let at = crate::domain::rfc3339(from + i * step_ms);
            if step_ms == 60_000 {
                at.get(11..16).unwrap_or("").to_string()
            } else {
                format!(
                    "{} {}",
                    at.get(8..10).unwrap_or(""),
                    at.get(11..16).unwrap_or("")
                )
            }
        })
        .collect()
}

/// Sums `counter` over every group, point by point.
fn summed(report: &Value, counter: &str, points: usize) -> Vec<f64> {
    let mut out = vec![0.0; points];
    for g in report["groups"].as_array().into_iter().flatten() {
        for (i, p) in g["series"].as_array().into_iter().flatten().enumerate() {
            if let Some(o) = out.get_mut(i) {
                *o += num(p, counter);
            }
        }
    }
    out
}

fn ratio(a: f64, b: f64) -> Option<f64> {
    (b > 0.0).then(|| (a / b).min(1.0))
}

/// The section.
pub fn section(fleet: &Result<Fleet, Error>, view: &View) -> Section {
    let html = match fleet {
        Err(_) => unavailable("fleet numbers"),
        Ok(f) => draw(&f.by_country.0, &f.by_provider.0, view),
    };
    Section {
        id: "charts",
        title: "Charts",
        html,
        live: true,
    }
}

fn draw(by_country: &Value, by_provider: &Value, view: &View) -> String {
    let labels = labels(by_country);
    let n = labels.len();
    let per = if view.window == crate::service::Window::Hour {
        "per minute, last hour"
    } else {
        "per hour, last 48 h"
    };
    let starts = summed(by_country, "starts", n);
    let approvals = summed(by_country, "approvals", n);
    let t = &by_country["totals"];
    let mut h = format!(
        "<p>Totals: <b id=\"total-starts\">{}</b> starts, <b id=\"total-approvals\">{}</b> approvals, conversion <b id=\"total-conversion\">{}</b>, <b id=\"total-sends\">{}</b> sends, <b id=\"total-failed\">{}</b> failed.</p><div class=\"charts\">",
        num(t, "starts"),
        num(t, "approvals"),
        t["conversion"].as_f64().map_or("–".into(), |c| format!("{:.1} %", c * 100.0)),
        num(t, "sends"),
        num(t, "failed"),
    );
    let some = |v: &[f64]| v.iter().map(|x| Some(*x)).collect::<Vec<_>>();
    h.push_str(&lines(
        "chart-starts",
        &format!("Starts and approvals, {per}"),
        &labels,
        &[
            Series {
                name: "starts".into(),
                points: some(&starts),
            },
            Series {
                name: "approvals".into(),
                points: some(&approvals),
            },
        ],
        Unit::Count,
    ));
    let conv = starts
        .iter()
        .zip(&approvals)
        .map(|(s, a)| ratio(*a, *s))
        .collect();
    h.push_str(&lines(
        "chart-conversion",
        &format!("Conversion (approvals / starts), {per}"),
        &labels,
        &[Series {
            name: "conversion".into(),
            points: conv,
        }],
        Unit::Percent,
    ));
    let providers: Vec<&Value> = by_provider["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|g| g["key"] != "-")
        .collect();
    let delivery: Vec<Series> = providers
        .iter()
        .map(|g| Series {
            name: g["key"].as_str().unwrap_or("").to_string(),
            points: g["series"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| ratio(num(p, "delivered"), num(p, "accepted")))
                .collect(),
        })
        .collect();
    h.push_str(&lines(
        "chart-delivery",
        &format!("Delivery success (delivered / accepted) per provider, {per}"),
        &labels,
        &delivery,
        Unit::Percent,
    ));
    let latency: Vec<(String, Vec<f64>)> = by_provider["latency"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|l| num(l, "delivered") > 0.0)
        .map(|l| {
            (
                l["provider"].as_str().unwrap_or("").to_string(),
                vec![num(l, "p50_seconds"), num(l, "p95_seconds")],
            )
        })
        .collect();
    h.push_str(&bars(
        "chart-latency",
        "Delivery latency per provider (p50, p95; upper bucket bounds)",
        &["p50", "p95"],
        &latency,
        Unit::Seconds,
    ));
    let refusals: Vec<(String, Vec<f64>)> = t["refused"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), vec![v.as_f64().unwrap_or(0.0)]))
        .collect();
    h.push_str(&bars(
        "chart-refusals",
        "Refusals by reason",
        &["refused"],
        &refusals,
        Unit::Count,
    ));
    h.push_str("</div>");
    h
}
