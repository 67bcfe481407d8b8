//! Approval without a code and the lookup of a number's pending verification: what a
//! caller that checks codes itself needs (Twilio's `Status=approved`, and a
//! verification fetched by its `To`).

use super::*;

impl Service {
    /// Approves a pending verification without a code (the caller checked it its own
    /// way): one atomic store step, like a cancel. Anything not pending is not found.
    pub async fn approve(&self, tenant: &Tenant, id: &VerificationId) -> Result<Verification> {
        let v = self.get(tenant, id).await?;
        let number = self.number_ref(tenant, v.to.as_str(), v.channel);
        let now = now_millis();
        let after = self
            .inner
            .store
            .approve(&tenant.id, id, &number, ms(tenant.cfg.retention_secs), now)
            .await
            .map_err(unavailable)?
            .ok_or_else(not_found)?;
        match after.status_at(now) {
            Status::Approved if v.status == Status::Pending => {
                observe::finished(&self.inner.metrics, &tenant.id, &after, "approved");
                self.inner
                    .activity
                    .approved(after.to.country(), now_millis());
                tracing::info!(id = id.as_str(), tenant = %tenant.id, "verification approved without a code");
                Ok(after)
            }
            other => Err(Error::NotFound(format!(
                "verification is {}; nothing to approve",
                other.as_str()
            ))),
        }
    }

    /// The verification pending for a number on a channel (`404` when there is none).
    pub async fn pending(
        &self,
        tenant: &Tenant,
        to: &PhoneNumber,
        channel: Channel,
    ) -> Result<Verification> {
        let number = self.number_ref(tenant, to.as_str(), channel);
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
