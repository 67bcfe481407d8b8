//! The in-process queue of the memory backend.
//!
//! Its state lives inside the memory store's lock (see [`QueueState`]), so a start and
//! its message are one atomic step there too. Nothing survives the process: this is the
//! single-instance development backend.

use super::store::MemoryStore;
use crate::queue::{Lease, Queue, QueueDepth, QueueResult, QueuedMessage};
use async_trait::async_trait;
use std::collections::{HashMap, VecDeque};

/// Dead letters kept in memory (oldest dropped first).
const DEAD_KEPT: usize = 10_000;

/// Queue state, held under the memory store's lock.
#[derive(Debug, Default)]
pub struct QueueState {
    ready: VecDeque<(u64, QueuedMessage, std::time::Instant)>,
    leased: HashMap<u64, Leased>,
    dead: VecDeque<(QueuedMessage, String)>,
    next: u64,
}

#[derive(Debug)]
struct Leased {
    msg: QueuedMessage,
    consumer: String,
    since: std::time::Instant,
    queued_at: std::time::Instant,
}

impl QueueState {
    /// Messages waiting or leased.
    pub fn len(&self) -> usize {
        self.ready.len() + self.leased.len()
    }

    /// True when nothing waits and nothing is leased.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends a message (called by the store inside its start step).
    pub fn push(&mut self, msg: QueuedMessage) {
        self.next += 1;
        self.ready
            .push_back((self.next, msg, std::time::Instant::now()));
    }

    /// Removes a delivered message (the queue's ack, and the store's in `delivered`).
    pub fn ack(&mut self, l: &Lease) {
        self.leased.remove(&entry(l));
    }

    /// Dead letters, oldest first (tests, admin).
    pub fn dead_letters(&self) -> Vec<(QueuedMessage, String)> {
        self.dead.iter().cloned().collect()
    }
}

fn lease(n: u64, msg: QueuedMessage, redelivered: bool) -> Lease {
    Lease {
        shard: msg.id.shard(),
        msg,
        entry: n.to_string(),
        redelivered,
    }
}

/// Queue over the memory store's state.
pub struct MemoryQueue {
    store: std::sync::Arc<MemoryStore>,
}

impl MemoryQueue {
    /// The queue of `store`.
    pub fn new(store: std::sync::Arc<MemoryStore>) -> Self {
        MemoryQueue { store }
    }
}

fn entry(l: &Lease) -> u64 {
    l.entry.parse().unwrap_or(0)
}

#[async_trait]
impl Queue for MemoryQueue {
    async fn receive(&self, consumer: &str, max: usize) -> QueueResult<Vec<Lease>> {
        Ok(self.store.with_queue(|q| {
            let mut out = Vec::new();
            while out.len() < max {
                let Some((n, msg, queued_at)) = q.ready.pop_front() else {
                    break;
                };
                q.leased.insert(
                    n,
                    Leased {
                        msg: msg.clone(),
                        consumer: consumer.into(),
                        since: std::time::Instant::now(),
                        queued_at,
                    },
                );
                out.push(lease(n, msg, false));
            }
            out
        }))
    }

    async fn reclaim(
        &self,
        consumer: &str,
        min_idle_ms: u64,
        max: usize,
    ) -> QueueResult<Vec<Lease>> {
        let idle = std::time::Duration::from_millis(min_idle_ms);
        Ok(self.store.with_queue(|q| {
            let mut out = Vec::new();
            for (n, l) in q.leased.iter_mut() {
                if out.len() >= max {
                    break;
                }
                if l.since.elapsed() >= idle {
                    l.consumer = consumer.into();
                    l.since = std::time::Instant::now();
                    out.push(lease(*n, l.msg.clone(), true));
                }
            }
            out
        }))
    }

    async fn touch(&self, consumer: &str, l: &Lease) -> QueueResult<()> {
        self.store.with_queue(|q| {
            if let Some(x) = q.leased.get_mut(&entry(l)) {
                x.consumer = consumer.into();
                x.since = std::time::Instant::now();
            }
        });
        Ok(())
    }

    async fn ack(&self, l: &Lease) -> QueueResult<()> {
        self.store.with_queue(|q| q.ack(l));
        Ok(())
    }

    async fn dead_letter(&self, l: &Lease, reason: &str) -> QueueResult<()> {
        self.store.with_queue(|q| {
            q.leased.remove(&entry(l));
            if q.dead.len() == DEAD_KEPT {
                q.dead.pop_front();
            }
            q.dead.push_back((l.msg.clone(), reason.to_string()));
        });
        Ok(())
    }

    async fn depth(&self) -> QueueResult<QueueDepth> {
        Ok(self.store.with_queue(|q| {
            let oldest = q
                .ready
                .iter()
                .map(|(_, _, t)| *t)
                .chain(q.leased.values().map(|l| l.queued_at))
                .min();
            QueueDepth {
                pending: q.len() as u64,
                dead: q.dead.len() as u64,
                oldest_age_ms: oldest.map(|t| t.elapsed().as_millis() as u64),
            }
        }))
    }

    async fn queued(&self) {
        self.store.doorbell().wait().await
    }
}
