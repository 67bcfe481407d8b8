//! Operations and development endpoints: `/healthz`, `/readyz`, `/dev/outbox`, the
//! answers for unknown routes and methods, and request metrics (`/metrics` itself is in
//! [`super::metrics`]).

use super::extract::Auth;
use super::AppState;
use crate::error::Error;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// `GET /healthz`: the process is alive.
pub async fn healthz() -> Response {
    Json(json!({"status": "ok"})).into_response()
}

/// `GET /readyz`: the store answers and the queue takes messages.
pub async fn readyz(State(state): State<AppState>) -> Response {
    match state.service.ready().await {
        Ok(()) => Json(json!({"status": "ready"})).into_response(),
        Err(e) => e.into_response(),
    }
}

/// `GET /dev/outbox`: with an API key, that tenant's messages; without one, every
/// tenant's, to local callers only (`access.rs`).
pub async fn outbox(State(state): State<AppState>, req: Request) -> Response {
    let Some(outbox) = &state.outbox else {
        return Error::RouteNotFound("no such endpoint".into()).into_response();
    };
    let (mut parts, _) = req.into_parts();
    let keyless_local = !parts.headers.contains_key(header::AUTHORIZATION)
        && state.access.client_of(&parts).is_local();
    if keyless_local {
        return Json(outbox.list()).into_response();
    }
    match Auth::from_request_parts(&mut parts, &state).await {
        Ok(Auth(tenant)) => Json(outbox.list_for(&tenant.id)).into_response(),
        Err(e) => e.into_response(),
    }
}

/// Unknown route.
pub async fn not_found() -> Error {
    Error::RouteNotFound("no such endpoint".into())
}

/// Known route, wrong method.
pub async fn method_not_allowed() -> Error {
    Error::MethodNotAllowed
}

/// Counts and times every request by matched route (never the raw path).
pub async fn track(
    State(m): State<crate::metrics::Metrics>,
    req: Request,
    next: axum::middleware::Next,
) -> Response {
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().as_str().to_string();
    let started = std::time::Instant::now();
    let resp = next.run(req).await;
    m.http_duration
        .with_label_values(&[&route, &method])
        .observe(started.elapsed().as_secs_f64());
    m.http_requests
        .with_label_values(&[&route, &method, resp.status().as_str()])
        .inc();
    resp
}
