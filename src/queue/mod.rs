//! The delivery queue: an in-process bounded queue and the workers that drain it.
//!
//! States of a message, mirrored in `delivery.status`: `queued` (in the channel) ->
//! `sending` (a worker has it) -> `sent` (a provider accepted it) or `failed` (a
//! permanent rejection, or retries ran out). A retryable failure waits
//! `retry_initial_ms * 2^n` (capped at `retry_max_ms`, with full jitter) and tries again,
//! but never past the code's expiry: a code nobody can use is not worth sending.
//! At most `concurrency` sends run at once; a message waiting between retries holds no
//! slot.
//!
//! On shutdown the queue stops taking messages, workers finish what is queued or in
//! flight within `shutdown_deadline_ms`; whatever is still unsent then is logged and
//! dropped. This queue lives in memory: messages queued when the process dies are lost,
//! which is why multi-instance deployments get the durable Redis queue next.

use crate::config::DeliveryConfig;
use crate::domain::{now_millis, DeliveryStatus};
use crate::providers::{outbox::Outbox, OutboundMessage, SmsProvider};
use crate::store::Store;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;

/// Why a message could not be queued.
#[derive(Debug, thiserror::Error)]
pub enum EnqueueError {
    /// The queue is at capacity.
    #[error("the delivery queue is full")]
    Full,
    /// The gateway is shutting down.
    #[error("the delivery queue is closed")]
    Closed,
}

/// Handle to put messages on the queue. Cheap to clone.
#[derive(Clone, Debug)]
pub struct DeliveryQueue {
    tx: mpsc::Sender<OutboundMessage>,
}

impl DeliveryQueue {
    /// Queues a message without waiting.
    pub fn enqueue(&self, msg: OutboundMessage) -> Result<(), EnqueueError> {
        self.tx.try_send(msg).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => EnqueueError::Full,
            mpsc::error::TrySendError::Closed(_) => EnqueueError::Closed,
        })
    }

    /// True while the workers take messages.
    pub fn is_open(&self) -> bool {
        !self.tx.is_closed()
    }
}

/// Running workers; [`Workers::shutdown`] drains them.
pub struct Workers {
    stop: Arc<tokio::sync::Notify>,
    task: tokio::task::JoinHandle<()>,
    deadline: Duration,
}

struct Ctx {
    name: String,
    provider: Arc<dyn SmsProvider>,
    store: Arc<dyn Store>,
    outbox: Option<Outbox>,
    slots: Arc<Semaphore>,
    initial: Duration,
    max: Duration,
}

/// Starts the queue and its workers.
pub fn start(
    cfg: &DeliveryConfig,
    (name, provider): (String, Arc<dyn SmsProvider>),
    store: Arc<dyn Store>,
    outbox: Option<Outbox>,
) -> (DeliveryQueue, Workers) {
    let (tx, rx) = mpsc::channel(cfg.queue_capacity.max(1));
    let ctx = Arc::new(Ctx {
        name,
        provider,
        store,
        outbox,
        slots: Arc::new(Semaphore::new(cfg.concurrency.max(1))),
        initial: Duration::from_millis(cfg.retry_initial_ms.max(1)),
        max: Duration::from_millis(cfg.retry_max_ms.max(cfg.retry_initial_ms).max(1)),
    });
    let stop = Arc::new(tokio::sync::Notify::new());
    let task = tokio::spawn(dispatch(rx, ctx, stop.clone()));
    let deadline = Duration::from_millis(cfg.shutdown_deadline_ms);
    (
        DeliveryQueue { tx },
        Workers {
            stop,
            task,
            deadline,
        },
    )
}

impl Workers {
    /// Stops taking messages and waits up to the deadline for queued and in-flight ones.
    /// Returns true when everything was handed over (or given up) in time.
    pub async fn shutdown(self) -> bool {
        self.stop.notify_one();
        let mut task = self.task;
        match tokio::time::timeout(self.deadline, &mut task).await {
            Ok(_) => true,
            Err(_) => {
                task.abort();
                tracing::warn!(
                    "delivery did not drain before the shutdown deadline; unsent messages dropped"
                );
                false
            }
        }
    }
}

