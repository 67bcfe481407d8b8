//! Idempotency keys for starts: a reservation, the stored answer a replay reads back, and
//! the release of a reservation whose request failed.

use crate::domain::Millis;
use crate::error::StoreResult;
use async_trait::async_trait;

/// Outcome of an idempotency reservation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyBegin {
    /// First use: the caller runs the request, then calls `idempotency_finish` or `_abort`.
    Reserved,
    /// Done before with the same body: replay `(status, body)`.
    Replay(u16, String),
    /// Used with a different body.
    Mismatch,
    /// The same key is being processed right now.
    InProgress,
    /// The store is at its cap (memory backend): nothing was reserved; the soonest
    /// entry expires in `ms`.
    StoreFull(i64),
}

/// Idempotency reservations and stored answers, per tenant.
#[async_trait]
pub trait Idempotency: Send + Sync + 'static {
    /// Reserves an idempotency key (`key` and `fingerprint` are keyed hashes) for
    /// `ttl_ms`.
    async fn idempotency_begin(
        &self,
        tenant: &str,
        key: &str,
        fingerprint: &str,
        ttl_ms: i64,
    ) -> StoreResult<IdempotencyBegin>;
    /// Stores the response of a reserved key, kept until `until` (the end of the
    /// verification's retention). The response holds no personal data (see
    /// `crate::api::common`).
    async fn idempotency_finish(
        &self,
        tenant: &str,
        key: &str,
        fingerprint: &str,
        status: u16,
        body: &str,
        until: Millis,
    ) -> StoreResult<()>;
    /// Releases a reservation whose request failed, so a retry runs again.
    async fn idempotency_abort(&self, tenant: &str, key: &str) -> StoreResult<()>;
}
