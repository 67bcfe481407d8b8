//! A verification as the store keeps it and the API shows it, and its small value types.

use super::Millis;
use crate::error::Error;
use std::fmt;

/// `vrf_` (a verification) or `dlv_` (a delivery-only send, see [`DeliveryId`]) + 4 hex
/// digits naming the store shard + 24 hex digits of randomness (96 bits).
///
/// The shard lets a lookup by id find the same store slot as the number's other keys.
/// Both kinds are one record type in the store and the queue; the prefix tells them
/// apart, and the public parsers take only their own kind.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct VerificationId(String);

/// What a record is: a verification (the gateway made the code and checks it) or a
/// delivery-only send (a code made elsewhere, only delivered).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordKind {
    /// `vrf_`: a verification.
    Verification,
    /// `dlv_`: a delivery-only send.
    Delivery,
}

impl RecordKind {
    fn prefix(self) -> &'static str {
        match self {
            RecordKind::Verification => "vrf_",
            RecordKind::Delivery => "dlv_",
        }
    }

    /// The bounded metric label of the kind.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Verification => "verification",
            RecordKind::Delivery => "delivery",
        }
    }
}

fn well_formed(s: &str, kind: RecordKind) -> bool {
    s.len() == 32
        && s.starts_with(kind.prefix())
        && s[4..]
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl VerificationId {
    /// A fresh verification id in `shard` from the OS CSPRNG.
    pub fn generate(shard: u16) -> Result<Self, Error> {
        Self::generate_kind(shard, RecordKind::Verification)
    }

    /// A fresh id of `kind` in `shard`.
    pub fn generate_kind(shard: u16, kind: RecordKind) -> Result<Self, Error> {
        let mut rnd = [0u8; 12];
        getrandom::fill(&mut rnd).map_err(|e| Error::Internal(format!("os rng: {e}")))?;
        Ok(VerificationId(format!(
            "{}{shard:04x}{}",
            kind.prefix(),
            hex::encode(rnd)
        )))
    }

    /// Parses a verification id from a path or body; anything else (a delivery's id
    /// included) cannot be a verification, so it is "not found".
    pub fn parse(s: &str) -> Result<Self, Error> {
        if well_formed(s, RecordKind::Verification) {
            Ok(VerificationId(s.to_string()))
        } else {
            Err(Error::NotFound("no verification with this id".into()))
        }
    }

    /// Parses a record id of either kind as the store and the queue keep it.
    pub fn parse_stored(s: &str) -> Option<Self> {
        (well_formed(s, RecordKind::Verification) || well_formed(s, RecordKind::Delivery))
            .then(|| VerificationId(s.to_string()))
    }

    /// The kind of record the id names.
    pub fn kind(&self) -> RecordKind {
        if self.0.starts_with("dlv_") {
            RecordKind::Delivery
        } else {
            RecordKind::Verification
        }
    }

    /// The store shard encoded in the id.
    pub fn shard(&self) -> u16 {
        u16::from_str_radix(&self.0[4..8], 16).unwrap_or(0)
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The id of a delivery-only send (`dlv_…`): a record id of the delivery kind, so the
/// delivery endpoints never reach a verification and the verification endpoints never
/// reach a delivery.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct DeliveryId(VerificationId);

impl DeliveryId {
    /// A fresh delivery id in `shard`.
    pub fn generate(shard: u16) -> Result<Self, Error> {
        VerificationId::generate_kind(shard, RecordKind::Delivery).map(DeliveryId)
    }

    /// Parses a delivery id from a path; anything else is "not found".
    pub fn parse(s: &str) -> Result<Self, Error> {
        if well_formed(s, RecordKind::Delivery) {
            Ok(DeliveryId(VerificationId(s.to_string())))
        } else {
            Err(Error::NotFound("no delivery with this id".into()))
        }
    }

    /// The record id the store keeps it under.
    pub fn record(&self) -> &VerificationId {
        &self.0
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

/// Delivery channel. Only SMS for now; the type keeps room for voice and others.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Channel {
    /// Text message.
    Sms,
}

impl Channel {
    /// Parses the API's channel name.
    pub fn parse(s: &str) -> Result<Self, Error> {
        match s {
            "sms" => Ok(Channel::Sms),
            other => Err(Error::UnsupportedChannel(other.chars().take(32).collect())),
        }
    }

    /// The API's channel name.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Sms => "sms",
        }
    }
}

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
    /// Destination.
    pub to: super::PhoneNumber,
    /// Delivery channel.
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
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_round_trips_and_carries_its_shard() {
        let id = VerificationId::generate(0x2a).unwrap();
        assert_eq!(id.as_str().len(), 32);
        assert_eq!(id.shard(), 0x2a);
        assert_eq!(VerificationId::parse(id.as_str()).unwrap(), id);
        for bad in [
            "",
            "vrf_",
            "vrf_XYZ",
            "abc_0000000000000000000000000000",
            "vrf_../../etc/passwd/.......",
        ] {
            assert!(VerificationId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn delivery_ids_are_their_own_kind() {
        let d = DeliveryId::generate(7).unwrap();
        assert!(d.as_str().starts_with("dlv_"));
        assert_eq!(d.record().shard(), 7);
        assert_eq!(d.record().kind(), RecordKind::Delivery);
        assert!(VerificationId::parse(d.as_str()).is_err());
        let v = VerificationId::generate(7).unwrap();
        assert!(DeliveryId::parse(v.as_str()).is_err());
        assert_eq!(
            VerificationId::parse_stored(d.as_str()).unwrap().kind(),
            RecordKind::Delivery
        );
        assert_eq!(VerificationId::parse_stored(v.as_str()).unwrap(), v);
    }

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
