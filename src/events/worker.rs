//! The events worker: every instance polls the queue ([`crate::queue::events`]) for due
//! heads, makes one attempt at each ([`super::send::attempt`]), and settles it:
//! delivered, retried after [`super::send::backoff`], or dead-lettered (with every later
//! event of its verification) once the next attempt would fall outside the tenant's
//! window. The retry state lives in the queue, not here, so an instance that dies
//! loses nothing: its leases expire and another instance claims the same heads.
//!
//! A lease lasts twice the longest receiver timeout plus 5 s, so a live attempt always
//! settles before its lease ends. At most [`MAX_IN_FLIGHT`] attempts run at once per
//! instance; a poll that finds a full batch polls again at once, else the next poll is
//! [`POLL`] later, or as soon as this instance appends an event (never sooner than
//! [`MIN_GAP`] after the last). A settled head whose
//! line goes on is due at once, so the next poll takes its successor. At shutdown the worker stops claiming and gives the attempts under
//! way [`DRAIN`]; one cut short is claimed again when its lease passes.

use super::order::{Endpoint, Retry};
use super::send::{attempt, backoff};
use super::Event;
use crate::config::TenantConfig;
use crate::domain::now_millis;
use crate::metrics::Metrics;
use crate::queue::events::{ClaimedEvent, EventQueue};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// How often an idle worker polls (at once when this instance appended an event).
pub const POLL: Duration = Duration::from_millis(500);
/// Attempts under way at once, per instance.
pub const MAX_IN_FLIGHT: usize = 64;
/// The least time between two polls that did not fill a batch (a wake-up by an
/// append or a settled head waits for it), so a busy instance polls at most 20 times
/// a second.
pub const MIN_GAP: Duration = Duration::from_millis(50);
/// What the attempts under way get at shutdown.
pub const DRAIN: Duration = Duration::from_secs(5);

struct Ctx {
    queue: Arc<dyn EventQueue>,
    emitter: super::Emitter,
    endpoints: HashMap<String, Endpoint>,
    lease_ms: u64,
}

/// The running worker.
pub struct EventWorker {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl EventWorker {
    /// Stops claiming, waits for the attempts under way (at most [`DRAIN`]).
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// Starts the worker for the tenants of `tenants` with an `[events]` section; `None`
/// when there are none (nothing polls then).
pub fn spawn(
    emitter: &super::Emitter,
    tenants: &BTreeMap<String, TenantConfig>,
    metrics: Metrics,
) -> anyhow::Result<Option<EventWorker>> {
    let mut endpoints = HashMap::new();
    let mut longest = Duration::ZERO;
    for (id, t) in tenants {
        if let Some(cfg) = &t.events {
            longest = longest.max(cfg.timeout());
            endpoints.insert(id.clone(), Endpoint::new(id, cfg, metrics.clone())?);
        }
    }
    if endpoints.is_empty() {
        return Ok(None);
    }
    let ctx = Arc::new(Ctx {
        queue: emitter.queue().clone(),
        emitter: emitter.clone(),
        endpoints,
        lease_ms: (longest * 2 + Duration::from_secs(5)).as_millis() as u64,
    });
    let (stop, rx) = watch::channel(false);
    let task = tokio::spawn(run(ctx, rx));
    Ok(Some(EventWorker { stop, task }))
}

async fn run(ctx: Arc<Ctx>, mut stop: watch::Receiver<bool>) {
    let mut inflight = JoinSet::new();
    let mut warned = false;
    let mut polled: Option<tokio::time::Instant> = None;
    while !*stop.borrow() {
        if let Some(gap) = polled.and_then(|p| MIN_GAP.checked_sub(p.elapsed())) {
            tokio::time::sleep(gap).await;
        }
        polled = Some(tokio::time::Instant::now());
        while inflight.try_join_next().is_some() {}
        let free = MAX_IN_FLIGHT - inflight.len();
        let mut full = false;
        if free > 0 {
            match ctx.queue.claim(now_millis(), ctx.lease_ms, free).await {
                Ok(claimed) => {
                    warned = false;
                    full = claimed.len() == free;
                    for c in claimed {
                        inflight.spawn(settle(ctx.clone(), c));
                    }
                }
                Err(e) if !warned => {
                    warned = true;
                    tracing::warn!(error = %e, "events queue unavailable; events wait");
                }
                Err(_) => {}
            }
        }
        if full {
            polled = None;
            continue;
        }
        tokio::select! {
            _ = tokio::time::sleep(POLL) => {}
            _ = ctx.emitter.appended() => {}
            // a settled head may have made its successor due
            Some(_) = inflight.join_next(), if !inflight.is_empty() => {}
            _ = stop.changed() => {}
        }
    }
    let drained = tokio::time::timeout(DRAIN, async {
        while inflight.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::info!(
            left = inflight.len(),
            "events attempts cut short at shutdown; claimed again when their lease passes"
        );
        inflight.abort_all();
    }
}

/// One attempt at a claimed head, and what the queue is told of it.
async fn settle(ctx: Arc<Ctx>, c: ClaimedEvent) {
    let v = &c.verification;
    let parsed = serde_json::from_str::<Event>(&c.text).ok();
    let to = parsed
        .as_ref()
        .and_then(|e| ctx.endpoints.get(&e.data.tenant));
    let (Some(mut event), Some(to)) = (parsed.clone(), to) else {
        let why = match parsed {
            None => "unreadable event",
            Some(_) => "the tenant has no [events] section any more",
        };
        let _ = ctx
            .queue
            .dead(v, c.seq, c.attempts, why, why, now_millis())
            .await;
        return;
    };
    event.data.seq = c.seq;
    let started = now_millis();
    let failure = match attempt(&to.client, &to.cfg, &to.key, &event, started / 1000).await {
        Ok(_) => {
            to.count("sent");
            if let Err(e) = ctx.queue.delivered(v, c.seq, now_millis()).await {
                // the head stays: it is sent again when its lease passes
                tracing::warn!(id = v.as_str(), error = %e, "could not settle a delivered event");
            }
            return;
        }
        Err(f) => f,
    };
    to.count("failed");
    let attempts = c.attempts + 1;
    let first = if c.first_ms == 0 { started } else { c.first_ms };
    let retry = Retry::of(&to.cfg);
    let wait = backoff(attempts, retry.base).as_millis() as i64;
    let now = now_millis();
    let settled = if now + wait - first >= retry.window.as_millis() as i64 {
        let reason = format!("{} (after {attempts} attempts)", failure.reason);
        let behind = format!(
            "not sent: {} (seq {}) of this verification was dead-lettered before it",
            event.id, c.seq
        );
        tracing::info!(id = v.as_str(), tenant = %to.tenant, kind = event.kind.as_str(), %reason, "event dead-lettered");
        ctx.queue
            .dead(v, c.seq, attempts, &reason, &behind, now)
            .await
            .map(|n| (0..n).for_each(|_| to.count("dead")))
    } else {
        ctx.queue.retry(v, c.seq, attempts, first, now + wait).await
    };
    if let Err(e) = settled {
        tracing::warn!(id = v.as_str(), error = %e, "could not settle a failed event");
    }
}
