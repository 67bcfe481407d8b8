//! The embedded store: everything in one process, one mutex section per operation.
//!
//! The default backend for development and single-instance use. Each operation takes the
//! lock once and does all its reads and writes inside, which gives the same atomicity the
//! Redis scripts give (the start and the check are in `verify.rs`). A background task
//! purges expired entries every `purge_interval_ms`; it holds only a weak reference, so
//! it ends with the store. Verifications and idempotency entries are bounded per tenant
//! and in all (`max_entries_per_tenant`, `max_entries`; see `room.rs`): a tenant past its
//! share loses its own soonest-to-expire entry, counted in [`MemoryStore::evictions`]; at
//! the store's cap a start is refused rather than evict another tenant's entries.

use super::queue::QueueState;
use super::room::Caps;
use super::state::{index_key, Inner};
use crate::backend::Doorbell;
use crate::config::MemoryStoreConfig;
use crate::domain::{now_millis, DeliveryStatus, Millis, Status, Verification, VerificationId};
use crate::queue::Lease;
use crate::store::{CheckOutcome, CheckSpec, MessageLink, NumberRef, ReceiptApplied};
use crate::store::{DeliveryLog, StartOutcome, StartSpec, Store, StoreResult, Verifications};
use async_trait::async_trait;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

/// In-process store.
pub struct MemoryStore {
    inner: Arc<Mutex<Inner>>,
    pub(super) caps: Caps,
    pub(super) queue_capacity: usize,
    evictions: Arc<AtomicU64>,
    pub(super) doorbell: Doorbell,
}

