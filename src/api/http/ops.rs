//! Operations and development endpoints: `/healthz`, `/readyz`, `/dev/outbox`, and the
//! answers for unknown routes and methods.

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
