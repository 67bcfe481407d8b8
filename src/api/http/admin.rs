//! The admin API: the SMS-pumping guard's blocks, at every level.
//!
//! - `GET /v1/admin/blocks` (optional `?tenant=<id>`, `?level=<level>`): active blocks
//!   with their explanation (rule, counts, expected conversion, tolerance);
//! - `DELETE /v1/admin/blocks/{tenant}/{level}/{key}`: lifts one block and forgets its
//!   counts (`200`), `404` when there is none. `key` is the block's `id` from the list,
//!   or for `prefix`, `range` and `area` the block itself (`+1415555`, `+` optional),
//!   for `country` its ISO code;
//! - `DELETE /v1/admin/blocks/{tenant}/{prefix}`: the same for a prefix (kept from the
//!   first version of this API).
//!
//! Every call needs `Authorization: Bearer <admin key>` whose hash is in
//! `admin.api_keys` (from loopback too: this API changes state). A missing key is
//! `401`, a key that is not an admin key `403`; the check is `access.rs`'s, shared with
//! `/ops`.

use super::AppState;
use crate::domain::rfc3339;
use crate::error::Error;
use crate::service::{Block, Level};
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
    /// Only this level's blocks.
    pub level: Option<String>,
}

/// A block as the API shows it.
pub fn block_json(b: &Block) -> serde_json::Value {
    let e = &b.explain;
    json!({
        "tenant": b.tenant,
        "channel": b.channel,
        "level": b.level.as_str(),
        "id": b.field,
        "block": b.label,
        "prefix": (b.level == Level::Prefix).then_some(&b.label),
        "country": b.country,
        "action": b.action.as_str(),
        "reason": b.level.reason(),
        "since": rfc3339(b.since_ms),
        "until": rfc3339(b.until_ms),
        "strikes": b.strikes,
        "rule": e.rule,
        "sends": (e.sends * 10.0).round() / 10.0,
        "approvals": (e.approvals * 10.0).round() / 10.0,
        "expected_conversion": (e.expected * 1000.0).round() / 1000.0,
        "baseline_sends": (e.baseline_sends * 10.0).round() / 10.0,
        "tolerance": (e.tolerance * 10.0).round() / 10.0,
    })
}

/// `GET /v1/admin/blocks`.
pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, Error> {
    require_admin(&state, &headers)?;
    let Query(q) = q.map_err(|e| Error::InvalidRequest(e.body_text()))?;
    let level = match q.level.as_deref() {
        None => None,
        Some(l) => Some(
            Level::parse(l).ok_or_else(|| Error::InvalidRequest(format!("unknown level `{l}`")))?,
        ),
    };
    let tenants = match q.tenant {
        Some(t) if state.service.tenants().get(&t).is_some() => vec![t],
        Some(_) => Vec::new(),
        None => state.service.tenants().ids(),
    };
    let blocks = state.service.abuse().blocks(&tenants).await?;
    let items: Vec<_> = blocks
        .iter()
        .filter(|b| level.is_none_or(|l| b.level == l))
        .map(block_json)
        .collect();
    Ok(Json(json!({ "blocks": items })).into_response())
}

/// `DELETE /v1/admin/blocks/{tenant}/{prefix}`.
pub async fn lift_prefix(
    state: State<AppState>,
    headers: HeaderMap,
    path: Result<Path<(String, String)>, axum::extract::rejection::PathRejection>,
) -> Result<Response, Error> {
    let path = path.map(|Path((t, p))| Path((t, "prefix".to_string(), p)));
    lift(state, headers, path).await
}

/// `DELETE /v1/admin/blocks/{tenant}/{level}/{key}`.
pub async fn lift(
    State(state): State<AppState>,
    headers: HeaderMap,
    path: Result<Path<(String, String, String)>, axum::extract::rejection::PathRejection>,
) -> Result<Response, Error> {
    require_admin(&state, &headers)?;
    let none = || Error::RouteNotFound("no such block".into());
    // Segments that do not even decode name no block (a problem document, not axum's
    // plain-text rejection).
    let Ok(Path((tenant, level, key))) = path else {
        return Err(none());
    };
    let Some(level) = lift_block(&state, &tenant, &level, &key).await? else {
        return Err(none());
    };
    let mut body = json!({"tenant": tenant, "level": level.as_str(), "key": key, "lifted": true});
    let digits = key.trim_start_matches('+');
    if level == Level::Prefix && digits.bytes().all(|b| b.is_ascii_digit()) {
        body["prefix"] = json!(format!("+{digits}"));
    }
    Ok(Json(body).into_response())
}

/// Lifts `tenant`'s block `key` at `level` (the admin API's and the console's lift): the
/// level when a block was lifted, `None` when the names match no block (an unknown
/// tenant or level, a key that cannot name one, the tenant level, or nothing active).
pub async fn lift_block(
    state: &AppState,
    tenant: &str,
    level: &str,
    key: &str,
) -> Result<Option<Level>, Error> {
    let (Some(t), Some(level)) = (state.service.tenants().get(tenant), Level::parse(level)) else {
        return Ok(None);
    };
    let ok = !key.is_empty()
        && key.len() <= 64
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'~');
    if !ok || level == Level::Tenant {
        return Ok(None);
    }
    Ok(state
        .service
        .abuse()
        .lift(&t, level, key)
        .await?
        .then_some(level))
}
