//! The backends: every implementation of the trait modules' contracts ([`Store`],
//! [`Queue`], [`RateLimiter`], [`PumpStore`]), organised by backend rather than by
//! concept, and [`build`], the one place a backend is chosen (start-up calls it).
//!
//! A backend implements all four over one connection, because its parts are not
//! independent: on one Redis node a start, its limits, the pumping guard and the enqueue
//! are one script, and a send's queue entry lives in the slot of its record; in memory
//! the queue lives inside the store's lock, so a start and its message are one step
//! there too. The trait modules hold the contracts and the backend-neutral logic and
//! import nothing from here (`tests/architecture.rs` holds them to it).
//!
//! - [`memory`]: everything in process (development, a single instance);
//! - [`redis`]: one Redis node, one node under Sentinel, or a Redis Cluster;
//! - [`Doorbell`]: how a start wakes its process's idle delivery worker, on both.

mod doorbell;
/// Everything in process.
pub mod memory;
/// One Redis node, Sentinel or a cluster, over one connection.
pub mod redis;

pub use doorbell::Doorbell;

use crate::config::{StoreConfig, StoreKind};
use crate::crypto::Keys;
use crate::queue::events::EventQueue;
use crate::queue::Queue;
use crate::ratelimit::pumping::PumpStore;
use crate::ratelimit::{Backends, RateLimiter};
use crate::store::{FleetStats, Store};
use std::sync::Arc;

/// One backend's implementations, sharing its connection (or its process state).
#[derive(Clone)]
pub struct Backend {
    /// The verification store.
    pub store: Arc<dyn Store>,
    /// The send queue, written by the store's starts.
    pub queue: Arc<dyn Queue>,
    /// The shared rate limits.
    pub limiter: Arc<dyn RateLimiter>,
    /// The pumping guard's counters and blocks.
    pub pumps: Arc<dyn PumpStore>,
    /// The fleet numbers' per-minute buckets (`stats.retention_hours`).
    pub stats: Arc<dyn FleetStats>,
    /// The queue of events to tenants (`docs/events.md`).
    pub events: Arc<dyn EventQueue>,
}

impl Backend {
    /// The limiter and the guard's state, as the store's admission takes them.
    pub fn gate(&self) -> Backends {
        Backends {
            limiter: self.limiter.clone(),
            pumps: self.pumps.clone(),
        }
    }
}

/// Builds the configured backend: memory, or Redis (one node, Sentinel or a cluster).
/// `queue_capacity` bounds the memory queue; `keys` seal the personal data a backend
/// keeps outside the process (Redis). Nothing connects yet: Redis is reached on first
/// use, so the gateway starts while it is down.
pub fn build(cfg: &StoreConfig, queue_capacity: usize, keys: &Keys) -> anyhow::Result<Backend> {
    build_with(
        cfg,
        queue_capacity,
        keys,
        crate::config::StatsConfig::default().retention_hours,
    )
}

/// [`build`], with the fleet numbers kept `stats_retention_hours` (start-up passes
/// `stats.retention_hours`).
pub fn build_with(
    cfg: &StoreConfig,
    queue_capacity: usize,
    keys: &Keys,
    stats_retention_hours: u64,
) -> anyhow::Result<Backend> {
    Ok(match cfg.kind {
        StoreKind::Memory => memory::build(&cfg.memory, queue_capacity, stats_retention_hours),
        StoreKind::Redis => redis::build(&cfg.redis, keys.sealer().clone(), stats_retention_hours)?,
    })
}
