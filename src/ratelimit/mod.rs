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
//! the whole request (`crate::store::admit`); the script reads Redis's clock rather than
//! the caller's: instances with slightly skewed
//! clocks, or whose requests arrive in another order than they read their clocks, would
//! otherwise see a TAT in their future and refuse a request the quota still allows.
//!
//! # Key layout (version `v1`)
//! `P` is `store.redis.key_prefix`, `T` the tenant id, `H` a keyed hash of the scope's
//! value ([`crate::crypto::Keys::scope_key`]: no number, prefix or IP address appears
//! in a key name).
//!
//! | key | type | TTL | holds |
//! |---|---|---|---|
//! | `P:v1:{rl:T}:number:H` | string | until the last TAT passes | the number's minute, hour and day TATs in ms, space-separated |
//! | `P:v1:{rl:T}:<reason>:H` | string | until the TAT passes | GCRA TAT in ms (every other limit) |
//! | `P:v1:{pg:T}:t:<channel>:<level>:<generation>` | hash | 2 generations (`baseline_secs` each) | field H (or `~`, the overflow entry): the level's decayed sends and approvals, `rs,ra,ls,la,t` in thousandths of a send |
//! | `P:v1:{pg:T}:blocks` | hash | 30 days + the longest block, from the last block | field `<channel>:<level>:H`: `until|strikes|action|since|rule|sends|approvals|expected|baseline|tolerance|country|label` |
//!
//! **All limit keys of a tenant live in one cluster slot** (hash tag `{rl:T}`), and so
//! do all its pumping keys (`{pg:T}`). That is what lets one script read and charge a
//! number, an IP, the tenant, a country and a prefix atomically on Redis Cluster, where
//! a script may only touch keys of one slot. The price: one tenant's limit traffic goes
//! to one node. A limit decision is a few hundred bytes and microseconds of Lua, so a
//! node serves tens of thousands per second; a tenant bigger than that needs its own
//! instance, and local shedding ([`local`]) keeps floods from reaching Redis at all.
//!
//! The memory implementation runs the same algorithm under a mutex; [`build`] picks one
//! from the store kind, and `tests/ratelimit.rs` runs one suite over memory, Redis and
//! Redis Cluster.

pub mod headers;
pub mod local;
mod memory;
pub mod pumping;
pub(crate) mod redis;

pub use self::memory::MemoryLimiter;
pub use self::redis::RedisLimiter;

use crate::config::{StoreConfig, StoreKind};
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

/// Where a limit's TAT is stored in Redis: the scope part of the key name and the
/// position in that key. A number's minute, hour and day limits share one key
/// (`number`, positions 1 to 3): one key per number instead of three, the biggest
/// part of the limits' memory per pending verification.
pub fn stored_as(reason: &'static str) -> (&'static str, usize) {
    match reason {
        "number_per_minute" => ("number", 1),
        "number_per_hour" => ("number", 2),
        "number_per_day" => ("number", 3),
        other => (other, 1),
    }
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

/// The limiter and the pumping guard's state over the configured store: the one place
/// a backend is chosen for them.
pub fn build(cfg: &StoreConfig) -> anyhow::Result<Backends> {
    Ok(match cfg.kind {
        StoreKind::Memory => {
            let m = Arc::new(MemoryLimiter::default());
            let p = Arc::new(pumping::MemoryPumps::default());
            Backends {
                limiter: m,
                pumps: p,
            }
        }
        StoreKind::Redis => {
            let conn = Arc::new(crate::store::redis::Conn::new(&cfg.redis)?);
            let prefix = format!("{}:v1", cfg.redis.key_prefix);
            Backends {
                limiter: Arc::new(RedisLimiter::new(conn.clone(), prefix.clone())),
                pumps: Arc::new(pumping::RedisPumps::new(conn, prefix)),
            }
        }
    })
}

/// What [`build`] returns.
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
