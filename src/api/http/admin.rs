//! The admin API: prefix blocks of the SMS-pumping guard.
//!
//! - `GET /v1/admin/blocks` (optional `?tenant=<id>`): active blocks, soonest prefix
//!   first per tenant;
//! - `DELETE /v1/admin/blocks/{tenant}/{prefix}`: lifts one block (`200`), `404` when
//!   there is none. The prefix is the number minus its last 3 digits, `+` optional.
//!
//! Every call needs `Authorization: Bearer <admin key>` whose hash is in
//! `admin.api_keys` (from loopback too: this API changes state). A missing key is
//! `401`, a key that is not an admin key `403`; the check is `access.rs`'s, shared with
//! `/ops`.

use super::AppState;
use crate::domain::rfc3339;
use crate::error::Error;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

/// Checks the admin key (the same check as `/ops`).
pub fn require_admin(state: &AppState, headers: &HeaderMap) -> Result<(), Error> {
    state.access.require_admin(headers, "the admin API")
}

/// Query of the list.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only this tenant's blocks.
    pub tenant: Option<String>,
}

/// `GET /v1/admin/blocks`.
pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, Error> {
    require_admin(&state, &headers)?;
    let Query(q) = q.map_err(|e| Error::InvalidRequest(e.body_text()))?;
    let tenants = match q.tenant {
        Some(t) if state.service.tenants().get(&t).is_some() => vec![t],
        Some(_) => Vec::new(),
        None => state.service.tenants().ids(),
    };
    let blocks = state.service.abuse().blocks(&tenants).await?;
    let items: Vec<_> = blocks
        .iter()
        .map(|b| {
            json!({
                "tenant": b.tenant,
                "country": b.country,
                "prefix": b.prefix,
                "until": rfc3339(b.until_ms),
                "strikes": b.strikes,
                "sends": b.sends,
                "approvals": b.approvals,
            })
        })
        .collect();
    Ok(Json(json!({ "blocks": items })).into_response())
}

/// `DELETE /v1/admin/blocks/{tenant}/{prefix}`.
pub async fn lift(
    State(state): State<AppState>,
    headers: HeaderMap,
    path: Result<Path<(String, String)>, axum::extract::rejection::PathRejection>,
) -> Result<Response, Error> {
    require_admin(&state, &headers)?;
    // Segments that do not even decode name no block (a problem document, not axum's
    // plain-text rejection).
    let Ok(Path((tenant, prefix))) = path else {
        return Err(Error::RouteNotFound("no such block".into()));
    };
    let digits = prefix.trim_start_matches('+');
    if state.service.tenants().get(&tenant).is_none()
        || digits.is_empty()
        || digits.len() > 15
        || !digits.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(Error::RouteNotFound("no such block".into()));
    }
    if state.service.abuse().lift(&tenant, digits).await? {
        Ok(
            Json(json!({"tenant": tenant, "prefix": format!("+{digits}"), "lifted": true}))
                .into_response(),
        )
    } else {
        Err(Error::RouteNotFound("no such block".into()))
    }
}
