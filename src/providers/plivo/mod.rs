//! The Plivo provider: Message API.
//!
//! **Send.** `POST {base_url}/v1/Account/{auth_id}/Message/` with HTTP Basic auth
//! (`auth_id:auth_token`) and a JSON body. Plivo: "src: The sender ID you want to use,
//! which may be a phone number, a short code, or an alphanumeric string … You may use
//! either src or powerpack_uuid but not both"; "dst: The phone number to which the
//! message is to be delivered … Sanitized phone numbers must begin with the
//! international country code (for example, 14152828726)"; "text: The content of the
//! text message"; "url: The URL to which status update callbacks for the message
//! should be sent"; "method: The HTTP method to be used when calling the url … Defaults
//! to POST"; "log: If set to false, the text and media content of this message will not
//! be logged on Plivo infrastructure, and the dst value will be masked". We send
//! `{"src" | "powerpack_uuid", "dst", "text", "url"?, "method"?, "log"}` with `dst` the
//! E.164 digits without `+` (as in Plivo's examples), `src` likewise when it is a
//! number, the text as UTF-8 (Plivo picks GSM or UCS-2), `url` and `method: "POST"`
//! only with `status_url`, and `log: false` unless configured. The answer (202) is
//! `{"api_id", "message": "message(s) queued", "message_uuid": ["<uuid>"]}`: the first
//! `message_uuid` is the message id. Errors: see `error.rs`.
//!
//! **Receipts.** Plivo calls `url` "with the latest message details as and when the
//! message status changes", as form fields for POST (query parameters for GET):
//! `MessageUUID`, `Status` ("queued, sent, failed, delivered, undelivered"), `ErrorCode`
//! ("only defined for failed or undelivered messages"), `To`, `From`, …. We report
//! `sent` as sent, `delivered` (and WhatsApp's `read`) as delivered, `undelivered` as
//! undelivered, `failed` (and the legacy `rejected`) as failed, and skip `queued`.
//!
//! Callbacks are signed with `X-Plivo-Signature-V3` (or `X-Plivo-Signature-Ma-V3`, made
//! with the main account's token) and `X-Plivo-Signature-V3-Nonce`, as Plivo's SDKs
//! compute them: the URL without its query; then, for GET, `?` and the query
//! parameters sorted by name as `k=v` joined by `&`; for POST, `?`, the URL's own query
//! parameters sorted likewise (and `.` if there are both), then the form fields sorted
//! by name as `kv` with no separators; then `.` and the nonce. The signature is
//! base64(HMAC-SHA256(auth_token, that)); the header may list several, comma-separated
//! (one per active token). We compare in constant time. V3 carries no timestamp, so a
//! replayed callback can only repeat a status already reported. `X-Plivo-Signature-V2`
//! (base64 HMAC-SHA256 over the URL without query and the nonce: the fields are not
//! covered) is accepted only with `accept_v2_signatures`. No signature we accept:
//! `Unsigned`; a signature that does not match: `Forged`.

mod config;
pub mod error;
mod signature;

pub use config::Config;
pub use signature::{signature_v2, signature_v3, signed_string_v3, verify_callback};

use super::http::{self, Auth, Body};
use super::{OutboundMessage, ProviderError, Receipt, ReceiptError, ReceiptRequest, SmsProvider};
use crate::domain::DeliveryStatus;
use crate::secret::Secret;
use async_trait::async_trait;
use serde::Serialize;

/// Sends through Plivo.
#[derive(Debug)]
pub struct PlivoProvider {
    client: reqwest::Client,
    url: String,
    auth_id: String,
    auth_token: Secret,
    src: Option<String>,
    powerpack_uuid: Option<String>,
    status_url: Option<String>,
    log: bool,
    accept_v2: bool,
}

#[derive(Serialize)]
struct SendBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    src: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    powerpack_uuid: Option<&'a str>,
    dst: &'a str,
    text: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    method: Option<&'a str>,
    log: bool,
}

/// A number as Plivo's examples write it: E.164 digits without the `+`. Anything that
/// is not `+` and digits (an alphanumeric sender, a short code) is left as it is.
pub fn plivo_number(n: &str) -> &str {
    match n.strip_prefix('+') {
        Some(d) if !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()) => d,
        _ => n,
    }
}

/// The receipt in a (verified) Plivo message status callback.
pub fn receipts(fields: &[(String, String)]) -> Result<Vec<Receipt>, ReceiptError> {
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    };
    let id =
        field("MessageUUID").ok_or_else(|| ReceiptError::Malformed("no MessageUUID".into()))?;
    let status = field("Status").ok_or_else(|| ReceiptError::Malformed("no Status".into()))?;
    let status = match status {
        "sent" => DeliveryStatus::Sent,
        "delivered" | "read" => DeliveryStatus::Delivered,
        "undelivered" => DeliveryStatus::Undelivered,
        "failed" | "rejected" => DeliveryStatus::Failed,
        _ => return Ok(Vec::new()),
    };
    let detail = field("ErrorCode")
        .filter(|c| !c.trim_start_matches('0').is_empty())
        .map(|c| format!("error {}", http::code(c)));
    Ok(vec![Receipt {
        message_id: id.to_string(),
        status,
        detail,
    }])
}

impl PlivoProvider {
    /// Builds the HTTP client (pooled, rustls, per-attempt timeout).
    pub fn new(cfg: &Config) -> anyhow::Result<Self> {
        let auth_id = cfg.auth_id.trim().to_string();
        anyhow::ensure!(
            !auth_id.is_empty() && auth_id.chars().all(|c| c.is_ascii_alphanumeric()),
            "plivo auth_id must be letters and digits"
        );
        Ok(PlivoProvider {
            client: super::settings::client(cfg.timeout_ms)?,
            url: format!(
                "{}/v1/Account/{auth_id}/Message/",
                cfg.base_url.trim_end_matches('/')
            ),
            auth_id,
            auth_token: Secret(cfg.auth_token.trim().to_string()),
            src: super::settings::nonblank(&cfg.src),
            powerpack_uuid: super::settings::nonblank(&cfg.powerpack_uuid),
            status_url: super::settings::nonblank(&cfg.status_url),
            log: cfg.log,
            accept_v2: cfg.accept_v2_signatures,
        })
    }
}

#[async_trait]
impl SmsProvider for PlivoProvider {
    fn kind(&self) -> &'static str {
        "plivo"
    }

    async fn send(&self, msg: &OutboundMessage) -> Result<String, ProviderError> {
        let body = SendBody {
            src: self.src.as_deref().map(plivo_number),
            powerpack_uuid: self.powerpack_uuid.as_deref(),
            dst: plivo_number(msg.to.as_str()),
            text: &msg.body,
            url: self.status_url.as_deref(),
            method: self.status_url.as_ref().map(|_| "POST"),
            log: self.log,
        };
        let auth = Auth::Basic(&self.auth_id, &self.auth_token);
        let body = Body::json(&body)?;
        let post = http::post(&self.client, &self.url, auth, body, error::from_answer);
        http::accepted("plivo", post, |a| http::json_id(a, "/message_uuid/0"), msg).await
    }

    fn parse_receipt(&self, req: &ReceiptRequest<'_>) -> Result<Vec<Receipt>, ReceiptError> {
        let fields = verify_callback(&self.auth_token, req, self.accept_v2)?;
        receipts(&fields)
    }
}
