//! The gRPC listener: `Verifications`, `grpc.health.v1` and reflection behind one guard,
//! served by the shared loop of [`crate::api::serve`] (HTTP/2 only).
//!
//! The guard, in front of every service:
//! - **a global concurrency cap** (`server.max_concurrent_requests`, for this listener):
//!   a call past it is refused at once with `UNAVAILABLE` "the gateway is overloaded",
//!   like HTTP's `503`, instead of queueing;
//! - **a deadline**: the shorter of `server.request_timeout_ms` and the client's
//!   `grpc-timeout`; past it the call ends with `UNAVAILABLE` "the request took too
//!   long" (HTTP: `503`). Both render through the one mapping in [`crate::error`].
//!
//! Message sizes: the API takes `server.body_limit_bytes`; health and reflection, whose
//! requests are a service or symbol name, take [`SMALL_MESSAGE_LIMIT`] rather than
//! tonic's 4 MB default.

use super::pb;
use super::GrpcApi;
use crate::api::serve::{self, Limits, Protocols};
use crate::config::ServerConfig;
use crate::error::Error;
use crate::service::Service;
use pb::verifications_server::VerificationsServer;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt as _;

/// Largest request message of the health and reflection services, in bytes.
pub const SMALL_MESSAGE_LIMIT: usize = 4 * 1024;

/// Serves gRPC on `listener` until `shutdown` turns true, then drains open connections
/// within the grace period; returns whether they all finished.
pub async fn serve(
    listener: TcpListener,
    service: Service,
    metrics: crate::metrics::Metrics,
    cfg: &ServerConfig,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> bool {
    let (health, health_service) = tonic_health::server::health_reporter();
    // Reflection in both versions: current clients ask `grpc.reflection.v1`, many others
    // (Python's grpcio reflection client, older command-line tools, API workbenches)
    // still ask `grpc.reflection.v1alpha`.
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .expect("the compiled descriptor set is valid")
        .max_decoding_message_size(SMALL_MESSAGE_LIMIT);
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()
        .expect("the compiled descriptor set is valid")
        .max_decoding_message_size(SMALL_MESSAGE_LIMIT);
    // Known from the first moment (as not serving until the first probe), so a health
    // check never gets NOT_FOUND for our service while the server starts.
    for name in ["", "otpgw.v1.Verifications"] {
        health
            .set_service_status(name, tonic_health::ServingStatus::NotServing)
            .await;
    }
    let probe = service.clone();
    let mut stop_probe = shutdown.clone();
    tokio::spawn(async move {
        loop {
            let status = if probe.ready().await.is_ok() {
                tonic_health::ServingStatus::Serving
            } else {
                tonic_health::ServingStatus::NotServing
            };
            health.set_service_status("", status).await;
            health
                .set_service_status("otpgw.v1.Verifications", status)
                .await;
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = stop_probe.wait_for(|v| *v) => break,
            }
        }
    });
    let api = VerificationsServer::new(GrpcApi { service, metrics })
        .max_decoding_message_size(cfg.body_limit_bytes.max(1024));
    let routes =
        tonic::service::Routes::new(health_service.max_decoding_message_size(SMALL_MESSAGE_LIMIT))
            .add_service(reflection)
            .add_service(reflection_v1alpha)
            .add_service(api)
            .prepare();
    let guarded = Guard {
        inner: routes,
        permits: Arc::new(Semaphore::new(cfg.max_concurrent_requests.max(1))),
        timeout: Duration::from_millis(cfg.request_timeout_ms.max(1)),
    };
    serve::serve(
        listener,
        guarded,
        Limits::from_config(cfg),
        Protocols::Http2Only,
        shutdown,
        "gRPC",
    )
    .await
}

/// The concurrency cap and deadline in front of every gRPC service.
#[derive(Clone)]
struct Guard {
    inner: tonic::service::Routes,
    permits: Arc<Semaphore>,
    timeout: Duration,
}

type Answer = http::Response<tonic::body::Body>;

fn refusal(e: Error) -> Answer {
    tonic::Status::from(e).into_http()
}

impl<B> tower::Service<http::Request<B>> for Guard
where
    B: axum::body::HttpBody<Data = axum::body::Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = Answer;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Answer, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let Ok(permit) = self.permits.clone().try_acquire_owned() else {
            return Box::pin(std::future::ready(Ok(refusal(Error::store_unavailable(
                "the gateway is overloaded",
            )))));
        };
        let deadline = grpc_timeout(req.headers()).map_or(self.timeout, |t| t.min(self.timeout));
        let call = self.inner.clone().oneshot(req);
        Box::pin(async move {
            let answer = match tokio::time::timeout(deadline, call).await {
                Ok(r) => r,
                Err(_) => Ok(refusal(Error::store_unavailable(
                    "the request took too long",
                ))),
            };
            drop(permit);
            answer
        })
    }
}

/// The client's deadline from `grpc-timeout` (`<at most 8 digits><H|M|S|m|u|n>`).
fn grpc_timeout(headers: &http::HeaderMap) -> Option<Duration> {
    let v = headers.get("grpc-timeout")?.to_str().ok()?;
    let (digits, unit) = v.split_at(v.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n * 3600),
        "M" => Duration::from_secs(n * 60),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::grpc_timeout;
    use std::time::Duration;

    #[test]
    fn grpc_timeout_reads_every_unit_and_refuses_malformed_values() {
        let t = |v: &str| {
            let mut h = http::HeaderMap::new();
            h.insert("grpc-timeout", v.parse().unwrap());
            grpc_timeout(&h)
        };
        assert_eq!(t("2H"), Some(Duration::from_secs(7200)));
        assert_eq!(t("3M"), Some(Duration::from_secs(180)));
        assert_eq!(t("5S"), Some(Duration::from_secs(5)));
        assert_eq!(t("250m"), Some(Duration::from_millis(250)));
        assert_eq!(t("7u"), Some(Duration::from_micros(7)));
        assert_eq!(t("9n"), Some(Duration::from_nanos(9)));
        for bad in ["", "S", "123456789S", "1x", "-1S", "1.5S"] {
            assert_eq!(t(bad), None, "{bad:?}");
        }
    }
}
