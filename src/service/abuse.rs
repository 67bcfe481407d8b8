//! Abuse control at the service's door: geo permissions, local shedding, distributed
//! rate limits and the SMS-pumping guard, in that order (cheapest refusal first; the
//! pumping guard last, so it counts only sends that every limit let through).
//!
//! The local parts are decided here; the shared ones (limits, guard) go to the store as
//! an [`Admission`] that it decides together with the start or check itself (one Redis
//! round trip on one node, see [`crate::store::admit`]), and [`Abuse::settle`] turns
//! what came back into the request's answer.

use super::Tenant;
use crate::config::{PumpingMode, TenantConfig};
use crate::crypto::Keys;
use crate::domain::{now_millis, PhoneNumber};
use crate::error::{retry_after_secs, Error, Result};
use crate::metrics::Metrics;
use crate::ratelimit::headers::RateInfo;
use crate::ratelimit::local::LocalShed;
use crate::ratelimit::pumping::{prefix_of, Block, Bucket, PumpPolicy, PumpVerdict};
use crate::ratelimit::{Backends, Decision, Limit};
use crate::store::{Admission, Admitted};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

const SEC: u64 = 1000;
const MIN: u64 = 60 * SEC;
const HOUR: u64 = 60 * MIN;
const DAY: u64 = 24 * HOUR;

/// The abuse-control parts of the service.
pub struct Abuse {
    backends: Backends,
    local: Arc<LocalShed>,
    keys: Keys,
    metrics: Metrics,
}

/// Quota and window (ms) of a named limit in a tenant's settings, for the
/// `RateLimit-Policy` of a `429`.
pub fn limit_policy(cfg: &TenantConfig, reason: &str) -> Option<(u32, u64)> {
    let l = &cfg.limits;
    let (q, w) = match reason {
        "number_per_minute" => (
            l.number_per_minute,
            l.number_minute_window_secs.max(1) * SEC,
        ),
        "number_per_hour" => (l.number_per_hour, HOUR),
        "number_per_day" => (l.number_per_day, DAY),
        "client_ip" => (l.client_ip_per_hour, HOUR),
        "tenant_sends" => (l.tenant_sends_per_sec, SEC),
        "tenant_checks" => (l.tenant_checks_per_sec, SEC),
        "api_key_sends" => (l.api_key_sends_per_sec, SEC),
        "api_key_checks" => (l.api_key_checks_per_sec, SEC),
        "country" => (l.country_per_hour, HOUR),
        "prefix" => (l.prefix_per_hour, HOUR),
        _ => return None,
    };
    (q > 0).then_some((q, w))
}

fn limit(cfg: &TenantConfig, reason: &'static str, key: String) -> Option<Limit> {
    limit_policy(cfg, reason).map(|(quota, window_ms)| Limit {
        reason,
        key,
        quota,
        window_ms,
    })
}

fn unavailable(e: crate::store::StoreError) -> Error {
    tracing::warn!(error = %e, "pumping-guard store call failed");
    Error::store_unavailable("the rate-limit store is unavailable; try again shortly")
}

fn limited(reason: &'static str, retry: Duration) -> Error {
    Error::RateLimited {
        reason,
        detail: format!(
            "the `{reason}` limit is used up; try again in {} s",
            retry_after_secs(retry)
        ),
        retry_after: retry,
    }
}

/// Refuses a destination by the tenant's geo permissions.
pub fn geo_check(cfg: &TenantConfig, to: &PhoneNumber) -> Result<()> {
    let g = &cfg.geo;
    let country = to.region().unwrap_or("");
    let listed = |list: &[String]| list.iter().any(|c| c.eq_ignore_ascii_case(country));
    if (!g.allow_countries.is_empty() && !listed(&g.allow_countries)) || listed(&g.deny_countries) {
        return Err(Error::DestinationBlocked {
            reason: "country_not_allowed".into(),
        });
    }
    if !g.deny_number_types.is_empty() {
        let kind = to.number_type();
        if g.deny_number_types.iter().any(|t| t == kind) {
            return Err(Error::DestinationBlocked {
                reason: "number_type_not_allowed".into(),
            });
        }
    }
    Ok(())
}