async fn dispatch(
    mut rx: mpsc::Receiver<OutboundMessage>,
    ctx: Arc<Ctx>,
    stop: Arc<tokio::sync::Notify>,
) {
    let mut tasks = JoinSet::new();
    let mut stopping = false;
    loop {
        // Take a send slot before taking a message: while every slot is busy, messages
        // stay in the bounded channel, which is what makes `queue_capacity` a real bound.
        let slot = tokio::select! {
            s = ctx.slots.clone().acquire_owned() => s.expect("semaphore never closed"),
            _ = stop.notified(), if !stopping => { stopping = true; rx.close(); continue; }
        };
        tokio::select! {
            msg = rx.recv() => match msg {
                Some(m) => { tasks.spawn(deliver(m, ctx.clone(), slot)); }
                None => break,
            },
            _ = stop.notified(), if !stopping => { stopping = true; rx.close(); }
        }
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
}

async fn mark(ctx: &Ctx, msg: &OutboundMessage, status: DeliveryStatus, provider: Option<&str>) {
    if let Err(e) = ctx
        .store
        .set_delivery(&msg.id, status, provider, now_millis())
        .await
    {
        tracing::warn!(id = msg.id.as_str(), status = status.as_str(), error = %e, "could not record delivery status");
    }
}

/// Delay before retry `attempt` (1-based): exponential, capped, full jitter.
pub fn backoff(initial: Duration, max: Duration, attempt: u32) -> Duration {
    let exp = initial.saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
    let cap = exp.min(max);
    let r = u32::from_be_bytes(crate::crypto::random_bytes::<4>()) as f64 / u32::MAX as f64;
    cap.mul_f64(0.5 + r / 2.0)
}

async fn deliver(msg: OutboundMessage, ctx: Arc<Ctx>, first_slot: OwnedSemaphorePermit) {
    let name = ctx.name.as_str();
    let to = msg.to_masked();
    if let Some(o) = &ctx.outbox {
        o.record(&msg.to, &msg.body, now_millis());
    }
    mark(&ctx, &msg, DeliveryStatus::Sending, Some(name)).await;
    let mut slot = Some(first_slot);
    for attempt in 1u32.. {
        let result = {
            let _slot = match slot.take() {
                Some(s) => s,
                None => ctx
                    .slots
                    .clone()
                    .acquire_owned()
                    .await
                    .expect("semaphore never closed"),
            };
            ctx.provider.send(&msg).await
        };
        match result {
            Ok(provider_id) => {
                tracing::info!(id = msg.id.as_str(), to = %to, provider = name, provider_id = %provider_id, attempt, "message sent");
                mark(&ctx, &msg, DeliveryStatus::Sent, Some(name)).await;
                return;
            }
            Err(e) if e.retryable => {
                let wait = e
                    .retry_after
                    .unwrap_or_else(|| backoff(ctx.initial, ctx.max, attempt));
                if now_millis() + wait.as_millis() as i64 >= msg.expires_at {
                    tracing::warn!(id = msg.id.as_str(), to = %to, provider = name, attempt, error = %e, "giving up: the code expires before the next attempt");
                    mark(&ctx, &msg, DeliveryStatus::Failed, Some(name)).await;
                    return;
                }
                tracing::warn!(id = msg.id.as_str(), to = %to, provider = name, attempt, retry_in_ms = wait.as_millis() as u64, error = %e, "send failed, will retry");
                tokio::time::sleep(wait).await;
            }
            Err(e) => {
                tracing::warn!(id = msg.id.as_str(), to = %to, provider = name, attempt, error = %e, "send rejected for good");
                mark(&ctx, &msg, DeliveryStatus::Failed, Some(name)).await;
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        let i = Duration::from_millis(100);
        let m = Duration::from_millis(1000);
        for _ in 0..50 {
            let b1 = backoff(i, m, 1);
            assert!(b1 >= Duration::from_millis(50) && b1 <= i);
            let b3 = backoff(i, m, 3);
            assert!(b3 >= Duration::from_millis(200) && b3 <= Duration::from_millis(400));
            assert!(backoff(i, m, 30) <= m);
        }
    }
}
