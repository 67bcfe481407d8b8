//! Abuse control at the service's door: geo permissions, local shedding, distributed
//! rate limits and the SMS-pumping guard, in that order (cheapest refusal first; the
//! pumping guard last, so it counts only sends that every limit let through).
//!
//! The local parts are decided here; the shared ones (limits, guard) go to the store as
//! an [`Admission`] that it decides together with the start or check itself (one Redis
//! round trip on one node, see [`crate::store::admit`]), and [`Abuse::settle`] turns
//! what came back into the request's answer.

use super::admission::{check_admission, geo_check, start_admission};
use super::Tenant;
use crate::crypto::Keys;
use crate::domain::{now_millis, ClientNet, PhoneNumber};
use crate::error::{retry_after_secs, Error, Result};
use crate::metrics::Metrics;
use crate::ratelimit::headers::RateInfo;
use crate::ratelimit::local::LocalShed;
use crate::ratelimit::pumping::{Block, Bucket, PumpVerdict};
use crate::ratelimit::{Backends, Decision};
use crate::store::{Admission, Admitted};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

/// The abuse-control parts of the service.
pub struct Abuse {
    backends: Backends,
    local: Arc<LocalShed>,
    keys: Keys,
    metrics: Metrics,
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
        let net = ip.map(|ip| ClientNet::of(ip, cfg.limits.ipv6_prefix_len).addr());
        if let Err(scope) = self.local.check(&tenant.id, net) {
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
