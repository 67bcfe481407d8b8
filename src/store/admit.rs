//! Admission in front of a start or a check: the request's rate limits and the
//! SMS-pumping guard, decided on shared state together with the store step.
//!
//! Order, the same on every backend: the limits first (all charged or none), then for a
//! send the pumping guard (a block refuses the send; shadow mode only reports), then the
//! store step; after an approving check, the guard counts the approval. A refusal at one
//! stage leaves the later ones untouched.
//!
//! The steps touch three hash tags (the tenant's limits, the tenant's guard counters,
//! the number's shard), so on Redis Cluster they are separate round trips, run in turn
//! by the functions here (also the memory backend's way). One Redis node runs them as
//! one script (`backend/redis/fused.rs`): one round trip per start and per check, limits
//! included.

use super::*;
use crate::domain::Millis;
use crate::ratelimit::pumping::{GuardPolicy, Probe, PumpVerdict};
use crate::ratelimit::{Backends, Decision, Limit};

/// What a request is admitted by.
#[derive(Debug, Clone, Default)]
pub struct Admission {
    /// Tenant id: the limits' and the guard's keys live under it.
    pub tenant: String,
    /// The request's limits, decided together (empty: none apply).
    pub limits: Vec<Limit>,
    /// A send: where the guard counts it, and its policy (`None`: guard off, or a
    /// safe-listed number).
    pub pump: Option<(Probe, GuardPolicy)>,
    /// A check: where the guard counts its approval, if it approves.
    pub approval: Option<(Probe, GuardPolicy)>,
    /// When the guard's state alone cannot be reached: go ahead uncounted (`true`) or
    /// fail the request.
    pub fail_open: bool,
}

/// What came of a request at each stage.
#[derive(Debug, Clone)]
pub struct Admitted<T> {
    /// The limits' decision (`Allowed` with no quotas when none applied).
    pub decision: Decision,
    /// The guard's verdict, when it was asked.
    pub pump: Option<PumpVerdict>,
    /// The guard was asked but could not be reached: the request went ahead uncounted
    /// (the tenant fails open; `outcome` is set) or stopped there (`outcome` is `None`).
    pub guard_down: bool,
    /// The store step's outcome; `None` when a limit or the guard refused first.
    pub outcome: Option<T>,
}

impl<T> Admitted<T> {
    fn refused(decision: Decision, pump: Option<PumpVerdict>) -> Self {
        Admitted {
            decision,
            pump,
            guard_down: false,
            outcome: None,
        }
    }
}

async fn decide(gate: &Backends, adm: &Admission, now: Millis) -> StoreResult<Decision> {
    if adm.limits.is_empty() {
        return Ok(Decision::Allowed(Vec::new()));
    }
    gate.limiter.acquire(&adm.tenant, &adm.limits, now).await
}

/// [`Verifications::admit_start`], one step after the other.
pub async fn start_in_turn<S: Verifications + ?Sized>(
    store: &S,
    gate: &Backends,
    adm: &Admission,
    spec: StartSpec,
    now: Millis,
) -> StoreResult<Admitted<StartOutcome>> {
    let decision = decide(gate, adm, now).await?;
    if matches!(decision, Decision::Denied { .. }) {
        return Ok(Admitted::refused(decision, None));
    }
    let (pump, guard_down) = match &adm.pump {
        Some((probe, p)) => match gate.pumps.record_send(probe, p, now).await {
            Ok(v) => (Some(v), false),
            Err(e) => {
                tracing::warn!(error = %e, fail_open = adm.fail_open, "pumping guard unreachable");
                if !adm.fail_open {
                    let mut r = Admitted::refused(decision, None);
                    r.guard_down = true;
                    return Ok(r);
                }
                (None, true)
            }
        },
        None => (None, false),
    };
    if pump.as_ref().is_some_and(PumpVerdict::refuses) {
        return Ok(Admitted::refused(decision, pump));
    }
    let outcome = store.start(spec, now).await?;
    Ok(Admitted {
        decision,
        pump,
        guard_down,
        outcome: Some(outcome),
    })
}

/// [`Verifications::admit_check`], one step after the other. A failure to count the approval
/// is logged: the check itself has happened.
pub async fn check_in_turn<S: Verifications + ?Sized>(
    store: &S,
    gate: &Backends,
    adm: &Admission,
    spec: CheckSpec,
    now: Millis,
) -> StoreResult<Admitted<CheckOutcome>> {
    let decision = decide(gate, adm, now).await?;
    if matches!(decision, Decision::Denied { .. }) {
        return Ok(Admitted::refused(decision, None));
    }
    let outcome = store.check(spec, now).await?;
    if let (CheckOutcome::Approved(_), Some((probe, p))) = (&outcome, &adm.approval) {
        if let Err(e) = gate.pumps.record_approval(probe, p, now).await {
            tracing::warn!(error = %e, "could not count an approval for the pumping guard");
        }
    }
    Ok(Admitted {
        decision,
        pump: None,
        guard_down: false,
        outcome: Some(outcome),
    })
}
