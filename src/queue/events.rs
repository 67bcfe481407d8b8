//! The durable queue of events to tenants (`docs/events.md`): the contract, implemented
//! in process and on Redis in [`crate::backend`]. The queue holds each event as the
//! text `events` made of it (no code, no number: a masked destination only); it knows
//! an event's verification, which is its ordering key, and nothing else of it.
//!
//! Life of an event: `append` gives it the next `seq` of its verification and puts it
//! at the end of the verification's line, which becomes due. `claim` leases the head of
//! due lines to one instance for `lease_ms` (a worker that dies leaves its lease to
//! expire, and another instance claims the same head again); only a head is ever
//! claimed, so event n+1 is not tried before event n is done. Then exactly one of:
//! `delivered` (the head leaves; the next, if any, is due now), `retry` (the head stays,
//! due again at the time given, its attempts remembered), `dead` (the head and every
//! later event of its verification go to the capped dead letters, with their reasons).
//!
//! An expiry timer (`arm` at a start, `disarm` once the verification ends otherwise)
//! holds a finished `verification.expired` event; `claim` first appends the due ones,
//! each in one atomic step, so whichever instance fires it, it is queued once.

use super::QueueResult;
use crate::domain::VerificationId;
use async_trait::async_trait;

/// The head of one verification's line, leased to the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedEvent {
    /// The verification (the ordering key).
    pub verification: VerificationId,
    /// The event's place among its verification's events, from 1.
    pub seq: u64,
    /// The event as appended.
    pub text: String,
    /// Failed attempts so far.
    pub attempts: u32,
    /// When it was first tried (ms), 0 before its first attempt.
    pub first_ms: i64,
}

/// A dead-lettered event, as the dead-letter list keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadEvent {
    /// When it was dead-lettered (ms).
    pub at_ms: i64,
    /// Attempts made (0: never tried, an earlier event of its verification was dead).
    pub attempts: u32,
    /// Why: the last failure, or the earlier event it waited for.
    pub reason: String,
    /// Its `seq`.
    pub seq: u64,
    /// The event as appended.
    pub text: String,
}

/// Counts for the metrics and the console.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EventsDepth {
    /// Verifications with events waiting (due, leased or waiting for a retry).
    pub lines: u64,
    /// Dead letters kept.
    pub dead: u64,
}

/// The events queue contract.
#[async_trait]
pub trait EventQueue: Send + Sync + 'static {
    /// Appends `text` to `verification`'s line; its `seq`.
    async fn append(&self, verification: &VerificationId, text: &str, now: i64)
        -> QueueResult<u64>;
    /// Appends the events of the expiry timers due at `now` (at most `max`), then leases
    /// the heads of up to `max` due lines for `lease_ms`.
    async fn claim(&self, now: i64, lease_ms: u64, max: usize) -> QueueResult<Vec<ClaimedEvent>>;
    /// The head `seq` of `verification` was delivered: it leaves the line. False when it
    /// was no longer the head (another instance took it over and finished it).
    async fn delivered(
        &self,
        verification: &VerificationId,
        seq: u64,
        now: i64,
    ) -> QueueResult<bool>;
    /// The head `seq` failed again: due again at `at_ms`, `attempts` made, first at
    /// `first_ms`.
    async fn retry(
        &self,
        verification: &VerificationId,
        seq: u64,
        attempts: u32,
        first_ms: i64,
        at_ms: i64,
    ) -> QueueResult<()>;
    /// The head `seq` is dead with `reason` after `attempts`; every later event of the
    /// line follows it with `behind` as its reason. How many were dead-lettered.
    async fn dead(
        &self,
        verification: &VerificationId,
        seq: u64,
        attempts: u32,
        reason: &str,
        behind: &str,
        now: i64,
    ) -> QueueResult<usize>;
    /// The newest `limit` dead letters, newest first.
    async fn dead_letters(&self, limit: usize) -> QueueResult<Vec<DeadEvent>>;
    /// Arms (or moves) `verification`'s expiry timer: `text` is appended at `at_ms`
    /// unless [`Self::disarm`] is called first.
    async fn arm(&self, verification: &VerificationId, text: &str, at_ms: i64) -> QueueResult<()>;
    /// Removes `verification`'s expiry timer, if any.
    async fn disarm(&self, verification: &VerificationId) -> QueueResult<()>;
    /// Current depth.
    async fn depth(&self) -> QueueResult<EventsDepth>;
}
