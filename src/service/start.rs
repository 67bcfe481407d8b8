//! A start: its channel or workflow resolved against the tenant's settings, then after
//! its admission the code and its MAC, the record, the store step with its limits and
//! guard (one script on one Redis node), and the answer.

use super::*;

impl Service {
    /// The channel a start sends on first, and the workflow it runs: a workflow's first
    /// step; else the channel asked for; else `email` for an address and `sms` for a
    /// number. Refuses a workflow the tenant does not have (`400`), a channel it has
    /// not enabled (`403 channel_not_enabled`) and a destination of the wrong kind.
    pub(super) fn route_start(
        &self,
        tenant: &Tenant,
        input: &StartInput,
    ) -> Result<(Channel, Option<Workflow>)> {
        let cfg = &tenant.cfg;
        let workflow = match &input.workflow {
            None => None,
            Some(name) => {
                let w = cfg.workflows.get(name.as_str()).ok_or_else(|| {
                    Error::InvalidRequest(format!(
                        "unknown workflow `{}`: the tenant's are {}",
                        name.as_str(),
                        names(cfg.workflows.keys())
                    ))
                })?;
                let steps: Vec<Step> = w
                    .steps
                    .iter()
                    .filter_map(|s| {
                        Some(Step {
                            channel: Channel::from_name(&s.channel)?,
                            timeout_ms: s.timeout_secs.filter(|t| *t > 0).map(ms),
                        })
                    })
                    .collect();
                if steps.is_empty() {
                    return Err(Error::Internal(format!(
                        "workflow `{}` has no steps",
                        name.as_str()
                    )));
                }
                Some(Workflow {
                    name: name.as_str().to_string(),
                    steps,
                    current: 0,
                    step_started_at: 0,
                })
            }
        };
        let channel = match (&workflow, input.channel) {
            (Some(w), _) => w.steps[0].channel,
            (None, Some(c)) => c,
            (None, None) if input.to.email().is_some() => Channel::Email,
            (None, None) => Channel::Sms,
        };
        input.to.check_suits(channel)?;
        let steps = workflow
            .iter()
            .flat_map(|w| w.steps.iter().map(|s| s.channel));
        for c in std::iter::once(channel).chain(steps) {
            if !cfg.channel_on(c) {
                return Err(Error::ChannelNotEnabled {
                    channel: c.as_str(),
                    reason: "channel_disabled",
                });
            }
        }
        Ok((channel, workflow))
    }

    pub(super) async fn start_inner(
        &self,
        tenant: &Tenant,
        input: StartInput,
        (channel, workflow): (Channel, Option<Workflow>),
        adm: Admission,
    ) -> Result<(Started, RateInfo)> {
        let cfg = &tenant.cfg;
        let template_name = input.template.clone().unwrap_or_else(|| "default".into());
        if template::pick(cfg, &template_name, None).is_none() {
            return Err(Error::InvalidRequest(format!(
                "unknown template `{template_name}`"
            )));
        }
        let number = self.number_ref(tenant, &input.to);
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
            .code_mac(&tenant.id, &input.to.key_form(), &code);
        let expires_at = now + ms(cfg.ttl_secs);
        let fresh = Verification {
            id: VerificationId::generate(number.shard)?,
            tenant: tenant.id.clone(),
            to: input.to.clone(),
            channel,
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
            workflow: workflow.map(|w| Workflow {
                step_started_at: now,
                ..w
            }),
            past_steps: Vec::new(),
        };
        let spec = StartSpec {
            fresh,
            code_mac,
            number,
            cooldown_ms: ms(cfg.resend_cooldown_secs),
            retention_ms: ms(cfg.retention_secs),
            lookup_ms: ms(cfg.lookup_retention_secs),
            number_send_limit: cfg.number_sends_per_hour,
            number_window_ms: 3_600_000,
            enqueue: EnqueueSpec {
                app_hash: input.app_hash.as_ref().map(|h| h.as_str().to_string()),
                request_id: input.request_id.clone(),
            },
            // a resend keeps the last send's channel unless the request names one
            resend_channel: input.channel,
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
            channel = channel.as_str(),
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

/// Names for an error message: `a`, `b` (at most 10), or `none`.
fn names<'a>(it: impl Iterator<Item = &'a String>) -> String {
    let v: Vec<String> = it.take(10).map(|n| format!("`{n}`")).collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}
