//! The providers section (each provider instance with its breaker, the channels routed
//! through it, and an SMPP provider's binds) and the send queue's depth, as this
//! instance sees them.

use super::{escape, Section};
use crate::api::http::AppState;
use crate::service::{BreakerState, ProviderState};
use std::fmt::Write;

/// Providers and breakers.
pub fn providers(state: &AppState) -> Section {
    let mut h = String::from("<table id=\"providers\"><tr><th>name</th><th>kind</th><th>channels</th><th>breaker</th></tr>");
    let providers = state.service.providers();
    for p in &providers {
        let class = match p.breaker {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
        };
        let _ = write!(
            h,
            "<tr data-key=\"{n}\"><td>{n}</td><td>{}</td><td>{}</td><td class=\"{class}\">{}</td></tr>",
            p.kind,
            p.routed.join(", "),
            p.breaker.as_str(),
            n = escape(&p.name),
        );
    }
    h.push_str("</table><p>Breakers are per instance: this one's.</p>");
    binds(&mut h, &providers);
    Section {
        id: "providers-section",
        title: "Providers",
        html: h,
        live: true,
    }
}

/// The send queue.
pub async fn queue(state: &AppState) -> Section {
    let mut h = String::from("<table id=\"queue\">");
    match state.service.queue_depth().await {
        Ok(d) => {
            let age = d
                .oldest_age_ms
                .map(|ms| format!("{:.1} s", ms as f64 / 1000.0))
                .unwrap_or_else(|| "-".into());
            let _ = write!(
                h,
                "<tr><th>queued or in flight</th><td>{}</td></tr><tr><th>oldest</th><td>{age}</td></tr><tr><th>dead letters</th><td>{}</td></tr></table>",
                d.pending, d.dead
            );
        }
        Err(_) => {
            h.push_str("</table>");
            h.push_str(&super::unavailable("the send queue"));
        }
    }
    Section {
        id: "queue-section",
        title: "Send queue",
        html: h,
        live: true,
    }
}

/// The SMPP binds table, when a provider has binds.
fn binds(h: &mut String, providers: &[ProviderState]) {
    if providers.iter().all(|p| p.binds.is_empty()) {
        return;
    }
    h.push_str(concat!(
        "<h3>SMPP binds</h3><table id=\"binds\"><tr><th>provider</th><th>bind</th>",
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
