//! `GET /metrics`: who may read it, where it is served, and what a scrape costs.
//!
//! The series name tenants and count verifications per country, so they are not for
//! everyone: `metrics.bearer_token_hash` makes a scraper send `Authorization: Bearer
//! <token>` (the hash is compared in constant time, like API keys), and
//! `metrics.listen` moves `/metrics` to a listener of its own (then the API port
//! answers it `404`).
//!
//! A scrape costs the store nothing: the gauges that need store calls (queue depth,
//! dead letters and oldest age: three calls per shard; pumping blocks: one per tenant)
//! are refreshed by [`spawn_refresh`] every `metrics.refresh_interval_ms` and cached in
//! the registry. In-process gauges (breakers, memory-store evictions) are read at
//! scrape time.

use super::AppState;
use crate::error::Error;
use crate::service::{BreakerState, Level};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::time::Duration;
use tokio::sync::watch;

/// Who may scrape, and on which port.
#[derive(Debug, Clone, Default)]
pub struct Scrape {
    /// `sha256:<hex>` (lower case) of the token a scraper must present; `None`: open.
    pub token_hash: Option<String>,
    /// Whether the API port serves `/metrics` (false when it has its own listener).
    pub on_api_port: bool,
}

impl Scrape {
    /// From the `[metrics]` section.
    pub fn from_config(c: &crate::config::MetricsConfig) -> Self {
        Scrape {
            token_hash: c.bearer_token_hash.as_ref().map(|h| h.to_ascii_lowercase()),
            on_api_port: c.listen.is_none(),
        }
    }
}

fn authorize(scrape: &Scrape, headers: &HeaderMap) -> Result<(), Error> {
    let Some(expected) = &scrape.token_hash else {
        return Ok(());
    };
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty() && t.len() <= 512)
        .ok_or_else(|| {
            Error::Unauthorized("/metrics needs `Authorization: Bearer <metrics token>`".into())
        })?;
    let presented = crate::crypto::hash_api_key(token);
    if crate::crypto::ct_eq(presented.as_bytes(), expected.as_bytes()) {
        Ok(())
    } else {
        Err(Error::Unauthorized("invalid metrics token".into()))
    }
}

/// `GET /metrics`: Prometheus text format.
pub async fn scrape(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(e) = authorize(&state.scrape, &headers) {
        return e.into_response();
    }
    let m = &state.metrics;
    for p in state.service.providers() {
        let v = match p.breaker {
            BreakerState::Closed => 0.0,
            BreakerState::HalfOpen => 1.0,
            BreakerState::Open => 2.0,
        };
        m.breaker.with_label_values(&[&p.name]).set(v);
        for b in &p.binds {
            m.smpp.observe(&crate::metrics::smpp::BindCounts {
                provider: &p.name,
                bind: b.bind,
                state: b.state,
                window_in_use: b.window_in_use,
                submitted: b.submitted,
                errors: &b.errors,
                receipts: b.receipts,
                mobile_originated: b.mobile_originated,
                reconnects: b.reconnects,
                version: b.version,
            });
        }
    }
    m.evictions.set(state.service.store().evictions() as i64);
    let mut r = m.render().into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    r
}

/// Refreshes the store-backed gauges once.
async fn refresh(state: &AppState) {
    let m = &state.metrics;
    match state.service.queue_depth().await {
        Ok(d) => {
            m.queue_depth.set(d.pending as i64);
            m.queue_dead.set(d.dead as i64);
            m.queue_oldest_age
                .set(d.oldest_age_ms.unwrap_or(0) as f64 / 1000.0);
        }
        Err(e) => tracing::debug!(error = %e, "queue depth for metrics unavailable"),
    }
    if let Some(d) = state.service.events_depth().await {
        m.events_waiting.set(d.lines as i64);
        m.events_dead.set(d.dead as i64);
    }
    for t in state.service.tenants().ids() {
        if let Ok(b) = state.service.abuse().blocks(std::slice::from_ref(&t)).await {
            for level in Level::ALL {
                let n = b.iter().filter(|x| x.level == level).count();
                m.pumping_blocks
                    .with_label_values(&[&t, level.as_str()])
                    .set(n as i64);
            }
        }
    }
}

/// Refreshes the store-backed gauges now and then every `every`, until `stop` turns
/// true.
pub fn spawn_refresh(
    state: AppState,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            refresh(&state).await;
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = stop.wait_for(|v| *v) => break,
            }
        }
    })
}

/// The router of the metrics listener (`metrics.listen`): `/metrics` and nothing else.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .fallback(super::ops::not_found)
        .method_not_allowed_fallback(super::ops::method_not_allowed)
        .with_state(state.clone())
        .layer(axum::middleware::from_fn_with_state(
            state.metrics.clone(),
            super::ops::track,
        ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_checked_against_its_hash_and_nothing_else_passes() {
        let token = "otpgw_metrics_token";
        let scrape = Scrape {
            token_hash: Some(crate::crypto::hash_api_key(token)),
            on_api_port: true,
        };
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::AUTHORIZATION, v.parse().unwrap());
            authorize(&scrape, &h)
        };
        assert!(with(&format!("Bearer {token}")).is_ok());
        assert!(with("Bearer otpgw_metrics_tokem").is_err());
        let hash = scrape.token_hash.clone().unwrap();
        assert!(
            with(&format!("Bearer {hash}")).is_err(),
            "the hash is not the token"
        );
        assert!(authorize(&scrape, &HeaderMap::new()).is_err());
        assert!(authorize(&Scrape::default(), &HeaderMap::new()).is_ok());
        // A hash written in upper-case hex in config works the same.
        let upper = crate::config::MetricsConfig {
            bearer_token_hash: Some(format!("sha256:{}", hash[7..].to_uppercase())),
            ..Default::default()
        };
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            format!("Bearer {token}").parse().unwrap(),
        );
        assert!(authorize(&Scrape::from_config(&upper), &h).is_ok());
    }
}
