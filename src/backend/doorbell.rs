//! The doorbell between a process's starts and its delivery worker, the same for every
//! backend: a start that queued a send rings it with the send's shard, so the idle worker
//! wakes at once and reads that shard first (the Redis queue) instead of at its next poll.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

/// Rung by the store each time a start of this process queues a send: wakes this
/// process's idle delivery worker and remembers which shards got sends, so the worker can
/// read those shards first instead of polling every shard.
#[derive(Clone, Default)]
pub struct Doorbell(Arc<Bell>);

#[derive(Default)]
struct Bell {
    notify: tokio::sync::Notify,
    shards: Mutex<BTreeSet<u16>>,
}

impl std::fmt::Debug for Doorbell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Doorbell")
    }
}

impl Doorbell {
    /// A send was queued in `shard`.
    pub fn ring(&self, shard: u16) {
        self.0
            .shards
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(shard);
        // One stored permit: a ring while the worker is busy wakes its next wait at once.
        self.0.notify.notify_one();
    }

    /// Waits for the next ring (or returns at once if one came since the last wait).
    pub async fn wait(&self) {
        self.0.notify.notified().await
    }

    /// The shards rung since the last call (emptied).
    pub fn take_shards(&self) -> BTreeSet<u16> {
        std::mem::take(&mut *self.0.shards.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Marks `shard` again (it may hold more than one read took).
    pub fn remark(&self, shard: u16) {
        self.0
            .shards
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(shard);
    }
}
