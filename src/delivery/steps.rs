//! Workflows on the delivery side: a step whose send failed, or whose receipt said
//! undelivered, moves the verification to its next step at once; a loop in every
//! instance runs the step timers that came due (a step that went without a `delivered`
//! receipt for its timeout). The move itself is one atomic store step
//! ([`crate::store::Steps`]), so two instances, or a timer and a failure, racing on one
//! verification queue its next step once.

use crate::domain::{now_millis, Millis, Verification, VerificationId};
use crate::metrics::Metrics;
use crate::store::{NextStep, NextWhy, Store};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// How often an instance looks for due step timers.
pub const TIMER_POLL: Duration = Duration::from_millis(500);
/// Most timers one look runs.
const TIMER_BATCH: usize = 200;

/// The instant a step's send stops retrying on its providers: its timeout, when a
/// step follows (the next step takes over then), else the code's expiry.
pub fn step_deadline(v: &Verification) -> Millis {
    match &v.workflow {
        Some(w) if w.has_next() => w
            .step()
            .timeout_ms
            .map_or(v.expires_at, |t| v.expires_at.min(w.step_started_at + t)),
        _ => v.expires_at,
    }
}

/// Counts and logs what came of a move.
fn observed(metrics: &Metrics, id: &VerificationId, why: NextWhy, moved: &NextStep) {
    if let NextStep::Advanced(v, seq) = moved {
        metrics
            .workflow_steps
            .with_label_values(&[&v.tenant, v.channel.as_str(), why.as_str()])
            .inc();
        let step = v.workflow.as_ref().map_or(0, |w| w.current);
        tracing::info!(
            id = id.as_str(),
            step,
            channel = v.channel.as_str(),
            seq,
            why = why.as_str(),
            "workflow moved to its next step"
        );
    }
}

/// Moves `v` (as read before its send) on after its step failed for `why`; a
/// verification without a workflow, or on its last step, stays as it is.
pub async fn after_failure(store: &dyn Store, metrics: &Metrics, v: &Verification, why: NextWhy) {
    let Some(w) = &v.workflow else { return };
    if !w.has_next() {
        return;
    }
    match store
        .next_step(&v.id, Some(w.current), why, now_millis())
        .await
    {
        Ok(moved) => observed(metrics, &v.id, why, &moved),
        Err(e) => {
            tracing::warn!(id = v.id.as_str(), error = %e, "could not move the workflow on; its step timer will");
        }
    }
}

/// Moves a verification on after a receipt said its message was not delivered.
pub async fn after_receipt(store: &dyn Store, metrics: &Metrics, id: &VerificationId) {
    match store
        .next_step(id, None, NextWhy::Undelivered, now_millis())
        .await
    {
        Ok(moved) => observed(metrics, id, NextWhy::Undelivered, &moved),
        Err(e) => {
            tracing::warn!(id = id.as_str(), error = %e, "could not move the workflow on; its step timer will");
        }
    }
}

/// Runs due step timers until `stop` turns true.
pub fn spawn_timers(
    store: Arc<dyn Store>,
    metrics: Metrics,
    mut stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match store.due_steps(now_millis(), TIMER_BATCH).await {
                Ok(moved) => {
                    for (id, m) in &moved {
                        observed(&metrics, id, NextWhy::Timeout, m);
                    }
                    if moved.len() >= TIMER_BATCH {
                        continue;
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot run workflow step timers"),
            }
            tokio::select! {
                _ = tokio::time::sleep(TIMER_POLL) => {}
                _ = stop.changed() => {}
            }
            if *stop.borrow() {
                break;
            }
        }
    })
}
