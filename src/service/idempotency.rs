//! The service's side of an idempotent start: the keyed names it is stored under and
//! how long it is kept (see `crate::api::common::idempotent` for the flow).

use super::{ms, unavailable, Service, Tenant};
use crate::domain::Verification;
use crate::error::Result;
use crate::store::IdempotencyBegin;

impl Service {
    /// The keyed names an idempotent start is stored under: the hash of the client's
    /// key and the fingerprint of the request's canonical form (see [`crate::crypto`]).
    pub fn idempotency_names(
        &self,
        tenant: &Tenant,
        key: &str,
        canonical: &[u8],
    ) -> (String, String) {
        let k = &self.inner.keys;
        (
            k.idempotency_key(&tenant.id, key.as_bytes()),
            k.request_fingerprint(&tenant.id, canonical),
        )
    }

    /// Reserves an idempotency key (hash) with the body fingerprint, for as long as a
    /// verification the start may create lives (its code's TTL and the retention).
    pub async fn idempotency_begin(
        &self,
        tenant: &Tenant,
        key: &str,
        fp: &str,
    ) -> Result<IdempotencyBegin> {
        let ttl_ms = ms(tenant.cfg.ttl_secs).saturating_add(ms(tenant.cfg.retention_secs));
        self.inner
            .store
            .idempotency_begin(&tenant.id, key, fp, ttl_ms.max(1))
            .await
            .map_err(unavailable)
    }

    /// Stores the answer for a reserved key until `v`'s retention ends. A failure here
    /// is logged: the request itself succeeded, and a retry would then run again rather
    /// than replay.
    pub async fn idempotency_finish(
        &self,
        tenant: &Tenant,
        key: &str,
        fp: &str,
        answer: (u16, &str),
        v: &Verification,
    ) {
        let until = v.expires_at.saturating_add(ms(tenant.cfg.retention_secs));
        if let Err(e) = self
            .inner
            .store
            .idempotency_finish(&tenant.id, key, fp, answer.0, answer.1, until)
            .await
        {
            tracing::warn!(error = %e, "could not store the idempotent response");
        }
    }

    /// Releases a reservation after a failed request, so a retry runs again.
    pub async fn idempotency_abort(&self, tenant: &Tenant, key: &str) {
        if let Err(e) = self.inner.store.idempotency_abort(&tenant.id, key).await {
            tracing::warn!(error = %e, "could not release the idempotency key");
        }
    }
}
