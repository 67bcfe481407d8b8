//! Events to tenants as an operator sees them: the dead letters, newest first, for
//! `GET /v1/admin/events/dead` and the console. Transport-free: a handler parses the
//! `limit` and shapes nothing.

use super::*;
use crate::events::Event;
use serde::Serialize;

/// The most dead letters one call lists.
pub const DEAD_EVENTS_MAX: usize = 500;

/// One dead-lettered event: never its body, so no masked number either.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeadEventView {
    /// The event id (`webhook-id`).
    pub id: String,
    /// The event type.
    #[serde(rename = "type")]
    pub kind: String,
    /// The tenant.
    pub tenant: String,
    /// The verification (or delivery) it was about.
    pub verification: String,
    /// Its place among the verification's events.
    pub seq: u64,
    /// Attempts made (0: an earlier event of its verification was dead-lettered).
    pub attempts: u32,
    /// The last failure, or the earlier event it waited for.
    pub reason: String,
    /// When it was dead-lettered, RFC 3339.
    pub dead_at: String,
}

impl Service {
    /// Queues a `kind` event about `v` for its tenant, when it wants it (a queue that
    /// does not answer is logged and counted, never the caller's failure).
    pub(crate) async fn emit(&self, kind: crate::events::EventType, v: &Verification) {
        self.inner.fleet.events.emit(kind, v, |d| d).await;
    }

    /// The events queue's depth, for the metrics; `None` when no tenant has an
    /// `[events]` section (nothing is read then) or the queue does not answer.
    pub async fn events_depth(&self) -> Option<crate::queue::events::EventsDepth> {
        let events = &self.inner.fleet.events;
        if !events.any() {
            return None;
        }
        events.queue().depth().await.ok()
    }

    /// Queues `fraud.blocked` when `e` is a refusal by the pumping guard and the tenant
    /// wants it. The refused send has no verification: the event names a fresh id of
    /// the number's shard, which no record will ever have.
    pub(super) async fn emit_blocked(
        &self,
        tenant: &Tenant,
        channel: Channel,
        to: &Destination,
        e: &Error,
    ) {
        let events = &self.inner.fleet.events;
        if !events.wants(&tenant.id, crate::events::EventType::FraudBlocked) {
            return;
        }
        let Some(reason) = super::stats::guard_refusal(e) else {
            return;
        };
        let shard = self.number_ref(tenant, to).shard;
        let Ok(id) = VerificationId::generate(shard) else {
            return;
        };
        events
            .emit_refused(&id, &tenant.id, channel, to, &reason)
            .await;
    }

    /// The newest `limit` (1..=[`DEAD_EVENTS_MAX`]) dead-lettered events, newest first.
    pub async fn dead_events(&self, limit: usize) -> Result<Vec<DeadEventView>> {
        if !(1..=DEAD_EVENTS_MAX).contains(&limit) {
            return Err(Error::InvalidRequest(format!(
                "limit must be between 1 and {DEAD_EVENTS_MAX}"
            )));
        }
        let dead = self
            .inner
            .fleet
            .events
            .queue()
            .dead_letters(limit)
            .await
            .map_err(|e| unavailable(StoreError(e.0)))?;
        Ok(dead
            .into_iter()
            .filter_map(|d| {
                let e: Event = serde_json::from_str(&d.text).ok()?;
                Some(DeadEventView {
                    id: e.id,
                    kind: e.kind.as_str().into(),
                    tenant: e.data.tenant,
                    verification: e.data.id,
                    seq: d.seq,
                    attempts: d.attempts,
                    reason: d.reason,
                    dead_at: crate::domain::rfc3339(d.at_ms),
                })
            })
            .collect())
    }
}
