//! The verification service: start, check, get and cancel, free of any transport.
//!
//! HTTP and gRPC handlers parse requests into domain types and call these methods. This
//! layer owns the policy (tenant settings, admission: limits, geo, the pumping guard),
//! the keyed hashing of numbers and codes, and idempotent starts; the store owns
//! atomicity (a start and its queued send are one store step), and `delivery` renders
//! and sends the message.

mod abuse;
mod activity;
mod admission;
mod guard;
mod idempotency;
mod observe;

pub use abuse::Abuse;
pub use activity::{Activity, CountryHour};
pub use admission::{check_admission, client_check_keys, geo_check, limit_policy, start_admission};
pub use guard::{guard_policy, probe, Sources};

pub use crate::tenants::{AdminKeys, Tenant, Tenants};

use crate::crypto::{random_bytes, Keys};
use crate::domain::*;
use crate::error::{Error, Result};
use crate::ratelimit::headers::RateInfo;
use crate::store::*;
use crate::template;
use std::sync::Arc;
use std::time::Duration;

/// A parsed start request.
#[derive(Debug, Clone)]
pub struct StartInput {
    /// Destination.
    pub to: PhoneNumber,
    /// Channel.
    pub channel: Channel,
    /// Template locale.
    pub locale: Option<Locale>,
    /// Digits for a new code.
    pub code_length: Option<CodeLength>,
    /// Named template.
    pub template: Option<String>,
    /// Android app hash.
    pub app_hash: Option<AppHash>,
    /// End user's IP (the per-IP limit, the pumping guard).
    pub client_ip: Option<std::net::IpAddr>,
    /// What the caller knows of the end user (the pumping guard).
    pub risk: Option<crate::domain::RiskContext>,
    /// Caller metadata, raw JSON object text.
    pub metadata: Option<String>,
    /// Request id for log correlation.
    pub request_id: Option<String>,
}

/// Result of a start.
#[derive(Debug, Clone)]
pub enum Started {
    /// A new verification (`201`).
    Created(Verification),
    /// The pending one, resent (`200`).
    Resent(Verification),
}

/// What a check targets, as parsed from the request.
#[derive(Debug, Clone)]
pub enum CheckBy {
    /// The pending verification of a number.
    To(PhoneNumber),
    /// A verification by id.
    Id(VerificationId),
}

/// The service. Cheap to clone.
#[derive(Clone)]
pub struct Service {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    keys: Keys,
    tenants: Tenants,
    shards: u16,
    metrics: crate::metrics::Metrics,
    activity: Activity,
    abuse: Abuse,
}

fn ms(secs: u64) -> i64 {
    secs.saturating_mul(1000).min(i64::MAX as u64) as i64
}

fn dur(ms: i64) -> Duration {
    Duration::from_millis(ms.max(0) as u64)
}

fn unavailable(e: StoreError) -> Error {
    tracing::warn!(error = %e, "store call failed");
    Error::store_unavailable("the verification store is unavailable; try again shortly")
}

impl Service {
    /// Wires the service.
    pub fn new(
        store: Arc<dyn Store>,
        keys: Keys,
        tenants: Tenants,
        shards: u16,
        metrics: crate::metrics::Metrics,
        abuse: Abuse,
    ) -> Self {
        Service {
            inner: Arc::new(Inner {
                store,
                keys,
                tenants,
                shards: shards.max(1),
                metrics,
                activity: Activity::default(),
                abuse,
            }),
        }
    }

    /// Starts a verification, or resends the pending one for the same number and channel.
    pub async fn start(&self, tenant: &Tenant, input: StartInput) -> Result<Started> {
        self.start_rated(tenant, input).await.map(|(s, _)| s)
    }

    /// [`Self::start`], with the state of the limits that applied (for the
    /// `RateLimit` headers).
    pub async fn start_rated(
        &self,
        tenant: &Tenant,
        input: StartInput,
    ) -> Result<(Started, RateInfo)> {
        let country = input.to.region().unwrap_or("unknown").to_string();
        let channel = input.channel;
        let r = match self.inner.abuse.start_admission(
            tenant,
            &input.to,
            input.client_ip,
            input.risk.as_ref(),
        ) {
            Ok(adm) => self.start_inner(tenant, input, adm).await,
            Err(e) => Err(e),
        };
        let seen = r.as_ref().map(|(s, _)| s);
        observe::started(&self.inner.metrics, &tenant.id, channel, &country, seen);
        if let Ok((Started::Created(_), _)) = &r {
            self.inner.activity.started(&country, now_millis());
        }
        r
    }

