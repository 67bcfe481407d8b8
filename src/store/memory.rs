//! The embedded store: everything in one process, one mutex section per operation.
//!
//! The default backend for development and single-instance use. Each operation takes the
//! lock once and does all its reads and writes inside, which gives the same atomicity the
//! Redis scripts give. A background task purges expired entries every
//! `purge_interval_ms`; it holds only a weak reference, so it ends with the store.
//! Verifications and idempotency entries are bounded per tenant and in all
//! (`max_entries_per_tenant`, `max_entries`; see [`room`]): a tenant past its share loses
//! its own soonest-to-expire entry, counted in [`MemoryStore::evictions`]; at the
//! store's cap a start is refused rather than evict another tenant's entries.
//!
//! Failed checks are counted with the limiter's GCRA ([`crate::ratelimit::gcra`]): one
//! TAT per number and per (number, client) in `fail_tats`, as `check.lua` keeps them.

mod idem;
mod room;
#[cfg(test)]
mod tests;

use super::ttl_map::TtlMap;
use super::*;
use crate::config::MemoryStoreConfig;
use crate::domain::{now_millis, Delivery, DeliveryStatus, Status};
use crate::queue::memory::QueueState;
use crate::queue::QueuedMessage;
use crate::ratelimit::{gcra, Decision, Limit};
use idem::Idem;
use room::{Caps, Full};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, Weak};
use std::time::Duration;

#[derive(Debug, Clone)]
struct Record {
    v: Verification,
    mac: [u8; 32],
    /// Receipts applied ([`super::receipt_mark`]), so a replay changes nothing.
    receipts: Vec<String>,
}

impl Record {
    /// Moves the delivery status by [`super::delivery_moves`]; true when it moved.
    fn progress(
        &mut self,
        status: DeliveryStatus,
        provider: Option<&str>,
        reason: Option<&str>,
        now: Millis,
    ) -> bool {
        if !super::delivery_moves(self.v.delivery.status, status) {
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
                .map(super::redis::bounded_reason),
        };
        true
    }
}

#[derive(Debug, Default)]
struct Inner {
    records: TtlMap<Record>,
    index: TtlMap<String>,
    counters: TtlMap<u32>,
    fail_tats: TtlMap<f64>,
    idem: TtlMap<Idem>,
    provider_messages: TtlMap<VerificationId>,
    queue: QueueState,
}

/// In-process store.
pub struct MemoryStore {
    inner: Arc<Mutex<Inner>>,
    caps: Caps,
    queue_capacity: usize,
    evictions: Arc<AtomicU64>,
    doorbell: crate::queue::Doorbell,
}

fn index_key(n: &NumberRef) -> String {
    format!("{}:{}:{}", n.tenant, n.key, n.channel.as_str())
}

fn counter_key(kind: &str, n: &NumberRef) -> String {
    format!("{kind}:{}:{}", n.tenant, n.key)
}

/// The failed-check limits of a check as GCRA limits, keyed as in `fail_tats`: the
/// number's, then one per client key. Their reasons are the check's refusal reasons.
fn fail_limits(spec: &CheckSpec, n: &NumberRef) -> Vec<Limit> {
    let window_ms = spec.number_window_ms.max(1) as u64;
    let number = Limit {
        reason: "number_check_limit",
        key: counter_key("cf", n),
        quota: spec.number_fail_limit.max(1),
        window_ms,
    };
    let clients = spec
        .client_keys
        .iter()
        .filter(|_| spec.client_fail_limit > 0)
        .map(|c| Limit {
            reason: "client_check_limit",
            key: format!("{}:{c}", counter_key("cc", n)),
            quota: spec.client_fail_limit,
            window_ms,
        });
    std::iter::once(number).chain(clients).collect()
}

impl Inner {
    fn counter(&self, key: &str, now: Millis) -> (u32, i64) {
        match (self.counters.get(key, now), self.counters.expiry(key, now)) {
            (Some(c), Some(exp)) => (*c, exp - now),
            _ => (0, 0),
        }
    }

