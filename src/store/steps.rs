//! Workflow steps: moving a verification to its next channel, and the durable timers
//! that do it when a step's timeout passes without a `delivered` receipt.
//!
//! A start with a workflow sets a timer (in the store, beside the record's shard) for
//! its first step; [`Steps::next_step`] moves one verification on (its send failed, a
//! receipt said undelivered, the caller asked) and [`Steps::due_steps`] moves every
//! verification whose timer is due. Either way one atomic step checks the record is
//! still pending on that step, keeps what became of the step, makes the next one
//! current (its channel, `delivery.status` `queued`, the send count and sequence up by
//! one), queues its send and sets its timer. So a timer set by an instance that died
//! is run by any other, and no step is queued twice. An approval ends the workflow: a
//! timer that comes due after it finds the record no longer pending.

use super::Verifications;
use crate::domain::{DeliveryStatus, Millis, Status, StepRecord, Verification, VerificationId};
use crate::error::StoreResult;
use async_trait::async_trait;

/// Why a workflow moves on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NextWhy {
    /// The step's send failed for good.
    Failed,
    /// A receipt said the step's message was not delivered.
    Undelivered,
    /// The step's timeout passed without a `delivered` receipt.
    Timeout,
    /// The caller asked (`POST /v1/verifications/{id}/next`).
    Requested,
}

impl NextWhy {
    /// The name kept on the step.
    pub fn as_str(self) -> &'static str {
        match self {
            NextWhy::Failed => "failed",
            NextWhy::Undelivered => "undelivered",
            NextWhy::Timeout => "timeout",
            NextWhy::Requested => "requested",
        }
    }
}

/// What came of asking a verification to move on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NextStep {
    /// It moved: the record as it is now (its `channel` the new step's), and the
    /// queued send's sequence.
    Advanced(Box<Verification>, u32),
    /// No such record, or not pending any more (approved, canceled, expired, out of
    /// attempts).
    NotPending,
    /// It runs no workflow.
    NoWorkflow,
    /// It is on its last step.
    Last,
    /// It is no longer on the step asked about (moved on already).
    Moved,
    /// The step's message was delivered (a timer finds nothing to do).
    Delivered,
}

/// What a store does with workflow steps.
#[async_trait]
pub trait Steps: Verifications {
    /// Moves `id` to its next step if it is pending, on step `from` (any step when
    /// `None`) and, for a timeout, not delivered; queues the next step's send.
    async fn next_step(
        &self,
        id: &VerificationId,
        from: Option<u8>,
        why: NextWhy,
        now: Millis,
    ) -> StoreResult<NextStep>;
    /// Runs up to `max` step timers that are due at `now` (each as [`Steps::next_step`]
    /// with [`NextWhy::Timeout`]), on every shard; what each came to.
    async fn due_steps(
        &self,
        now: Millis,
        max: usize,
    ) -> StoreResult<Vec<(VerificationId, NextStep)>>;
}

/// The rule both backends apply (the Redis script mirrors it): `Ok` with the record
/// moved to its next step (and the step's timer due time, if it has a timeout), or the
/// reason it does not move.
pub fn advance(
    v: &Verification,
    from: Option<u8>,
    why: NextWhy,
    now: Millis,
) -> Result<(Verification, Option<Millis>), NextStep> {
    if v.status != Status::Pending || now >= v.expires_at {
        return Err(NextStep::NotPending);
    }
    let Some(w) = &v.workflow else {
        return Err(NextStep::NoWorkflow);
    };
    if from.is_some_and(|f| f != w.current) {
        return Err(NextStep::Moved);
    }
    if why == NextWhy::Timeout && v.delivery.status == DeliveryStatus::Delivered {
        return Err(NextStep::Delivered);
    }
    if !w.has_next() {
        return Err(NextStep::Last);
    }
    let mut n = v.clone();
    n.past_steps.push(StepRecord {
        channel: v.channel,
        provider: v.delivery.provider.clone(),
        status: v.delivery.status,
        started_at: w.step_started_at,
        ended_at: now,
        why_next: why.as_str().into(),
    });
    let mut w = w.clone();
    w.current += 1;
    w.step_started_at = now;
    let step = w.step();
    n.channel = step.channel;
    n.workflow = Some(w);
    n.send_count += 1;
    n.resent_at.push(now);
    n.delivery = crate::domain::Delivery::queued(now);
    Ok((n, step.timeout_ms.map(|t| now + t)))
}

/// A timer's member: `<id>|<step>`.
pub fn timer_member(id: &VerificationId, step: u8) -> String {
    format!("{}|{step}", id.as_str())
}

/// The id and step of a timer's member.
pub fn parse_timer(member: &str) -> Option<(VerificationId, u8)> {
    let (id, step) = member.split_once('|')?;
    Some((VerificationId::parse(id).ok()?, step.parse().ok()?))
}
