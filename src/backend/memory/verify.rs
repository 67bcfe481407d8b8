//! The memory store's start and check, and a pending verification canceled or approved
//! ([`MemoryStore::finish`]), each one section under the store's lock: the same steps
//! and outcomes as `start.lua`, `check.lua` and `cancel.lua`. Failed checks are counted with
//! the limiter's GCRA ([`crate::ratelimit::gcra`]): one TAT per number and per (number,
//! client) in `fail_tats`, as `check.lua` keeps them.

use super::room::Full;
use super::state::{counter_key, index_key, Record};
use super::store::MemoryStore;
use crate::domain::{Delivery, Millis, RecordKind, Status, Verification, VerificationId};
use crate::queue::QueuedMessage;
use crate::ratelimit::{gcra, Decision, Limit};
use crate::store::{CheckOutcome, CheckSpec, CheckTarget, EnqueueSpec, NumberRef};
use crate::store::{StartOutcome, StartSpec, StoreResult};

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

impl MemoryStore {
    /// [`crate::store::Store::start`] under the lock.
    pub(super) fn start_locked(&self, spec: StartSpec, now: Millis) -> StoreResult<StartOutcome> {
        let mut g = self.lock();
        if g.queue.len() >= self.queue_capacity {
            return Ok(StartOutcome::QueueFull);
        }
        let idx = index_key(&spec.number);
        let lim = counter_key("s", &spec.number);
        let (sent, lim_ttl) = g.counter(&lim, now);
        // A delivery-only send never resends the pending verification nor takes its
        // place in the index (as `start.lua`).
        let indexed = spec.fresh.id.kind() == RecordKind::Verification;
        let pending = g.index.get(&idx, now).filter(|_| indexed).cloned();
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
                    v.resent_at.push(now);
                    if let Some(c) = spec.resend_channel {
                        v.channel = c;
                    }
                    v.next_resend_at = now + spec.cooldown_ms;
                    v.delivery = Delivery::queued(now);
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
        g.index_lookup(&spec, self.caps, now);
        let v = spec.fresh;
        let id = v.id.as_str().to_string();
        if indexed {
            g.index.insert(idx, id.clone(), v.expires_at);
        }
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
        if let Some(due) = v.workflow.as_ref().and_then(|w| w.step().timeout_ms) {
            let member = crate::store::timer_member(&v.id, 0);
            g.timers.insert((now + due, member));
        }
        g.queue.push(queued(&v, spec.enqueue));
        self.doorbell.ring(spec.number.shard);
        Ok(StartOutcome::Created(v))
    }

    /// [`crate::store::Store::check`] under the lock.
    pub(super) fn check_locked(&self, spec: CheckSpec, now: Millis) -> StoreResult<CheckOutcome> {
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
}

pub(super) fn queued(v: &Verification, e: EnqueueSpec) -> QueuedMessage {
    QueuedMessage {
        id: v.id.clone(),
        tenant: v.tenant.clone(),
        seq: v.send_count,
        app_hash: e.app_hash,
        request_id: e.request_id,
    }
}

impl MemoryStore {
    /// Moves a pending verification to `to` (canceled or approved) in one lock section:
    /// the record kept for `retention_ms`, the pending index freed. The record after the
    /// call and whether this call moved it; `None` if unknown to `tenant`.
    pub(super) fn finish(
        &self,
        tenant: &str,
        id: &VerificationId,
        number: &NumberRef,
        to: Status,
        retention_ms: i64,
        now: Millis,
    ) -> Option<(Verification, bool)> {
        let mut g = self.lock();
        let r = g
            .records
            .get_mut(id.as_str(), now)
            .filter(|r| r.v.tenant == tenant)?;
        if r.v.status != Status::Pending || now >= r.v.expires_at {
            return Some((r.v.clone(), false));
        }
        r.v.status = to;
        let out = r.v.clone();
        g.records.set_expiry(id.as_str(), now + retention_ms);
        let idx = index_key(number);
        if g.index.get(&idx, now).map(String::as_str) == Some(id.as_str()) {
            g.index.remove(&idx);
        }
        Some((out, true))
    }
}
