//! The HTTP API (v1 of `openapi.yaml`): routes, shared state and the middleware stack.
//!
//! Layer order, outermost first, and why:
//! 1. request id: every later layer and log line can carry it;
//! 2. overload handling, once for the whole server: load shed + concurrency limit +
//!    whole-request timeout, each answered as a `503` problem document with
//!    `Retry-After`;
//! 3. trace: one span per request with method, matched route and request id (never
//!    bodies, query strings or headers, which may hold numbers, codes or keys);
//! 4. catch panic: a bug answers `500 internal` instead of dropping the connection.
//!
//! Body size is enforced where bodies are read, never by axum's 2 MB default: the JSON
//! extractor (`server.body_limit_bytes`), the receipts endpoint
//! (`receipts.body_limit_bytes`) and the auth servers' hooks (each hook's
//! `body_limit_bytes`), all through `extract::read_limited`, answer `413
//! payload_too_large`. No handler takes a `Bytes`, `String` or axum `Json` body, and
//! every path and query extractor is taken as a `Result`, so every rejection is a
//! problem document.

mod access;
mod admin;
mod admin_delivery;
mod admin_events;
mod admin_stats;
mod console;
mod deliveries;
mod extract;
mod hooks;
mod lookup;
pub mod metrics;
mod ops;
mod problem;
mod receipts;
pub mod twilio;
pub mod verifications;

pub use access::{Access, Client};
pub use extract::RequestId;

use crate::config::ServerConfig;
use crate::error::Error;
use crate::service::Outbox;
use crate::service::Service;
use axum::error_handling::HandleErrorLayer;
use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use std::time::Duration;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

/// State shared by handlers.
#[derive(Clone)]
pub struct AppState {
    /// The verification service.
    pub service: Service,
    /// The dev outbox, when enabled.
    pub outbox: Option<Outbox>,
    /// Largest body accepted.
    pub body_limit: usize,
    /// Public base URL of this gateway as providers call it (receipt signatures cover it).
    pub public_base_url: Option<String>,
    /// Largest receipt body read (`receipts.body_limit_bytes`).
    pub receipt_body_limit: usize,
    /// Metrics.
    pub metrics: crate::metrics::Metrics,
    /// Admin keys, trusted proxies, and who counts as local (`/ops`, `/dev/outbox`).
    pub access: std::sync::Arc<Access>,
    /// Who may read `/metrics`, and whether this port serves it.
    pub scrape: metrics::Scrape,
}