fn safe_listed(cfg: &TenantConfig, to: &str) -> bool {
    cfg.pumping
        .safe_list
        .iter()
        .any(|s| !s.is_empty() && to.starts_with(s.as_str()))
}

impl Abuse {
    /// Wires the parts; starts the local shedder's housekeeping when in a runtime.
    pub fn new(backends: Backends, local: LocalShed, keys: Keys, metrics: Metrics) -> Self {
        let local = Arc::new(local);
        local.spawn_housekeeping();
        Abuse {
            backends,
            local,
            keys,
            metrics,
        }
    }

    /// The local shedder (tests).
    pub fn local(&self) -> &LocalShed {
        &self.local
    }

    /// The limiter and guard state the store admits requests with.
    pub fn gate(&self) -> &Backends {
        &self.backends
    }

    /// The local checks before a send (geo permissions, local shedding); on success
    /// the admission the store decides with the start.
    pub fn start_admission(
        &self,
        tenant: &Tenant,
        to: &PhoneNumber,
        ip: Option<IpAddr>,
    ) -> Result<Admission> {
        let cfg = &tenant.cfg;
        geo_check(cfg, to).inspect_err(|e| self.blocked(tenant, e))?;
        if let Err(scope) = self.local.check(&tenant.id, ip) {
            let reason = if scope == "client_ip" {
                "client_ip"
            } else {
                "tenant_sends"
            };
            self.metrics.local_shed.with_label_values(&[reason]).inc();
            return Err(limited(reason, Duration::from_secs(1)));
        }
        Ok(start_admission(&self.keys, tenant, to, ip))
    }

    /// The local checks before a code check of `to`; on success its admission.
    pub fn check_admission(&self, tenant: &Tenant, to: Option<&PhoneNumber>) -> Result<Admission> {
        if self.local.check(&tenant.id, None).is_err() {
            self.metrics
                .local_shed
                .with_label_values(&["tenant_checks"])
                .inc();
            return Err(limited("tenant_checks", Duration::from_secs(1)));
        }
        Ok(check_admission(&self.keys, tenant, to))
    }

    /// What the shared stages said, as the request's answer: a refusing limit or
    /// prefix block becomes its error; otherwise the store step's outcome and the
    /// limits' state for the headers.
    pub fn settle<T>(
        &self,
        tenant: &Tenant,
        adm: &Admission,
        a: Admitted<T>,
    ) -> Result<(T, RateInfo)> {
        let quotas = match a.decision {
            Decision::Allowed(q) => q,
            Decision::Denied {
                limit,
                retry_after_ms,
            } => return Err(limited(limit.reason, Duration::from_millis(retry_after_ms))),
        };
        if let (Some(verdict), Some((b, _))) = (&a.pump, &adm.pump) {
            self.pumped(tenant, b, verdict)?;
        }
        let outcome = a.outcome.ok_or_else(|| {
            Error::Internal("the store refused a request without saying why".into())
        })?;
        Ok((outcome, RateInfo::allowed(quotas)))
    }

    fn blocked(&self, tenant: &Tenant, e: &Error) {
        if let Some(reason) = e.reason() {
            self.metrics
                .destination_blocked
                .with_label_values(&[&tenant.id, reason])
                .inc();
        }
    }

    fn pumped(&self, tenant: &Tenant, b: &Bucket, verdict: &PumpVerdict) -> Result<()> {
        let decision = match verdict {
            PumpVerdict::Ok => return Ok(()),
            PumpVerdict::Blocked(_) => "blocked",
            PumpVerdict::BlockedNow {
                ms,
                sends,
                approvals,
            } => {
                tracing::warn!(tenant = %b.tenant, country = %b.country, prefix = %b.prefix, sends, approvals, block_secs = ms / 1000, "SMS-pumping guard blocked a prefix");
                "blocked_now"
            }
            PumpVerdict::WouldBlock { sends, approvals } => {
                tracing::warn!(tenant = %b.tenant, country = %b.country, prefix = %b.prefix, sends, approvals, "SMS-pumping guard (shadow mode) would block a prefix");
                "would_block"
            }
        };
        self.metrics
            .pumping
            .with_label_values(&[&b.tenant, &b.country, decision])
            .inc();
        if decision == "would_block" {
            return Ok(());
        }
        let e = Error::DestinationBlocked {
            reason: "prefix_blocked".into(),
        };
        self.blocked(tenant, &e);
        Err(e)
    }

