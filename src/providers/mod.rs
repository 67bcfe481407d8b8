//! SMS providers: the [`SmsProvider`] trait, its error model, and one folder per vendor.
//!
//! A provider takes an [`OutboundMessage`] and returns the provider's message id, or a
//! [`ProviderError`] that says what kind of failure it was and whether trying again can
//! help. Retry policy lives in the delivery router and asks only `retryable`, so a
//! rejected number is never retried. Every vendor adapter counts an accepted (2xx)
//! answer without a readable message id as sent, under the verification id
//! ([`http::accepted_id`]): the provider took the message, and a failure would invite a
//! second, paid, send. Adapters: `console` (development), `webhook` (your
//! own endpoint), and the vendors `twilio`, `vonage`, `sinch`, `telnyx`, `plivo`,
//! `messagebird` and `aws_sns`. Each vendor folder has `config.rs` (settings; credentials
//! are [`crate::secret::Secret`], so the derived `Debug` prints `<redacted>`), `error.rs` (the vendor's documented codes to [`ErrorKind`] and
//! retryability) and `mod.rs` (the request, the answer, receipts). `callback`, `http`
//! and `settings` hold what adapters share. The dev outbox (`outbox`) records what was handed to a
//! provider, for `GET /dev/outbox`.

pub mod aws_sns;
pub mod callback;
pub mod console;
pub mod http;
pub mod messagebird;
pub mod outbox;
pub mod plivo;
mod registry;
pub mod settings;
pub mod sinch;
pub mod telnyx;
pub mod twilio;
pub mod vonage;
pub mod webhook;

pub use registry::ProviderConfig;

use crate::domain::{Millis, PhoneNumber, VerificationId};
use async_trait::async_trait;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// A message on its way out. `Debug` hides the body (it holds the code) and the number.
#[derive(Clone)]
pub struct OutboundMessage {
    /// Verification the message belongs to.
    pub id: VerificationId,
    /// Tenant.
    pub tenant: String,
    /// Destination (E.164, with its region).
    pub to: PhoneNumber,
    /// Full text, code included.
    pub body: String,
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
            .field("to", &self.to)
            .field("body", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish()
    }
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

/// A delivery-receipt callback as it reached `POST /v1/receipts/{provider}`.
#[derive(Debug)]
pub struct ReceiptRequest<'a> {
    /// HTTP method (`POST`, or `GET` for vendors that call back with a query string).
    pub method: &'a str,
    /// The full public URL the vendor called, query included (what signatures cover).
    pub url: &'a str,
    /// Request headers.
    pub headers: &'a ::http::HeaderMap,
    /// Raw body.
    pub body: &'a [u8],
}

/// One delivery update parsed from a receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The provider's message id (what `send` returned).
    pub message_id: String,
    /// New status: `Sent`, `Delivered`, `Undelivered` or `Failed`.
    pub status: crate::domain::DeliveryStatus,
    /// Vendor detail (error code), for logs.
    pub detail: Option<String>,
}

/// Why a receipt was refused. Nothing changes for any of these.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptError {
    /// This adapter has no receipts (answered 404).
    #[error("this provider sends no delivery receipts")]
    NotSupported,
    /// No signature (or token) where one is required (401).
    #[error("the receipt is not signed")]
    Unsigned,
    /// A signature that does not verify, or a stale timestamp (403).
    #[error("the receipt signature does not verify")]
    Forged,
    /// Signed but unreadable (400).
    #[error("malformed receipt: {0}")]
    Malformed(String),
}

/// A way to get a text message to a phone.
#[async_trait]
pub trait SmsProvider: Send + Sync + 'static {
    /// The adapter kind (`twilio`, `webhook`, …), for logs and labels.
    fn kind(&self) -> &'static str;
    /// Hands the message over; returns the provider's message id.
    async fn send(&self, msg: &OutboundMessage) -> Result<String, ProviderError>;
    /// Verifies and parses a delivery-receipt callback. The default: no receipts.
    fn parse_receipt(&self, req: &ReceiptRequest<'_>) -> Result<Vec<Receipt>, ReceiptError> {
        let _ = req;
        Err(ReceiptError::NotSupported)
    }
}
