//! The worker loop of one gateway process.
//!
//! It leases new sends (`receive`) and, every few seconds, sends whose worker went silent
//! for the visibility timeout (`reclaim`); at most `concurrency` sends are worked on at
//! once. For each send (`send.rs`) it first reads the verification: a send whose verification is gone,
//! finished, superseded by a later resend, or already accepted by a provider (a
//! redelivery after a crash) is acked without sending again.
//!
//! Store traffic per send on one Redis node: one script reads the verification and marks
//! it `sending` (`DeliveryLog::begin_delivery`), one records `sent` with the provider's message
//! id for receipts and acks the stream entry (`DeliveryLog::delivered`, handed the lease): two
//! round trips (three on a cluster, where the message-id link lives in another slot).
//! A send that is not sent (gone, superseded, failed) is acked or dead-lettered through
//! the queue.
//!
//! Shutdown keeps taking what is queued until the queue is empty, lets those sends finish,
//! all within `shutdown_deadline_ms`, and leaves the rest in the queue: with Redis
//! another instance takes them over after the visibility timeout; in memory they are lost
//! with the process.

use super::Router;
use crate::config::DeliveryConfig;
use crate::crypto::Keys;
use crate::providers::outbox::Outbox;
use crate::queue::Queue;
use crate::store::Store;
use crate::tenants::Tenants;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

/// Everything a worker needs.
pub struct Ctx {
    /// Verification store.
    pub store: Arc<dyn Store>,
    /// Send queue.
    pub queue: Arc<dyn Queue>,
    /// Providers and routes.
    pub router: Arc<Router>,
    /// Keys to re-derive codes.
    pub keys: Keys,
    /// Tenants, for templates.
    pub tenants: Tenants,
    /// Dev outbox, if on.
    pub outbox: Option<Outbox>,
    /// This process's consumer name.
    pub consumer: String,
    /// Settings.
    pub cfg: DeliveryConfig,
    /// Metrics.
    pub metrics: crate::metrics::Metrics,
    /// Events to tenants (`delivery.sent`, `delivery.failed`).
    pub events: crate::events::Emitter,
}

/// Running workers.
pub struct Workers {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    deadline: Duration,
}

/// Starts the worker loop, and the loop that runs workflow step timers (both stop
/// with [`Workers::shutdown`]).
pub fn start(ctx: Ctx) -> Workers {
    let (stop, rx) = watch::channel(false);
    let deadline = Duration::from_millis(ctx.cfg.shutdown_deadline_ms);
    super::steps::spawn_timers(ctx.store.clone(), ctx.metrics.clone(), rx.clone());
    let task = tokio::spawn(run(Arc::new(ctx), rx));
    Workers {
        stop,
        task,
        deadline,
    }
}

impl Workers {
    /// Stops leasing and waits up to the deadline for in-flight sends. Returns true when
    /// everything in flight finished in time.
    pub async fn shutdown(self) -> bool {
        let _ = self.stop.send(true);
        let mut task = self.task;
        match tokio::time::timeout(self.deadline, &mut task).await {
            Ok(_) => true,
            Err(_) => {
                task.abort();
                tracing::warn!(
                    "sends still in flight at the shutdown deadline were left in the queue"
                );
                false
            }
        }
    }
}

async fn run(ctx: Arc<Ctx>, mut stop: watch::Receiver<bool>) {
    let slots = Arc::new(Semaphore::new(ctx.cfg.concurrency.max(1)));
    let poll_min = Duration::from_millis(ctx.cfg.poll_interval_ms.max(1));
    let poll_max = poll_min.saturating_mul(4);
    let reclaim_every =
        Duration::from_millis((ctx.cfg.visibility_timeout_ms / 4).clamp(100, 5_000));
    let mut poll = poll_min;
    let mut last_reclaim = Instant::now();
    let mut tasks = JoinSet::new();
    loop {
        let stopping = *stop.borrow();
        while tasks.try_join_next().is_some() {}
        let free = slots.available_permits();
        if free == 0 {
            tokio::select! {
                _ = tasks.join_next() => {}
                _ = stop.changed(), if !stopping => {}
            }
            continue;
        }
        let mut leases = match ctx.queue.receive(&ctx.consumer, free.min(64)).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the send queue");
                Vec::new()
            }
        };
        if last_reclaim.elapsed() >= reclaim_every && leases.len() < free {
            last_reclaim = Instant::now();
            match ctx
                .queue
                .reclaim(
                    &ctx.consumer,
                    ctx.cfg.visibility_timeout_ms,
                    free - leases.len(),
                )
                .await
            {
                Ok(l) => {
                    if !l.is_empty() {
                        tracing::info!(count = l.len(), "took over sends whose worker went silent");
                    }
                    leases.extend(l);
                }
                Err(e) => tracing::warn!(error = %e, "cannot reclaim idle sends"),
            }
        }
        if stopping && leases.is_empty() {
            // Shutting down: what was queued has been taken; finish it and stop.
            break;
        }
        poll = if leases.is_empty() {
            (poll * 2).min(poll_max)
        } else {
            poll_min
        };
        for lease in leases {
            let permit = slots
                .clone()
                .acquire_owned()
                .await
                .expect("semaphore never closed");
            let ctx = ctx.clone();
            tasks.spawn(async move {
                super::send::process(&ctx, lease).await;
                drop(permit);
            });
        }
        if poll > poll_min && !stopping {
            tokio::select! {
                _ = tokio::time::sleep(poll) => {}
                _ = stop.changed() => {}
                // A start of this process queued a send: take it now, not at the next poll.
                _ = ctx.queue.queued() => poll = poll_min,
            }
        }
    }
    while tasks.join_next().await.is_some() {}
}
