//! The verifications a store keeps: a start (create or resend, in one atomic step with the
//! number's send limit), a check, reads and cancel, with their requests and outcomes;
//! and the support lookup's per-destination index of ids, written by the start.

use super::admit::{self, Admission, Admitted};
use crate::domain::{Channel, Millis, Verification, VerificationId};
use crate::error::StoreResult;
use async_trait::async_trait;

/// Where a number's entries live: the keyed number hash and its shard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberRef {
    /// Tenant owning the entries.
    pub tenant: String,
    /// Keyed hash of the number (see [`crate::crypto::Keys::number_key`]).
    pub key: String,
    /// Shard the number hashes into.
    pub shard: u16,
    /// Channel of the pending index.
    pub channel: Channel,
}

/// Ids a destination's lookup index keeps at most (the newest); an older one drops out.
pub const LOOKUP_MAX: usize = 50;

/// One entry of a destination's lookup index: a verification's (or delivery-only
/// send's) id and when it was created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookupEntry {
    /// The verification or send.
    pub id: VerificationId,
    /// Its creation time.
    pub created_at: Millis,
}

/// A start request as the store sees it: a candidate new verification plus the policy.
#[derive(Debug, Clone)]
pub struct StartSpec {
    /// The record to create if nothing is pending (status pending, send_count 1).
    pub fresh: Verification,
    /// MAC of the fresh record's code.
    pub code_mac: [u8; 32],
    /// Where the number's entries live.
    pub number: NumberRef,
    /// Resend cooldown in ms.
    pub cooldown_ms: i64,
    /// How long a finished verification stays readable, in ms.
    pub retention_ms: i64,
    /// How long the destination's lookup index keeps this start's id, in ms (0: not
    /// indexed). See [`LOOKUP_MAX`].
    pub lookup_ms: i64,
    /// Sends allowed per number per window.
    pub number_send_limit: u32,
    /// Window of that limit, in ms.
    pub number_window_ms: i64,
    /// The send to queue with the created or resent verification.
    pub enqueue: EnqueueSpec,
    /// A resend switches to this channel (none: the last send's channel).
    pub resend_channel: Option<Channel>,
}

/// What a start queues besides the verification itself.
#[derive(Debug, Clone, Default)]
pub struct EnqueueSpec {
    /// Android app hash for this send.
    pub app_hash: Option<String>,
    /// Request id for log correlation.
    pub request_id: Option<String>,
}

/// Outcome of a start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartOutcome {
    /// A new verification was created.
    Created(Verification),
    /// The pending one was resent (`send_count` already incremented).
    Resent(Verification),
    /// A resend before `next_resend_at`; retry after `ms`.
    Cooldown(i64),
    /// The pending one has used all its sends; it expires in `ms`.
    MaxSends(i64),
    /// The number's send limit is used up for `ms`.
    NumberLimited(i64),
    /// The send queue is full (memory backend): nothing was written.
    QueueFull,
    /// The store is at its cap (memory backend) and evicting would take another
    /// tenant's entries: nothing was written; the soonest entry expires in `ms`.
    StoreFull(i64),
}

/// Which verification a check targets.
#[derive(Debug, Clone)]
pub enum CheckTarget {
    /// The one pending for this number.
    Number(NumberRef),
    /// A specific verification (its number ref read beforehand).
    Id(VerificationId, NumberRef),
}

/// A check request as the store sees it.
#[derive(Debug, Clone)]
pub struct CheckSpec {
    /// Target verification.
    pub target: CheckTarget,
    /// MAC of the code the user typed.
    pub code_mac: [u8; 32],
    /// Failed checks allowed per number per window, from every client together (at
    /// least 1).
    pub number_fail_limit: u32,
    /// Keyed hashes of the clients the check comes from (IP group, session; empty when
    /// the caller named none): failed checks are also counted per (number, client).
    pub client_keys: Vec<String>,
    /// Failed checks allowed per (number, client) per window (0: not counted).
    pub client_fail_limit: u32,
    /// Window of both limits, in ms. Both are GCRA over the window (a TAT per key, see
    /// [`crate::ratelimit`]): a check is refused, right code or not, while one more
    /// failure would not be admitted; only a failure is charged.
    pub number_window_ms: i64,
    /// Retention after approval, in ms.
    pub retention_ms: i64,
}

