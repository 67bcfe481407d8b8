//! The memory backend: the store, the send queue, the limiter and the pumping guard's
//! state in process, for development and a single instance. Nothing survives the
//! process.
//!
//! The queue's state lives inside the store's lock (`state.rs`), so a start and its
//! message are one step, and so are a delivered send's record update and its ack; the
//! limiter and the guard keep their own maps, laid out like the Redis keys so that both
//! backends decide alike (`tests/pumping_parity.rs`).

mod events;
mod idem;
mod limiter;
mod lookup;
mod pumps;
mod queue;
mod room;
mod state;
mod stats;
mod steps;
mod store;
#[cfg(test)]
mod tests;
mod ttl_map;
mod verify;

pub use events::MemoryEvents;
pub use limiter::MemoryLimiter;
pub use pumps::MemoryPumps;
pub use queue::{MemoryQueue, QueueState};
pub use stats::MemoryStats;
pub use store::MemoryStore;

use super::Backend;
use crate::config::MemoryStoreConfig;
use std::sync::Arc;

/// The store (capped by `cfg`, its queue by `queue_capacity`), its queue, a limiter and
/// guard state, and the fleet numbers (kept `stats_retention_hours`), all in process.
pub fn build(
    cfg: &MemoryStoreConfig,
    queue_capacity: usize,
    stats_retention_hours: u64,
) -> Backend {
    let store = Arc::new(MemoryStore::new(cfg, queue_capacity));
    Backend {
        queue: Arc::new(MemoryQueue::new(store.clone())),
        store,
        limiter: Arc::new(MemoryLimiter::default()),
        pumps: Arc::new(MemoryPumps::default()),
        stats: Arc::new(MemoryStats::new(stats_retention_hours)),
        events: Arc::new(MemoryEvents::default()),
    }
}
