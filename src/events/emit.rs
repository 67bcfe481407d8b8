//! Emitting: turning what happened to a verification into an event on the durable
//! queue ([`crate::queue::events`]), for tenants whose `[events]` section wants its type.
//!
//! An event is appended after the store step it reports on succeeded, as a call of its
//! own (not folded into the store's scripts: the section is per tenant and optional,
//! and the scripts stay as they are). Appending never fails the caller's request: when
//! the queue does not answer, the event is logged (its type, tenant and verification id:
//! never the destination) and counted as `otpgw_events_total{outcome="unqueued"}`, and
//! the request goes on. So a Redis outage between a check and its append loses that
//! event; a crash after the append loses nothing.
//!
//! `verification.expired` is queued ahead, as an expiry timer armed at each start (the
//! event itself, dated at the code's expiry) and disarmed when the verification ends
//! otherwise (approved, canceled, out of attempts).

use super::{Event, EventData, EventType};
use crate::config::{EventsConfig, TenantConfig};
use crate::domain::{now_millis, Channel, Destination, Verification, VerificationId};
use crate::metrics::Metrics;
use crate::queue::events::EventQueue;
use std::collections::HashMap;
use std::sync::Arc;

/// Appends events to the queue. Cheap to clone.
#[derive(Clone)]
pub struct Emitter {
    queue: Arc<dyn EventQueue>,
    sections: Arc<HashMap<String, EventsConfig>>,
    metrics: Metrics,
    /// Rung after each append, so this instance's worker polls at once.
    appended: Arc<tokio::sync::Notify>,
}

impl Emitter {
    /// An emitter for the tenants of `tenants` that have an `[events]` section.
    pub fn new(
        queue: Arc<dyn EventQueue>,
        tenants: &std::collections::BTreeMap<String, TenantConfig>,
        metrics: Metrics,
    ) -> Self {
        let sections = tenants
            .iter()
            .filter_map(|(id, t)| Some((id.clone(), t.events.clone()?)))
            .collect();
        Emitter {
            queue,
            sections: Arc::new(sections),
            metrics,
            appended: Arc::new(tokio::sync::Notify::new()),
        }
    }

    /// Completes after this instance appended an event (a hint: other instances'
    /// events are found by polling).
    pub async fn appended(&self) {
        self.appended.notified().await
    }

    async fn append(&self, id: &VerificationId, text: &str, now: i64) -> Result<(), String> {
        let r = self.queue.append(id, text, now).await.map_err(|e| e.0);
        self.appended.notify_one();
        r.map(|_| ())
    }

    /// The queue (the workers and the dead-letter list read it).
    pub fn queue(&self) -> &Arc<dyn EventQueue> {
        &self.queue
    }

    /// Whether any tenant has an `[events]` section (else no worker runs).
    pub fn any(&self) -> bool {
        !self.sections.is_empty()
    }

    /// Whether `tenant` wants events of type `kind`.
    pub fn wants(&self, tenant: &str, kind: EventType) -> bool {
        self.sections
            .get(tenant)
            .is_some_and(|s| s.wants(kind.as_str()))
    }

    fn event(kind: EventType, v: &Verification, status: &str, at_ms: i64) -> Event {
        let data = EventData::new(v.id.as_str(), &v.tenant, v.channel, status, 0, &v.to);
        Event::new(kind, at_ms.div_euclid(1000), data)
    }

    /// Queues a `kind` event about `v` (as it is after the step), `more` adding its
    /// delivery or reason, when `v`'s tenant wants the type.
    pub async fn emit(
        &self,
        kind: EventType,
        v: &Verification,
        more: impl FnOnce(EventData) -> EventData,
    ) {
        // a verification that ended no longer expires (whether or not `kind` is wanted)
        if matches!(
            kind,
            EventType::VerificationApproved
                | EventType::VerificationCanceled
                | EventType::VerificationMaxAttempts
        ) {
            self.disarm(v).await;
        }
        if !self.wants(&v.tenant, kind) {
            return;
        }
        let now = now_millis();
        let status = v.status_at(now).as_str();
        let mut e = Self::event(kind, v, status, now);
        e.data = more(e.data);
        let text = serde_json::to_string(&e).unwrap_or_default();
        if let Err(err) = self.append(&v.id, &text, now).await {
            self.lost(kind, &v.tenant, &v.id, &err);
        }
    }

    /// Queues `fraud.blocked` for a send to `to` the pumping guard refused with
    /// `reason`, under the never-stored id `id` (the caller checked [`Self::wants`]).
    pub async fn emit_refused(
        &self,
        id: &VerificationId,
        tenant: &str,
        channel: Channel,
        to: &Destination,
        reason: &str,
    ) {
        let now = now_millis();
        let data =
            EventData::new(id.as_str(), tenant, channel, "blocked", 0, to).with_reason(reason);
        let e = Event::new(EventType::FraudBlocked, now.div_euclid(1000), data);
        let text = serde_json::to_string(&e).unwrap_or_default();
        if let Err(err) = self.append(id, &text, now).await {
            self.lost(EventType::FraudBlocked, tenant, id, &err);
        }
    }

    /// Arms `v`'s expiry timer (at each start: a resend moves it), when its tenant
    /// wants `verification.expired`.
    pub async fn arm_expiry(&self, v: &Verification) {
        if !self.wants(&v.tenant, EventType::VerificationExpired) {
            return;
        }
        let e = Self::event(EventType::VerificationExpired, v, "expired", v.expires_at);
        let text = serde_json::to_string(&e).unwrap_or_default();
        if let Err(err) = self.queue.arm(&v.id, &text, v.expires_at).await {
            self.lost(EventType::VerificationExpired, &v.tenant, &v.id, &err.0);
        }
    }

    async fn disarm(&self, v: &Verification) {
        if !self.wants(&v.tenant, EventType::VerificationExpired) {
            return;
        }
        if let Err(err) = self.queue.disarm(&v.id).await {
            tracing::warn!(id = v.id.as_str(), tenant = %v.tenant, error = %err, "could not disarm an expiry timer; a verification.expired may follow its end");
        }
    }

    fn lost(&self, kind: EventType, tenant: &str, id: &VerificationId, why: &str) {
        tracing::warn!(
            id = id.as_str(),
            tenant = %tenant,
            kind = kind.as_str(),
            error = %why,
            "could not queue an event to the tenant; it is lost"
        );
        self.metrics
            .events
            .with_label_values(&[tenant, "unqueued"])
            .inc();
    }
}
