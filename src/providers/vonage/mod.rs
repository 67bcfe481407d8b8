//! The Vonage provider: the SMS API (`rest.nexmo.com`), one request per message.
//!
//! **Request.** `POST {base_url}/sms/json`, `Content-Type:
//! application/x-www-form-urlencoded`; the credentials travel as form fields. Fields we
//! send:
//!
//! | field | value |
//! |---|---|
//! | `api_key`, `api_secret` | the account's credentials |
//! | `from` | the configured sender ("If alphanumeric, spaces will be ignored. Numbers are specified in E.164 format"; a leading `+` is dropped) |
//! | `to` | the destination, E.164 digits without the `+` (`447700900000`; the API's pattern is `\d{7,15}`) |
//! | `text` | the text, code included |
//! | `type` | `unicode` when the text is not GSM-7 ("If your message contains characters outside this range, then you will need to set the type to unicode"); omitted (Vonage's default `text`) otherwise |
//! | `callback` | `callback_url` (with `token=…` appended in token mode), when set |
//!
//! **Answer.** `200` with `{"message-count": "1", "messages": [{"to", "message-id",
//! "status": "0", …}]}`. "A status of zero indicates success; a non-zero value means
//! something went wrong": the per-message `status`, not the HTTP code, decides (see
//! [`error`]). The message id is `messages[0].message-id`. A text longer than one SMS
//! comes back as several parts, one entry each; the first part decides and its id is
//! kept (retrying after later parts were accepted would send them twice). A `200` with
//! no non-zero `status` and no readable id (not JSON, no `messages`, no `message-id`)
//! still counts as sent ([`http::accepted_id`]).
//!
//! **Receipts.** Vonage calls the callback URL with a delivery receipt (DLR) as a GET
//! query string or a POST body (JSON or form): `messageId`, `status` (`delivered`,
//! `expired`, `failed`, `rejected`, `accepted`, `buffered`, `unknown`), `err-code`,
//! `price` ("The cost of the message", `"0.03330000"`: taken as the message's reported
//! price once its status is final), and, with signed webhooks enabled on the account,
//! `timestamp`, `nonce` and `sig`.
//! Authentication is one of:
//!
//! - **signature** (`signature_secret`): per Vonage's "Signing Messages" guide, take every
//!   parameter except `sig`, sorted by name, replace `&` and `=` in each value with `_`,
//!   and build `&name=value&name=value…`; "MD5 hash" is the hex MD5 of that string
//!   followed by the secret, the HMAC methods (MD5, SHA1, SHA-256, SHA-512) are the hex
//!   HMAC of that string keyed with the secret. Compared in constant time, hex case
//!   ignored. No `sig` is `Unsigned`; a mismatch is `Forged`. Put no query parameters of
//!   your own on a signed callback URL: a GET receipt would carry them among the signed
//!   ones. The `timestamp` is not checked for age: Vonage retries undelivered webhooks,
//!   and a replayed receipt can only repeat a status Vonage already reported.
//! - **token** (`receipt_token`, when no secret is set): the callback URL carries
//!   `?token=<receipt_token>`, compared in constant time; missing is `Unsigned`, wrong is
//!   `Forged`.
//!
//! With neither configured, receipts are refused (`NotSupported`). Statuses:
//!
//! | `status` | receipt |
//! |---|---|
//! | `delivered` | `Delivered` |
//! | `accepted` (taken by the carrier), `buffered` (waiting at the carrier) | `Sent` |
//! | `expired` (not delivered within its validity), `failed` | `Undelivered` |
//! | `rejected` (refused by Vonage or the carrier) | `Failed` |
//! | `unknown`, others | ignored (no update) |
//!
//! **Calls.** With `[providers.<name>.voice]` the instance also sends on the `voice`
//! channel through the Voice API ([`voice`]); its call events come to the same
//! receipts URL, signed with a JWT ([`voice_events`] tells them from SMS receipts).

mod config;
mod dlr;
pub(crate) mod error;
pub mod jwt;
mod signature;
pub mod voice;
mod voice_config;
pub mod voice_error;
pub mod voice_events;

pub use config::{Config, SignatureMethod, DEFAULT_BASE_URL, MIN_TOKEN_LEN};
pub use signature::signature;
pub use voice_config::{Talker, VoiceConfig, DEFAULT_VOICE_BASE_URL};

use super::callback::with_token;
use super::http::{self, Auth, Body};
use super::{
    ErrorKind, OutboundMessage, Price, ProviderError, Receipt, ReceiptError, ReceiptRequest,
    SmsProvider,
};
use crate::domain::gsm::{encoding_of, Encoding};
use crate::domain::Channel;
use crate::secret::Secret;
use async_trait::async_trait;

