//! SMS providers: the [`SmsProvider`] trait, its error model, and one folder per vendor.
//!
//! A provider takes an [`OutboundMessage`] and returns the provider's message id, or a
//! [`ProviderError`] that says what kind of failure it was and whether trying again can
//! help. Retry policy lives in the queue and asks only `retryable`, so a rejected number
//! is never retried. Adapters: `console` (development) and `webhook` (your own endpoint).
//! The dev outbox (`outbox`) records what was handed to a provider, for `GET /dev/outbox`.

pub mod console;
pub mod http;
pub mod outbox;
mod registry;
pub mod webhook;

pub use registry::ProviderConfig;

use crate::domain::{mask_number, Millis, VerificationId};
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
    /// Destination, E.164.
    pub to: String,
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
            .field("to", &mask_number(&self.to))
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

/// A way to get a text message to a phone.
#[async_trait]
pub trait SmsProvider: Send + Sync + 'static {
    /// The adapter kind (`twilio`, `webhook`, …), for logs and labels.
    fn kind(&self) -> &'static str;
    /// Hands the message over; returns the provider's message id.
    async fn send(&self, msg: &OutboundMessage) -> Result<String, ProviderError>;
}
