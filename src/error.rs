//! The one error type of the gateway and its mapping to transports.
//!
//! Every failure a caller can see is an [`Error`] variant with a stable machine-readable
//! `code` (the contract's list), an HTTP status and a retry delay where one applies. The
//! HTTP status ([`Error::http_status`]) is decided here and nowhere else;
//! `api/http/problem.rs` renders it as problem+json, and `api/grpc/status.rs` maps the
//! status to its gRPC code (one table) with `google.rpc` details. This module names
//! no transport. Internal detail (store
//! errors, provider bodies) goes to the log, never into the response.
//!
//! [`StoreError`] lives here too: what a failed call to the shared state means, one type
//! for the store, the queue and the limits, below all three.

use std::time::Duration;

/// Result alias used across the service layer.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong for a caller, in the contract's terms.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is malformed: bad JSON, wrong content type, unknown field, bad value.
    #[error("{0}")]
    InvalidRequest(String),
    /// The request body is not JSON as declared (`415`).
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// `to` is not a possible, valid E.164 number.
    #[error("{0}")]
    InvalidPhoneNumber(String),
    /// `to` is not an email address this gateway sends to (channel `email`).
    #[error("{0}")]
    InvalidEmail(String),
    /// The channel is not one this gateway delivers.
    #[error("channel `{0}` is not supported; use `sms`, `whatsapp`, `voice` or `email`")]
    UnsupportedChannel(String),
    /// The tenant has not enabled this channel (or no provider is routed for it).
    #[error("channel `{channel}` is not enabled for this tenant: {reason}")]
    ChannelNotEnabled {
        /// The channel asked for.
        channel: &'static str,
        /// Machine-readable reason: `channel_disabled` or `no_provider`.
        reason: &'static str,
    },
    /// The code is not 4..10 ASCII digits.
    #[error("{0}")]
    InvalidCodeFormat(String),
    /// Missing, garbled or unknown API key.
    #[error("{0}")]
    Unauthorized(String),
    /// Authenticated but not allowed (a forged receipt signature, an admin call without
    /// the admin key).
    #[error("{0}")]
    Forbidden(String),
    /// The destination is refused by policy.
    #[error("destination blocked: {reason}")]
    DestinationBlocked {
        /// Machine-readable reason, for example `country_not_allowed`.
        reason: String,
    },
    /// The pumping guard wants proof of a human first: retry with
    /// `risk_context.challenge_passed` once the end user passed a challenge.
    #[error("a challenge is required: {reason}")]
    ChallengeRequired {
        /// Machine-readable reason, for example `country_suspended`.
        reason: String,
    },
    /// A limit was hit; `reason` names which one.
    #[error("{detail}")]
    RateLimited {
        /// Machine-readable limit name, for example `resend_cooldown`.
        reason: &'static str,
        /// Human-readable explanation.
        detail: String,
        /// When the caller may try again.
        retry_after: Duration,
    },
    /// The verification has used up its sends.
    #[error("this verification has used all its sends; a new one can start after it expires")]
    MaxSendsReached {
        /// Time until the verification expires.
        retry_after: Duration,
    },
    /// The verification has used up its check attempts.
    #[error("no check attempts left for this verification")]
    MaxAttemptsReached {
        /// Time until the verification expires.
        retry_after: Duration,
    },
    /// Nothing pending matches (never started, expired, approved, canceled, other tenant).
    #[error("{0}")]
    NotFound(String),
    /// No such delivery-only send (never made, past retention, expired for a
    /// confirmation, malformed id, another tenant's).
    #[error("{0}")]
    DeliveryNotFound(String),
    /// A workflow cannot move on: the verification runs none, is on its last step, or
    /// is no longer pending.
    #[error("{0}")]
    NoNextStep(String),
    /// The idempotency key was used with another body, or is in use right now.
    #[error("{0}")]
    IdempotencyConflict(String),
    /// No such route.
    #[error("{0}")]
    RouteNotFound(String),
    /// The route exists but not with this method.
    #[error("method not allowed on this endpoint")]
    MethodNotAllowed,
    /// The body is larger than the configured limit.
    #[error("request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    /// The store (or the delivery queue) does not answer.
    #[error("{detail}")]
    StoreUnavailable {
        /// Human-readable explanation, free of internals.
        detail: String,
        /// Suggested retry delay.
        retry_after: Duration,
    },
    /// A bug or an unexpected state; detail is logged, not returned.
    #[error("internal error")]
    Internal(String),
}

