//! The durable send queue's contract: a small trait, the message and its lease. The
//! implementations (in process, Redis Streams) live in [`crate::backend`], each beside
//! its backend's store, because a start and its message are written in one atomic step.
//!
//! A message names a verification and which send of it this is (`seq`); the text (with
//! its code) is rendered only when a worker sends it, so no code is ever queued at rest.
//!
//! Life of a message: `receive` leases it to one consumer; the consumer `ack`s it once a
//! provider accepted it, or `dead_letter`s it when it is out of retries. A lease that is
//! not acked (its worker died) is handed to another consumer by `reclaim` once it has been
//! idle for the visibility timeout; a worker holding a message through long retries
//! `touch`es it to keep it. So a message is sent at least once; sending it twice needs a
//! crash between the provider's acceptance and the ack, and the worker checks the
//! verification's delivery state first to make even that rare.

pub mod events;

use crate::domain::VerificationId;
use async_trait::async_trait;

/// What a queue error means: the backend did not answer. The lease stays where it was.
#[derive(Debug, thiserror::Error)]
#[error("queue unavailable: {0}")]
pub struct QueueError(pub String);

impl From<crate::error::StoreError> for QueueError {
    fn from(e: crate::error::StoreError) -> Self {
        QueueError(e.0)
    }
}

/// Queue result alias.
pub type QueueResult<T> = Result<T, QueueError>;

/// A queued send: no text, no code, just what the worker needs to render and send it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedMessage {
    /// The verification.
    pub id: VerificationId,
    /// Its tenant.
    pub tenant: String,
    /// Which send of the verification this is (1 = first).
    pub seq: u32,
    /// Android app hash requested with this send.
    pub app_hash: Option<String>,
    /// Request id of the start, for log correlation.
    pub request_id: Option<String>,
}

/// A message leased to one consumer.
#[derive(Debug, Clone)]
pub struct Lease {
    /// The message.
    pub msg: QueuedMessage,
    /// Backend handle of the entry (stream id; memory sequence).
    pub entry: String,
    /// Shard the entry lives in.
    pub shard: u16,
    /// True when this lease was reclaimed from a consumer that went silent.
    pub redelivered: bool,
}

/// Counts for readiness, metrics and the ops page.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueDepth {
    /// Messages waiting or leased and not yet acked.
    pub pending: u64,
    /// Messages in the dead-letter store.
    pub dead: u64,
    /// Age of the oldest message waiting or in flight, in milliseconds.
    pub oldest_age_ms: Option<u64>,
}

/// The queue contract.
#[async_trait]
pub trait Queue: Send + Sync + 'static {
    /// Leases up to `max` new messages to `consumer` (returns at once, maybe empty).
    async fn receive(&self, consumer: &str, max: usize) -> QueueResult<Vec<Lease>>;
    /// Takes over up to `max` leases idle for at least `min_idle_ms` (their consumer
    /// died or hung).
    async fn reclaim(
        &self,
        consumer: &str,
        min_idle_ms: u64,
        max: usize,
    ) -> QueueResult<Vec<Lease>>;
    /// Resets a lease's idle time, so it is not reclaimed while still being worked on.
    async fn touch(&self, consumer: &str, lease: &Lease) -> QueueResult<()>;
    /// Done: removes the message.
    async fn ack(&self, lease: &Lease) -> QueueResult<()>;
    /// Out of retries: moves the message to the dead letters with a reason.
    async fn dead_letter(&self, lease: &Lease, reason: &str) -> QueueResult<()>;
    /// Current depth.
    async fn depth(&self) -> QueueResult<QueueDepth>;
    /// Completes when this process may have queued a send since the last wake-up, so an
    /// idle worker can `receive` at once instead of at its next poll. A hint only: sends
    /// queued by other processes are found by polling. The default never completes.
    async fn queued(&self) {
        std::future::pending::<()>().await
    }
}
