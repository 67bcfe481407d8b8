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
//! one script (`store/redis/fused.rs`): one round trip per start and per check, limits
//! included.

use super::*;
use crate::ratelimit::pumping::{Bucket, PumpPolicy, PumpVerdict};
use crate::ratelimit::{Backends, Decision, Limit};

/// What a request is admitted by.
#[derive(Debug, Clone, Default)]
pub struct Admission {
    /// Tenant id: the limits' and the guard's keys live under it.
    pub tenant: String,
    /// The request's limits, decided together (empty: none apply).
    pub limits: Vec<Limit>,
    /// A send: the guard's bucket and policy (`None`: guard off, or a safe-listed number).
    pub pump: Option<(Bucket, PumpPolicy)>,
    /// A check: the guard's bucket and window, counted when the check approves.
    pub approval: Option<(Bucket, u64)>,
}

/// What came of a request at each stage.
#[derive(Debug, Clone)]
pub struct Admitted<T> {
    /// The limits' decision (`Allowed` with no quotas when none applied).
    pub decision: Decision,
    /// The guard's verdict, when it was asked.
    pub pump: Option<PumpVerdict>,
    /// The store step's outcome; `None` when a limit or the guard refused first.
    pub outcome: Option<T>,
}

impl<T> Admitted<T> {
    fn refused(decision: Decision, pump: Option<PumpVerdict>) -> Self {
        Admitted {
            decision,
            pump,
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

/// [`Store::admit_start`], one step after the other.
pub async fn start_in_turn<S: Store + ?Sized>(
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
    let pump = match &adm.pump {
        Some((b, p)) => Some(gate.pumps.record_send(b, p, now).await?),
        None => None,
    };
    if pump.as_ref().is_some_and(PumpVerdict::refuses) {
        return Ok(Admitted::refused(decision, pump));
    }
    let outcome = store.start(spec, now).await?;
    Ok(Admitted {
        decision,
        pump,
        outcome: Some(outcome),
    })
}

/// [`Store::admit_check`], one step after the other. A failure to count the approval
/// is logged: the check itself has happened.
pub async fn check_in_turn<S: Store + ?Sized>(
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
    if let (CheckOutcome::Approved(_), Some((b, window_ms))) = (&outcome, &adm.approval) {
        if let Err(e) = gate.pumps.record_approval(b, *window_ms, now).await {
            tracing::warn!(error = %e, "could not count an approval for the pumping guard");
        }
    }
    Ok(Admitted {
        decision,
        pump: None,
        outcome: Some(outcome),
    })
}
