//! A check after its admission: the target (by number, or by id after reading the
//! record), the code's MAC, the store step with its limits, and the answer.

use super::*;

impl Service {
    pub(super) async fn check_inner(
        &self,
        tenant: &Tenant,
        by: CheckBy,
        code: &OtpCode,
        client: &CheckClient,
    ) -> Result<((Verification, bool), RateInfo)> {
        let cfg = &tenant.cfg;
        let abuse = &self.inner.abuse;
        let (target, to, adm) = match by {
            CheckBy::To(n) => {
                let adm = abuse.check_admission(tenant, Some(&n), client)?;
                let r = self.number_ref(tenant, &n);
                (CheckTarget::Number(r), n, adm)
            }
            CheckBy::Id(id) => {
                // shed before the read; the number is known only after it
                abuse.check_admission(tenant, None, client)?;
                let v = self.get(tenant, &id).await?;
                let adm = abuse.admission_after_read(tenant, Some(&v.to), client);
                let r = self.number_ref(tenant, &v.to);
                (CheckTarget::Id(id, r), v.to, adm)
            }
        };
        let spec = CheckSpec {
            target,
            code_mac: self.inner.keys.code_mac(&tenant.id, &to.key_form(), code),
            number_fail_limit: cfg.number_failed_checks_per_hour,
            client_keys: client_check_keys(&self.inner.keys, tenant, client),
            client_fail_limit: cfg.client_failed_checks_per_hour,
            number_window_ms: 3_600_000,
            retention_ms: ms(cfg.retention_secs),
        };
        let now = now_millis();
        let admitted = self
            .inner
            .store
            .admit_check(abuse.gate(), &adm, spec, now)
            .await
            .map_err(unavailable)?;
        let (outcome, info) = abuse.settle(tenant, admitted)?;
        match outcome {
            CheckOutcome::Approved(v) => {
                tracing::info!(id = v.id.as_str(), tenant = %tenant.id, "verification approved");
                Ok(((v, true), info))
            }
            CheckOutcome::Wrong(v) => {
                tracing::info!(id = v.id.as_str(), tenant = %tenant.id, attempts_left = v.attempts_left, "wrong code");
                Ok(((v, false), info))
            }
            CheckOutcome::NotFound => Err(not_found()),
            CheckOutcome::MaxAttempts(left) => Err(Error::MaxAttemptsReached {
                retry_after: dur(left),
            }),
            CheckOutcome::NumberLimited(left) => Err(Error::RateLimited {
                reason: "number_check_limit",
                detail: format!(
                    "too many wrong codes for this number; try again in {} s",
                    crate::error::retry_after_secs(dur(left))
                ),
                retry_after: dur(left),
            }),
            CheckOutcome::ClientLimited(left) => Err(Error::RateLimited {
                reason: "client_check_limit",
                detail: format!(
                    "too many wrong codes for this number from this client; try again in {} s",
                    crate::error::retry_after_secs(dur(left))
                ),
                retry_after: dur(left),
            }),
        }
    }
}
