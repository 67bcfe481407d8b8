//! A verification as the store keeps it and the API shows it, and its small value types
//! (its id is in `id.rs`).

use super::{Channel, Destination, Millis, VerificationId};
use crate::error::Error;
use std::fmt;

macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident => $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum $name { $($(#[$vm])* $v),+ }
        impl $name {
            /// The contract's name for this value.
            pub fn as_str(self) -> &'static str { match self { $($name::$v => $s),+ } }
            /// Parses the contract's name; `None` for anything else.
            pub fn from_name(s: &str) -> Option<Self> { match s { $($s => Some($name::$v),)+ _ => None } }
        }
    };
}

string_enum!(
    /// Lifecycle of a verification.
    Status {
        /// Code sent (or queued), not yet approved.
        Pending => "pending",
        /// The right code was checked; it is used up.
        Approved => "approved",
        /// Canceled by the backend.
        Canceled => "canceled",
        /// The code's TTL passed while pending.
        Expired => "expired",
        /// All check attempts were used on wrong codes.
        MaxAttemptsReached => "max_attempts_reached",
        /// Delivery failed for good.
        Failed => "failed",
    }
);

string_enum!(
    /// Where the message is on its way to the phone.
    DeliveryStatus {
        /// Waiting in the queue.
        Queued => "queued",
        /// A worker is handing it to a provider (or retrying).
        Sending => "sending",
        /// A provider accepted it.
        Sent => "sent",
        /// The provider reported it delivered.
        Delivered => "delivered",
        /// The provider reported it could not be delivered.
        Undelivered => "undelivered",
        /// Every attempt failed, or a permanent rejection.
        Failed => "failed",
        /// The code expired before any provider accepted it.
        Expired => "expired",
    }
);

/// Delivery state shown in `delivery`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// Current delivery status.
    pub status: DeliveryStatus,
    /// Provider that last handled the message.
    pub provider: Option<String>,
    /// When the status last changed.
    pub updated_at: Millis,
    /// Why the message failed or was not delivered (given with that status; cleared by
    /// the next change). Never holds the code.
    pub reason: Option<String>,
}

impl Delivery {
    /// A send just queued at `now`, no provider yet.
    pub fn queued(now: Millis) -> Self {
        Delivery {
            status: DeliveryStatus::Queued,
            provider: None,
            updated_at: now,
            reason: None,
        }
    }
}

/// A BCP 47 language tag as given (`en`, `pt-BR`), checked for shape only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Locale(String);

impl Locale {
    /// Letters, digits and hyphens in 2..8-character subtags, first subtag 2..3 letters.
    pub fn parse(s: &str) -> Result<Self, Error> {
        let mut parts = s.split('-');
        let first = parts.next().unwrap_or_default();
        let ok = s.len() <= 35
            && (2..=3).contains(&first.len())
            && first.bytes().all(|b| b.is_ascii_alphabetic())
            && parts.all(|p| {
                (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric())
            });
        if ok {
            Ok(Locale(s.to_string()))
        } else {
            Err(Error::InvalidRequest(
                "`locale` must be a BCP 47 tag such as `en` or `pt-BR`".into(),
            ))
        }
    }

    /// The tag.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The 11-character Android SMS Retriever app hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppHash(String);

impl AppHash {
    /// Exactly 11 characters of the base64 alphabet.
    pub fn parse(s: &str) -> Result<Self, Error> {
        let ok = s.len() == 11
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/');
        if ok {
            Ok(AppHash(s.to_string()))
        } else {
            Err(Error::InvalidRequest(
                "`app_hash` must be 11 characters of [A-Za-z0-9+/]".into(),
            ))
        }
    }

