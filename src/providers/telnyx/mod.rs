//! The Telnyx provider: Messaging API v2.
//!
//! **Send.** `POST {base_url}/v2/messages` with `Authorization: Bearer <api_key>` and a
//! JSON body (Telnyx: "to: Receiving address (+E.164 formatted phone number or short
//! code)"; "text: Message body (i.e., content) as a non-empty string. Required for
//! SMS"; "from: Sending address (+E.164 formatted phone number, alphanumeric sender ID,
//! or short code)"; "messaging_profile_id: Required if sending via number pool or with
//! an alphanumeric sender ID"; "webhook_url: The URL where webhooks related to this
//! message will be sent"). We send, in this order and only when configured:
//! `{"from", "messaging_profile_id", "to", "text", "webhook_url"}`, `to` as E.164 with
//! its `+`, the text as UTF-8 (Telnyx picks GSM-7 or UCS-2). The answer is
//! `{"data": {"id": "<uuid>", "to": [{"status": "queued", …}], …}}`: `data.id` is the
//! message id. Errors: see `error.rs`.
//!
//! **Receipts.** Telnyx posts message webhooks to `webhook_url` (or the messaging
//! profile's): `{"data": {"event_type": "message.sent" | "message.finalized",
//! "payload": {"id", "to": [{"phone_number", "status"}], "errors": [{"code", "title"}]}}}`.
//! A recipient's `status` is one of `scheduled, queued, sending, sent, cancelled,
//! expired, sending_failed, delivery_unconfirmed, delivered, delivery_failed`; we report
//! `sent` and `delivery_unconfirmed` as sent, `delivered` as delivered, `delivery_failed`
//! and `expired` as undelivered, `sending_failed` and `cancelled` as failed, and skip the
//! rest. Every webhook carries `telnyx-timestamp` (Unix seconds) and
//! `telnyx-signature-ed25519` (base64 "Ed25519 signature of timestamp|payload"): we
//! verify it with the account's public key over `<timestamp>|<raw body>` and refuse
//! timestamps more than `signature_tolerance_s` (default 300) away from now. Missing
//! headers: `Unsigned`; bad or stale signature: `Forged`; no `public_key`: receipts off.

mod config;
pub mod error;

pub use config::Config;

use super::http::{self, Auth, Body};
use super::{OutboundMessage, ProviderError, Receipt, ReceiptError};
use super::{ReceiptRequest, SmsProvider};
use crate::domain::DeliveryStatus;
use async_trait::async_trait;
use base64::Engine as _;
use ed25519_dalek::{Signature, VerifyingKey};
use serde::Serialize;

/// Signature header.
pub const SIGNATURE_HEADER: &str = "telnyx-signature-ed25519";
/// Timestamp header.
pub const TIMESTAMP_HEADER: &str = "telnyx-timestamp";

/// Sends through Telnyx.
/// `auth` is a sensitive header value: its `Debug` is redacted.
#[derive(Debug)]
pub struct TelnyxProvider {
    client: reqwest::Client,
    url: String,
    auth: reqwest::header::HeaderValue,
    from: Option<String>,
    messaging_profile_id: Option<String>,
    webhook_url: Option<String>,
    key: Option<VerifyingKey>,
    tolerance_s: u64,
}

#[derive(Serialize)]
struct SendBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    messaging_profile_id: Option<&'a str>,
    to: &'a str,
    text: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    webhook_url: Option<&'a str>,
}

/// The verifying key in `b64`: 32 raw bytes, or the same key in a 44-byte SPKI (DER)
/// wrapper as some tools export it.
pub fn public_key(b64: &str) -> Option<VerifyingKey> {
    const SPKI_PREFIX: [u8; 12] = [
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
    ];
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let raw: [u8; 32] = match bytes.len() {
        32 => bytes.try_into().ok()?,
        44 if bytes[..12] == SPKI_PREFIX => bytes[12..].try_into().ok()?,
        _ => return None,
    };
    VerifyingKey::from_bytes(&raw).ok()
}

/// Checks a webhook's Ed25519 signature over `<timestamp>|<body>` and the timestamp's
/// distance from `now` (Unix seconds).
pub fn verify_signature(
    key: &VerifyingKey,
    headers: &::http::HeaderMap,
    body: &[u8],
    now: i64,
    tolerance_s: u64,
) -> Result<(), ReceiptError> {
    let (Some(sig), Some(ts)) = (
        http::header(headers, SIGNATURE_HEADER),
        http::header(headers, TIMESTAMP_HEADER),
    ) else {
        return Err(ReceiptError::Unsigned);
    };
    let t: i64 = ts.parse().map_err(|_| ReceiptError::Forged)?;
    if now.abs_diff(t) > tolerance_s {
        return Err(ReceiptError::Forged);
    }
    let sig = base64::engine::general_purpose::STANDARD
        .decode(sig)
        .ok()
        .and_then(|b| Signature::from_slice(&b).ok())
        .ok_or(ReceiptError::Forged)?;
    let mut signed = Vec::with_capacity(ts.len() + 1 + body.len());
    signed.extend_from_slice(ts.as_bytes());
    signed.push(b'|');
    signed.extend_from_slice(body);
    key.verify_strict(&signed, &sig)
        .map_err(|_| ReceiptError::Forged)
}

