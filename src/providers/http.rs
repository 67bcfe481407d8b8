//! What every HTTP adapter shares: a pooled rustls client and the mapping of transport
//! failures (timeouts, refused connections) and `Retry-After` to provider errors.

use super::{ErrorKind, ProviderError};
use std::time::Duration;

/// Makes sure rustls has its process-wide crypto provider (ring) installed.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A pooled client for one provider: per-request `timeout`, rustls with the OS roots.
pub fn client(timeout: Duration) -> anyhow::Result<reqwest::Client> {
    install_tls_provider();
    let timeout = timeout.max(Duration::from_millis(1));
    Ok(reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .pool_max_idle_per_host(64)
        .user_agent(concat!("otpgw/", env!("CARGO_PKG_VERSION")))
        .build()?)
}

/// A request that got no HTTP answer: a timeout, or the provider unreachable. Both are
/// retryable (elsewhere or later). The URL is left out: it may carry an account id.
pub fn transport_error(e: reqwest::Error) -> ProviderError {
    if e.is_timeout() {
        ProviderError::new(ErrorKind::Timeout, "no answer in time")
    } else {
        ProviderError::new(
            ErrorKind::Unavailable,
            format!("unreachable: {}", e.without_url()),
        )
    }
}

/// `Retry-After` in seconds, when present.
pub fn retry_after(h: &reqwest::header::HeaderMap) -> Option<Duration> {
    h.get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

/// The usual meaning of an HTTP status when a vendor body says nothing more specific:
/// 401/403 auth, 408 timeout, 429 rate limited, other 4xx a rejected request, 5xx down.
pub fn status_kind(status: u16) -> ErrorKind {
    match status {
        401 | 403 => ErrorKind::Auth,
        408 => ErrorKind::Timeout,
        429 => ErrorKind::RateLimited,
        400..=499 => ErrorKind::RejectedContent,
        _ => ErrorKind::Unavailable,
    }
}

/// An answer read whole: status, `Retry-After`, body. A body cut short by the timeout
/// counts as no answer.
pub async fn read_answer(
    resp: reqwest::Response,
) -> Result<(u16, Option<Duration>, bytes::Bytes), ProviderError> {
    let status = resp.status().as_u16();
    let after = retry_after(resp.headers());
    let body = resp.bytes().await.map_err(transport_error)?;
    Ok((status, after, body))
}

/// A 2xx answer with no readable message id. Not retryable: the provider may have
/// accepted the message, and sending it again could deliver the code twice.
pub fn unreadable_success(vendor: &str, status: u16) -> ProviderError {
    let mut e = ProviderError::new(
        ErrorKind::Unavailable,
        format!("{vendor} answered {status} without a readable message id"),
    );
    e.retryable = false;
    e
}
