//! Approval without a code and the lookup of a number's pending verification: what a
//! caller that checks codes itself needs (Twilio's `Status=approved`, and a
//! verification fetched by its `To`).
//!
//! An approval without a code is the tenant's backend saying the user verified, as a
//! right check or a delivery's confirmation says it: the pumping guard counts it as a
//! conversion for the number's levels, once per verification (only the call whose
//! store step moved the record counts).

use super::*;

impl Service {
    /// Approves a pending verification without a code (the caller checked it its own
    /// way): one atomic store step, like a cancel, then one approval for the pumping
    /// guard. Anything not pending is not found.
    pub async fn approve(&self, tenant: &Tenant, id: &VerificationId) -> Result<Verification> {
        let v = self.get(tenant, id).await?;
        let number = self.number_ref(tenant, &v.to);
        let now = now_millis();
        let (after, moved) = self
            .inner
            .store
            .approve(&tenant.id, id, &number, ms(tenant.cfg.retention_secs), now)
            .await
            .map_err(unavailable)?
            .ok_or_else(not_found)?;
        match after.status_at(now) {
            Status::Approved if moved => {
                self.count_approval(tenant, &after, now).await;
                observe::finished(&self.inner.metrics, &tenant.id, &after, "approved");
                self.emit(crate::events::EventType::VerificationApproved, &after)
                    .await;
                tracing::info!(id = id.as_str(), tenant = %tenant.id, "verification approved without a code");
                Ok(after)
            }
            // Approved by a concurrent call in between: that one counted it.
            Status::Approved if v.status == Status::Pending => Ok(after),
            other => Err(Error::NotFound(format!(
                "verification is {}; nothing to approve",
                other.as_str()
            ))),
        }
    }

    /// Counts an approval without a code for the pumping guard, where a right check's
    /// would count (the number's levels; no sources, as none are named). A failure is
    /// logged: the approval itself has happened.
    async fn count_approval(&self, tenant: &Tenant, v: &Verification, now: Millis) {
        let abuse = &self.inner.abuse;
        let adm = abuse.admission_after_read(tenant, Some(&v.to), &CheckClient::default());
        if let Some((probe, policy)) = &adm.approval {
            if let Err(e) = abuse.gate().pumps.record_approval(probe, policy, now).await {
                tracing::warn!(error = %e, "could not count an approval for the pumping guard");
            }
        }
    }

    /// The verification pending for a destination, whatever its channel (`404` when
    /// there is none).
    pub async fn pending(&self, tenant: &Tenant, to: &Destination) -> Result<Verification> {
        let number = self.number_ref(tenant, to);
        let id = self
            .inner
            .store
            .pending_id(&number, now_millis())
            .await
            .map_err(unavailable)?
            .ok_or_else(not_found)?;
        self.get(tenant, &id).await
    }
}

impl Service {
    /// Moves a workflow verification to its next step now (the caller asks:
    /// `POST /v1/verifications/{id}/next`); `409 no_next_step` when it runs no
    /// workflow, is on its last step or is no longer pending.
    pub async fn next_step(&self, tenant: &Tenant, id: &VerificationId) -> Result<Verification> {
        self.get(tenant, id).await?;
        let now = now_millis();
        let moved = self
            .inner
            .store
            .next_step(id, None, NextWhy::Requested, now)
            .await
            .map_err(unavailable)?;
        let no = |why: &str| Err(Error::NoNextStep(why.into()));
        match moved {
            NextStep::Advanced(v, _) => {
                tracing::info!(id = id.as_str(), tenant = %tenant.id, channel = v.channel.as_str(), "workflow moved to its next step on request");
                observe::step(&self.inner.metrics, &tenant.id, &v, NextWhy::Requested);
                Ok(*v)
            }
            NextStep::NoWorkflow => no("this verification was started without a workflow"),
            NextStep::Last => no("this verification is on its workflow's last step"),
            NextStep::NotPending | NextStep::Moved | NextStep::Delivered => {
                no("this verification is no longer pending")
            }
        }
    }
}
