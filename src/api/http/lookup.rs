//! `POST /v1/admin/lookup`: the support lookup as JSON (see [`crate::service::LookupItem`]).
//!
//! The destination travels in the body (`{"tenant": "...", "to": "+1415…" | "a@b.c"}`),
//! never in the URL, so neither access logs nor the trace span (method, matched route,
//! request id) carry it; the answer shows it masked. Access is the console's: an admin
//! key, or a loopback caller without one in dev mode; `401` without a key, `403` with a
//! key that is not an admin key. An unknown tenant is `404`; a destination in bad
//! format `400 invalid_phone_number` (or `invalid_request` for an address); another
//! tenant's number finds nothing, since the index is under the tenant's own keyed hash.

use super::extract::JsonBody;
use super::AppState;
use crate::domain::Destination;
use crate::error::Error;
use axum::extract::{FromRequest, Request, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

/// The request body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LookupRequest {
    /// The tenant whose index is read.
    pub tenant: String,
    /// The number (E.164) or email address.
    pub to: String,
}

/// `POST /v1/admin/lookup`.
pub async fn lookup(State(state): State<AppState>, req: Request) -> Result<Response, Error> {
    let (parts, body) = req.into_parts();
    if !state.access.ops_open(&parts) {
        state
            .access
            .require_admin(&parts.headers, "the support lookup")?;
    }
    let req = Request::from_parts(parts, body);
    let JsonBody(q, _) = JsonBody::<LookupRequest>::from_request(req, &state).await?;
    let tenant = state
        .service
        .tenants()
        .get(&q.tenant)
        .ok_or_else(|| Error::RouteNotFound("no such tenant".into()))?;
    let to = Destination::parse(q.to.trim())?;
    let items = state.service.lookup(&tenant, &to).await?;
    Ok(Json(json!({
        "tenant": tenant.id,
        "to": to.masked(),
        "retention_secs": tenant.cfg.lookup_retention_secs,
        "verifications": items,
    }))
    .into_response())
}
