//! The Twilio provider: Programmable Messaging, the Message resource of API 2010-04-01.
//!
//! **Request.** `POST {base_url}/2010-04-01/Accounts/{AccountSid}/Messages.json`,
//! `Content-Type: application/x-www-form-urlencoded`, HTTP Basic auth with
//! `AccountSid:AuthToken` or an API key `SKxxx:secret` ("you can use API keys or your
//! Account SID and Auth Token"). Fields we send:
//!
//! | field | value |
//! |---|---|
//! | `To` | the destination in E.164 (`+14155550123`) |
//! | `Body` | the text, code included ("can be up to 1,600 characters") |
//! | `From` *or* `MessagingServiceSid` | the configured sender (exactly one) |
//! | `StatusCallback` | `status_callback_url`, when set |
//!
//! Twilio picks GSM-7 or UCS-2 itself from the body, so we send no encoding hint.
//!
//! **WhatsApp.** With `[providers.<name>.whatsapp]` set, a message on the `whatsapp`
//! channel goes to the same resource with `whatsapp:` addresses, a Content Template and
//! the code as its variable, and no `Body`: see [`whatsapp`].
//!
//! **Answer.** `201 Created` with the Message resource as JSON; its `sid` (`SM…`) is the
//! message id. Errors: see [`error`] (the JSON `code` first, then the HTTP status).
//!
//! **Receipts.** Twilio POSTs the status callback form-encoded with `MessageSid`,
//! `MessageStatus` and, for failures, `ErrorCode`, and signs it: "Twilio hashes the
//! signature with the HMAC-SHA1 hashing algorithm using your account auth token as the
//! secret key" over the full callback URL (query included) followed by every POST
//! parameter, sorted by name, as name + value with no separator; the Base64 digest comes
//! in `X-Twilio-Signature`. We recompute it over [`ReceiptRequest::url`] and compare in
//! constant time: no header is `Unsigned`, a mismatch is `Forged`. Statuses:
//!
//! | `MessageStatus` | receipt |
//! |---|---|
//! | `sent` | `Sent` (handed to the carrier) |
//! | `delivered`, `read` | `Delivered` |
//! | `undelivered` | `Undelivered` |
//! | `failed`, `canceled` | `Failed` |
//! | `queued`, `accepted`, `scheduled`, `sending`, others | ignored (no update): they say nothing the gateway does not already know once `send` returned, and a late one must not step a delivered message back |
//!
//! **Prices.** With `fetch_price = true` the Message resource is read after a final
//! receipt for the price Twilio billed ([`price`]).
//!
//! **Calls.** With `[providers.<name>.voice]` the instance also sends on the `voice`
//! channel: a call through the Call resource that says the text, and call status
//! callbacks (with `CallSid`) on the same receipts URL, signed the same way; see
//! [`voice`].

mod config;
pub(crate) mod error;
pub mod price;
mod signature;
pub mod voice;
mod voice_config;
pub(crate) mod voice_error;
pub mod whatsapp;

pub use config::{Config, DEFAULT_BASE_URL};
pub use signature::signature;
pub use voice_config::{Speaker, VoiceConfig};

use super::callback::{ct_eq, form_params, non_empty, query_params};
use super::http::{self, Auth, Body};
use super::{
    ErrorKind, OutboundMessage, Price, ProviderError, Receipt, ReceiptError, ReceiptRequest,
    SmsProvider,
};
use crate::domain::{Channel, DeliveryStatus};
use crate::secret::Secret;
use async_trait::async_trait;

/// Header that carries the status-callback signature.
pub const SIGNATURE_HEADER: &str = "x-twilio-signature";

#[derive(Debug)]
enum Sender {
    From(String),
    Service(String),
}

/// Sends through Twilio's Messages resource.
#[derive(Debug)]
pub struct TwilioProvider {
    client: reqwest::Client,
    messages_url: String,
    user: String,
    password: Secret,
    /// None: calls only.
    sender: Option<Sender>,
    status_callback: Option<String>,
    auth_token: Option<Secret>,
    whatsapp: Option<whatsapp::Whatsapp>,
    voice: Option<voice::Voice>,
    /// Delays of the price reads (`fetch_price`; empty: none).
    price_reads: Vec<std::time::Duration>,
    /// Price reads in flight at once, at most.
    price_permits: tokio::sync::Semaphore,
}

/// Price reads one instance makes at once; more wait their turn.
const PRICE_READS_AT_ONCE: usize = 4;

impl TwilioProvider {
    /// Checks the settings and builds the pooled client.
    pub fn new(cfg: &Config) -> anyhow::Result<Self> {
        let problems = cfg.problems();
        anyhow::ensure!(problems.is_empty(), "twilio: {}", problems.join("; "));
        let nonempty = |v: &Option<String>| v.clone().filter(|s| !s.trim().is_empty());
        let secret = |v: &Option<Secret>| v.clone().filter(|s| !s.trim().is_empty());
        let (user, password) = match (nonempty(&cfg.api_key_sid), secret(&cfg.api_key_secret)) {
            (Some(k), Some(s)) => (k, s),
            _ => (
                cfg.account_sid.clone(),
                secret(&cfg.auth_token).unwrap_or_default(),
            ),
        };
        let sender = match (nonempty(&cfg.from), nonempty(&cfg.messaging_service_sid)) {
            (Some(f), _) => Some(Sender::From(f)),
            (None, Some(m)) => Some(Sender::Service(m)),
            (None, None) => None,
        };
        let voice = cfg.voice.as_ref().map(|v| {
            let cb = cfg.status_callback_url.clone();
            voice::Voice::new(&cfg.base_url, &cfg.account_sid, v, cb)
        });
        Ok(TwilioProvider {
            client: super::settings::client(cfg.timeout_ms)?,
            messages_url: format!(
                "{}/2010-04-01/Accounts/{}/Messages.json",
                cfg.base_url.trim_end_matches('/'),
                cfg.account_sid
            ),
            user,
            password,
            sender,
            status_callback: cfg.status_callback_url.clone(),
            auth_token: secret(&cfg.auth_token),
            whatsapp: cfg.whatsapp.as_ref().map(whatsapp::Whatsapp::new),
            voice,
            price_reads: if cfg.fetch_price {
                price::delays(&cfg.fetch_price_delays_ms)
            } else {
                Vec::new()
            },
            price_permits: tokio::sync::Semaphore::new(PRICE_READS_AT_ONCE),
        })
    }
}