/// Outcome of a check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckOutcome {
    /// Right code: now approved and used up.
    Approved(Verification),
    /// Wrong code: one attempt gone (status may now be `max_attempts_reached`).
    Wrong(Verification),
    /// Nothing pending matches.
    NotFound,
    /// No attempts left; the verification expires in `ms`.
    MaxAttempts(i64),
    /// The number's failed-check limit (all clients together) is used up for `ms`.
    NumberLimited(i64),
    /// This client's failed-check limit for the number is used up for `ms`.
    ClientLimited(i64),
}

/// Verifications by id and by number: the part of the store every start and check uses.
#[async_trait]
pub trait Verifications: Send + Sync + 'static {
    /// Creates a verification, or resends the pending one, enforcing cooldown, per-
    /// verification sends and the per-number send limit in one atomic step.
    async fn start(&self, spec: StartSpec, now: Millis) -> StoreResult<StartOutcome>;
    /// Checks a code MAC atomically: approve and use up, or spend an attempt.
    async fn check(&self, spec: CheckSpec, now: Millis) -> StoreResult<CheckOutcome>;
    /// A start behind its admission (limits, pumping guard; see [`admit`]). `gate` holds
    /// the limiter and guard state built from the same store config. By default the steps
    /// run in turn; one Redis node runs them as one script.
    async fn admit_start(
        &self,
        gate: &crate::ratelimit::Backends,
        adm: &Admission,
        spec: StartSpec,
        now: Millis,
    ) -> StoreResult<Admitted<StartOutcome>> {
        admit::start_in_turn(self, gate, adm, spec, now).await
    }
    /// A check behind its admission (limits; an approval counted for the pumping guard).
    async fn admit_check(
        &self,
        gate: &crate::ratelimit::Backends,
        adm: &Admission,
        spec: CheckSpec,
        now: Millis,
    ) -> StoreResult<Admitted<CheckOutcome>> {
        admit::check_in_turn(self, gate, adm, spec, now).await
    }
    /// Reads a verification of `tenant` (other tenants' ids read as `None`).
    async fn get(&self, tenant: &str, id: &VerificationId) -> StoreResult<Option<Verification>> {
        Ok(self.get_any(id).await?.filter(|v| v.tenant == tenant))
    }
    /// Reads a verification whatever its tenant (delivery workers).
    async fn get_any(&self, id: &VerificationId) -> StoreResult<Option<Verification>>;
    /// Cancels a pending verification; returns the record after the call and whether
    /// this call canceled it (of two concurrent cancels, one), `None` if unknown.
    async fn cancel(
        &self,
        tenant: &str,
        id: &VerificationId,
        number: &NumberRef,
        retention_ms: i64,
        now: Millis,
    ) -> StoreResult<Option<(Verification, bool)>>;
    /// Approves a pending verification without a code (a caller's own check, Twilio's
    /// `Status=approved`), as [`Verifications::cancel`] cancels one: in one atomic step,
    /// the pending index freed and the record kept for `retention_ms`. Returns the record
    /// after the call and whether this call approved it (so its approval is counted once
    /// for the pumping guard), `None` if unknown.
    async fn approve(
        &self,
        tenant: &str,
        id: &VerificationId,
        number: &NumberRef,
        retention_ms: i64,
        now: Millis,
    ) -> StoreResult<Option<(Verification, bool)>>;
    /// A destination's lookup index (every channel, verifications and delivery-only
    /// sends), newest first, entries created at or after `since` only.
    async fn lookup(&self, number: &NumberRef, since: Millis) -> StoreResult<Vec<LookupEntry>>;
    /// The id of the verification pending for a number and channel, if any.
    async fn pending_id(
        &self,
        number: &NumberRef,
        now: Millis,
    ) -> StoreResult<Option<VerificationId>>;
}
