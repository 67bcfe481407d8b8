//! A start after its admission: the code and its MAC, the record, the store step with
//! its limits and guard (one script on one Redis node), and the answer.

use super::*;

impl Service {
    pub(super) async fn start_inner(
        &self,
        tenant: &Tenant,
        input: StartInput,
        adm: Admission,
    ) -> Result<(Started, RateInfo)> {
        let cfg = &tenant.cfg;
        let template_name = input.template.clone().unwrap_or_else(|| "default".into());
        if template::pick(cfg, &template_name, None).is_none() {
            return Err(Error::InvalidRequest(format!(
                "unknown template `{template_name}`"
            )));
        }
        let number = self.number_ref(tenant, input.to.as_str(), input.channel);
        let now = now_millis();
        let len = match input.code_length {
            Some(l) => l,
            None => CodeLength::new(cfg.code_length as i64)?,
        };
        let seed = random_bytes::<16>().to_vec();
        let code = self.inner.keys.derive_code(&seed, len);
        let code_mac = self
            .inner
            .keys
            .code_mac(&tenant.id, input.to.as_str(), &code);
        let expires_at = now + ms(cfg.ttl_secs);
        let fresh = Verification {
            id: VerificationId::generate(number.shard)?,
            tenant: tenant.id.clone(),
            to: input.to.clone(),
            channel: input.channel,
            status: Status::Pending,
            created_at: now,
            expires_at,
            send_count: 1,
            max_sends: cfg.max_sends,
            next_resend_at: now + ms(cfg.resend_cooldown_secs),
            resent_at: Vec::new(),
            attempts_left: cfg.max_check_attempts,
            delivery: Delivery::queued(now),
            metadata: input.metadata.clone(),
            locale: input.locale.as_ref().map(|l| l.as_str().to_string()),
            template: input.template.clone(),
            code_length: len.get(),
            seed,
        };
        let spec = StartSpec {
            fresh,
            code_mac,
            number,
            cooldown_ms: ms(cfg.resend_cooldown_secs),
            retention_ms: ms(cfg.retention_secs),
            number_send_limit: cfg.number_sends_per_hour,
            number_window_ms: 3_600_000,
            enqueue: EnqueueSpec {
                app_hash: input.app_hash.as_ref().map(|h| h.as_str().to_string()),
                request_id: input.request_id.clone(),
            },
        };
        let abuse = &self.inner.abuse;
        let admitted = self
            .inner
            .store
            .admit_start(abuse.gate(), &adm, spec, now)
            .await
            .map_err(unavailable)?;
        let (outcome, info) = abuse.settle(tenant, admitted)?;
        let started = started_from(outcome)?;
        let v = match &started {
            Started::Created(v) | Started::Resent(v) => v,
        };
        tracing::info!(
            id = v.id.as_str(),
            tenant = %tenant.id,
            to = %input.to.masked(),
            resend = matches!(started, Started::Resent(_)),
            send_count = v.send_count,
            "verification started"
        );
        Ok((started, info))
    }
}

/// A start's store outcome as the service answers it: created or resent, or the
/// refusal of a cooldown, the sends cap, a full queue or store, the number's limit.
pub(super) fn started_from(outcome: StartOutcome) -> Result<Started> {
    Ok(match outcome {
        StartOutcome::Created(v) => Started::Created(v),
        StartOutcome::Resent(v) => Started::Resent(v),
        StartOutcome::Cooldown(left) => {
            return Err(Error::RateLimited {
                reason: "resend_cooldown",
                detail: format!(
                    "resend allowed in {} s",
                    crate::error::retry_after_secs(dur(left))
                ),
                retry_after: dur(left),
            })
        }
        StartOutcome::MaxSends(left) => {
            return Err(Error::MaxSendsReached {
                retry_after: dur(left),
            })
        }
        StartOutcome::QueueFull => {
            return Err(Error::store_unavailable(
                "the send queue is full; try again shortly",
            ))
        }
        StartOutcome::StoreFull(left) => return Err(Error::store_full(dur(left))),
        StartOutcome::NumberLimited(left) => {
            return Err(Error::RateLimited {
                reason: "number_send_limit",
                detail: format!(
                    "too many codes sent to this number; try again in {} s",
                    crate::error::retry_after_secs(dur(left))
                ),
                retry_after: dur(left),
            })
        }
    })
}
