//! The support lookup section: a form (tenant id, number or address) that posts
//! `action=lookup` to `/ops`, and the answer as a table (times, channel, provider,
//! delivery status and reason, check attempts, outcome) from [`Service::lookup`], the
//! same call as `POST /v1/admin/lookup`. The number is in the body only: never in a URL,
//! never in a log, never echoed back (the page shows it masked, and the form comes back
//! empty). The section is not refreshed, so a half-typed lookup survives.
//!
//! [`Service::lookup`]: crate::service::Service::lookup

use super::{escape, Section};
use crate::api::http::AppState;
use crate::domain::Destination;
use crate::service::LookupItem;
use std::fmt::Write;

/// Longest tenant id or destination taken from the form.
const MAX_FIELD: usize = 254;

fn error(msg: &str) -> String {
    format!(
        "<p class=\"notice bad\" role=\"alert\" id=\"lookup-error\">{}</p>",
        escape(msg)
    )
}

/// Runs a posted lookup; the result table, or the error to show.
pub async fn run(state: &AppState, tenant: &str, to: &str) -> String {
    let (tenant, to) = (tenant.trim(), to.trim());
    if tenant.is_empty() || to.is_empty() {
        return error(
            "Type a tenant id and a number (E.164, such as +14155550123) or an email address.",
        );
    }
    if tenant.len() > MAX_FIELD || to.len() > MAX_FIELD {
        return error("The tenant id or the number is too long.");
    }
    let Some(t) = state.service.tenants().get(tenant) else {
        return error("No such tenant.");
    };
    let dest = match Destination::parse(to) {
        Ok(d) => d,
        Err(e) => {
            return error(&format!(
                "Not a number or address the gateway takes ({e}). Numbers are E.164: a plus, the country code and the number, such as +14155550123."
            ))
        }
    };
    match state.service.lookup(&t, &dest).await {
        Ok(items) => table(&t.id, &dest.masked(), t.cfg.lookup_retention_secs, &items),
        Err(_) => super::unavailable("the support lookup"),
    }
}

fn table(tenant: &str, masked: &str, retention_secs: u64, items: &[LookupItem]) -> String {
    let mut h = format!(
        "<div id=\"lookup-result\"><p>{} of tenant {} over the last {} (newest first): <b id=\"lookup-count\">{}</b> found.</p>",
        escape(masked),
        escape(tenant),
        days(retention_secs),
        items.len()
    );
    if items.is_empty() {
        h.push_str("<p>Nothing found: this tenant sent nothing to this number in its lookup window.</p></div>");
        return h;
    }
    h.push_str(concat!(
        "<table id=\"lookup-rows\"><tr><th>created</th><th>id</th><th>channel</th><th>provider</th>",
        "<th>delivery</th><th>reason</th><th>updated</th><th>sends</th><th>check attempts</th><th>outcome</th></tr>"
    ));
    let or_dash = |s: Option<&str>| escape(s.unwrap_or("–"));
    for i in items {
        let d = i.delivery.as_ref();
        let channels = i.channels.as_ref().map(|c| c.join(" → "));
        let attempts = match (i.check_attempts_used, i.check_attempts_remaining) {
            (Some(u), Some(r)) => format!("{u} used, {r} left"),
            _ => "–".into(),
        };
        let outcome = match i.record {
            "expired" => "record no longer kept".to_string(),
            _ => i.status.clone().unwrap_or_default(),
        };
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td>{attempts}</td><td data-col=\"outcome\">{}</td></tr>",
            escape(&i.created_at),
            escape(&i.id),
            or_dash(channels.as_deref()),
            or_dash(d.and_then(|d| d.provider.as_deref())),
            or_dash(d.map(|d| d.status.as_str())),
            or_dash(d.and_then(|d| d.reason.as_deref())),
            or_dash(d.map(|d| d.updated_at.as_str())),
            i.send_count.map_or("–".into(), |n| n.to_string()),
            escape(&outcome)
        );
    }
    h.push_str("</table></div>");
    h
}

fn days(secs: u64) -> String {
    if secs.is_multiple_of(86_400) {
        format!("{} days", secs / 86_400)
    } else {
        format!("{} hours", secs.div_ceil(3600))
    }
}

/// The section: the form, then a posted lookup's answer.
pub fn section(state: &AppState, result: Option<String>) -> Section {
    let mut h = String::from(
        "<form id=\"lookup-form\" method=\"post\" action=\"/ops#lookup\" autocomplete=\"off\"><input type=\"hidden\" name=\"action\" value=\"lookup\"><label>tenant <select name=\"tenant\">",
    );
    for t in state.service.tenants().ids() {
        let _ = write!(h, "<option>{}</option>", escape(&t));
    }
    h.push_str(concat!(
        "</select></label> <label>number or address <input name=\"to\" type=\"text\" inputmode=\"tel\" ",
        "maxlength=\"254\" required placeholder=\"+14155550123\"></label> <button type=\"submit\">look up</button>",
        "<p>The number is posted, never put in a URL or a log, and shown masked.</p></form>"
    ));
    h.push_str(&result.unwrap_or_default());
    Section {
        id: "lookup",
        title: "Support lookup",
        html: h,
        live: false,
    }
}
