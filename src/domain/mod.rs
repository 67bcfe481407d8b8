//! Domain types: inputs parsed once at the edge into values that cannot be invalid.
//!
//! Handlers turn transport input into these types and the service layer only ever sees
//! them: a [`PhoneNumber`] is normalised E.164 and valid, an [`OtpCode`] is 4..10 digits,
//! a [`VerificationId`] (or [`DeliveryId`]) has our shape and names its store shard, a
//! [`CheckClient`] names the end user a check comes from. [`gsm`] is how a text goes on the air (GSM-7 or
//! UCS-2) and in how many segments: the templates count them, an adapter picks its
//! encoding by it.

mod client;
mod client_net;
mod code;
mod country;
mod destination;
mod email;
pub mod gsm;
mod id;
mod phone;
mod risk;
mod verification;
mod workflow;

pub use client::{parse_client_ip, CheckClient, ClientSession};
pub use client_net::ClientNet;
pub use code::{uniform_below, CodeLength, OtpCode};
pub use country::is_iso_country;
pub use destination::{Channel, Destination};
pub use email::EmailAddress;
pub use id::{DeliveryId, RecordKind, VerificationId};
pub use phone::{mask_digit_runs, mask_number, PhoneNumber};
pub use risk::RiskContext;
pub use verification::{AppHash, Delivery, DeliveryStatus, Locale, Status, Verification};
pub use workflow::{Step, StepRecord, Workflow, WorkflowName};

/// Milliseconds since the Unix epoch; the one clock unit stores and scripts share.
pub type Millis = i64;

/// Current wall-clock time in [`Millis`].
pub fn now_millis() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// RFC 3339 UTC rendering (`2026-11-29T10:00:00Z`) of a [`Millis`] instant.
pub fn rfc3339(ms: Millis) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let t = t.replace_nanosecond(0).unwrap_or(t);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
