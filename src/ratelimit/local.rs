//! Local shedding: per-instance limits in front of Redis, so that a flood from one IP
//! or for one tenant is refused in memory and costs no Redis round trip.
//!
//! These are deliberately looser than the distributed limits (defaults: 20 requests/s
//! per `client_ip`, 1000/s per tenant, per instance): they exist to keep a flood off
//! the shared store, not to be exact. Keyed state grows with the IPs seen, so
//! [`LocalShed::spawn_housekeeping`] calls `retain_recent()` on a timer.

use crate::config::TenantConfig;
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota};
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Weak};
use std::time::Duration;

struct TenantShed {
    ip: Option<DefaultKeyedRateLimiter<IpAddr>>,
    tenant: Option<DefaultDirectRateLimiter>,
}

/// Per-tenant local limiters.
#[derive(Default)]
pub struct LocalShed {
    tenants: HashMap<String, TenantShed>,
}

/// How often stale per-IP state is dropped.
pub const RETAIN_EVERY: Duration = Duration::from_secs(10);

impl LocalShed {
    /// One set of limiters per tenant, from its `limits.local_*` settings (0 = off).
    pub fn new(tenants: &BTreeMap<String, TenantConfig>) -> Self {
        let q = |n: u32| NonZeroU32::new(n).map(Quota::per_second);
        LocalShed {
            tenants: tenants
                .iter()
                .map(|(id, t)| {
                    let l = &t.limits;
                    let shed = TenantShed {
                        ip: q(l.local_ip_per_sec).map(DefaultKeyedRateLimiter::keyed),
                        tenant: q(l.local_tenant_per_sec).map(DefaultDirectRateLimiter::direct),
                    };
                    (id.clone(), shed)
                })
                .collect(),
        }
    }

    /// `Err(reason)` when this instance sheds the request: `client_ip` for an IP flood,
    /// `tenant` for a tenant flood. `ip` is the client's network
    /// ([`crate::domain::ClientNet::addr`]), so an IPv6 host counts once.
    pub fn check(&self, tenant: &str, ip: Option<IpAddr>) -> Result<(), &'static str> {
        let Some(t) = self.tenants.get(tenant) else {
            return Ok(());
        };
        if let (Some(lim), Some(ip)) = (&t.ip, ip) {
            if lim.check_key(&ip).is_err() {
                return Err("client_ip");
            }
        }
        if let Some(lim) = &t.tenant {
            if lim.check().is_err() {
                return Err("tenant");
            }
        }
        Ok(())
    }

    /// Drops per-IP state that no longer limits anything.
    pub fn retain_recent(&self) {
        for t in self.tenants.values() {
            if let Some(ip) = &t.ip {
                ip.retain_recent();
                ip.shrink_to_fit();
            }
        }
    }

    /// IPs with state (tests).
    pub fn ips_tracked(&self) -> usize {
        self.tenants
            .values()
            .filter_map(|t| t.ip.as_ref().map(|l| l.len()))
            .sum()
    }

    /// Calls [`Self::retain_recent`] every [`RETAIN_EVERY`] while `self` lives (needs a
    /// tokio runtime; without one it does nothing).
    pub fn spawn_housekeeping(self: &Arc<Self>) {
        let weak: Weak<Self> = Arc::downgrade(self);
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                let mut tick = tokio::time::interval(RETAIN_EVERY);
                tick.tick().await;
                loop {
                    tick.tick().await;
                    match weak.upgrade() {
                        Some(s) => s.retain_recent(),
                        None => return,
                    }
                }
            });
        }
    }
}
