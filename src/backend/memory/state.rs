//! The memory store's state under its one lock: the records, the indexes and counters,
//! the idempotency entries, the provider-message links and the send queue, each a
//! [`TtlMap`] (or the queue's own state), keyed as the Redis keys are.

use super::idem::Idem;
use super::queue::QueueState;
use super::ttl_map::TtlMap;
use crate::domain::{Delivery, DeliveryStatus, Millis, Verification};
use crate::store::NumberRef;

#[derive(Debug, Clone)]
pub(super) struct Record {
    pub v: Verification,
    pub mac: [u8; 32],
    /// Receipts applied ([`crate::store::receipt_mark`]), so a replay changes nothing.
    pub receipts: Vec<String>,
}

impl Inner {
    /// Drops every entry expired at `now` (the purge task's round).
    pub fn purge(&mut self, now: Millis) {
        self.records.purge(now);
        self.index.purge(now);
        self.lookups.purge(now);
        self.counters.purge(now);
        self.fail_tats.purge(now);
        self.idem.purge(now);
        self.provider_messages.purge(now);
    }
}

impl Record {
    /// Moves the delivery status by [`crate::store::delivery_moves`]; true when it moved.
    pub fn progress(
        &mut self,
        status: DeliveryStatus,
        provider: Option<&str>,
        reason: Option<&str>,
        now: Millis,
    ) -> bool {
        if !crate::store::delivery_moves(self.v.delivery.status, status) {
            return false;
        }
        self.v.delivery = Delivery {
            status,
            provider: provider
                .map(str::to_string)
                .or(self.v.delivery.provider.take()),
            updated_at: now,
            reason: reason
                .filter(|r| !r.is_empty())
                .map(crate::store::bounded_reason),
        };
        true
    }
}

#[derive(Debug, Default)]
pub(super) struct Inner {
    pub records: TtlMap<Record>,
    pub index: TtlMap<String>,
    /// The support lookup's index: per destination, (created_at, id), newest first.
    pub lookups: TtlMap<Vec<(Millis, String)>>,
    pub counters: TtlMap<u32>,
    pub fail_tats: TtlMap<f64>,
    pub idem: TtlMap<Idem>,
    pub provider_messages: TtlMap<crate::store::MessageLink>,
    pub queue: QueueState,
    /// Workflow step timers: (due, `<id>|<step>`), as each shard's timer set in Redis.
    pub timers: std::collections::BTreeSet<(Millis, String)>,
}

/// The index of the verification pending for a number.
pub(super) fn index_key(n: &NumberRef) -> String {
    format!("{}:{}:{}", n.tenant, n.key, n.channel.as_str())
}

/// A number's counter of `kind`.
pub(super) fn counter_key(kind: &str, n: &NumberRef) -> String {
    format!("{kind}:{}:{}", n.tenant, n.key)
}

impl Inner {
    /// A counter's value and time to live (both 0 when absent).
    pub fn counter(&self, key: &str, now: Millis) -> (u32, i64) {
        match (self.counters.get(key, now), self.counters.expiry(key, now)) {
            (Some(c), Some(exp)) => (*c, exp - now),
            _ => (0, 0),
        }
    }

    /// Adds one to a counter, starting its window when absent.
    pub fn bump(&mut self, key: String, window_ms: i64, now: Millis) {
        match self.counters.get_mut(&key, now) {
            Some(c) => *c += 1,
            None => self.counters.insert(key, 1, now + window_ms),
        }
    }
}
