//! Operations and development endpoints: `/healthz`, `/readyz`, `/dev/outbox`, and the
//! answers for unknown routes and methods.

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

/// `GET /metrics`: Prometheus text format. Gauges that mirror state elsewhere (queue
/// depth, breakers, evictions) are refreshed at scrape time.
pub async fn metrics(State(state): State<AppState>) -> Response {
    let m = &state.metrics;
    if let Ok(d) = state.queue.depth().await {
        m.queue_depth.set(d.pending as i64);
        m.queue_dead.set(d.dead as i64);
        m.queue_oldest_age
            .set(d.oldest_age_ms.unwrap_or(0) as f64 / 1000.0);
    }
    for slot in state.router.slots() {
        let v = match slot.breaker.state() {
            crate::delivery::breaker::BreakerState::Closed => 0.0,
            crate::delivery::breaker::BreakerState::HalfOpen => 1.0,
            crate::delivery::breaker::BreakerState::Open => 2.0,
        };
        m.breaker.with_label_values(&[&slot.name]).set(v);
    }
    m.evictions.set(state.service.store().evictions() as i64);
    for t in state.service.tenants().ids() {
        if let Ok(b) = state.service.abuse().blocks(std::slice::from_ref(&t)).await {
            m.pumping_blocks
                .with_label_values(&[&t])
                .set(b.len() as i64);
        }
    }
    let mut r = m.render().into_response();
    r.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    r
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
