//! Abuse control at the service's door: geo permissions, local shedding, distributed
//! rate limits and the SMS-pumping guard, in that order (cheapest refusal first; the
//! pumping guard last, so it counts only sends that every limit let through).
//!
//! The local parts are decided here; the shared ones (limits, guard) go to the store as
//! an [`Admission`] that it decides together with the start or check itself (one Redis
//! round trip on one node, see [`crate::store::admit`]), and [`Abuse::settle`] turns
//! what came back into the request's answer.

use super::admission::{check_admission, geo_check, start_admission};
use super::guard::{guard_policy, Sources};
use super::Tenant;
use crate::crypto::Keys;
use crate::domain::{now_millis, Channel, CheckClient, ClientNet, Destination, RiskContext};
use crate::error::{retry_after_secs, Error, Result};
use crate::metrics::Metrics;
use crate::ratelimit::headers::RateInfo;
use crate::ratelimit::local::LocalShed;
use crate::ratelimit::pumping::{Action, Block, Level, Outcome, PumpVerdict, Trip};
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
        to: &Destination,
        channel: Channel,
        ip: Option<IpAddr>,
        risk: Option<&RiskContext>,
    ) -> Result<Admission> {
        let cfg = &tenant.cfg;
        if let Some(number) = to.phone() {
            geo_check(cfg, number).inspect_err(|e| self.blocked(tenant, e))?;
        }
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
        let src = Sources {
            ip,
            session: None,
            risk,
        };
        Ok(start_admission(&self.keys, tenant, to, channel, src))
    }

    /// The local checks before a code check of `to`; on success its admission.
    pub fn check_admission(
        &self,
        tenant: &Tenant,
        to: Option<&Destination>,
        client: &CheckClient,
    ) -> Result<Admission> {
        if self.local.check(&tenant.id, None).is_err() {
            self.metrics
                .local_shed
                .with_label_values(&["tenant_checks"])
                .inc();
            return Err(limited("tenant_checks", Duration::from_secs(1)));
        }
        Ok(self.admission_after_read(tenant, to, client))
    }

    /// The admission of a check whose number is known only after reading its
    /// verification (a check by id; the local checks already passed).
    pub fn admission_after_read(
        &self,
        tenant: &Tenant,
        to: Option<&Destination>,
        client: &CheckClient,
    ) -> Admission {
        let src = Sources {
            ip: client.ip,
            session: client.session.as_ref(),
            risk: client.risk.as_ref(),
        };
        check_admission(&self.keys, tenant, to, src)
    }

    /// What the shared stages said, as the request's answer: a refusing limit or
    /// prefix block becomes its error; otherwise the store step's outcome and the
    /// limits' state for the headers.
    pub fn settle<T>(&self, tenant: &Tenant, a: Admitted<T>) -> Result<(T, RateInfo)> {
        let quotas = match a.decision {
            Decision::Allowed(q) => q,
            Decision::Denied {
                limit,
                retry_after_ms,
            } => return Err(limited(limit.reason, Duration::from_millis(retry_after_ms))),
        };
        if a.guard_down {
            let closed = a.outcome.is_none();
            self.metrics
                .pumping_unavailable
                .with_label_values(&[
                    tenant.id.as_str(),
                    if closed { "fail_closed" } else { "fail_open" },
                ])
                .inc();
            if closed {
                return Err(Error::store_unavailable(
                    "the pumping guard's store is unavailable; try again shortly",
                ));
            }
        }
        if let Some(verdict) = &a.pump {
            self.pumped(tenant, verdict)?;
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

    fn pumped(&self, tenant: &Tenant, verdict: &PumpVerdict) -> Result<()> {
        if verdict.overflowed > 0 {
            self.metrics
                .pumping_overflow
                .with_label_values(&[&tenant.id])
                .inc_by(u64::from(verdict.overflowed));
        }
        for trip in &verdict.trips {
            let decision = decision(trip, verdict);
            if trip.new {
                log_trip(&tenant.id, trip, decision);
            }
            self.metrics
                .pumping
                .with_label_values(&[
                    tenant.id.as_str(),
                    trip.level.as_str(),
                    trip.action.as_str(),
                    decision,
                ])
                .inc();
        }
        let Some(cause) = verdict.cause() else {
            return Ok(());
        };
        let reason = cause.level.reason().to_string();
        let e = match verdict.outcome {
            Outcome::Challenge => Error::ChallengeRequired { reason },
            _ => Error::DestinationBlocked { reason },
        };
        self.blocked(tenant, &e);
        Err(e)
    }

    /// Active blocks of these tenants, at every level.
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

    /// Lifts a block: `level` and either its keyed field (as the list shows it) or,
    /// for the number's levels, the block itself (`+1415555`, `+` optional); a
    /// country by its ISO code. Forgets the level's counts; true if there was a block.
    pub async fn lift(&self, tenant: &Tenant, level: Level, key: &str) -> Result<bool> {
        let field = match level {
            Level::Area | Level::Range | Level::Prefix
                if key
                    .trim_start_matches('+')
                    .bytes()
                    .all(|b| b.is_ascii_digit()) =>
            {
                let block = format!("+{}", key.trim_start_matches('+'));
                self.keys.scope_key(&tenant.id, level.as_str(), &block)
            }
            Level::Country => key.to_ascii_uppercase(),
            _ => key.to_string(),
        };
        let p = guard_policy(&tenant.cfg.pumping);
        let lifted = self
            .backends
            .pumps
            .lift(&tenant.id, level, &field, &p, now_millis())
            .await
            .map_err(unavailable)?;
        if lifted {
            tracing::warn!(tenant = %tenant.id, level = level.as_str(), "pumping-guard block lifted by an operator");
        }
        Ok(lifted)
    }
}

/// The metric's `decision` of one trip.
fn decision(trip: &Trip, verdict: &PumpVerdict) -> &'static str {
    match (trip.action, trip.new) {
        (Action::Shadow, _) => "would_block",
        (Action::Challenge, _) if verdict.outcome == Outcome::Allowed => "challenge_passed",
        (_, true) => "tripped",
        (_, false) => "refused",
    }
}

fn log_trip(tenant: &str, t: &Trip, decision: &str) {
    let e = &t.explain;
    tracing::warn!(
        tenant,
        level = t.level.as_str(),
        block = %t.label,
        action = t.action.as_str(),
        decision,
        rule = ?e.rule,
        sends = format!("{:.1}", e.sends),
        approvals = format!("{:.1}", e.approvals),
        expected_conversion = format!("{:.3}", e.expected),
        tolerance = format!("{:.1}", e.tolerance),
        strikes = t.strikes,
        block_secs = (t.until_ms - now_millis()).max(0) / 1000,
        "SMS-pumping guard"
    );
}
