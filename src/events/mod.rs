//! Events to tenants (`docs/events.md`): what one event is and the JSON its receiver
//! gets. [`send`] makes one signed attempt to deliver it.
//!
//! An event says what happened to one verification (or one fraud block) in the shape
//! `{type, timestamp, data: {id, tenant, channel, status, seq, delivery?, reason?,
//! to_masked}}`. It never carries the code nor the full number or address: the only
//! way to put a destination into [`EventData`] is [`EventData::new`], which keeps its
//! masked form alone, and free text (a vendor's detail, a reason) goes through
//! `mask_digit_runs` first.
//!
//! `seq` counts the events of one verification from 1, so a receiver can see (and the
//! worker keeps) their order. The event id (`evt_` + 24 hex) is made once, when the
//! event is made, and repeated on every retry: it is the `webhook-id` a receiver
//! de-duplicates by.

pub mod emit;
pub mod order;
pub mod send;
pub mod worker;

pub use emit::Emitter;

use crate::domain::{mask_digit_runs, Channel, Destination};
use serde::{Deserialize, Serialize};

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventType {
    /// A check matched the code.
    #[serde(rename = "verification.approved")]
    VerificationApproved,
    /// The verification was canceled by the tenant.
    #[serde(rename = "verification.canceled")]
    VerificationCanceled,
    /// The last allowed wrong check was made.
    #[serde(rename = "verification.max_attempts")]
    VerificationMaxAttempts,
    /// The code's TTL passed while it was pending.
    #[serde(rename = "verification.expired")]
    VerificationExpired,
    /// A provider accepted a message.
    #[serde(rename = "delivery.sent")]
    DeliverySent,
    /// A receipt said the message arrived.
    #[serde(rename = "delivery.delivered")]
    DeliveryDelivered,
    /// No provider could send it, or a receipt said it did not arrive.
    #[serde(rename = "delivery.failed")]
    DeliveryFailed,
    /// The pumping guard refused a send.
    #[serde(rename = "fraud.blocked")]
    FraudBlocked,
}

impl EventType {
    /// Every type, in the order of `config::EVENT_TYPES`.
    pub const ALL: [EventType; 8] = [
        EventType::VerificationApproved,
        EventType::VerificationCanceled,
        EventType::VerificationMaxAttempts,
        EventType::VerificationExpired,
        EventType::DeliverySent,
        EventType::DeliveryDelivered,
        EventType::DeliveryFailed,
        EventType::FraudBlocked,
    ];

    /// The type as the payload and `[tenants.<id>.events] types` write it.
    pub fn as_str(self) -> &'static str {
        crate::config::EVENT_TYPES[Self::ALL.iter().position(|t| *t == self).unwrap_or(0)]
    }
}

/// What a delivery event says about the message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryData {
    /// The provider instance's name in config.
    pub provider: String,
    /// The provider's message id, when it gave one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// `sent`, `delivered`, `undelivered` or `failed`.
    pub status: String,
}

/// The `data` of an event. Built by [`EventData::new`] only, so it holds a masked
/// destination and never a number, an address or a code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventData {
    /// The verification id (`vrf_…`, `dlv_…`).
    pub id: String,
    /// The tenant id.
    pub tenant: String,
    /// The channel (`sms`, `whatsapp`, `voice`, `email`).
    pub channel: String,
    /// The verification's status after the event (`pending`, `approved`, …).
    pub status: String,
    /// The event's place among its verification's events, from 1.
    pub seq: u64,
    /// The message, for `delivery.*` events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery: Option<DeliveryData>,
    /// Why, where there is a reason (a refusal, a failure), digit runs masked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The destination, masked (`+4479******89`, `j***@example.com`).
    to_masked: String,
}

impl EventData {
    /// The data of event number `seq` of verification `id`, sent to `to`.
    pub fn new(
        id: &str,
        tenant: &str,
        channel: Channel,
        status: &str,
        seq: u64,
        to: &Destination,
    ) -> Self {
        EventData {
            id: id.into(),
            tenant: tenant.into(),
            channel: channel.as_str().into(),
            status: status.into(),
            seq,
            delivery: None,
            reason: None,
            to_masked: to.masked(),
        }
    }

    /// With the message's provider, id and status.
    pub fn with_delivery(mut self, provider: &str, message_id: Option<&str>, status: &str) -> Self {
        self.delivery = Some(DeliveryData {
            provider: provider.into(),
            message_id: message_id.map(Into::into),
            status: status.into(),
        });
        self
    }

    /// With a reason (its digit runs masked: vendor text may echo a number).
    pub fn with_reason(mut self, reason: &str) -> Self {
        self.reason = Some(mask_digit_runs(reason));
        self
    }

    /// The masked destination.
    pub fn to_masked(&self) -> &str {
        &self.to_masked
    }
}

/// One event: its id (`webhook-id`), type, time and data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// `evt_` + 24 hex digits, the same on every retry.
    pub id: String,
    /// What happened.
    #[serde(rename = "type")]
    pub kind: EventType,
    /// When it happened, Unix seconds.
    pub at_secs: i64,
    /// About what.
    pub data: EventData,
}

impl Event {
    /// A new event with a fresh id.
    pub fn new(kind: EventType, at_secs: i64, data: EventData) -> Self {
        let id = format!("evt_{}", hex::encode(crate::crypto::random_bytes::<12>()));
        Event {
            id,
            kind,
            at_secs,
            data,
        }
    }

    /// The JSON body the receiver gets: `{type, timestamp, data}`, the timestamp in
    /// RFC 3339 (UTC).
    pub fn body(&self) -> Vec<u8> {
        let ts = time::OffsetDateTime::from_unix_timestamp(self.at_secs)
            .ok()
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_default();
        serde_json::to_vec(&serde_json::json!({
            "type": self.kind,
            "timestamp": ts,
            "data": self.data,
        }))
        .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests;
