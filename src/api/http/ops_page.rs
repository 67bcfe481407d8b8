//! `GET /ops`: a one-page view for operators, plain HTML with no external assets.
//!
//! Providers with their breaker state (and an SMPP provider's binds: state, window in
//! use, submits, errors by status, receipts, reconnects, last error), the send queue, starts and conversion per country
//! over the last hour (this process), and the SMS-pumping guard's active blocks at every
//! level with their explanation (shared by all instances). Needs an admin key (`admin.api_keys`: `401` without one,
//! `403` with another key), except from a local caller in dev mode (`access.rs`).

use super::AppState;
use crate::domain::now_millis;
use crate::error::Error;
use crate::service::BreakerState;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use std::fmt::Write;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Renders the page.
pub async fn page(State(state): State<AppState>, req: Request) -> Result<Response, Error> {
    let (parts, _) = req.into_parts();
    if !state.access.ops_open(&parts) {
        state.access.require_admin(&parts.headers, "the ops page")?;
    }
    let mut h = String::with_capacity(4096);
    h.push_str(concat!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">",
        "<meta http-equiv=\"refresh\" content=\"10\"><title>otpgw ops</title><style>",
        "body{font:14px system-ui,sans-serif;margin:2em;color:#222}h1{font-size:20px}",
        "h2{font-size:16px;margin-top:1.6em}table{border-collapse:collapse}",
        "td,th{border:1px solid #ccc;padding:4px 10px;text-align:left}",
        ".closed{color:#176f2c}.open{color:#b00020;font-weight:bold}.half_open{color:#a66300}",
        "</style></head><body><h1>otpgw operations</h1>"
    ));
    let _ = write!(
        h,
        "<p>version {} &middot; this instance only &middot; refreshes every 10 s</p>",
        env!("CARGO_PKG_VERSION")
    );

    h.push_str("<h2>Providers</h2><table id=\"providers\"><tr><th>name</th><th>kind</th><th>channels</th><th>breaker</th></tr>");
    let providers = state.service.providers();
    for p in &providers {
        let st = p.breaker;
        let class = match st {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
        };
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"{class}\">{}</td></tr>",
            escape(&p.name),
            p.kind,
            p.routed.join(", "),
            st.as_str()
        );
    }
    h.push_str("</table>");
    binds(&mut h, &providers);

    h.push_str("<h2>Send queue</h2><table id=\"queue\">");
    match state.service.queue_depth().await {
        Ok(d) => {
            let age = d
                .oldest_age_ms
                .map(|ms| format!("{:.1} s", ms as f64 / 1000.0))
                .unwrap_or_else(|| "-".into());
            let _ = write!(
                h,
                "<tr><th>queued or in flight</th><td>{}</td></tr><tr><th>oldest</th><td>{age}</td></tr><tr><th>dead letters</th><td>{}</td></tr>",
                d.pending, d.dead
            );
        }
        Err(_) => h.push_str("<tr><td class=\"open\">the queue does not answer</td></tr>"),
    }
    h.push_str("</table>");

    let now = now_millis();
    let by_country = state.service.activity().last_hour(now);
    last_hour(&mut h, "countries", "country", by_country);
    let by_channel = state.service.channel_activity().last_hour(now);
    last_hour(&mut h, "channels", "channel", by_channel);

    h.push_str("<h2>Pumping-guard blocks</h2>");
    let tenants = state.service.tenants().ids();
    match state.service.abuse().blocks(&tenants).await {
        Ok(blocks) if blocks.is_empty() => {
            h.push_str("<p id=\"blocks\">nothing is blocked</p>");
        }
        Ok(blocks) => {
            h.push_str("<table id=\"blocks\"><tr><th>tenant</th><th>level</th><th>block</th><th>country</th><th>action</th><th>until</th><th>strikes</th><th>rule</th><th>sends</th><th>approvals</th><th>expected conversion</th><th>tolerance</th></tr>");
            for b in blocks {
                let e = &b.explain;
                let _ = write!(
                    h,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:?}</td><td>{:.1}</td><td>{:.1}</td><td>{:.3}</td><td>{:.1}</td></tr>",
                    escape(&b.tenant),
                    b.level.as_str(),
                    escape(&b.label),
                    escape(&b.country),
                    b.action.as_str(),
                    crate::domain::rfc3339(b.until_ms),
                    b.strikes,
                    e.rule,
                    e.sends,
                    e.approvals,
                    e.expected,
                    e.tolerance
                );
            }
            h.push_str("</table><p>Lift one with <code>DELETE /v1/admin/blocks/{tenant}/{level}/{block or id}</code>.</p>");
        }
        Err(_) => h.push_str("<p id=\"blocks\" class=\"open\">the block store does not answer</p>"),
    }
    h.push_str("</body></html>");
    let mut r = h.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    Ok(r)
}

/// The SMPP binds table, when a provider has binds.
/// A "Last hour by <what>" table with the id `id`.
fn last_hour(h: &mut String, id: &str, what: &str, rows: Vec<crate::service::HourCounts>) {
    let _ = write!(
        h,
        "<h2>Last hour by {what}</h2><table id=\"{id}\"><tr><th>{what}</th><th>started</th><th>approved</th><th>conversion</th></tr>"
    );
    if rows.is_empty() {
        h.push_str("<tr><td colspan=\"4\">no verifications in the last hour</td></tr>");
    }
    for c in rows {
        let conv = if c.started > 0 {
            format!("{:.0} %", 100.0 * c.approved as f64 / c.started as f64)
        } else {
            "-".into()
        };
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{conv}</td></tr>",
            escape(&c.key),
            c.started,
            c.approved
        );
    }
    h.push_str("</table>");
}

fn binds(h: &mut String, providers: &[crate::service::ProviderState]) {
    if providers.iter().all(|p| p.binds.is_empty()) {
        return;
    }
    h.push_str(concat!(
        "<h2>SMPP binds</h2><table id=\"binds\"><tr><th>provider</th><th>bind</th>",
        "<th>state</th><th>version</th><th>window</th><th>submitted</th><th>errors</th><th>receipts</th>",
        "<th>mobile-originated</th><th>reconnects</th><th>last error</th></tr>"
    ));
    for p in providers {
        for b in &p.binds {
            let class = match b.state {
                "bound" => "closed",
                "connecting" => "half_open",
                _ => "open",
            };
            let errors = b
                .errors
                .iter()
                .map(|(s, n)| format!("{s} {n}"))
                .collect::<Vec<_>>()
                .join(", ");
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td class=\"{class}\">{}</td><td>{}</td><td>{} / {}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&p.name),
                b.bind,
                b.state,
                b.version.unwrap_or(""),
                b.window_in_use,
                b.window,
                b.submitted,
                escape(&errors),
                b.receipts,
                b.mobile_originated,
                b.reconnects,
                escape(b.last_error.as_deref().unwrap_or("")),
            );
        }
    }
    h.push_str("</table>");
}
