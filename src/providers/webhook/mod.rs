//! The webhook provider: POSTs each message as JSON to an HTTP endpoint you run.
//!
//! Request: `POST <url>` with `Content-Type: application/json` and body
//! `{"id", "channel", "to", "body", "code", "locale", "metadata"}` (`metadata` is the
//! caller's object or `null`; an email adds `subject` and `html`). It sends on every
//! channel: the endpoint is yours, and `channel` tells it which (`to` is an address
//! for `email`; `body` is a call's script for `voice`; `code` is the code alone, for a
//! WhatsApp template's parameter). With `signing_secret` set, the header
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

use super::http::{self, Answer, Auth, Body};
use super::{ErrorKind, OutboundMessage, ProviderError, SmsProvider};
use crate::secret::Secret;
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

    fn channels(&self) -> Vec<crate::domain::Channel> {
        crate::domain::Channel::ALL.to_vec()
    }

    async fn send(&self, msg: &OutboundMessage) -> Result<String, ProviderError> {
        let metadata: serde_json::Value = msg
            .metadata
            .as_deref()
            .and_then(|m| serde_json::from_str(m).ok())
            .unwrap_or(serde_json::Value::Null);
        let mut json = serde_json::json!({
            "id": msg.id.as_str(),
            "channel": msg.channel.as_str(),
            "to": msg.to.as_str(),
            "body": msg.body,
            "code": &*msg.code,
            "locale": msg.locale,
            "metadata": metadata,
        });
        if let (Some(subject), Some(html)) = (&msg.subject, &msg.html) {
            json["subject"] = subject.as_str().into();
            json["html"] = html.as_str().into();
        }
        let body = Body::json(&json)?;
        let headers = |bytes: &[u8]| {
            let mut h = Vec::new();
            if let Some(secret) = &self.secret {
                let t = crate::domain::now_millis() as u64 / 1000;
                let sig = signature(secret.as_bytes(), t, bytes);
                h.push((SIGNATURE_HEADER.to_string(), sig));
            }
            if let Some(rid) = &msg.request_id {
                h.push(("x-request-id".to_string(), rid.clone()));
            }
            Ok(h)
        };
        let auth = Auth::Signed(&headers);
        let a = http::post(&self.client, &self.url, auth, body, refused).await?;
        let id = serde_json::from_str::<serde_json::Value>(&a.body)
            .ok()
            .and_then(|v| {
                v.get("id")
                    .or_else(|| v.get("message_id"))
                    .and_then(|x| x.as_str().map(str::to_string))
            })
            .unwrap_or_else(|| msg.id.as_str().to_string());
        Ok(id)
    }
}

/// The error for a failed answer: 408 and 429 retryable, 401/403 `Auth`, other 4xx
/// `RejectedContent`, the rest (5xx) `Unavailable`; `Retry-After` kept.
fn refused(a: &Answer) -> ProviderError {
    let status = a.status;
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
    err.retry_after = a.retry_after;
    err
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
