//! `GET /v1/admin/events/dead?limit=N`: the events to tenants that were dead-lettered
//! (id, type, tenant, verification, seq, attempts, reason, time), newest first. The
//! admin key rules are `admin.rs`'s; the list is `Service::dead_events`.

use super::AppState;
use crate::error::Error;
use crate::service::DEAD_EVENTS_MAX;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

/// Query of the list.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeadQuery {
    /// How many, 1 to 500 (default 50).
    pub limit: Option<String>,
}

/// `GET /v1/admin/events/dead`.
pub async fn dead(
    State(state): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<DeadQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, Error> {
    super::admin::require_admin(&state, &headers)?;
    let Query(q) = q.map_err(|e| Error::InvalidRequest(e.body_text()))?;
    let bad = || {
        Error::InvalidRequest(format!(
            "limit must be a whole number from 1 to {DEAD_EVENTS_MAX}"
        ))
    };
    let limit = match q.limit.as_deref() {
        None => 50,
        Some(l) if l.len() <= 4 => l.parse::<usize>().map_err(|_| bad())?,
        Some(_) => return Err(bad()),
    };
    if !(1..=DEAD_EVENTS_MAX).contains(&limit) {
        return Err(bad());
    }
    let dead = state.service.dead_events(limit).await?;
    Ok(Json(serde_json::json!({ "dead": dead })).into_response())
}
