//! The tables by country, by provider and by channel (conversion, delivery rate, spend;
//! sortable by a column header link `?sort=<column>&dir=asc|desc`) and the spend section
//! (per hour, per country, per provider, and what the pumping guard avoided).

use super::charts::num;
use super::svg::{bars, Unit};
use super::{escape, unavailable, Fleet, Section, View};
use crate::error::Error;
use serde_json::Value;
use std::cmp::Ordering;
use std::fmt::Write;

/// Sortable columns: (query name, heading, format).
const COLUMNS: &[(&str, &str, Fmt)] = &[
    ("key", "", Fmt::Text),
    ("starts", "starts", Fmt::Count),
    ("approvals", "approvals", Fmt::Count),
    ("conversion", "conversion", Fmt::Percent),
    ("sends", "sends", Fmt::Count),
    ("accepted", "accepted", Fmt::Count),
    ("failed", "failed", Fmt::Count),
    ("failed_over", "failed over", Fmt::Count),
    ("delivered", "delivered", Fmt::Count),
    ("undelivered", "undelivered", Fmt::Count),
    ("delivery_rate", "delivery rate", Fmt::Percent),
    ("p50_seconds", "p50", Fmt::Seconds),
    ("p95_seconds", "p95", Fmt::Seconds),
    ("spend", "spend", Fmt::Money),
    ("spend_avoided", "spend avoided", Fmt::Money),
];

const BY_COUNTRY: &[&str] = &[
    "key",
    "starts",
    "approvals",
    "conversion",
    "sends",
    "accepted",
    "failed",
    "delivered",
    "delivery_rate",
    "spend",
    "spend_avoided",
];
/// The country columns without the last, `spend_avoided`.
const BY_CHANNEL: &[&str] = match BY_COUNTRY.split_last() {
    Some((_, rest)) => rest,
    None => &[],
};
const BY_PROVIDER: &[&str] = &[
    "key",
    "sends",
    "accepted",
    "failed",
    "failed_over",
    "delivered",
    "undelivered",
    "delivery_rate",
    "p50_seconds",
    "p95_seconds",
    "spend",
];

#[derive(Debug, Clone, Copy)]
enum Fmt {
    Text,
    Count,
    Percent,
    Seconds,
    Money,
}

/// The column a `sort` value names.
pub fn column(s: &str) -> Option<&'static str> {
    COLUMNS.iter().find(|c| c.0 == s).map(|c| c.0)
}

fn cell(v: &Value, f: Fmt) -> String {
    match (f, v) {
        (_, Value::Null) => "–".into(),
        (Fmt::Text, v) => escape(v.as_str().unwrap_or("")),
        (Fmt::Count, v) => v.as_i64().unwrap_or(0).to_string(),
        (Fmt::Percent, v) => format!("{:.1} %", v.as_f64().unwrap_or(0.0) * 100.0),
        (Fmt::Seconds, v) => format!("{} s", v.as_f64().unwrap_or(0.0)),
        (Fmt::Money, v) => money(v.as_f64().unwrap_or(0.0)),
    }
}

/// Money as the report counts it (thousandths of the price unit).
pub fn money(v: f64) -> String {
    format!("{v:.3}")
}

fn compare(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::String(x), Value::String(y)) => x.cmp(y),
        _ => {
            let f = |v: &Value| v.as_f64().unwrap_or(-1.0);
            f(a).total_cmp(&f(b))
        }
    }
}

/// A table of `rows` (report groups) with `cols`, sorted as `view` asks.
fn table(id: &str, first: &str, cols: &[&str], mut rows: Vec<Value>, view: &View) -> String {
    let sort = view.sort.filter(|(c, _)| cols.contains(c));
    if let Some((c, desc)) = sort {
        rows.sort_by(|a, b| {
            let o = compare(&a[c], &b[c]);
            if desc {
                o.reverse()
            } else {
                o
            }
        });
    }
    let mut h = format!("<table id=\"{id}\"><thead><tr>");
    for c in cols {
        let (name, heading, _) =
            COLUMNS
                .iter()
                .find(|x| x.0 == *c)
                .copied()
                .unwrap_or(("", "", Fmt::Text));
        let heading = if name == "key" { first } else { heading };
        let (desc, mark, aria) = match sort {
            Some((s, d)) if s == name => (
                !d,
                if d { " ▼" } else { " ▲" },
                if d { "descending" } else { "ascending" },
            ),
            _ => (name != "key", "", "none"),
        };
        let href = view.href(Some((name, desc)));
        let _ = write!(
            h,
            "<th aria-sort=\"{aria}\"><a href=\"{href}#{id}\">{heading}{mark}</a></th>"
        );
    }
    h.push_str("</tr></thead><tbody>");
    if rows.is_empty() {
        let _ = write!(
            h,
            "<tr><td colspan=\"{}\">nothing in this window</td></tr>",
            cols.len()
        );
    }
    for r in &rows {
        let _ = write!(
            h,
            "<tr data-key=\"{}\">",
            escape(r["key"].as_str().unwrap_or(""))
        );
        for c in cols {
            let f = COLUMNS
                .iter()
                .find(|x| x.0 == *c)
                .map_or(Fmt::Text, |x| x.2);
            let class = if matches!(f, Fmt::Text) {
                ""
            } else {
                " class=\"n\""
            };
            let _ = write!(h, "<td data-col=\"{c}\"{class}>{}</td>", cell(&r[*c], f));
        }
        h.push_str("</tr>");
    }
    h.push_str("</tbody></table>");
    h
}

