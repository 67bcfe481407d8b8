//! What every HTTP adapter shares: a pooled rustls client that never follows redirects;
//! the one authenticated POST ([`post`]: a form or JSON body; basic, bearer, header or
//! signed auth) and the id of its accepted answer ([`accepted`]); the mapping of
//! transport failures (timeouts, refused connections), redirects and `Retry-After` to
//! provider errors; an answer read whole and the order in which a failed one is judged
//! (429 and 5xx first, then the vendor's documented code, then the status); what an
//! accepted answer without a readable message id means ([`accepted_id`]: sent all the
//! same); `scrub` for vendor text that may echo a number; and small helpers for
//! receipts (headers, the clock) and `problems()` (`is_http_url`).

use super::{ErrorKind, ProviderError};
use std::time::Duration;

mod post;
pub use post::{accepted, auth_header, json_id, post, Auth, Body, Signer};

/// Makes sure rustls has its process-wide crypto provider (ring) installed.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A pooled client for one provider: per-request `timeout`, rustls with the OS roots,
/// and no redirects followed. A followed redirect would send the whole request (the
/// code, the number, the vendor's credentials, the webhook signature) to whatever host
/// the `Location` names; a 3xx answer is a failed attempt instead ([`redirect_error`]).
pub fn client(timeout: Duration) -> anyhow::Result<reqwest::Client> {
    install_tls_provider();
    let timeout = timeout.max(Duration::from_millis(1));
    Ok(reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
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

/// The error for a 3xx answer, `None` for any other status. A redirect is the
/// provider's (or its configuration's) problem, not the message's: kind
/// [`ErrorKind::Redirected`], not retryable on that provider, so the router fails over
/// to the next one. The detail names the status and the origin the `Location` points
/// at (scheme, host and port only: a path or query may carry tokens).
pub fn redirect_error(status: u16, headers: &reqwest::header::HeaderMap) -> Option<ProviderError> {
    if !(300..400).contains(&status) {
        return None;
    }
    let target = headers
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(location_origin)
        .unwrap_or_else(|| "an unnamed location".into());
    Some(ProviderError::new(
        ErrorKind::Redirected,
        format!("provider answered a redirect ({status}) to {target}; redirects are not followed"),
    ))
}

/// Scheme, host and port of a `Location` value, for logs; a relative one stays
/// "the same host".
fn location_origin(loc: &str) -> String {
    match reqwest::Url::parse(loc) {
        Ok(u) => {
            let origin = u.origin().ascii_serialization();
            if origin == "null" {
                "a location that is not http(s)".into()
            } else {
                origin
            }
        }
        Err(_) => "another path on the same host".into(),
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

/// An HTTP answer read whole: what the error mappings need.
#[derive(Debug, Clone)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// `Retry-After`, when the answer carried one in seconds.
    pub retry_after: Option<Duration>,
    /// Body text (lossy UTF-8).
    pub body: String,
}

impl Answer {
    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The error for this (failed) answer. 429 is rate limiting and 5xx unavailability,
    /// whatever the body says; otherwise the vendor's documented code decides
    /// (`by_code`: kind and retryability), and failing that the status
    /// ([`status_kind`], with that kind's usual retryability). `Retry-After` is kept.
    pub fn error(&self, by_code: Option<(ErrorKind, bool)>, detail: String) -> ProviderError {
        let (kind, retryable) = match self.status {
            429 => (ErrorKind::RateLimited, true),
            500..=599 => (ErrorKind::Unavailable, true),
            s => by_code.unwrap_or_else(|| {
                let k = status_kind(s);
                (k, ProviderError::new(k, "").retryable)
            }),
        };
        let mut e = ProviderError::new(kind, detail);
        e.retryable = retryable;
        e.retry_after = self.retry_after;
        e
    }
}

/// Sends `req` and reads the whole answer. No answer is a transport error, and so is a
/// failed answer whose body is cut short; a 2xx whose body is cut short still counts as
/// accepted (with an empty body): the provider took the message, and retrying would send
/// the code twice. A 3xx is [`redirect_error`], whatever the vendor.
pub async fn send(req: reqwest::RequestBuilder) -> Result<Answer, ProviderError> {
    let resp = req.send().await.map_err(transport_error)?;
    let status = resp.status().as_u16();
    if let Some(e) = redirect_error(status, resp.headers()) {
        return Err(e);
    }
    let retry_after = retry_after(resp.headers());
    let body = match resp.text().await {
        Ok(b) => b,
        Err(_) if (200..300).contains(&status) => String::new(),
        Err(e) => return Err(transport_error(e)),
    };
    Ok(Answer {
        status,
        retry_after,
        body,
    })
}

/// Vendor text made safe for logs: at most 200 characters, and every run of four or
/// more digits (a phone number, a code) replaced by `#`. Vendors echo numbers in their
/// error messages; our error details must not carry them.
pub fn scrub(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(200));
    let chars: Vec<char> = text.chars().take(200).collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit() {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            if i - start >= 4 {
                out.push('#');
            } else {
                out.extend(&chars[start..i]);
            }
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// A vendor error code for logs: kept when it looks like a code (at most 12 letters,
/// digits, `_`, `-`, `.`), scrubbed otherwise.
pub fn code(c: &str) -> String {
    let c = c.trim();
    if c.len() <= 12
        && c.chars()
            .all(|ch| ch.is_ascii_alphanumeric() || "_-.".contains(ch))
    {
        c.to_string()
    } else {
        scrub(c)
    }
}

/// A request header as text, if present and visible ASCII.
pub fn header<'a>(headers: &'a ::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// Seconds since the Unix epoch, now.
pub fn unix_now() -> i64 {
    crate::domain::now_millis() / 1000
}

/// Whether `u` is an `http://` or `https://` URL (for `problems()`).
pub fn is_http_url(u: &str) -> bool {
    u.starts_with("http://") || u.starts_with("https://")
}

/// The message id of an accepted (2xx) answer. When the answer carried no readable one
/// (no id field, an empty id, a body that is not JSON or XML, a body cut short), the
/// message still counts as sent, under the verification id: the provider took it, and
/// reporting a failure would invite a second, paid, send. Its receipts cannot be
/// matched. Logs one `warn` with the vendor and the HTTP status, never the number or
/// the text.
pub fn accepted_id(
    vendor: &str,
    status: u16,
    id: Option<String>,
    msg: &super::OutboundMessage,
) -> String {
    if let Some(id) = id.filter(|id| !id.trim().is_empty()) {
        return id;
    }
    tracing::warn!(
        provider = vendor,
        status,
        id = msg.id.as_str(),
        "accepted, but the answer carried no readable message id: counted as sent"
    );
    msg.id.as_str().to_string()
}

#[cfg(test)]
mod tests;