    /// The hash.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A verification record as stored. The code itself is never here: only its MAC and the
/// seed it is derived from under the server secret (see [`crate::crypto`]).
#[derive(Clone, PartialEq, Eq)]
pub struct Verification {
    /// Public id.
    pub id: VerificationId,
    /// Owning tenant.
    pub tenant: String,
    /// Destination (a number, or an address for email).
    pub to: Destination,
    /// Channel of the current (last) send.
    pub channel: Channel,
    /// Stored status (see [`Verification::status_at`] for the status shown).
    pub status: Status,
    /// Creation instant.
    pub created_at: Millis,
    /// When the code stops being accepted.
    pub expires_at: Millis,
    /// Messages sent so far (first send included).
    pub send_count: u32,
    /// Cap on sends for this verification.
    pub max_sends: u32,
    /// Earliest instant a resend is accepted.
    pub next_resend_at: Millis,
    /// When each send after the first went out, oldest first (the first is
    /// `created_at`); at most `max_sends - 1`. Records written before these were kept
    /// have fewer than `send_count - 1`: see [`Verification::send_times`].
    pub resent_at: Vec<Millis>,
    /// Check attempts left.
    pub attempts_left: u32,
    /// Delivery state.
    pub delivery: Delivery,
    /// Caller metadata, raw JSON object text.
    pub metadata: Option<String>,
    /// Requested locale.
    pub locale: Option<String>,
    /// Named template requested.
    pub template: Option<String>,
    /// Digits in the code.
    pub code_length: u8,
    /// 16-byte seed the code is derived from under the server secret.
    pub seed: Vec<u8>,
    /// The workflow it runs, if it was started with one.
    pub workflow: Option<super::Workflow>,
    /// The workflow's steps that are over, oldest first (the current step's state is
    /// `channel` and `delivery`).
    pub past_steps: Vec<super::StepRecord>,
}

impl Verification {
    /// Status as callers see it at `now`: a pending one past its TTL is `expired`.
    pub fn status_at(&self, now: Millis) -> Status {
        match self.status {
            Status::Pending | Status::MaxAttemptsReached if now >= self.expires_at => {
                if self.status == Status::Pending {
                    Status::Expired
                } else {
                    Status::MaxAttemptsReached
                }
            }
            s => s,
        }
    }

    /// Delivery status as callers see it at `now`: unsent past the TTL is `expired`.
    pub fn delivery_status_at(&self, now: Millis) -> DeliveryStatus {
        match self.delivery.status {
            DeliveryStatus::Queued | DeliveryStatus::Sending if now >= self.expires_at => {
                DeliveryStatus::Expired
            }
            s => s,
        }
    }

    /// When each of the `send_count` sends went out, first to last. The times kept
    /// are the last sends' (a record written before they were kept, then resent,
    /// has only the later ones); a send without one shows the first send's time.
    pub fn send_times(&self) -> Vec<Millis> {
        let n = self.send_count.max(1) as usize;
        let kept = &self.resent_at[self.resent_at.len().saturating_sub(n - 1)..];
        let mut t = vec![self.created_at; n - kept.len()];
        t.extend_from_slice(kept);
        t
    }

    /// Sends left before `max_sends_reached`.
    pub fn sends_remaining(&self) -> u32 {
        self.max_sends.saturating_sub(self.send_count)
    }
}

impl fmt::Debug for Verification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verification")
            .field("id", &self.id)
            .field("tenant", &self.tenant)
            .field("to", &self.to)
            .field("status", &self.status)
            .field("expires_at", &self.expires_at)
            .field("send_count", &self.send_count)
            .field("attempts_left", &self.attempts_left)
            .field("delivery", &self.delivery)
            .field("workflow", &self.workflow)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locale_and_app_hash_shapes() {
        assert!(Locale::parse("pt-BR").is_ok());
        assert!(Locale::parse("en").is_ok());
        assert!(Locale::parse("e").is_err());
        assert!(Locale::parse("en_US").is_err());
        assert!(AppHash::parse("FA+9qCX9VSu").is_ok());
        assert!(AppHash::parse("short").is_err());
        assert!(AppHash::parse("FA+9qCX9VS\n").is_err());
    }
}
