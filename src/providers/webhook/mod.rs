//! The webhook provider: POSTs each message as JSON to an HTTP endpoint you run.
//!
//! Request: `POST <url>` with `Content-Type: application/json` and body
//! `{"id", "to", "body", "locale", "metadata"}` (`metadata` is the caller's object or
//! `null`). With `signing_secret` set, the header
//! `X-Otpgw-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`
//! lets the receiver check origin and freshness.
//!
//! Answers: any 2xx is accepted (a JSON `id` or `message_id` in the answer is kept as
//! the provider's message id). 408, 429, 5xx, timeouts and connection errors are
//! retryable failures. Other 4xx mean the receiver refused this message for good
//! (retrying the same request cannot help): 401/403 as `Auth`, the rest as
//! `RejectedContent`. A 3xx is never followed (it would re-send the code, the number,
//! the metadata and the signature to another host): it fails the attempt as
//! `Redirected`, and the router moves on to the next provider.

mod config;

pub use config::Config;

use super::{ErrorKind, OutboundMessage, ProviderError, SmsProvider};
use crate::config::Secret;
use async_trait::async_trait;

/// Signature header name.
pub const SIGNATURE_HEADER: &str = "x-otpgw-signature";

/// Posts messages to a URL.
#[derive(Debug)]
pub struct WebhookProvider {
    client: reqwest::Client,
    url: String,
    secret: Option<Secret>,
}

pub use super::http::install_tls_provider;

impl WebhookProvider {
    /// Builds the HTTP client (pooled, rustls, per-attempt timeout).
    pub fn new(cfg: &Config) -> anyhow::Result<Self> {
        Ok(WebhookProvider {
            client: super::settings::client(cfg.timeout_ms)?,
            url: cfg.url.clone(),
            secret: cfg.signing_secret.clone(),
        })
    }
}

/// The signature header value for `body` at unix time `t`.
pub fn signature(secret: &[u8], t: u64, body: &[u8]) -> String {
    let mut signed = t.to_string().into_bytes();
    signed.push(b'.');
    signed.extend_from_slice(body);
    format!("t={t},v1={}", crate::crypto::hmac_hex(secret, &signed))
}

#[async_trait]
impl SmsProvider for WebhookProvider {
    fn kind(&self) -> &'static str {
        "webhook"
    }

    async fn send(&self, msg: &OutboundMessage) -> Result<String, ProviderError> {
        let metadata: serde_json::Value = msg
            .metadata
            .as_deref()
            .and_then(|m| serde_json::from_str(m).ok())
            .unwrap_or(serde_json::Value::Null);
        let body = serde_json::to_vec(&serde_json::json!({
            "id": msg.id.as_str(),
            "to": msg.to,
            "body": msg.body,
            "locale": msg.locale,
            "metadata": metadata,
        }))
        .map_err(|e| ProviderError::new(ErrorKind::RejectedContent, e.to_string()))?;
        let mut req = self
            .client
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json");
        if let Some(secret) = &self.secret {
            let t = crate::domain::now_millis() as u64 / 1000;
            req = req.header(SIGNATURE_HEADER, signature(secret.as_bytes(), t, &body));
        }
        if let Some(rid) = &msg.request_id {
            req = req.header("x-request-id", rid);
        }
        let resp = req.body(body).send().await.map_err(|e| {
            if e.is_timeout() {
                ProviderError::new(ErrorKind::Timeout, "webhook did not answer in time")
            } else {
                ProviderError::new(
                    ErrorKind::Unavailable,
                    format!("webhook unreachable: {}", e.without_url()),
                )
            }
        })?;
        let status = resp.status().as_u16();
        if let Some(e) = super::http::redirect_error(status, resp.headers()) {
            return Err(e);
        }
        if (200..300).contains(&status) {
            let text = resp.text().await.unwrap_or_default();
            let id = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| {
                    v.get("id")
                        .or_else(|| v.get("message_id"))
                        .and_then(|x| x.as_str().map(str::to_string))
                })
                .unwrap_or_else(|| msg.id.as_str().to_string());
            return Ok(id);
        }
        let retry_after = super::http::retry_after(resp.headers());
        let mut err = match status {
            408 => ProviderError::new(ErrorKind::Timeout, "webhook answered 408"),
            429 => ProviderError::new(ErrorKind::RateLimited, "webhook answered 429"),
            401 | 403 => ProviderError::new(ErrorKind::Auth, format!("webhook answered {status}")),
            400..=499 => ProviderError::new(
                ErrorKind::RejectedContent,
                format!("webhook answered {status}"),
            ),
            _ => ProviderError::new(ErrorKind::Unavailable, format!("webhook answered {status}")),
        };
        err.retry_after = retry_after;
        Err(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_of_timestamp_dot_body() {
        let s = signature(b"k", 1700000000, b"{}");
        let expected = crate::crypto::hmac_hex(b"k", b"1700000000.{}");
        assert_eq!(s, format!("t=1700000000,v1={expected}"));
    }
}