/// Sends through Vonage's SMS API.
#[derive(Debug)]
pub struct VonageProvider {
    client: reqwest::Client,
    url: String,
    api_key: String,
    api_secret: Secret,
    from: String,
    /// May carry the receipt token.
    callback: Option<Secret>,
    receipt_auth: dlr::ReceiptAuth,
    sms: bool,
    voice: Option<voice::Voice>,
}

impl VonageProvider {
    /// Checks the settings and builds the pooled client.
    pub fn new(cfg: &Config) -> anyhow::Result<Self> {
        let problems = cfg.problems();
        anyhow::ensure!(problems.is_empty(), "vonage: {}", problems.join("; "));
        let secret = cfg.signature_secret.clone().filter(|s| !s.is_empty());
        let token = cfg.receipt_token.clone().filter(|s| !s.is_empty());
        let callback = match (&cfg.callback_url, &token) {
            (Some(url), Some(t)) if secret.is_none() => Some(Secret(with_token(url, t))),
            (url, _) => url.as_deref().map(Secret::from),
        };
        let receipt_auth = match (secret, token) {
            (Some(s), _) => dlr::ReceiptAuth::Signature {
                secret: s,
                method: cfg.signature_method,
            },
            (None, Some(t)) => dlr::ReceiptAuth::Token(t),
            (None, None) => dlr::ReceiptAuth::None,
        };
        let from = cfg.from.trim();
        let from = match from.strip_prefix('+') {
            Some(digits) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
                digits
            }
            _ => from,
        };
        Ok(VonageProvider {
            client: super::settings::client(cfg.timeout_ms)?,
            url: format!("{}/sms/json", cfg.base_url.trim_end_matches('/')),
            api_key: cfg.api_key.clone(),
            api_secret: cfg.api_secret.clone(),
            from: from.to_string(),
            callback,
            receipt_auth,
            sms: cfg.sends_sms(),
            voice: cfg.voice.as_ref().map(voice::Voice::new).transpose()?,
        })
    }
}

fn text_of(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[async_trait]
impl SmsProvider for VonageProvider {
    fn kind(&self) -> &'static str {
        "vonage"
    }

    fn channels(&self) -> Vec<Channel> {
        let sms = self.sms.then_some(Channel::Sms);
        let voice = self.voice.as_ref().map(|_| Channel::Voice);
        sms.into_iter().chain(voice).collect()
    }

    async fn send(&self, msg: &OutboundMessage) -> Result<String, ProviderError> {
        match (msg.channel, &self.voice) {
            (Channel::Voice, Some(voice)) => return voice.call(&self.client, msg).await,
            (Channel::Sms, _) if self.sms => {}
            (other, _) => {
                return Err(ProviderError::new(
                    ErrorKind::RejectedContent,
                    format!("this vonage instance does not send on {}", other.as_str()),
                ))
            }
        }
        let to = msg.to.as_str().strip_prefix('+').unwrap_or(msg.to.as_str());
        let mut form: Vec<(&str, &str)> = vec![
            ("api_key", &self.api_key),
            ("api_secret", &*self.api_secret),
            ("from", &self.from),
            ("to", to),
            ("text", &msg.body),
        ];
        if encoding_of(&msg.body) == Encoding::Ucs2 {
            form.push(("type", "unicode"));
        }
        if let Some(cb) = &self.callback {
            form.push(("callback", &**cb));
        }
        let a = http::post(
            &self.client,
            &self.url,
            Auth::None,
            Body::form(&form),
            |a| error::from_http(a.status, a.retry_after),
        )
        .await?;
        let first = serde_json::from_str::<serde_json::Value>(&a.body)
            .ok()
            .and_then(|v| v.get("messages")?.get(0).cloned());
        let field = |name: &str| first.as_ref().and_then(|m| m.get(name)).and_then(text_of);
        if let Some(code) = field("status").filter(|c| !c.trim().is_empty() && c.trim() != "0") {
            return Err(error::from_status(code.trim()));
        }
        Ok(http::accepted_id(
            "vonage",
            a.status,
            field("message-id"),
            msg,
        ))
    }

    /// A DLR's `price` ("The cost of the message", a decimal string: `"0.03330000"`),
    /// for its `messageId`; none for call events or a price that is not a number.
    fn receipt_prices(&self, req: &ReceiptRequest<'_>) -> Vec<(String, Price)> {
        if self.voice.is_some() && voice_events::is_call_event(req) {
            return Vec::new();
        }
        dlr::prices(req)
    }

    fn parse_receipt(&self, req: &ReceiptRequest<'_>) -> Result<Vec<Receipt>, ReceiptError> {
        if let Some(voice) = &self.voice {
            if voice_events::is_call_event(req) {
                return voice.parse_event(req);
            }
        }
        dlr::parse(&self.receipt_auth, req)
    }
}