fn groups(report: &Value) -> Vec<Value> {
    report["groups"].as_array().cloned().unwrap_or_default()
}

/// The section of tables.
pub fn section(fleet: &Result<Fleet, Error>, view: &View) -> Section {
    let html = match fleet {
        Err(_) => unavailable("fleet numbers"),
        Ok(f) => {
            let mut providers: Vec<Value> = groups(&f.by_provider.0)
                .into_iter()
                .filter(|g| g["key"] != "-")
                .collect();
            for p in &mut providers {
                let lat = f.by_provider.0["latency"]
                    .as_array()
                    .and_then(|l| l.iter().find(|l| l["provider"] == p["key"]).cloned())
                    .unwrap_or(Value::Null);
                p["p50_seconds"] = lat["p50_seconds"].clone();
                p["p95_seconds"] = lat["p95_seconds"].clone();
            }
            format!(
                "<h3>By country</h3>{}<h3>By provider</h3>{}<h3>By channel</h3>{}<p>Conversion: approvals / starts. Delivery rate: delivered / accepted (receipts). Latency: upper bound of the histogram bucket.</p>",
                table("countries", "country", BY_COUNTRY, groups(&f.by_country.0), view),
                table("providers-fleet", "provider", BY_PROVIDER, providers, view),
                table("channels", "channel", BY_CHANNEL, groups(&f.by_channel.0), view)
            )
        }
    };
    Section {
        id: "tables",
        title: "By country, provider and channel",
        html,
        live: true,
    }
}

/// Rows of a `{name: {spend, avoided}}` map.
fn spend_rows(h: &mut String, id: &str, first: &str, m: &Value) {
    let _ = write!(
        h,
        "<table id=\"{id}\"><tr><th>{first}</th><th>spend</th><th>spend avoided</th></tr>"
    );
    let entries = m.as_object().into_iter().flatten();
    let mut any = false;
    for (k, v) in entries {
        any = true;
        let _ = write!(
            h,
            "<tr data-key=\"{k}\"><td>{k}</td><td class=\"n\" data-col=\"spend\">{}</td><td class=\"n\" data-col=\"avoided\">{}</td></tr>",
            money(num(v, "spend")),
            money(num(v, "avoided")),
            k = escape(k)
        );
    }
    if !any {
        h.push_str("<tr><td colspan=\"3\">no spend in this window</td></tr>");
    }
    h.push_str("</table>");
}

/// The spend section.
pub fn spend(fleet: &Result<Fleet, Error>, _view: &View) -> Section {
    let html = match fleet {
        Err(_) => unavailable("fleet numbers"),
        Ok(f) => {
            let r = &f.by_country.0;
            let t = &r["totals"];
            let mut h = format!(
                "<p>Spend <b id=\"spend-total\">{}</b>; the pumping guard avoided <b id=\"spend-avoided\">{}</b> (refused sends priced as they would have been). Prices: each provider's <code>prices</code>, or the price it reported.</p>",
                money(num(t, "spend")),
                money(num(t, "spend_avoided"))
            );
            let hours: Vec<(String, Vec<f64>)> = r["spend"]["per_hour"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| {
                    let at = p["at"].as_str().unwrap_or("");
                    (
                        format!(
                            "{} {}",
                            at.get(8..10).unwrap_or(""),
                            at.get(11..16).unwrap_or("")
                        ),
                        vec![num(p, "spend"), num(p, "avoided")],
                    )
                })
                .collect();
            h.push_str(&bars(
                "chart-spend",
                "Spend per hour (spend, avoided)",
                &["spend", "avoided"],
                &hours,
                Unit::Money,
            ));
            h.push_str("<h3>Per country</h3>");
            spend_rows(
                &mut h,
                "spend-country",
                "country",
                &r["spend"]["per_country"],
            );
            h.push_str("<h3>Per provider</h3>");
            spend_rows(
                &mut h,
                "spend-provider",
                "provider",
                &r["spend"]["per_provider"],
            );
            h
        }
    };
    Section {
        id: "spend",
        title: "Spend",
        html,
        live: true,
    }
}
