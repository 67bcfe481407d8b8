//! `GET /v1/admin/providers` and `GET /v1/admin/queues`: the console's providers and
//! send-queue sections as JSON, for scripts. Providers (breakers, routed channels, SMPP
//! binds) are this instance's own and never touch the store, so they answer while the
//! store is down; the queues' depths are read from the store, `503` when it does not
//! answer. The admin key rules are `admin.rs`'s.

use super::AppState;
use crate::error::Error;
use crate::service::{BindView, ProviderState};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

/// `GET /v1/admin/providers`.
pub async fn providers(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, Error> {
    super::admin::require_admin(&state, &headers)?;
    let list: Vec<Value> = state.service.providers().iter().map(provider).collect();
    Ok(Json(json!({ "providers": list })).into_response())
}

/// `GET /v1/admin/queues`.
pub async fn queues(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, Error> {
    super::admin::require_admin(&state, &headers)?;
    let d = state.service.queue_depth().await?;
    let events = state
        .service
        .events_depth()
        .await
        .map(|e| json!({ "waiting": e.lines, "dead": e.dead }));
    Ok(Json(json!({
        "sends": { "pending": d.pending, "oldest_age_ms": d.oldest_age_ms, "dead": d.dead },
        "events": events,
    }))
    .into_response())
}

fn provider(p: &ProviderState) -> Value {
    json!({
        "name": p.name,
        "kind": p.kind,
        "channels": p.routed,
        "breaker": p.breaker.as_str(),
        "binds": p.binds.iter().map(bind).collect::<Vec<_>>(),
    })
}

fn bind(b: &BindView) -> Value {
    let errors: Map<String, Value> = b
        .errors
        .iter()
        .map(|(name, n)| (name.to_string(), json!(n)))
        .collect();
    json!({
        "bind": b.bind,
        "state": b.state,
        "window_in_use": b.window_in_use,
        "window": b.window,
        "submitted": b.submitted,
        "errors": errors,
        "receipts": b.receipts,
        "mobile_originated": b.mobile_originated,
        "reconnects": b.reconnects,
        "last_error": b.last_error,
        "version": b.version,
    })
}
