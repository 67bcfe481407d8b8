//! Cancel: one atomic store step ending a pending verification, its metric and its
//! `verification.canceled` event (only for the call that moved it).

use super::*;
use crate::events::EventType;

impl Service {
    /// Cancels a pending verification (canceling a canceled one answers it again).
    pub async fn cancel(&self, tenant: &Tenant, id: &VerificationId) -> Result<Verification> {
        let r = self.cancel_inner(tenant, id).await;
        if let Ok((v, true)) = &r {
            observe::finished(&self.inner.metrics, &tenant.id, v, "canceled");
            self.emit(EventType::VerificationCanceled, v).await;
        }
        r.map(|(v, _)| v)
    }

    /// The verification canceled, and whether this call canceled it (not an earlier or
    /// a concurrent one: the store says which call moved it).
    async fn cancel_inner(
        &self,
        tenant: &Tenant,
        id: &VerificationId,
    ) -> Result<(Verification, bool)> {
        let v = self.get(tenant, id).await?;
        let number = self.number_ref(tenant, &v.to);
        let now = now_millis();
        let (after, moved) = self
            .inner
            .store
            .cancel(&tenant.id, id, &number, ms(tenant.cfg.retention_secs), now)
            .await
            .map_err(unavailable)?
            .ok_or_else(not_found)?;
        match after.status_at(now) {
            Status::Canceled => Ok((after, moved)),
            other => Err(Error::NotFound(format!(
                "verification is {}; nothing to cancel",
                other.as_str()
            ))),
        }
    }
}