    fn bump(&mut self, key: String, window_ms: i64, now: Millis) {
        match self.counters.get_mut(&key, now) {
            Some(c) => *c += 1,
            None => self.counters.insert(key, 1, now + window_ms),
        }
    }
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
                    let mut g = inner.lock().expect("store lock");
                    g.records.purge(now);
                    g.index.purge(now);
                    g.counters.purge(now);
                    g.fail_tats.purge(now);
                    g.idem.purge(now);
                    g.provider_messages.purge(now);
                }
            });
        }
        MemoryStore {
            inner,
            caps: Caps::new(cfg),
            queue_capacity: queue_capacity.max(1),
            evictions: Arc::new(AtomicU64::new(0)),
            doorbell: crate::queue::Doorbell::default(),
        }
    }

    /// Rung each time a start queues a send (wakes idle delivery workers).
    pub fn doorbell(&self) -> &crate::queue::Doorbell {
        &self.doorbell
    }

    /// Entries evicted because their tenant's share was full.
    pub fn evictions(&self) -> u64 {
        self.evictions.load(Ordering::Relaxed)
    }

    fn evicted(&self, n: u64) {
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

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave a half-applied operation visible to
        // callers in a way retrying would fix; recover the data rather than fail forever.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn start(&self, spec: StartSpec, now: Millis) -> StoreResult<StartOutcome> {
        let mut g = self.lock();
        if g.queue.len() >= self.queue_capacity {
            return Ok(StartOutcome::QueueFull);
        }
        let idx = index_key(&spec.number);
        let lim = counter_key("s", &spec.number);
        let (sent, lim_ttl) = g.counter(&lim, now);
        let pending = g.index.get(&idx, now).cloned();
        if let Some(id) = pending {
            if let Some(r) = g.records.get_mut(&id, now) {
                let v = &mut r.v;
                if v.status == Status::Pending && now < v.expires_at {
                    if spec.cooldown_ms > 0 && now < v.next_resend_at {
                        return Ok(StartOutcome::Cooldown(v.next_resend_at - now));
                    }
                    if v.send_count >= v.max_sends {
                        return Ok(StartOutcome::MaxSends(v.expires_at - now));
                    }
                    if sent >= spec.number_send_limit {
                        return Ok(StartOutcome::NumberLimited(lim_ttl));
                    }
                    v.send_count += 1;
                    v.next_resend_at = now + spec.cooldown_ms;
                    v.delivery = Delivery {
                        status: DeliveryStatus::Queued,
                        provider: None,
                        updated_at: now,
                        reason: None,
                    };
                    let out = v.clone();
                    g.bump(lim, spec.number_window_ms, now);
                    g.queue.push(queued(&out, spec.enqueue));
                    self.doorbell.ring(spec.number.shard);
                    return Ok(StartOutcome::Resent(out));
                }
            }
        }
        if sent >= spec.number_send_limit {
            return Ok(StartOutcome::NumberLimited(lim_ttl));
        }
        match g.make_room(&spec.number.tenant, self.caps, now) {
            Ok(evicted) => self.evicted(evicted),
            Err(Full(ms)) => return Ok(StartOutcome::StoreFull(ms)),
        }
        let v = spec.fresh;
        let id = v.id.as_str().to_string();
        g.index.insert(idx, id.clone(), v.expires_at);
        g.records.insert_in(
            Some(&v.tenant),
            id,
            Record {
                v: v.clone(),
                mac: spec.code_mac,
                receipts: Vec::new(),
            },
            v.expires_at + spec.retention_ms,
        );
        g.bump(lim, spec.number_window_ms, now);
        g.queue.push(queued(&v, spec.enqueue));
        self.doorbell.ring(spec.number.shard);
        Ok(StartOutcome::Created(v))
    }

    async fn check(&self, spec: CheckSpec, now: Millis) -> StoreResult<CheckOutcome> {
        let mut g = self.lock();
        let (number, id) = match &spec.target {
            CheckTarget::Number(n) => match g.index.get(&index_key(n), now) {
                Some(id) => (n, id.clone()),
                None => return Ok(CheckOutcome::NotFound),
            },
            CheckTarget::Id(id, n) => (n, id.as_str().to_string()),
        };
        let limits = fail_limits(&spec, number);
        let tats: Vec<f64> = limits
            .iter()
            .map(|l| g.fail_tats.get(&l.key, now).copied().unwrap_or(0.0))
            .collect();
        let (limited, charged) = gcra(&tats, &limits, now as f64);
        let Some(r) = g.records.get_mut(&id, now) else {
            return Ok(CheckOutcome::NotFound);
        };
        if r.v.tenant != number.tenant || now >= r.v.expires_at {
            return Ok(CheckOutcome::NotFound);
        }
        match r.v.status {
            Status::MaxAttemptsReached => {
                return Ok(CheckOutcome::MaxAttempts(r.v.expires_at - now))
            }
            Status::Pending => {}
            _ => return Ok(CheckOutcome::NotFound),
        }
        if let Decision::Denied {
            limit,
            retry_after_ms,
        } = limited
        {
            let ms = retry_after_ms as i64;
            return Ok(match limit.reason {
                "client_check_limit" => CheckOutcome::ClientLimited(ms),
                _ => CheckOutcome::NumberLimited(ms),
            });
        }
        if crate::crypto::ct_eq(&r.mac, &spec.code_mac) {
            r.v.status = Status::Approved;
            let out = r.v.clone();
            g.records.set_expiry(&id, now + spec.retention_ms);
            let idx = index_key(number);
            if g.index.get(&idx, now) == Some(&id) {
                g.index.remove(&idx);
            }
            return Ok(CheckOutcome::Approved(out));
        }
        r.v.attempts_left = r.v.attempts_left.saturating_sub(1);
        if r.v.attempts_left == 0 {
            r.v.status = Status::MaxAttemptsReached;
        }
        let out = r.v.clone();
        for (l, tat) in limits.into_iter().zip(charged) {
            g.fail_tats.insert(l.key, tat, tat.ceil() as Millis);
        }
        Ok(CheckOutcome::Wrong(out))
    }

    async fn get_any(&self, id: &VerificationId) -> StoreResult<Option<Verification>> {
        let g = self.lock();
        Ok(g.records
            .get(id.as_str(), now_millis())
            .map(|r| r.v.clone()))
    }

    async fn link_provider_message(
        &self,
        provider: &str,
        message_id: &str,
        id: &VerificationId,
        ttl_ms: i64,
    ) -> StoreResult<()> {
        let key = format!("{provider}:{message_id}");
        self.lock()
            .provider_messages
            .insert(key, id.clone(), now_millis() + ttl_ms);
        Ok(())
    }

    async fn find_provider_message(
        &self,
        provider: &str,
        message_id: &str,
    ) -> StoreResult<Option<VerificationId>> {
        let key = format!("{provider}:{message_id}");
        Ok(self
            .lock()
            .provider_messages
            .get(&key, now_millis())
            .cloned())
    }

    async fn cancel(
        &self,
        tenant: &str,
        id: &VerificationId,
        number: &NumberRef,
        retention_ms: i64,
        now: Millis,
    ) -> StoreResult<Option<Verification>> {
        let mut g = self.lock();
        let Some(r) = g
            .records
            .get_mut(id.as_str(), now)
            .filter(|r| r.v.tenant == tenant)
        else {
            return Ok(None);
        };
        if r.v.status != Status::Pending || now >= r.v.expires_at {
            return Ok(Some(r.v.clone()));
        }
        r.v.status = Status::Canceled;
        let out = r.v.clone();
        g.records.set_expiry(id.as_str(), now + retention_ms);
        let idx = index_key(number);
        if g.index.get(&idx, now).map(String::as_str) == Some(id.as_str()) {
            g.index.remove(&idx);
        }
        Ok(Some(out))
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
        id: &VerificationId,
        mark: &str,
        status: DeliveryStatus,
        provider: &str,
        reason: Option<&str>,
        now: Millis,
    ) -> StoreResult<ReceiptApplied> {
        let mut g = self.lock();
        let Some(r) = g.records.get_mut(id.as_str(), now) else {
            return Ok(ReceiptApplied::Unchanged);
        };
        if r.receipts.iter().any(|m| m == mark) {
            return Ok(ReceiptApplied::Replayed);
        }
        r.receipts.push(mark.to_string());
        Ok(if r.progress(status, Some(provider), reason, now) {
            ReceiptApplied::Moved
        } else {
            ReceiptApplied::Unchanged
        })
    }

    async fn idempotency_begin(
        &self,
        tenant: &str,
        key: &str,
        fp: &str,
        ttl_ms: i64,
    ) -> StoreResult<IdempotencyBegin> {
        let now = now_millis();
        let (answer, evicted) =
            self.lock()
                .idem_begin(tenant, key, fp, now + ttl_ms, self.caps, now);
        self.evicted(evicted);
        Ok(answer)
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
        self.lock()
            .idem_finish(tenant, key, fp, (status, body), until, now_millis());
        Ok(())
    }

    async fn idempotency_abort(&self, tenant: &str, key: &str) -> StoreResult<()> {
        self.lock().idem_abort(tenant, key);
        Ok(())
    }

    async fn ping(&self) -> StoreResult<()> {
        Ok(())
    }

    fn evictions(&self) -> u64 {
        self.evictions.load(Ordering::Relaxed)
    }
}

fn queued(v: &Verification, e: EnqueueSpec) -> QueuedMessage {
    QueuedMessage {
        id: v.id.clone(),
        tenant: v.tenant.clone(),
        seq: v.send_count,
        app_hash: e.app_hash,
        request_id: e.request_id,
    }
}