/// The receipts in a (verified) Telnyx message webhook body.
pub fn receipts(body: &[u8]) -> Result<Vec<Receipt>, ReceiptError> {
    let malformed = |what: &str| ReceiptError::Malformed(what.to_string());
    let v: serde_json::Value = serde_json::from_slice(body).map_err(|_| malformed("not JSON"))?;
    let data = v.get("data").ok_or_else(|| malformed("no data"))?;
    let event = data
        .get("event_type")
        .and_then(|e| e.as_str())
        .ok_or_else(|| malformed("no data.event_type"))?;
    if !matches!(event, "message.sent" | "message.finalized") {
        return Ok(Vec::new());
    }
    let payload = data
        .get("payload")
        .ok_or_else(|| malformed("no data.payload"))?;
    let id = payload
        .get("id")
        .and_then(|i| i.as_str())
        .filter(|i| !i.is_empty())
        .ok_or_else(|| malformed("no data.payload.id"))?;
    let to = payload
        .get("to")
        .and_then(|t| t.as_array())
        .ok_or_else(|| malformed("no data.payload.to"))?;
    let detail = payload
        .get("errors")
        .and_then(|e| e.as_array())
        .map(|errs| {
            errs.iter()
                .filter_map(|e| {
                    let code = match e.get("code")? {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    let title = e.get("title").and_then(|t| t.as_str()).unwrap_or("");
                    Some(
                        format!("{} {}", http::code(&code), http::scrub(title))
                            .trim()
                            .to_string(),
                    )
                })
                .collect::<Vec<_>>()
                .join("; ")
        })
        .filter(|d| !d.is_empty());
    let mut out = Vec::new();
    for recipient in to {
        let status = recipient
            .get("status")
            .and_then(|s| s.as_str())
            .ok_or_else(|| malformed("a recipient has no status"))?;
        let status = match status {
            "sent" | "delivery_unconfirmed" => DeliveryStatus::Sent,
            "delivered" => DeliveryStatus::Delivered,
            "delivery_failed" | "expired" => DeliveryStatus::Undelivered,
            "sending_failed" | "cancelled" => DeliveryStatus::Failed,
            _ => continue,
        };
        out.push(Receipt {
            message_id: id.to_string(),
            status,
            detail: detail.clone(),
        });
    }
    Ok(out)
}

impl TelnyxProvider {
    /// Builds the HTTP client (pooled, rustls, per-attempt timeout).
    pub fn new(cfg: &Config) -> anyhow::Result<Self> {
        let auth = http::auth_header("Bearer", &cfg.api_key, "telnyx api_key")?;
        let key =
            match &cfg.public_key {
                Some(k) => Some(public_key(k).ok_or_else(|| {
                    anyhow::anyhow!("telnyx public_key is not a base64 Ed25519 key")
                })?),
                None => None,
            };
        Ok(TelnyxProvider {
            client: super::settings::client(cfg.timeout_ms)?,
            url: format!("{}/v2/messages", cfg.base_url.trim_end_matches('/')),
            auth,
            from: super::settings::nonblank(&cfg.from),
            messaging_profile_id: super::settings::nonblank(&cfg.messaging_profile_id),
            webhook_url: super::settings::nonblank(&cfg.webhook_url),
            key,
            tolerance_s: cfg.signature_tolerance_s,
        })
    }
}

#[async_trait]
impl SmsProvider for TelnyxProvider {
    fn kind(&self) -> &'static str {
        "telnyx"
    }

    async fn send(&self, msg: &OutboundMessage) -> Result<String, ProviderError> {
        let body = SendBody {
            from: self.from.as_deref(),
            messaging_profile_id: self.messaging_profile_id.as_deref(),
            to: msg.to.as_str(),
            text: &msg.body,
            webhook_url: self.webhook_url.as_deref(),
        };
        let auth = Auth::Header(&self.auth);
        let body = Body::json(&body)?;
        let post = http::post(&self.client, &self.url, auth, body, error::from_answer);
        http::accepted("telnyx", post, |a| http::json_id(a, "/data/id"), msg).await
    }

    fn parse_receipt(&self, req: &ReceiptRequest<'_>) -> Result<Vec<Receipt>, ReceiptError> {
        let key = self.key.as_ref().ok_or(ReceiptError::NotSupported)?;
        verify_signature(
            key,
            req.headers,
            req.body,
            http::unix_now(),
            self.tolerance_s,
        )?;
        receipts(req.body)
    }
}
