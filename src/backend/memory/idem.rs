//! Idempotency entries of the memory store: a reservation while the request runs, then
//! the stored answer until the end of the verification's retention. Each counts toward
//! its tenant's share and the store's cap like a verification does (see `room.rs`).
//! The store's `Idempotency` is here too, each call one lock section.

use super::room::{Caps, Full};
use super::state::Inner;
use super::store::MemoryStore;
use crate::domain::{now_millis, Millis};
use crate::store::{Idempotency, IdempotencyBegin, StoreResult};
use async_trait::async_trait;

/// One idempotency key's state.
#[derive(Debug, Clone)]
pub(super) enum Idem {
    /// Reserved by a request with this fingerprint, still running.
    InProgress(String),
    /// Answered: fingerprint, status, stored answer.
    Done(String, u16, String),
}

fn entry(tenant: &str, key: &str) -> String {
    format!("{tenant}:{key}")
}

impl Inner {
    /// `Store::idempotency_begin`; also how many entries were evicted to make room.
    pub(super) fn idem_begin(
        &mut self,
        tenant: &str,
        key: &str,
        fp: &str,
        until: Millis,
        caps: Caps,
        now: Millis,
    ) -> (IdempotencyBegin, u64) {
        let k = entry(tenant, key);
        let answer = match self.idem.get(&k, now) {
            Some(Idem::InProgress(f)) if f == fp => IdempotencyBegin::InProgress,
            Some(Idem::Done(f, status, body)) if f == fp => {
                IdempotencyBegin::Replay(*status, body.clone())
            }
            Some(_) => IdempotencyBegin::Mismatch,
            None => match self.make_room(tenant, caps, now) {
                Err(Full(ms)) => IdempotencyBegin::StoreFull(ms),
                Ok(evicted) => {
                    let held = Idem::InProgress(fp.to_string());
                    self.idem.insert_in(Some(tenant), k, held, until);
                    return (IdempotencyBegin::Reserved, evicted);
                }
            },
        };
        (answer, 0)
    }

    /// `Store::idempotency_finish`: the reservation becomes the answer. A reservation
    /// evicted meanwhile is not brought back (a retry then runs again).
    pub(super) fn idem_finish(
        &mut self,
        tenant: &str,
        key: &str,
        fp: &str,
        answer: (u16, &str),
        until: Millis,
        now: Millis,
    ) {
        let k = entry(tenant, key);
        if self.idem.get(&k, now).is_some() {
            let done = Idem::Done(fp.to_string(), answer.0, answer.1.to_string());
            self.idem.insert_in(Some(tenant), k, done, until);
        }
    }

    /// `Store::idempotency_abort`.
    pub(super) fn idem_abort(&mut self, tenant: &str, key: &str) {
        self.idem.remove(&entry(tenant, key));
    }
}

#[async_trait]
impl Idempotency for MemoryStore {
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
}
