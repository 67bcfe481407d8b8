//! Operations and development endpoints: `/healthz`, `/readyz`, `/dev/outbox`, the
//! answers for unknown routes and methods, and request metrics (`/metrics` itself is in
//! [`super::metrics`]).

use super::extract::Auth;
use super::AppState;
use crate::error::Error;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use std::net::SocketAddr;

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

/// `GET /dev/outbox`: open to loopback peers; others need an API key.
pub async fn outbox(State(state): State<AppState>, req: Request) -> Response {
    let (mut parts, _) = req.into_parts();
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let loopback =
        peer.is_some_and(|p| p.ip().is_loopback() || p.ip().to_canonical().is_loopback());
    if !loopback {
        if let Err(e) = Auth::from_request_parts(&mut parts, &state).await {
            return e.into_response();
        }
    }
    match &state.outbox {
        Some(o) => Json(o.list()).into_response(),
        None => Error::RouteNotFound("no such endpoint".into()).into_response(),
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