/// Our status for a Twilio `MessageStatus`; `None` for the ones we ignore.
fn delivery_status(s: &str) -> Option<DeliveryStatus> {
    Some(match s {
        "sent" => DeliveryStatus::Sent,
        "delivered" | "read" => DeliveryStatus::Delivered,
        "undelivered" => DeliveryStatus::Undelivered,
        "failed" | "canceled" => DeliveryStatus::Failed,
        _ => return None,
    })
}

#[async_trait]
impl SmsProvider for TwilioProvider {
    fn kind(&self) -> &'static str {
        "twilio"
    }

    fn channels(&self) -> Vec<Channel> {
        let sms = self.sender.as_ref().map(|_| Channel::Sms);
        let whatsapp = self.whatsapp.as_ref().map(|_| Channel::Whatsapp);
        let voice = self.voice.as_ref().map(|_| Channel::Voice);
        sms.into_iter().chain(whatsapp).chain(voice).collect()
    }

    async fn send(&self, msg: &OutboundMessage) -> Result<String, ProviderError> {
        let auth = Auth::Basic(&self.user, &self.password);
        let not_here = |c: Channel| {
            let what = format!("this twilio instance does not send on {}", c.as_str());
            ProviderError::new(ErrorKind::RejectedContent, what)
        };
        let wa_fields;
        let mut form: Vec<(&str, &str)> = match (msg.channel, &self.sender) {
            (Channel::Voice, _) => {
                let voice = self
                    .voice
                    .as_ref()
                    .ok_or_else(|| not_here(Channel::Voice))?;
                return voice.call(&self.client, auth, msg).await;
            }
            (Channel::Whatsapp, _) => {
                let wa = self
                    .whatsapp
                    .as_ref()
                    .ok_or_else(|| not_here(Channel::Whatsapp))?;
                wa_fields = wa.fields(msg.to.as_str(), &msg.code);
                wa_fields.iter().map(|(k, v)| (*k, v.as_str())).collect()
            }
            (Channel::Sms, Some(sender)) => {
                let mut form = vec![("To", msg.to.as_str()), ("Body", msg.body.as_str())];
                match sender {
                    Sender::From(f) => form.push(("From", f)),
                    Sender::Service(s) => form.push(("MessagingServiceSid", s)),
                }
                form
            }
            (other, _) => return Err(not_here(other)),
        };
        if let Some(cb) = &self.status_callback {
            form.push(("StatusCallback", cb));
        }
        let post = http::post(
            &self.client,
            &self.messages_url,
            auth,
            Body::form(&form),
            |a| error::from_response(a.status, a.body.as_bytes(), a.retry_after),
        );
        http::accepted("twilio", post, |a| http::json_id(a, "/sid"), msg).await
    }

    fn price_reads(&self) -> Vec<std::time::Duration> {
        self.price_reads.clone()
    }

    async fn reported_price(&self, message_id: &str) -> Result<Option<Price>, ProviderError> {
        let _permit = self.price_permits.acquire().await;
        let auth = (self.user.as_str(), &*self.password);
        price::read(&self.client, &self.messages_url, message_id, auth).await
    }

    fn parse_receipt(&self, req: &ReceiptRequest<'_>) -> Result<Vec<Receipt>, ReceiptError> {
        let token = self
            .auth_token
            .as_deref()
            .ok_or(ReceiptError::NotSupported)?;
        let given = req
            .headers
            .get(SIGNATURE_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or(ReceiptError::Unsigned)?;
        // POST parameters are signed after the URL; a GET callback has them in the URL.
        let is_post = req.method.eq_ignore_ascii_case("POST");
        let body_params = if is_post {
            form_params(req.body)
        } else {
            Vec::new()
        };
        let expected = signature(token.as_bytes(), req.url, &body_params);
        if !ct_eq(expected.as_bytes(), given.as_bytes()) {
            return Err(ReceiptError::Forged);
        }
        let params = if is_post {
            body_params
        } else {
            query_params(req.url)
        };
        if let Some(call) = non_empty(&params, "CallSid") {
            return voice::call_receipts(call, &params);
        }
        let sid = non_empty(&params, "MessageSid")
            .ok_or_else(|| ReceiptError::Malformed("no MessageSid".into()))?;
        let status = non_empty(&params, "MessageStatus")
            .ok_or_else(|| ReceiptError::Malformed("no MessageStatus".into()))?;
        Ok(delivery_status(status)
            .map(|status| Receipt {
                message_id: sid.to_string(),
                status,
                detail: non_empty(&params, "ErrorCode").map(str::to_string),
            })
            .into_iter()
            .collect())
    }
}