impl MemoryStore {
    /// A store with its purge task (needs a Tokio runtime when one is running).
    pub fn new(cfg: &MemoryStoreConfig, queue_capacity: usize) -> Self {
        let inner = Arc::new(Mutex::new(Inner::default()));
        if tokio::runtime::Handle::try_current().is_ok() {
            let weak: Weak<Mutex<Inner>> = Arc::downgrade(&inner);
            let every = Duration::from_millis(cfg.purge_interval_ms.max(10));
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(every);
                loop {
                    tick.tick().await;
                    let Some(inner) = weak.upgrade() else { break };
                    let now = now_millis();
                    inner.lock().expect("store lock").purge(now);
                }
            });
        }
        MemoryStore {
            inner,
            caps: Caps::new(cfg),
            queue_capacity: queue_capacity.max(1),
            evictions: Arc::new(AtomicU64::new(0)),
            doorbell: Doorbell::default(),
        }
    }

    /// Rung each time a start queues a send (wakes idle delivery workers).
    pub fn doorbell(&self) -> &Doorbell {
        &self.doorbell
    }

    /// Entries evicted because their tenant's share was full.
    pub fn evictions(&self) -> u64 {
        self.evictions.load(Ordering::Relaxed)
    }

    /// Counts `n` evictions.
    pub(super) fn evicted(&self, n: u64) {
        if n > 0 {
            self.evictions.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Entries held (verifications and idempotency entries, including expired ones not
    /// yet purged): all, and of one tenant.
    pub fn held(&self, tenant: &str) -> (usize, usize) {
        let g = self.lock();
        (g.held(), g.held_by(tenant))
    }

    /// Verifications held (including expired ones not yet purged).
    pub fn len(&self) -> usize {
        self.lock().records.len()
    }

    /// True when no verification is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Runs `f` on the queue state under the store's lock.
    pub fn with_queue<T>(&self, f: impl FnOnce(&mut QueueState) -> T) -> T {
        f(&mut self.lock().queue)
    }

    /// The store's one lock.
    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave a half-applied operation visible to
        // callers in a way retrying would fix; recover the data rather than fail forever.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl Verifications for MemoryStore {
    async fn start(&self, spec: StartSpec, now: Millis) -> StoreResult<StartOutcome> {
        self.start_locked(spec, now)
    }

    async fn check(&self, spec: CheckSpec, now: Millis) -> StoreResult<CheckOutcome> {
        self.check_locked(spec, now)
    }

    async fn get_any(&self, id: &VerificationId) -> StoreResult<Option<Verification>> {
        let g = self.lock();
        Ok(g.records
            .get(id.as_str(), now_millis())
            .map(|r| r.v.clone()))
    }

    async fn cancel(
        &self,
        tenant: &str,
        id: &VerificationId,
        number: &NumberRef,
        retention_ms: i64,
        now: Millis,
    ) -> StoreResult<Option<(Verification, bool)>> {
        Ok(self.finish(tenant, id, number, Status::Canceled, retention_ms, now))
    }

    async fn approve(
        &self,
        tenant: &str,
        id: &VerificationId,
        number: &NumberRef,
        retention_ms: i64,
        now: Millis,
    ) -> StoreResult<Option<(Verification, bool)>> {
        Ok(self.finish(tenant, id, number, Status::Approved, retention_ms, now))
    }

    async fn lookup(
        &self,
        number: &NumberRef,
        since: Millis,
    ) -> StoreResult<Vec<crate::store::LookupEntry>> {
        Ok(self.lock().lookup(number, since, now_millis()))
    }

    async fn pending_id(
        &self,
        number: &NumberRef,
        now: Millis,
    ) -> StoreResult<Option<VerificationId>> {
        let g = self.lock();
        let id = g.index.get(&index_key(number), now).cloned();
        Ok(id.and_then(|s| VerificationId::parse(&s).ok()))
    }
}

#[async_trait]
impl DeliveryLog for MemoryStore {
    async fn link_provider_message(
        &self,
        provider: &str,
        message_id: &str,
        id: &VerificationId,
        ttl_ms: i64,
    ) -> StoreResult<()> {
        let key = format!("{provider}:{message_id}");
        let now = now_millis();
        let mut g = self.lock();
        let link = link_of(&mut g, id, now);
        g.provider_messages.insert(key, link, now + ttl_ms);
        Ok(())
    }

    async fn find_provider_message(
        &self,
        provider: &str,
        message_id: &str,
    ) -> StoreResult<Option<MessageLink>> {
        let key = format!("{provider}:{message_id}");
        Ok(self
            .lock()
            .provider_messages
            .get(&key, now_millis())
            .cloned())
    }

    async fn set_delivery(
        &self,
        id: &VerificationId,
        status: DeliveryStatus,
        provider: Option<&str>,
        reason: Option<&str>,
        now: Millis,
    ) -> StoreResult<()> {
        let mut g = self.lock();
        if let Some(r) = g.records.get_mut(id.as_str(), now) {
            r.progress(status, provider, reason, now);
        }
        Ok(())
    }

    async fn apply_receipt(
        &self,
        link: &MessageLink,
        mark: &str,
        status: DeliveryStatus,
        provider: &str,
        reason: Option<&str>,
        now: Millis,
    ) -> StoreResult<ReceiptApplied> {
        let mut g = self.lock();
        let Some(r) = g.records.get_mut(link.id.as_str(), now) else {
            return Ok(ReceiptApplied::Unchanged);
        };
        if r.receipts.iter().any(|m| m == mark) {
            return Ok(ReceiptApplied::Replayed);
        }
        r.receipts.push(mark.to_string());
        if link.send.is_some_and(|s| s != r.v.send_count) {
            return Ok(ReceiptApplied::Stale);
        }
        Ok(if r.progress(status, Some(provider), reason, now) {
            ReceiptApplied::Moved
        } else {
            ReceiptApplied::Unchanged
        })
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
        let mut g = self.lock();
        if let Some(r) = g.records.get_mut(id.as_str(), now) {
            r.progress(DeliveryStatus::Sent, Some(provider), None, now);
        }
        let key = format!("{provider}:{message_id}");
        let link = link_of(&mut g, id, now);
        g.provider_messages
            .insert(key, link, now_millis() + link_ttl_ms);
        if let Some(l) = ack {
            g.queue.ack(l);
        }
        Ok(ack.is_some())
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn ping(&self) -> StoreResult<()> {
        Ok(())
    }

    fn evictions(&self) -> u64 {
        self.evictions.load(Ordering::Relaxed)
    }
}

/// The link for a message of `id`: with the record's send count, when it is kept.
fn link_of(g: &mut Inner, id: &VerificationId, now: Millis) -> MessageLink {
    MessageLink {
        id: id.clone(),
        send: g.records.get_mut(id.as_str(), now).map(|r| r.v.send_count),
    }
}