    /// Checks a code: `(record, valid)`.
    pub async fn check(
        &self,
        tenant: &Tenant,
        by: CheckBy,
        code: &OtpCode,
        client: &CheckClient,
    ) -> Result<(Verification, bool)> {
        self.check_rated(tenant, by, code, client)
            .await
            .map(|(v, _)| v)
    }

    /// [`Self::check`], with the state of the limits that applied.
    pub async fn check_rated(
        &self,
        tenant: &Tenant,
        by: CheckBy,
        code: &OtpCode,
        client: &CheckClient,
    ) -> Result<((Verification, bool), RateInfo)> {
        let r = self.check_inner(tenant, by, code, client).await;
        observe::checked(&self.inner.metrics, &tenant.id, r.as_ref().map(|(v, _)| v));
        if let Ok(((v, true), _)) = &r {
            let country = v.to.country().to_string();
            self.inner.activity.approved(&country, now_millis());
        }
        r
    }

    /// Abuse control: prefix blocks and their admin operations.
    pub fn abuse(&self) -> &Abuse {
        &self.inner.abuse
    }

    /// Cancels a pending verification (canceling a canceled one answers it again).
    pub async fn cancel(&self, tenant: &Tenant, id: &VerificationId) -> Result<Verification> {
        let r = self.cancel_inner(tenant, id).await;
        if let Ok(v) = &r {
            observe::finished(&self.inner.metrics, &tenant.id, v, "canceled");
        }
        r
    }

    /// Tenants and their keys.
    pub fn tenants(&self) -> &Tenants {
        &self.inner.tenants
    }

    fn number_ref(&self, tenant: &Tenant, to: &str, channel: Channel) -> NumberRef {
        let (key, shard) = self
            .inner
            .keys
            .number_key(&tenant.id, to, self.inner.shards);
        NumberRef {
            tenant: tenant.id.clone(),
            key,
            shard,
            channel,
        }
    }

    async fn start_inner(
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
            attempts_left: cfg.max_check_attempts,
            delivery: Delivery {
                status: DeliveryStatus::Queued,
                provider: None,
                updated_at: now,
                reason: None,
            },
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
        let started = match outcome {
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
        };
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

    async fn check_inner(
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
                let r = self.number_ref(tenant, n.as_str(), Channel::Sms);
                (CheckTarget::Number(r), n, adm)
            }
            CheckBy::Id(id) => {
                // shed before the read; the number is known only after it
                abuse.check_admission(tenant, None, client)?;
                let v = self.get(tenant, &id).await?;
                let adm = abuse.admission_after_read(tenant, Some(&v.to), client);
                let r = self.number_ref(tenant, v.to.as_str(), v.channel);
                (CheckTarget::Id(id, r), v.to, adm)
            }
        };
        let spec = CheckSpec {
            target,
            code_mac: self.inner.keys.code_mac(&tenant.id, to.as_str(), code),
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

    /// Reads a verification of this tenant.
    pub async fn get(&self, tenant: &Tenant, id: &VerificationId) -> Result<Verification> {
        self.inner
            .store
            .get(&tenant.id, id)
            .await
            .map_err(unavailable)?
            .ok_or_else(not_found)
    }

    async fn cancel_inner(&self, tenant: &Tenant, id: &VerificationId) -> Result<Verification> {
        let v = self.get(tenant, id).await?;
        let number = self.number_ref(tenant, v.to.as_str(), v.channel);
        let now = now_millis();
        let after = self
            .inner
            .store
            .cancel(&tenant.id, id, &number, ms(tenant.cfg.retention_secs), now)
            .await
            .map_err(unavailable)?
            .ok_or_else(not_found)?;
        match after.status_at(now) {
            Status::Canceled => Ok(after),
            other => Err(Error::NotFound(format!(
                "verification is {}; nothing to cancel",
                other.as_str()
            ))),
        }
    }

    /// Ready when the store (which also holds the send queue) answers.
    pub async fn ready(&self) -> Result<()> {
        self.inner.store.ping().await.map_err(unavailable)
    }

    /// Last-hour activity per country (this process).
    pub fn activity(&self) -> &Activity {
        &self.inner.activity
    }

    /// The store (tests, admin tools).
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }
}

fn not_found() -> Error {
    Error::NotFound("no pending verification matches".into())
}
