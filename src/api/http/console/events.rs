//! The events-to-tenants section: how many verifications have events waiting, and the
//! newest dead letters with their reason (`Service::dead_events`, the list
//! `GET /v1/admin/events/dead` answers). Never an event's body.

use super::{escape, unavailable, Section};
use crate::api::http::AppState;
use std::fmt::Write;

/// Dead letters shown on the page (the JSON route lists up to 500).
const SHOWN: usize = 20;

/// The section.
pub async fn section(state: &AppState) -> Section {
    let s = &state.service;
    let mut h = String::new();
    match s.events_depth().await {
        Some(d) => {
            let _ = write!(
                h,
                "<p>Verifications with events waiting: <b id=\"events-waiting\">{}</b>; dead letters kept: <b id=\"events-dead\">{}</b>.</p>",
                d.lines, d.dead
            );
        }
        None => h.push_str("<p>No tenant has an <code>[tenants.&lt;id&gt;.events]</code> section, or the events queue did not answer.</p>"),
    }
    match s.dead_events(SHOWN).await {
        Ok(list) if list.is_empty() => h.push_str("<p id=\"events-none\">No dead letters.</p>"),
        Ok(list) => {
            h.push_str("<table id=\"events-dead-letters\"><tr><th>dead at</th><th>tenant</th><th>type</th><th>verification</th><th>seq</th><th>attempts</th><th>reason</th></tr>");
            for d in &list {
                let _ = write!(
                    h,
                    "<tr data-key=\"{id}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    escape(&d.dead_at),
                    escape(&d.tenant),
                    escape(&d.kind),
                    escape(&d.verification),
                    d.seq,
                    d.attempts,
                    escape(&d.reason),
                    id = escape(&d.id),
                );
            }
            let _ = write!(
                h,
                "</table><p>The newest {SHOWN}; <code>GET /v1/admin/events/dead?limit=500</code> lists more.</p>"
            );
        }
        Err(_) => h.push_str(&unavailable("the events' dead letters")),
    }
    Section {
        id: "events-section",
        title: "Events to tenants",
        html: h,
        live: true,
    }
}
