//! Distributed rate limits (GCRA) and the state of the SMS-pumping guard.
//!
//! # Model
//! Every limit is a quota `q` over a window `w`, decided by GCRA (the generic cell rate
//! algorithm): each key holds one number, its *theoretical arrival time* (TAT). A request
//! costs `T = w / q`; it is admitted when `max(TAT, now) + T - now <= w`, and then the
//! TAT moves to `max(TAT, now) + T`. From rest a key admits `q` requests at once, then
//! one every `T`; after a quiet window it admits `q` again. One number per key, no
//! per-request entries, and the key expires when the TAT passes.
//!
//! A request carries several limits (number per minute/hour/day, client IP, tenant,
//! API key, country, prefix). They are decided together: either every limit admits and
//! each is charged, or none is charged and the answer names the limit that needs the
//! longest wait. In Redis that is **one Lua script** (`gcra.lua`), on one node joined
//! with the pumping guard's and the start's or check's script into one round trip for
//! the whole request ([`crate::store::admit`]); the script reads Redis's clock rather than
//! the caller's: instances with slightly skewed
//! clocks, or whose requests arrive in another order than they read their clocks, would
//! otherwise see a TAT in their future and refuse a request the quota still allows.
//!
//! Where the TATs and the guard's counters live in Redis, and why all of a tenant's limit
//! keys share one cluster slot, is written down with the Redis backend
//! (`backend/redis/mod.rs`).
//!
//! The implementations (in process; `gcra.lua` on Redis) live in [`crate::backend`]; this
//! module holds the contract, the algorithm they share ([`gcra`]) and the
//! request-side helpers (local shedding, the header fields). `tests/ratelimit.rs` runs one
//! suite over memory, Redis and Redis Cluster.

pub mod headers;
pub mod local;
pub mod pumping;

use crate::domain::Millis;
use crate::error::StoreResult;
use async_trait::async_trait;
use std::sync::Arc;

/// One limit of a request: a key and its quota per window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limit {
    /// Scope name, returned as the 429's `reason` (`number_per_minute`, `client_ip`, …).
    pub reason: &'static str,
    /// Hashed value of the scope (empty for tenant-wide scopes).
    pub key: String,
    /// Requests admitted per window.
    pub quota: u32,
    /// Window in ms.
    pub window_ms: u64,
}

/// A limit's state after an admitted request (for the `RateLimit` headers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quota {
    /// Scope name.
    pub reason: &'static str,
    /// Requests per window.
    pub quota: u32,
    /// Window in ms.
    pub window_ms: u64,
    /// Requests still admitted right now.
    pub remaining: u32,
    /// Time until the whole quota is back, in ms.
    pub reset_ms: u64,
}

/// Outcome of a limit decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Every limit admitted the request and was charged.
    Allowed(Vec<Quota>),
    /// A limit refused it; nothing was charged.
    Denied {
        /// The limit with the longest wait.
        limit: Limit,
        /// When it admits again, in ms.
        retry_after_ms: u64,
    },
}

/// The limiter contract: all the limits of one request, decided atomically.
#[async_trait]
pub trait RateLimiter: Send + Sync + 'static {
    /// Decides and charges `limits` (all share `tenant`) at `now`.
    async fn acquire(&self, tenant: &str, limits: &[Limit], now: Millis) -> StoreResult<Decision>;
}

/// GCRA over several keys: `tats` are the stored TATs (0 when absent). Returns the
/// decision and, when admitted, the new TATs to store. The Lua script is the same
/// algorithm line for line.
pub fn gcra(tats: &[f64], limits: &[Limit], now: f64) -> (Decision, Vec<f64>) {
    let mut worst: Option<(usize, f64)> = None;
    let mut new = Vec::with_capacity(limits.len());
    for (i, l) in limits.iter().enumerate() {
        let w = l.window_ms as f64;
        let t = w / l.quota.max(1) as f64;
        let tat = tats.get(i).copied().unwrap_or(0.0).max(now);
        let next = tat + t;
        let over = next - now - w;
        if over > 0.0 && worst.is_none_or(|(_, o)| over > o) {
            worst = Some((i, over));
        }
        new.push(next);
    }
    if let Some((i, over)) = worst {
        return (
            Decision::Denied {
                limit: limits[i].clone(),
                retry_after_ms: over.ceil() as u64,
            },
            Vec::new(),
        );
    }
    let quotas = limits
        .iter()
        .zip(&new)
        .map(|(l, next)| quota_after(l, *next - now))
        .collect();
    (Decision::Allowed(quotas), new)
}

/// The quota of `l` when its TAT is `ahead_ms` past now.
pub fn quota_after(l: &Limit, ahead_ms: f64) -> Quota {
    let w = l.window_ms as f64;
    let t = w / l.quota.max(1) as f64;
    let remaining = ((w - ahead_ms) / t + 1e-9).floor().max(0.0) as u32;
    Quota {
        reason: l.reason,
        quota: l.quota,
        window_ms: l.window_ms,
        remaining,
        reset_ms: ahead_ms.max(0.0).ceil() as u64,
    }
}

/// The limiter and the pumping guard's state of one backend (built with its store by
/// `backend::build`): what a store admits requests with.
#[derive(Clone)]
pub struct Backends {
    /// Rate limits.
    pub limiter: Arc<dyn RateLimiter>,
    /// Pumping-guard counters and blocks.
    pub pumps: Arc<dyn pumping::PumpStore>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lim(q: u32, w: u64) -> Limit {
        Limit {
            reason: "x",
            key: "k".into(),
            quota: q,
            window_ms: w,
        }
    }

    #[test]
    fn admits_the_quota_at_once_then_one_per_interval() {
        let l = [lim(3, 3000)];
        let mut tat = vec![0.0];
        for i in 0..3 {
            let (d, n) = gcra(&tat, &l, 1000.0);
            let Decision::Allowed(q) = d else {
                panic!("{i}")
            };
            assert_eq!(q[0].remaining, 2 - i);
            tat = n;
        }
        let (d, _) = gcra(&tat, &l, 1000.0);
        assert_eq!(
            d,
            Decision::Denied {
                limit: l[0].clone(),
                retry_after_ms: 1000
            }
        );
        assert!(matches!(gcra(&tat, &l, 2000.0).0, Decision::Allowed(_)));
        let (d, _) = gcra(&tat, &l, 4000.0);
        assert!(matches!(d, Decision::Allowed(q) if q[0].remaining == 2));
    }

    #[test]
    fn one_refusal_charges_nothing_and_names_the_longest_wait() {
        let l = [lim(10, 1000), lim(1, 60_000)];
        let (_, tat) = gcra(&[0.0, 0.0], &l, 0.0);
        let (d, n) = gcra(&tat, &l, 0.0);
        assert!(n.is_empty());
        assert!(
            matches!(d, Decision::Denied { limit, retry_after_ms: 60_000 } if limit.quota == 1)
        );
    }
}