/// Every route, for the OpenAPI drift test: (method, path template).
pub const ROUTES: &[(&str, &str)] = &[
    ("post", "/v1/verifications"),
    ("post", "/v1/verifications/check"),
    ("get", "/v1/verifications/{id}"),
    ("post", "/v1/verifications/{id}/cancel"),
    ("post", "/v1/verifications/{id}/next"),
    ("post", "/v1/deliveries"),
    ("get", "/v1/deliveries/{id}"),
    ("post", "/v1/deliveries/{id}/confirm"),
    ("post", "/v1/hooks/supabase/send-sms/{tenant}"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/ops"),
    ("post", "/ops"),
    ("get", "/v1/receipts/{provider}"),
    ("post", "/v1/receipts/{provider}"),
    ("get", "/v1/admin/blocks"),
    ("post", "/v1/admin/lookup"),
    ("get", "/v1/admin/stats"),
    ("get", "/v1/admin/events/dead"),
    ("get", "/v1/admin/providers"),
    ("get", "/v1/admin/queues"),
    ("delete", "/v1/admin/blocks/{tenant}/{prefix}"),
    ("delete", "/v1/admin/blocks/{tenant}/{level}/{key}"),
    ("get", "/dev/outbox"),
];

/// Builds the router with its middleware.
pub fn router(state: AppState, cfg: &ServerConfig) -> Router {
    let mut r = Router::new()
        .route("/v1/verifications", post(verifications::start))
        .route("/v1/verifications/check", post(verifications::check))
        .route("/v1/verifications/{id}", get(verifications::get))
        .route("/v1/verifications/{id}/cancel", post(verifications::cancel))
        .route(
            "/v1/verifications/{id}/next",
            post(verifications::next_step),
        )
        .route("/v1/deliveries", post(deliveries::create))
        .route("/v1/deliveries/{id}", get(deliveries::get))
        .route("/v1/deliveries/{id}/confirm", post(deliveries::confirm))
        .route(
            "/v1/hooks/supabase/send-sms/{tenant}",
            post(hooks::supabase_send_sms),
        )
        .route(
            "/v1/receipts/{provider}",
            get(receipts::receive).post(receipts::receive),
        )
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/ops", get(console::page).post(console::post))
        .route("/v1/admin/blocks", get(admin::list))
        .route("/v1/admin/lookup", post(lookup::lookup))
        .route("/v1/admin/stats", get(admin_stats::stats))
        .route("/v1/admin/events/dead", get(admin_events::dead))
        .route("/v1/admin/providers", get(admin_delivery::providers))
        .route("/v1/admin/queues", get(admin_delivery::queues))
        .route(
            "/v1/admin/blocks/{tenant}/{prefix}",
            axum::routing::delete(admin::lift_prefix),
        )
        .route(
            "/v1/admin/blocks/{tenant}/{level}/{key}",
            axum::routing::delete(admin::lift),
        );
    if state.scrape.on_api_port {
        r = r.route("/metrics", get(metrics::scrape));
    }
    if state.outbox.is_some() {
        r = r.route("/dev/outbox", get(ops::outbox));
    }
    let routes = r
        .merge(twilio::routes())
        .fallback(ops::not_found)
        .method_not_allowed_fallback(ops::method_not_allowed)
        .with_state(state.clone())
        .layer(axum::middleware::from_fn_with_state(
            state.metrics.clone(),
            ops::track,
        ))
        .layer(CatchPanicLayer::custom(|_| {
            Error::Internal("handler panicked".into()).into_response()
        }))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let route = req
                .extensions()
                .get::<MatchedPath>()
                .map(|m| m.as_str().to_string())
                .unwrap_or_default();
            let rid = req
                .extensions()
                .get::<RequestId>()
                .map(|r| r.0.clone())
                .unwrap_or_default();
            tracing::info_span!("http", method = %req.method(), route = %route, request_id = %rid)
        }));
    // `Router::layer` gives every route its own copy of a layer, which would make the
    // concurrency limit per route. Wrapping the finished router once makes it global.
    let overload = ServiceBuilder::new()
        .layer(HandleErrorLayer::new(overloaded))
        .load_shed()
        .concurrency_limit(cfg.max_concurrent_requests.max(1))
        .timeout(Duration::from_millis(cfg.request_timeout_ms.max(1)))
        .service(routes);
    Router::new()
        .fallback_service(overload)
        .layer(axum::middleware::from_fn(request_id))
}

async fn overloaded(err: tower::BoxError) -> Error {
    if err.is::<tower::timeout::error::Elapsed>() {
        Error::StoreUnavailable {
            detail: "the request took too long".into(),
            retry_after: Duration::from_secs(1),
        }
    } else if err.is::<tower::load_shed::error::Overloaded>() {
        Error::StoreUnavailable {
            detail: "the gateway is overloaded".into(),
            retry_after: Duration::from_secs(1),
        }
    } else {
        Error::Internal(err.to_string())
    }
}

fn valid_request_id(s: &str) -> bool {
    (1..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

async fn request_id(mut req: Request, next: Next) -> Response {
    let given = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|s| valid_request_id(s))
        .map(str::to_string);
    let id = given.unwrap_or_else(|| hex::encode(crate::crypto::random_bytes::<12>()));
    req.extensions_mut().insert(RequestId(id.clone()));
    let mut resp = next.run(req).await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    resp
}
