//! The Meta WhatsApp Cloud API provider (`kind = "meta_whatsapp"`): an authentication
//! template from one business phone number, channel `whatsapp` only.
//!
//! **Send.** `POST {base_url}/{api_version}/{phone_number_id}/messages` with
//! `Authorization: Bearer <access_token>` and the JSON Meta documents for an
//! authentication template with a copy-code button (the code is the body's `{{1}}` and
//! the button's URL parameter, which the copy-code button copies):
//!
//! ```json
//! {"messaging_product": "whatsapp", "recipient_type": "individual", "to": "14155550123",
//!  "type": "template", "template": {"name": "<template_name>",
//!   "language": {"policy": "deterministic", "code": "en_US"},
//!   "components": [
//!     {"type": "body", "parameters": [{"type": "text", "text": "<code>"}]},
//!     {"type": "button", "sub_type": "url", "index": "0",
//!      "parameters": [{"type": "text", "text": "<code>"}]}]}}
//! ```
//!
//! `to` is the E.164 number without its `+` (Meta's examples, and its document's
//! `example: '19505550005'`). `language.policy` is `deterministic`, the one policy Meta
//! accepts and one its OpenAPI document requires. The language is the one configured
//! for the message's locale ([`Config::language_for`]). The text the gateway rendered
//! is not sent: an authentication template's text is Meta's, approved once.
//!
//! **Answer.** `200` with `{"messaging_product": "whatsapp", "contacts": [{"input",
//! "wa_id"}], "messages": [{"id": "wamid.…"}]}`: `messages[0].id` is the message id
//! the status webhooks name. Errors: see [`error`].
//!
//! **Webhooks.** The subscription handshake, the `X-Hub-Signature-256` check and the
//! statuses read as receipts: see [`webhook`].

mod config;
pub mod error;
pub mod webhook;

pub use config::{Config, DEFAULT_API_VERSION, DEFAULT_BASE_URL, DEFAULT_LANGUAGE};

use super::http::{self, Auth, Body};
use super::{ErrorKind, OutboundMessage, ProviderError, Receipt, ReceiptError};
use super::{ReceiptRequest, SmsProvider};
use crate::domain::Channel;
use crate::secret::Secret;
use async_trait::async_trait;
use serde_json::json;

/// Sends authentication templates through Meta's Cloud API. `auth` is a sensitive
/// header value and the secrets are [`Secret`]s: `Debug` shows no credential.
#[derive(Debug)]
pub struct MetaWhatsappProvider {
    client: reqwest::Client,
    url: String,
    auth: reqwest::header::HeaderValue,
    cfg: Config,
    app_secret: Option<Secret>,
    verify_token: Option<Secret>,
}

impl MetaWhatsappProvider {
    /// Checks the settings and builds the pooled client.
    pub fn new(cfg: &Config) -> anyhow::Result<Self> {
        let problems = cfg.problems();
        anyhow::ensure!(
            problems.is_empty(),
            "meta_whatsapp: {}",
            problems.join("; ")
        );
        let secret = |s: &Option<Secret>| s.clone().filter(|s| !s.trim().is_empty());
        Ok(MetaWhatsappProvider {
            client: super::settings::client(cfg.timeout_ms)?,
            url: format!(
                "{}/{}/{}/messages",
                cfg.base_url.trim_end_matches('/'),
                cfg.api_version,
                cfg.phone_number_id
            ),
            auth: http::auth_header("Bearer", &cfg.access_token, "meta_whatsapp access_token")?,
            cfg: Config {
                access_token: Secret::default(),
                ..cfg.clone()
            },
            app_secret: secret(&cfg.app_secret),
            verify_token: secret(&cfg.verify_token),
        })
    }

    /// The request body for `msg` (see the module documentation).
    pub fn body(&self, msg: &OutboundMessage) -> Result<serde_json::Value, ProviderError> {
        let phone = msg.to.phone().ok_or_else(|| {
            ProviderError::new(
                ErrorKind::InvalidDestination,
                "WhatsApp needs a phone number",
            )
        })?;
        let to = phone.as_str().trim_start_matches('+');
        let code: &str = &msg.code;
        let text = || json!([{"type": "text", "text": code}]);
        Ok(json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": to,
            "type": "template",
            "template": {
                "name": self.cfg.template_name,
                "language": {"policy": "deterministic", "code": self.cfg.language_for(&msg.locale)},
                "components": [
                    {"type": "body", "parameters": text()},
                    {"type": "button", "sub_type": "url", "index": "0", "parameters": text()},
                ],
            },
        }))
    }
}

#[async_trait]
impl SmsProvider for MetaWhatsappProvider {
    fn kind(&self) -> &'static str {
        "meta_whatsapp"
    }

    fn channels(&self) -> Vec<Channel> {
        vec![Channel::Whatsapp]
    }

    async fn send(&self, msg: &OutboundMessage) -> Result<String, ProviderError> {
        let body = Body::json(&self.body(msg)?)?;
        let auth = Auth::Header(&self.auth);
        let post = http::post(&self.client, &self.url, auth, body, error::from_answer);
        http::accepted(
            "meta_whatsapp",
            post,
            |a| http::json_id(a, "/messages/0/id"),
            msg,
        )
        .await
    }

    fn handshake(&self, req: &ReceiptRequest<'_>) -> Option<Result<String, ReceiptError>> {
        webhook::handshake(self.verify_token.as_deref(), req)
    }

    fn parse_receipt(&self, req: &ReceiptRequest<'_>) -> Result<Vec<Receipt>, ReceiptError> {
        let secret = self
            .app_secret
            .as_deref()
            .ok_or(ReceiptError::NotSupported)?;
        webhook::verify(secret.as_bytes(), req.headers, req.body)?;
        webhook::receipts(req.body)
    }
}
