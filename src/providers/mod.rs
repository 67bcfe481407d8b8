//! Providers (SMS, and WhatsApp, voice and email where an adapter sends them): the
//! [`SmsProvider`] trait, its error model, and one folder per vendor.
//!
//! A provider takes an [`OutboundMessage`] and returns the provider's message id, or a
//! [`ProviderError`] that says what kind of failure it was and whether trying again can
//! help. Retry policy lives in the delivery router and asks only `retryable`, so a
//! rejected number is never retried. Every vendor adapter counts an accepted (2xx)
//! answer without a readable message id as sent, under the verification id
//! ([`http::accepted_id`]): the provider took the message, and a failure would invite a
//! second, paid, send.
//!
//! Adapters: `console` (development), `webhook` (your own endpoint), and the vendors
//! `twilio`, `vonage`, `sinch`, `telnyx`, `plivo`, `messagebird`, `aws_sns`, `meta`
//! (WhatsApp through Meta's Cloud API), `smpp`, which holds binds to an SMSC open and
//! receives its receipts on them (handed to the delivery side through a
//! [`ReceiptSink`]), and `smtp`, the `email` channel through a mail relay. Each vendor
//! folder has `config.rs` (settings; credentials are [`crate::secret::Secret`], so the
//! derived `Debug` prints `<redacted>`), `error.rs` (the vendor's documented codes to
//! [`ErrorKind`] and retryability) and `mod.rs` (the request, the answer, receipts).
//!
//! Shared by the adapters: `callback`, `http` and `settings`; `receipt` (the receipt
//! types); `speech`, what the voice adapters (`twilio` and `vonage` with their `voice`
//! settings) share; `registry`, building adapters from config. The dev outbox
//! (`outbox`) records what was handed to a provider, for `GET /dev/outbox`.

pub mod aws_sns;
pub mod callback;
pub mod console;
pub mod http;
pub mod messagebird;
pub mod meta;
pub mod outbox;
pub mod plivo;
mod receipt;
mod registry;
pub mod settings;
pub mod sinch;
pub mod smpp;
pub mod smtp;
pub mod speech;
pub mod telnyx;
pub mod twilio;
pub mod vonage;
pub mod webhook;

pub use receipt::{PushedReceipt, Receipt, ReceiptError, ReceiptRequest, ReceiptSink};
pub use registry::ProviderConfig;

use crate::domain::{Channel, Destination, Millis, VerificationId};
use crate::secret::Secret;
use async_trait::async_trait;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// A message on its way out. `Debug` hides the body, the code and the destination.
#[derive(Clone)]
pub struct OutboundMessage {
    /// Verification the message belongs to.
    pub id: VerificationId,
    /// Tenant.
    pub tenant: String,
    /// The channel it goes by; an adapter sends only on the channels it lists in
    /// [`SmsProvider::channels`] (the router never hands it another).
    pub channel: Channel,
    /// Destination: an E.164 number with its region, or an email address (email).
    pub to: Destination,
    /// Full text, code included: the SMS or WhatsApp text, what a call says (the
    /// digits spaced, see [`crate::template`]), or an email's plain-text part.
    pub body: String,
    /// The code alone, for adapters that put it in a field of its own (a WhatsApp
    /// template's parameter, a call's digits). `Debug` prints `<redacted>`.
    pub code: Secret,
    /// The email's subject (channel `email` only).
    pub subject: Option<String>,
    /// The email's HTML part (channel `email` only).
    pub html: Option<String>,
    /// Locale used for the text.
    pub locale: String,
    /// Caller metadata (raw JSON object text).
    pub metadata: Option<String>,
    /// After this instant the code is useless: stop trying.
    pub expires_at: Millis,
    /// Request id of the start that queued it, for log correlation.
    pub request_id: Option<String>,
}

impl fmt::Debug for OutboundMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutboundMessage")
            .field("id", &self.id)
            .field("tenant", &self.tenant)
            .field("channel", &self.channel)
            .field("to", &self.to)
            .field("body", &"<redacted>")
            .field("code", &self.code)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// A price a provider reported for one message.
#[derive(Debug, Clone, PartialEq)]
pub struct Price {
    /// What was billed, 0 or more (vendors that write charges as negative amounts are
    /// turned around).
    pub amount: f64,
    /// The currency the vendor names (`USD`), if it does.
    pub unit: Option<String>,
}

/// What kind of failure a provider reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The destination cannot receive (bad or unreachable number).
    InvalidDestination,
    /// Our credentials were refused.
    Auth,
    /// The content was refused.
    RejectedContent,
    /// The provider asks us to slow down.
    RateLimited,
    /// The provider is down or answered with a server error.
    Unavailable,
    /// No answer in time.
    Timeout,
    /// The provider answered with a redirect, which is never followed (it would carry
    /// the message and the credentials to another host): a wrong base URL, or an
    /// endpoint that sends requests elsewhere. Not retryable on that provider; the
    /// router fails over as for [`ErrorKind::Auth`].
    Redirected,
}

