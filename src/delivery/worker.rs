//! The worker loop of one gateway process.
//!
//! It leases new sends (`receive`) and, every few seconds, sends whose worker went silent
//! for the visibility timeout (`reclaim`); at most `concurrency` sends are worked on at
//! once. For each send it first reads the verification: a send whose verification is gone,
//! finished, superseded by a later resend, or already accepted by a provider (a
//! redelivery after a crash) is acked without sending again.
//!
//! Store traffic per send on one Redis node: one script reads the verification and marks
//! it `sending` (`Store::begin_delivery`), one records `sent` with the provider's message
//! id for receipts and acks the stream entry (`Store::delivered`, handed the lease): two
//! round trips (three on a cluster, where the message-id link lives in another slot).
//! A send that is not sent (gone, superseded, failed) is acked or dead-lettered through
//! the queue.
//!
//! Shutdown keeps taking what is queued until the queue is empty, lets those sends finish,
//! all within `shutdown_deadline_ms`, and leaves the rest in the queue: with Redis
//! another instance takes them over after the visibility timeout; in memory they are lost
//! with the process.

use super::{Outcome, Router};
use crate::config::DeliveryConfig;
use crate::crypto::Keys;
use crate::domain::{now_millis, DeliveryStatus};
use crate::providers::outbox::Outbox;
use crate::providers::OutboundMessage;
use crate::queue::{Lease, Queue};
use crate::store::{Begun, SendVerdict, Store};
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
}

/// Running workers.
pub struct Workers {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    deadline: Duration,
}

/// Starts the worker loop.
pub fn start(ctx: Ctx) -> Workers {
    let (stop, rx) = watch::channel(false);
    let deadline = Duration::from_millis(ctx.cfg.shutdown_deadline_ms);
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
                process(&ctx, lease).await;
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

/// Marks the send failed with `reason` (on the record, so the API shows it) and moves
/// it to the dead letters with the same reason.
async fn fail(ctx: &Ctx, lease: &Lease, provider: Option<&str>, reason: &str) {
    let reason = &crate::domain::mask_digit_runs(reason);
    let failed = DeliveryStatus::Failed;
    if let Err(e) = ctx
        .store
        .set_delivery(&lease.msg.id, failed, provider, Some(reason), now_millis())
        .await
    {
        tracing::warn!(id = lease.msg.id.as_str(), error = %e, "could not record the failed delivery");
    }
    settle(ctx, lease, Some(reason)).await;
}

async fn settle(ctx: &Ctx, lease: &Lease, dead: Option<&str>) {
    if dead.is_some() {
        ctx.metrics.dead_letters.inc();
    }
    let r = match dead {
        None => ctx.queue.ack(lease).await,
        Some(reason) => ctx.queue.dead_letter(lease, reason).await,
    };
    if let Err(e) = r {
        tracing::warn!(id = lease.msg.id.as_str(), error = %e, "could not settle the send; it will be retried after the visibility timeout");
    }
}

async fn process(ctx: &Ctx, lease: Lease) {
    if lease.redelivered {
        ctx.metrics.redeliveries.inc();
    }
    let id = &lease.msg.id;
    let now = now_millis();
    // Reads the record and, if the send is due, marks it `sending` (one round trip).
    let begun = ctx
        .store
        .begin_delivery(id, lease.msg.seq, lease.redelivered, now)
        .await;
    let Begun { record: v, verdict } = match begun {
        Ok(Some(b)) => b,
        Ok(None) => return settle(ctx, &lease, None).await,
        Err(e) => {
            tracing::warn!(id = id.as_str(), error = %e, "cannot read the verification; leaving the send queued");
            return;
        }
    };
    match verdict {
        SendVerdict::Due => {}
        SendVerdict::Superseded | SendVerdict::Finished => {
            return settle(ctx, &lease, None).await;
        }
        SendVerdict::AlreadyAccepted => {
            tracing::info!(
                id = id.as_str(),
                "send already accepted before a worker stopped; not sending it twice"
            );
            return settle(ctx, &lease, None).await;
        }
        SendVerdict::Expired => {
            // verifications only: a delivery's end shows in its status and dead letter
            if v.id.kind() == crate::domain::RecordKind::Verification {
                let country = v.to.country().to_string();
                let labels = [v.tenant.as_str(), v.channel.as_str(), &country, "expired"];
                ctx.metrics.finished.with_label_values(&labels).inc();
            }
            return fail(
                ctx,
                &lease,
                None,
                "the code expired before it could be sent",
            )
            .await;
        }
    }
    let Some(tenant) = ctx.tenants.get(&v.tenant) else {
        return fail(ctx, &lease, None, "the tenant is no longer configured").await;
    };
    let Some((body, locale)) = super::render(
        &ctx.keys,
        &tenant.cfg,
        &v,
        lease.msg.app_hash.as_deref(),
        now,
    ) else {
        let why = "the supplied code does not open under this server secret";
        return fail(ctx, &lease, None, why).await;
    };
    if let Some(o) = &ctx.outbox {
        o.record(&v.tenant, v.to.as_str(), &body, now);
    }
    let encoding = match crate::template::encoding_of(&body) {
        crate::template::Encoding::Gsm7 => "gsm7",
        crate::template::Encoding::Ucs2 => "ucs2",
    };
    ctx.metrics
        .segments
        .with_label_values(&[encoding])
        .observe(crate::template::segments(&body) as f64);
    let msg = OutboundMessage {
        id: id.clone(),
        tenant: v.tenant.clone(),
        to: v.to.clone(),
        body,
        locale,
        metadata: v.metadata.clone(),
        expires_at: v.expires_at,
        request_id: lease.msg.request_id.clone(),
    };
    let touch = || async {
        if let Err(e) = ctx.queue.touch(&ctx.consumer, &lease).await {
            tracing::warn!(id = id.as_str(), error = %e, "could not extend the lease");
        }
    };
    match ctx.router.send(&msg, v.expires_at, touch).await {
        Outcome::Sent {
            provider,
            message_id,
        } => {
            let ttl = (v.expires_at - now) + tenant.cfg.retention_secs as i64 * 1000;
            // The ack rides in the same step where the backend can (both do).
            let acked = ctx
                .store
                .delivered(id, &provider, &message_id, ttl, Some(&lease), now_millis())
                .await;
            match acked {
                Ok(true) => {}
                Ok(false) => settle(ctx, &lease, None).await,
                Err(e) => {
                    tracing::warn!(id = id.as_str(), error = %e, "could not record the accepted send; its status stays `sending` and its receipts will be refused");
                    settle(ctx, &lease, None).await;
                }
            }
        }
        Outcome::Rejected { provider, reason } => {
            let reason = format!("rejected by {provider}: {reason}");
            fail(ctx, &lease, Some(&provider), &reason).await;
        }
        Outcome::GaveUp { provider, reason } => {
            let reason = format!("out of retries: {reason}");
            fail(ctx, &lease, provider.as_deref(), &reason).await;
        }
    }
}
