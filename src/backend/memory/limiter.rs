//! The in-process limiter: the GCRA of [`crate::ratelimit::gcra`] over a map under one
//! mutex.

use crate::domain::Millis;
use crate::error::StoreResult;
use crate::ratelimit::{gcra, Decision, Limit, RateLimiter};
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::Mutex;

/// Memory limiter: one TAT per key; keys whose TAT has passed are purged as the map
/// grows, so memory follows the number of keys active within their window.
#[derive(Default)]
pub struct MemoryLimiter {
    inner: Mutex<State>,
}

#[derive(Default)]
struct State {
    tats: HashMap<String, f64>,
    purge_at: usize,
}

impl MemoryLimiter {
    /// Keys held (tests).
    pub fn len(&self) -> usize {
        self.inner.lock().expect("limiter lock").tats.len()
    }

    /// True when no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl RateLimiter for MemoryLimiter {
    async fn acquire(&self, tenant: &str, limits: &[Limit], now: Millis) -> StoreResult<Decision> {
        Ok(self.decide(tenant, limits, now))
    }
}

impl MemoryLimiter {
    /// The decision, synchronously (benches).
    pub fn decide(&self, tenant: &str, limits: &[Limit], now: Millis) -> Decision {
        let now = now as f64;
        let keys: Vec<String> = limits
            .iter()
            .map(|l| format!("{tenant}:{}:{}", l.reason, l.key))
            .collect();
        let mut s = self.inner.lock().expect("limiter lock");
        if s.tats.len() > s.purge_at.max(4096) {
            s.tats.retain(|_, tat| *tat > now);
            s.purge_at = s.tats.len() * 2;
        }
        let tats: Vec<f64> = keys
            .iter()
            .map(|k| s.tats.get(k).copied().unwrap_or(0.0))
            .collect();
        let (d, new) = gcra(&tats, limits, now);
        for (k, t) in keys.into_iter().zip(new) {
            s.tats.insert(k, t);
        }
        d
    }
}