/// A failed send.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{kind:?}: {detail}")]
pub struct ProviderError {
    /// Failure kind.
    pub kind: ErrorKind,
    /// Whether trying again (later, or elsewhere) can succeed.
    pub retryable: bool,
    /// Provider-specific detail for logs (never includes the code or full number).
    pub detail: String,
    /// Delay the provider asked for, if any.
    pub retry_after: Option<Duration>,
}

impl ProviderError {
    /// A failure with the kind's usual retryability.
    pub fn new(kind: ErrorKind, detail: impl Into<String>) -> Self {
        let retryable = matches!(
            kind,
            ErrorKind::RateLimited | ErrorKind::Unavailable | ErrorKind::Timeout
        );
        ProviderError {
            kind,
            retryable,
            detail: detail.into(),
            retry_after: None,
        }
    }
}

/// What a provider accepted: the message's id, and the ids of its later parts when
/// each part has its own (receipts for any of them are matched to the message).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Accepted {
    /// The message id (the first part's).
    pub message_id: String,
    /// The ids of the parts after the first, in order.
    pub other_parts: Vec<String>,
}

/// One long-lived session of a provider (an SMPP bind), for the ops page and metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindView {
    /// Index of the bind within its provider (0-based).
    pub bind: usize,
    /// `connecting`, `bound`, `down` or `refused`.
    pub state: &'static str,
    /// Requests sent and not yet answered.
    pub window_in_use: u32,
    /// Its window.
    pub window: u32,
    /// `submit_sm`s accepted.
    pub submitted: u64,
    /// Failed submits by SMPP status name (and `timeout`, `closed`).
    pub errors: Vec<(&'static str, u64)>,
    /// Delivery receipts received.
    pub receipts: u64,
    /// Mobile-originated messages received (acknowledged, not processed).
    pub mobile_originated: u64,
    /// Sessions lost and bound again, or attempts that failed.
    pub reconnects: u64,
    /// The last reason the bind went down or was refused.
    pub last_error: Option<String>,
    /// The SMPP version the last bind agreed on (`"3.4"`, `"5.0"`; none before one).
    pub version: Option<&'static str>,
}

/// A way to get a text message to a phone.
#[async_trait]
pub trait SmsProvider: Send + Sync + 'static {
    /// The adapter kind (`twilio`, `webhook`, …), for logs and labels.
    fn kind(&self) -> &'static str;
    /// The channels this adapter (as configured) sends on. Routing refuses at start-up
    /// to route a channel to an adapter that does not list it. By default SMS only.
    fn channels(&self) -> Vec<Channel> {
        vec![Channel::Sms]
    }
    /// Hands the message over; returns the provider's message id.
    async fn send(&self, msg: &OutboundMessage) -> Result<String, ProviderError>;
    /// Hands the message over; its message id and the ids of the further parts it went
    /// as, where the provider gives each part its own id and receipt (SMPP). By
    /// default [`SmsProvider::send`]'s one id.
    async fn send_parts(&self, msg: &OutboundMessage) -> Result<Accepted, ProviderError> {
        self.send(msg).await.map(|message_id| Accepted {
            message_id,
            other_parts: Vec::new(),
        })
    }
    /// Verifies and parses a delivery-receipt callback. The default: no receipts.
    fn parse_receipt(&self, req: &ReceiptRequest<'_>) -> Result<Vec<Receipt>, ReceiptError> {
        let _ = req;
        Err(ReceiptError::NotSupported)
    }
    /// Answers a vendor's subscription handshake on the receipts URL, when `req` is one
    /// (Meta's `GET ?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…`): the text
    /// to echo with `200`, or why it is refused. `None` when `req` is no handshake or the
    /// adapter has none (the default); the request then goes to [`Self::parse_receipt`].
    fn handshake(&self, req: &ReceiptRequest<'_>) -> Option<Result<String, ReceiptError>> {
        let _ = req;
        None
    }
    /// Delays before each read of a message's reported price after its final receipt
    /// (the first read waits the first delay; a read with no price yet, or one that
    /// failed and may succeed later, is tried again after the next). Empty (the default):
    /// the instance reads no prices and its spend stays the config's estimate.
    fn price_reads(&self) -> Vec<Duration> {
        Vec::new()
    }
    /// Reads once the price the vendor billed for message `message_id`: `None` while
    /// the vendor has not priced it yet. Only called when [`Self::price_reads`] is not
    /// empty.
    async fn reported_price(&self, message_id: &str) -> Result<Option<Price>, ProviderError> {
        let _ = message_id;
        Ok(None)
    }
    /// The prices a receipt callback carries, by message id, where the vendor writes the
    /// price into its receipts (Vonage's `price`). Called only for a `req` that
    /// [`Self::parse_receipt`] accepted. None by default.
    fn receipt_prices(&self, req: &ReceiptRequest<'_>) -> Vec<(String, Price)> {
        let _ = req;
        Vec::new()
    }
    /// The provider's long-lived sessions; none for request-per-message adapters.
    fn binds(&self) -> Vec<BindView> {
        Vec::new()
    }
    /// Ends the provider's long-lived sessions politely at shutdown (an SMPP `unbind`);
    /// nothing for request-per-message adapters.
    async fn close(&self) {}
}