impl Error {
    /// The contract's stable `code`.
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidRequest(_) | Error::UnsupportedMediaType(_) => "invalid_request",
            Error::InvalidPhoneNumber(_) => "invalid_phone_number",
            Error::InvalidEmail(_) => "invalid_email",
            Error::UnsupportedChannel(_) => "unsupported_channel",
            Error::ChannelNotEnabled { .. } => "channel_not_enabled",
            Error::InvalidCodeFormat(_) => "invalid_code_format",
            Error::Unauthorized(_) => "unauthorized",
            Error::DestinationBlocked { .. } => "destination_blocked",
            Error::ChallengeRequired { .. } => "challenge_required",
            Error::Forbidden(_) => "forbidden",
            Error::RateLimited { .. } => "rate_limited",
            Error::MaxSendsReached { .. } => "max_sends_reached",
            Error::MaxAttemptsReached { .. } => "max_attempts_reached",
            Error::NotFound(_) => "verification_not_found",
            Error::DeliveryNotFound(_) => "delivery_not_found",
            Error::RouteNotFound(_) => "not_found",
            Error::MethodNotAllowed => "method_not_allowed",
            Error::IdempotencyConflict(_) => "idempotency_conflict",
            Error::NoNextStep(_) => "no_next_step",
            Error::PayloadTooLarge(_) => "payload_too_large",
            Error::StoreUnavailable { .. } => "store_unavailable",
            Error::Internal(_) => "internal",
        }
    }

    /// HTTP status code for this error.
    pub fn http_status(&self) -> u16 {
        match self {
            Error::InvalidRequest(_)
            | Error::InvalidPhoneNumber(_)
            | Error::InvalidEmail(_)
            | Error::UnsupportedChannel(_)
            | Error::InvalidCodeFormat(_) => 400,
            Error::UnsupportedMediaType(_) => 415,
            Error::Unauthorized(_) => 401,
            Error::DestinationBlocked { .. }
            | Error::ChallengeRequired { .. }
            | Error::ChannelNotEnabled { .. }
            | Error::Forbidden(_) => 403,
            Error::NotFound(_) | Error::DeliveryNotFound(_) | Error::RouteNotFound(_) => 404,
            Error::MethodNotAllowed => 405,
            Error::IdempotencyConflict(_) | Error::NoNextStep(_) => 409,
            Error::PayloadTooLarge(_) => 413,
            Error::RateLimited { .. }
            | Error::MaxSendsReached { .. }
            | Error::MaxAttemptsReached { .. } => 429,
            Error::StoreUnavailable { .. } => 503,
            Error::Internal(_) => 500,
        }
    }

    /// How long the caller should wait, for errors where waiting helps.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::RateLimited { retry_after, .. }
            | Error::MaxSendsReached { retry_after }
            | Error::MaxAttemptsReached { retry_after }
            | Error::StoreUnavailable { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }

    /// The limit name carried as `reason` in the problem document, if any.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Error::RateLimited { reason, .. } => Some(reason),
            Error::DestinationBlocked { reason } | Error::ChallengeRequired { reason } => {
                Some(reason)
            }
            Error::ChannelNotEnabled { reason, .. } => Some(reason),
            _ => None,
        }
    }

    /// A store outage, with the standard retry hint.
    pub fn store_unavailable(detail: impl Into<String>) -> Self {
        Error::StoreUnavailable {
            detail: detail.into(),
            retry_after: Duration::from_secs(1),
        }
    }

    /// The memory store at its cap: room comes back as entries expire.
    pub fn store_full(retry_after: Duration) -> Self {
        Error::StoreUnavailable {
            detail: "the verification store is full; try again later".into(),
            retry_after,
        }
    }
}

/// What a failed call to the shared state (store, queue, limits, the pumping guard's
/// counters) means to a caller: the backend did not answer in time or at all. Mapped to
/// `503 store_unavailable`. It lives here, below every module that reports it, so the
/// trait modules (`store`, `queue`, `ratelimit`) share it without importing each other;
/// `store` re-exports it as `store::StoreError`.
#[derive(Debug, thiserror::Error)]
#[error("store unavailable: {0}")]
pub struct StoreError(pub String);

/// Result of a call to the shared state.
pub type StoreResult<T> = std::result::Result<T, StoreError>;

/// Whole seconds for a `Retry-After` header: rounded up, at least 1.
pub fn retry_after_secs(d: Duration) -> u64 {
    let secs = d.as_millis().div_ceil(1000) as u64;
    secs.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_rounds_up_and_is_at_least_one_second() {
        assert_eq!(retry_after_secs(Duration::from_millis(0)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1001)), 2);
        assert_eq!(retry_after_secs(Duration::from_secs(30)), 30);
    }

    #[test]
    fn every_429_and_503_has_a_retry_delay() {
        let d = Duration::from_secs(3);
        let errors = [
            Error::RateLimited {
                reason: "x",
                detail: String::new(),
                retry_after: d,
            },
            Error::MaxSendsReached { retry_after: d },
            Error::MaxAttemptsReached { retry_after: d },
            Error::store_unavailable("down"),
        ];
        for e in errors {
            assert!(matches!(e.http_status(), 429 | 503));
            assert!(e.retry_after().is_some(), "{e:?}");
        }
    }
}
