//! The MessageBird (Bird) provider: SMS Messaging REST API.
//!
//! **Send.** `POST {base_url}/messages` with `Authorization: AccessKey <access_key>` and
//! a JSON body. MessageBird: "originator: The sender of the message. This can be a
//! telephone number (including country code) or an alphanumeric string. In case of an
//! alphanumeric string, the maximum length is 11 characters"; "recipients: An array of
//! recipients msisdns"; "body: The body of the SMS message"; "datacoding: … plain (GSM
//! 03.38 characters only), unicode (contains non-GSM 03.38 characters) or auto, we will
//! then set unicode or plain depending on the body content" (default plain);
//! "reference: A client reference"; "reportUrl: The status report URL to be used on a
//! per-message basis. reference is required for a status report webhook to be sent."
//! We send `{"originator", "recipients": [<msisdn>], "body", "datacoding": "auto",
//! "reference", "reportUrl"?}`: the recipient as the E.164 digits without `+`, as a
//! JSON number (as in MessageBird's examples); `datacoding: "auto"` so that a text
//! outside GSM 03.38 is sent as Unicode instead of being mangled; `reference` our
//! verification id (it carries no secret, and without it there are no status reports).
//! The answer (201) is the message object; its `id` is the message id. Errors: see
//! `error.rs`.
//!
//! **Receipts.** Status reports arrive as a GET with query parameters (or a POST with
//! the same fields as a form or a JSON object): `id`, `reference`, `recipient`,
//! `status` (`scheduled, sent, buffered, delivered, expired, delivery_failed`),
//! `statusDatetime`, `statusReason`, `statusErrorCode`. We report `sent` and `buffered`
//! as sent, `delivered` as delivered, `delivery_failed` and `expired` as undelivered,
//! and skip `scheduled`.
//!
//! Each report carries `MessageBird-Signature-JWT`: a JWT (HS256, or HS384/HS512) signed
//! with the account's signing key, with claims `iss` ("MessageBird"), `nbf`, `exp`,
//! `jti`, `url_hash` (hex SHA-256 of the full URL called, query included) and, when the
//! request has a body, `payload_hash` (hex SHA-256 of the raw body). We check the MAC
//! in constant time (any other `alg`, `none` included, is refused), the issuer, `nbf`
//! and `exp` with 5 s of clock leeway, the presence of `jti`, the URL hash, and that a
//! body is present exactly when `payload_hash` is. No header: `Unsigned`; anything that
//! fails: `Forged`.

mod config;
pub mod error;

pub use config::Config;

use super::http::{self, Auth, Body};
use super::{OutboundMessage, ProviderError, Receipt, ReceiptError, ReceiptRequest, SmsProvider};
use crate::domain::DeliveryStatus;
use crate::secret::Secret;
use async_trait::async_trait;
use base64::Engine as _;
use hmac::{KeyInit, Mac};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// Signature header.
pub const SIGNATURE_HEADER: &str = "messagebird-signature-jwt";
/// Clock leeway for `nbf` and `exp`, in seconds.
pub const LEEWAY_S: i64 = 5;

/// Sends through MessageBird. `auth` is a sensitive header value: its `Debug` is
/// redacted.
#[derive(Debug)]
pub struct MessageBirdProvider {
    client: reqwest::Client,
    url: String,
    auth: reqwest::header::HeaderValue,
    originator: String,
    report_url: Option<String>,
    signing_key: Option<Secret>,
}

#[derive(Serialize)]
struct SendBody<'a> {
    originator: &'a str,
    recipients: [u64; 1],
    body: &'a str,
    datacoding: &'a str,
    reference: &'a str,
    #[serde(rename = "reportUrl", skip_serializing_if = "Option::is_none")]
    report_url: Option<&'a str>,
}

fn b64url(s: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .ok()
}

fn mac_ok<M: Mac + KeyInit>(key: &[u8], signed: &[u8], sig: &[u8]) -> bool {
    let mut m = <M as KeyInit>::new_from_slice(key).expect("hmac takes any key length");
    m.update(signed);
    m.verify_slice(sig).is_ok()
}

fn hash_matches(claim: &serde_json::Value, data: &[u8]) -> bool {
    let digest = Sha256::digest(data);
    claim
        .as_str()
        .and_then(|h| hex::decode(h).ok())
        .is_some_and(|h| crate::crypto::ct_eq(&h, &digest))
}