    /// Active prefix blocks of these tenants.
    pub async fn blocks(&self, tenants: &[String]) -> Result<Vec<Block>> {
        let now = now_millis();
        let mut all = Vec::new();
        for t in tenants {
            all.extend(
                self.backends
                    .pumps
                    .blocks(t, now)
                    .await
                    .map_err(unavailable)?,
            );
        }
        Ok(all)
    }

    /// Lifts the block of `prefix` (`+` optional); true if there was one.
    pub async fn lift(&self, tenant: &str, prefix: &str) -> Result<bool> {
        let prefix = format!("+{}", prefix.trim_start_matches('+'));
        let field = self.keys.scope_key(tenant, "prefix", &prefix);
        let lifted = self
            .backends
            .pumps
            .lift(tenant, &field)
            .await
            .map_err(unavailable)?;
        if lifted {
            tracing::warn!(tenant, prefix = %prefix, "prefix block lifted by an operator");
        }
        Ok(lifted)
    }
}

fn policy(cfg: &TenantConfig) -> PumpPolicy {
    let p = &cfg.pumping;
    PumpPolicy {
        window_ms: p.window_secs.max(1) * SEC,
        min_sends: p.min_sends.max(1),
        min_conversion: p.min_conversion,
        block_ms: p.block_secs.max(1) * SEC,
        max_block_ms: p.max_block_secs.max(p.block_secs).max(1) * SEC,
        shadow: p.mode == PumpingMode::Shadow,
    }
}

fn guarded(cfg: &TenantConfig, to: &str) -> bool {
    cfg.pumping.mode != PumpingMode::Off && !safe_listed(cfg, to)
}

fn bucket(keys: &Keys, tenant: &str, to: &PhoneNumber) -> Bucket {
    let prefix = prefix_of(to.as_str()).to_string();
    Bucket {
        tenant: tenant.to_string(),
        country: to.region().unwrap_or("unknown").to_string(),
        field: keys.scope_key(tenant, "prefix", &prefix),
        prefix,
    }
}

/// The shared limits and guard bucket of a send to `to` (the load harness builds its
/// ceiling from this too).
pub fn start_admission(
    keys: &Keys,
    tenant: &Tenant,
    to: &PhoneNumber,
    ip: Option<IpAddr>,
) -> Admission {
    let cfg = &tenant.cfg;
    let t = &tenant.id;
    let num = keys.scope_key(t, "number", to.as_str());
    let country = to.region().unwrap_or("unknown");
    let prefix = prefix_of(to.as_str());
    let limits: Vec<Limit> = [
        limit(cfg, "number_per_minute", num.clone()),
        limit(cfg, "number_per_hour", num.clone()),
        limit(cfg, "number_per_day", num),
        ip.and_then(|ip| {
            limit(
                cfg,
                "client_ip",
                keys.scope_key(t, "ip", &ip.to_canonical().to_string()),
            )
        }),
        limit(cfg, "tenant_sends", String::new()),
        limit(cfg, "api_key_sends", tenant.key_id.clone()),
        limit(cfg, "country", country.to_string()),
        limit(cfg, "prefix", keys.scope_key(t, "prefix", prefix)),
    ]
    .into_iter()
    .flatten()
    .collect();
    Admission {
        tenant: t.clone(),
        limits,
        pump: guarded(cfg, to.as_str()).then(|| (bucket(keys, t, to), policy(cfg))),
        approval: None,
    }
}

/// The shared limits of a code check, and the guard bucket its approval counts in.
pub fn check_admission(keys: &Keys, tenant: &Tenant, to: Option<&PhoneNumber>) -> Admission {
    let cfg = &tenant.cfg;
    let limits: Vec<Limit> = [
        limit(cfg, "tenant_checks", String::new()),
        limit(cfg, "api_key_checks", tenant.key_id.clone()),
    ]
    .into_iter()
    .flatten()
    .collect();
    Admission {
        tenant: tenant.id.clone(),
        limits,
        pump: None,
        approval: to
            .filter(|n| guarded(cfg, n.as_str()))
            .map(|n| (bucket(keys, &tenant.id, n), policy(cfg).window_ms)),
    }
}
