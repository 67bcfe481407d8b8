//! `GET /v1/admin/stats?window=1h|48h&by=country|provider|channel|tenant`: the fleet
//! numbers every instance flushes (starts, sends, outcomes, refusals, conversion,
//! delivery rate, latency per provider) and spend, as JSON. The admin key rules are
//! `admin.rs`'s; the numbers are shaped by `service::stats`.

use super::AppState;
use crate::error::Error;
use crate::service::{By, Window};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

/// Query of the stats.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatsQuery {
    /// `1h` (default; a point per minute) or `48h` (a point per hour).
    pub window: Option<String>,
    /// `country` (default), `provider`, `channel` or `tenant`.
    pub by: Option<String>,
}

/// `GET /v1/admin/stats`.
pub async fn stats(
    State(state): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<StatsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, Error> {
    super::admin::require_admin(&state, &headers)?;
    let Query(q) = q.map_err(|e| Error::InvalidRequest(e.body_text()))?;
    let w = q.window.as_deref().unwrap_or("1h");
    let window = Window::parse(w)
        .ok_or_else(|| Error::InvalidRequest(format!("window must be `1h` or `48h`, not `{w}`")))?;
    let b = q.by.as_deref().unwrap_or("country");
    let by = By::parse(b).ok_or_else(|| {
        Error::InvalidRequest(format!(
            "by must be `country`, `provider`, `channel` or `tenant`, not `{b}`"
        ))
    })?;
    let report = state.service.stats(window, by).await?;
    Ok(Json(report.0).into_response())
}