/// Checks a `MessageBird-Signature-JWT` for the request to `url` with `body`, at `now`
/// (Unix seconds), under `signing_key`.
pub fn verify_signature_jwt(
    signing_key: &[u8],
    url: &str,
    body: &[u8],
    jwt: &str,
    now: i64,
) -> Result<(), ReceiptError> {
    let forged = ReceiptError::Forged;
    let mut parts = jwt.trim().split('.');
    let (Some(h64), Some(c64), Some(s64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(forged);
    };
    let header: serde_json::Value = b64url(h64)
        .and_then(|h| serde_json::from_slice(&h).ok())
        .ok_or(ReceiptError::Forged)?;
    let sig = b64url(s64).ok_or(ReceiptError::Forged)?;
    let signed = &jwt.trim().as_bytes()[..h64.len() + 1 + c64.len()];
    let ok = match header.get("alg").and_then(|a| a.as_str()) {
        Some("HS256") => mac_ok::<hmac::Hmac<sha2::Sha256>>(signing_key, signed, &sig),
        Some("HS384") => mac_ok::<hmac::Hmac<sha2::Sha384>>(signing_key, signed, &sig),
        Some("HS512") => mac_ok::<hmac::Hmac<sha2::Sha512>>(signing_key, signed, &sig),
        _ => false,
    };
    if !ok {
        return Err(forged);
    }
    let claims: serde_json::Value = b64url(c64)
        .and_then(|c| serde_json::from_slice(&c).ok())
        .ok_or(ReceiptError::Forged)?;
    let int = |k: &str| claims.get(k).and_then(|v| v.as_i64());
    let iss_ok = claims.get("iss").and_then(|v| v.as_str()) == Some("MessageBird");
    let exp_ok = int("exp").is_some_and(|exp| now < exp + LEEWAY_S);
    let nbf_ok = claims.get("nbf").is_none() || int("nbf").is_some_and(|nbf| now + LEEWAY_S >= nbf);
    let jti_ok = claims
        .get("jti")
        .and_then(|v| v.as_str())
        .is_some_and(|j| !j.is_empty());
    let url_ok = claims
        .get("url_hash")
        .is_some_and(|h| hash_matches(h, url.as_bytes()));
    let payload_ok = match claims.get("payload_hash") {
        Some(h) => !body.is_empty() && hash_matches(h, body),
        None => body.is_empty(),
    };
    if iss_ok && exp_ok && nbf_ok && jti_ok && url_ok && payload_ok {
        Ok(())
    } else {
        Err(forged)
    }
}

/// The fields of a status report: the query for GET; for POST, the body as a JSON
/// object or a form.
pub fn report_fields(method: &str, url: &str, body: &[u8]) -> Vec<(String, String)> {
    if method.eq_ignore_ascii_case("GET") || body.iter().all(u8::is_ascii_whitespace) {
        let query = url
            .split('#')
            .next()
            .unwrap_or(url)
            .split_once('?')
            .map(|(_, q)| q)
            .unwrap_or("");
        return form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
    }
    if let Ok(serde_json::Value::Object(m)) = serde_json::from_slice::<serde_json::Value>(body) {
        return m
            .into_iter()
            .filter_map(|(k, v)| match v {
                serde_json::Value::String(s) => Some((k, s)),
                serde_json::Value::Number(n) => Some((k, n.to_string())),
                _ => None,
            })
            .collect();
    }
    form_urlencoded::parse(body).into_owned().collect()
}

/// The receipt in a (verified) status report.
pub fn receipts(fields: &[(String, String)]) -> Result<Vec<Receipt>, ReceiptError> {
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    };
    let id = field("id").ok_or_else(|| ReceiptError::Malformed("no id".into()))?;
    let status = field("status").ok_or_else(|| ReceiptError::Malformed("no status".into()))?;
    let status = match status {
        "sent" | "buffered" => DeliveryStatus::Sent,
        "delivered" => DeliveryStatus::Delivered,
        "delivery_failed" | "expired" => DeliveryStatus::Undelivered,
        _ => return Ok(Vec::new()),
    };
    let detail = match (field("statusReason"), field("statusErrorCode")) {
        (None, None) => None,
        (reason, code) => Some(
            [
                reason.map(http::scrub),
                code.map(|c| format!("error {}", http::code(c))),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(", "),
        ),
    };
    Ok(vec![Receipt {
        message_id: id.to_string(),
        status,
        detail,
    }])
}

/// A destination as MessageBird's examples write it: the E.164 digits, as a number.
pub fn msisdn(to: &str) -> Option<u64> {
    let d = to.strip_prefix('+').unwrap_or(to);
    if d.is_empty() || d.len() > 15 || !d.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    d.parse().ok()
}

impl MessageBirdProvider {
    /// Builds the HTTP client (pooled, rustls, per-attempt timeout).
    pub fn new(cfg: &Config) -> anyhow::Result<Self> {
        let auth = http::auth_header("AccessKey", &cfg.access_key, "messagebird access_key")?;
        Ok(MessageBirdProvider {
            client: super::settings::client(cfg.timeout_ms)?,
            url: format!("{}/messages", cfg.base_url.trim_end_matches('/')),
            auth,
            originator: cfg.originator.trim().to_string(),
            report_url: super::settings::nonblank(&cfg.report_url),
            signing_key: cfg.signing_key.clone().filter(|k| !k.is_empty()),
        })
    }
}

#[async_trait]
impl SmsProvider for MessageBirdProvider {
    fn kind(&self) -> &'static str {
        "messagebird"
    }

    async fn send(&self, msg: &OutboundMessage) -> Result<String, ProviderError> {
        let recipient = msisdn(msg.to.as_str()).ok_or_else(|| {
            ProviderError::new(super::ErrorKind::InvalidDestination, "not an E.164 number")
        })?;
        let body = SendBody {
            originator: &self.originator,
            recipients: [recipient],
            body: &msg.body,
            datacoding: "auto",
            reference: msg.id.as_str(),
            report_url: self.report_url.as_deref(),
        };
        let auth = Auth::Header(&self.auth);
        let body = Body::json(&body)?;
        let post = http::post(&self.client, &self.url, auth, body, error::from_answer);
        http::accepted("messagebird", post, |a| http::json_id(a, "/id"), msg).await
    }

    fn parse_receipt(&self, req: &ReceiptRequest<'_>) -> Result<Vec<Receipt>, ReceiptError> {
        let key = self
            .signing_key
            .as_deref()
            .ok_or(ReceiptError::NotSupported)?;
        let jwt = http::header(req.headers, SIGNATURE_HEADER).ok_or(ReceiptError::Unsigned)?;
        verify_signature_jwt(key.as_bytes(), req.url, req.body, jwt, http::unix_now())?;
        receipts(&report_fields(req.method, req.url, req.body))
    }
}
