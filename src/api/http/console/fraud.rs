//! The fraud section: the pumping guard's active blocks at every level, each with its
//! explanation (rule, counts, expected conversion, tolerance) and a lift button, a form
//! that posts `action=lift` to `/ops` (the admin API's `DELETE /v1/admin/blocks/…`
//! does the same through the same [`crate::api::http::admin::lift_block`]).

use super::{escape, unavailable, Section};
use crate::api::http::AppState;
use crate::domain::rfc3339;
use crate::error::Error;
use std::fmt::Write;

/// Lifts a block posted by a lift button; the message to show.
pub async fn lift(state: &AppState, tenant: &str, level: &str, key: &str) -> Result<String, Error> {
    let lifted = super::super::admin::lift_block(state, tenant, level, key).await?;
    Ok(match lifted {
        Some(l) => format!(
            "<p class=\"notice ok\" role=\"status\" id=\"lift-result\">Lifted the {} block of tenant {}.</p>",
            l.as_str(),
            escape(tenant)
        ),
        None => "<p class=\"notice\" role=\"status\" id=\"lift-result\">Nothing to lift: no such block is active (it may have ended or been lifted already).</p>".to_string(),
    })
}

/// The section, with the outcome of a lift first when there was one.
pub async fn section(state: &AppState, outcome: Option<String>) -> Section {
    let mut h = outcome.unwrap_or_default();
    let tenants = state.service.tenants().ids();
    match state.service.abuse().blocks(&tenants).await {
        Ok(blocks) if blocks.is_empty() => h.push_str("<p id=\"blocks\">nothing is blocked</p>"),
        Ok(blocks) => {
            h.push_str(concat!(
                "<table id=\"blocks\"><tr><th>tenant</th><th>channel</th><th>level</th><th>block</th>",
                "<th>country</th><th>action</th><th>since</th><th>until</th><th>strikes</th><th>why</th><th></th></tr>"
            ));
            for b in blocks {
                let e = &b.explain;
                let why = format!(
                    "{} ({:?}): {:.1} sends, {:.1} approvals, expected conversion {:.3}, baseline {:.1} sends, tolerance {:.1}",
                    b.level.reason(),
                    e.rule,
                    e.sends,
                    e.approvals,
                    e.expected,
                    e.baseline_sends,
                    e.tolerance
                );
                let _ = write!(
                    h,
                    "<tr data-key=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"why\">{}</td><td>",
                    escape(&b.field),
                    escape(&b.tenant),
                    escape(&b.channel),
                    b.level.as_str(),
                    escape(&b.label),
                    escape(&b.country),
                    b.action.as_str(),
                    rfc3339(b.since_ms),
                    rfc3339(b.until_ms),
                    b.strikes,
                    escape(&why)
                );
                if b.level != crate::service::Level::Tenant {
                    let _ = write!(
                        h,
                        "<form class=\"inline\" method=\"post\" action=\"/ops#fraud\"><input type=\"hidden\" name=\"action\" value=\"lift\"><input type=\"hidden\" name=\"tenant\" value=\"{}\"><input type=\"hidden\" name=\"level\" value=\"{}\"><input type=\"hidden\" name=\"key\" value=\"{}\"><button type=\"submit\" aria-label=\"lift the {} block {}\">lift</button></form>",
                        escape(&b.tenant),
                        b.level.as_str(),
                        escape(&b.field),
                        b.level.as_str(),
                        escape(&b.label)
                    );
                }
                h.push_str("</td></tr>");
            }
            h.push_str("</table>");
        }
        Err(_) => h.push_str(&unavailable("blocks")),
    }
    Section {
        id: "fraud",
        title: "Pumping-guard blocks",
        html: h,
        live: true,
    }
}
