//! A store decorator that records each operation's latency and errors in the metrics.

use super::*;
use crate::domain::DeliveryStatus;
use crate::domain::{Millis, Verification, VerificationId};
use crate::metrics::Metrics;
use crate::queue::Lease;
use std::sync::Arc;
use std::time::Instant;

/// Wraps a store; every call is timed under its operation name.
pub struct MeteredStore {
    inner: Arc<dyn Store>,
    metrics: Metrics,
}

impl MeteredStore {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Store>, metrics: Metrics) -> Self {
        MeteredStore { inner, metrics }
    }

    async fn timed<T>(
        &self,
        op: &str,
        fut: impl std::future::Future<Output = StoreResult<T>>,
    ) -> StoreResult<T> {
        let t = Instant::now();
        let r = fut.await;
        self.metrics
            .store_duration
            .with_label_values(&[op])
            .observe(t.elapsed().as_secs_f64());
        if r.is_err() {
            self.metrics.store_errors.with_label_values(&[op]).inc();
        }
        r
    }
}

#[async_trait]
impl Verifications for MeteredStore {
    async fn start(&self, spec: StartSpec, now: Millis) -> StoreResult<StartOutcome> {
        self.timed("start", self.inner.start(spec, now)).await
    }
    async fn check(&self, spec: CheckSpec, now: Millis) -> StoreResult<CheckOutcome> {
        self.timed("check", self.inner.check(spec, now)).await
    }
    async fn admit_start(
        &self,
        gate: &crate::ratelimit::Backends,
        adm: &Admission,
        spec: StartSpec,
        now: Millis,
    ) -> StoreResult<Admitted<StartOutcome>> {
        self.timed("start", self.inner.admit_start(gate, adm, spec, now))
            .await
    }
    async fn admit_check(
        &self,
        gate: &crate::ratelimit::Backends,
        adm: &Admission,
        spec: CheckSpec,
        now: Millis,
    ) -> StoreResult<Admitted<CheckOutcome>> {
        self.timed("check", self.inner.admit_check(gate, adm, spec, now))
            .await
    }
    async fn get_any(&self, id: &VerificationId) -> StoreResult<Option<Verification>> {
        self.timed("get", self.inner.get_any(id)).await
    }
    async fn cancel(
        &self,
        tenant: &str,
        id: &VerificationId,
        number: &NumberRef,
        retention_ms: i64,
        now: Millis,
    ) -> StoreResult<Option<(Verification, bool)>> {
        self.timed(
            "cancel",
            self.inner.cancel(tenant, id, number, retention_ms, now),
        )
        .await
    }
    async fn approve(
        &self,
        tenant: &str,
        id: &VerificationId,
        number: &NumberRef,
        retention_ms: i64,
        now: Millis,
    ) -> StoreResult<Option<(Verification, bool)>> {
        self.timed(
            "approve",
            self.inner.approve(tenant, id, number, retention_ms, now),
        )
        .await
    }
    async fn pending_id(
        &self,
        number: &NumberRef,
        now: Millis,
    ) -> StoreResult<Option<VerificationId>> {
        self.timed("pending_id", self.inner.pending_id(number, now))
            .await
    }
    async fn lookup(
        &self,
        number: &NumberRef,
        since: Millis,
    ) -> StoreResult<Vec<crate::store::LookupEntry>> {
        self.timed("lookup", self.inner.lookup(number, since)).await
    }
}

#[async_trait]
impl DeliveryLog for MeteredStore {
    async fn link_provider_message(
        &self,
        provider: &str,
        message_id: &str,
        id: &VerificationId,
        ttl_ms: i64,
    ) -> StoreResult<()> {
        self.timed(
            "link_provider_message",
            self.inner
                .link_provider_message(provider, message_id, id, ttl_ms),
        )
        .await
    }
    async fn find_provider_message(
        &self,
        provider: &str,
        message_id: &str,
    ) -> StoreResult<Option<crate::store::MessageLink>> {
        self.timed(
            "find_provider_message",
            self.inner.find_provider_message(provider, message_id),
        )
        .await
    }
    async fn set_delivery(
        &self,
        id: &VerificationId,
        status: DeliveryStatus,
        provider: Option<&str>,
        reason: Option<&str>,
        now: Millis,
    ) -> StoreResult<()> {
        self.timed(
            "set_delivery",
            self.inner.set_delivery(id, status, provider, reason, now),
        )
        .await
    }
    async fn apply_receipt(
        &self,
        link: &crate::store::MessageLink,
        mark: &str,
        status: DeliveryStatus,
        provider: &str,
        reason: Option<&str>,
        now: Millis,
    ) -> StoreResult<ReceiptApplied> {
        self.timed(
            "apply_receipt",
            self.inner
                .apply_receipt(link, mark, status, provider, reason, now),
        )
        .await
    }
    async fn begin_delivery(
        &self,
        id: &VerificationId,
        seq: u32,
        redelivered: bool,
        now: Millis,
    ) -> StoreResult<Option<Begun>> {
        self.timed(
            "begin_delivery",
            self.inner.begin_delivery(id, seq, redelivered, now),
        )
        .await
    }
    async fn delivered(
        &self,
        id: &VerificationId,
        provider: &str,
        message_id: &str,
        link_ttl_ms: i64,
        ack: Option<&Lease>,
        now: Millis,
    ) -> StoreResult<bool> {
        self.timed(
            "delivered",
            self.inner
                .delivered(id, provider, message_id, link_ttl_ms, ack, now),
        )
        .await
    }
}

#[async_trait]
impl Steps for MeteredStore {
    async fn next_step(
        &self,
        id: &VerificationId,
        from: Option<u8>,
        why: NextWhy,
        now: Millis,
    ) -> StoreResult<NextStep> {
        self.timed("next_step", self.inner.next_step(id, from, why, now))
            .await
    }
    async fn due_steps(
        &self,
        now: Millis,
        max: usize,
    ) -> StoreResult<Vec<(VerificationId, NextStep)>> {
        self.timed("due_steps", self.inner.due_steps(now, max))
            .await
    }
}

#[async_trait]
impl Idempotency for MeteredStore {
    async fn idempotency_begin(
        &self,
        tenant: &str,
        key: &str,
        fp: &str,
        ttl_ms: i64,
    ) -> StoreResult<IdempotencyBegin> {
        self.timed(
            "idempotency",
            self.inner.idempotency_begin(tenant, key, fp, ttl_ms),
        )
        .await
    }
    async fn idempotency_finish(
        &self,
        tenant: &str,
        key: &str,
        fp: &str,
        status: u16,
        body: &str,
        until: Millis,
    ) -> StoreResult<()> {
        self.timed(
            "idempotency",
            self.inner
                .idempotency_finish(tenant, key, fp, status, body, until),
        )
        .await
    }
    async fn idempotency_abort(&self, tenant: &str, key: &str) -> StoreResult<()> {
        self.timed("idempotency", self.inner.idempotency_abort(tenant, key))
            .await
    }
}

#[async_trait]
impl Store for MeteredStore {
    async fn ping(&self) -> StoreResult<()> {
        self.timed("ping", self.inner.ping()).await
    }
    fn evictions(&self) -> u64 {
        self.inner.evictions()
    }
}
