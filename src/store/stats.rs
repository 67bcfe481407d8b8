//! The fleet numbers' shared store ([`FleetStats`]): per-minute buckets, one per
//! (tenant, minute), each a map from field (`<channel>|<country>|<provider>|<counter>`,
//! see [`crate::metrics::stats`]) to a count, shared by every instance and kept
//! `stats.retention_hours`.
//!
//! Writes come from each instance's flush task, never from the hot path: one call per
//! flush on memory and on one Redis node (a script that `HINCRBY`s and `EXPIRE`s every
//! bucket of the flush), one per bucket on a Redis Cluster (each bucket is its own key, in
//! any slot). Increments add, so two instances flushing into one minute sum exactly.

use crate::error::StoreResult;
pub use crate::metrics::stats::Bump;
use async_trait::async_trait;

/// The fleet counters, shared by every instance.
#[async_trait]
pub trait FleetStats: Send + Sync {
    /// Adds every increment (one flush).
    async fn add(&self, bumps: &[Bump]) -> StoreResult<()>;

    /// Every counter of `tenants` in minutes `from..=to` (Unix minutes), one [`Bump`]
    /// per (minute, tenant, field) holding its total.
    async fn read(&self, tenants: &[String], from: i64, to: i64) -> StoreResult<Vec<Bump>>;
}
