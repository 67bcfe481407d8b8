//! The Redis limiter: `gcra.lua` over the tenant's slot, one round trip per request.

use super::calls::Parts;
use super::conn::Conn;
use crate::domain::Millis;
use crate::error::{StoreError, StoreResult};
use crate::ratelimit::{quota_after, Decision, Limit, RateLimiter};
use ::redis::{Script, Value};
use async_trait::async_trait;
use std::sync::Arc;

/// The GCRA script (also joined into the one-node admission scripts).
pub(super) static GCRA: &str = include_str!("lua/gcra.lua");

/// Redis (single node or cluster) limiter.
pub struct RedisLimiter {
    conn: Arc<Conn>,
    prefix: String,
    script: Script,
}

impl RedisLimiter {
    /// Over a connection, with keys under `prefix` (`P:v1`).
    pub fn new(conn: Arc<Conn>, prefix: String) -> Self {
        RedisLimiter {
            conn,
            prefix,
            script: Script::new(GCRA),
        }
    }
}

fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Int(i) => Some(*i),
        Value::BulkString(b) => std::str::from_utf8(b).ok()?.parse().ok(),
        _ => None,
    }
}

/// Where a limit's TAT is stored in Redis: the scope part of the key name and the
/// position in that key. A number's minute, hour and day limits share one key
/// (`number`, positions 1 to 3): one key per number instead of three, the biggest
/// part of the limits' memory per pending verification.
fn stored_as(reason: &'static str) -> (&'static str, usize) {
    match reason {
        "number_per_minute" => ("number", 1),
        "number_per_hour" => ("number", 2),
        "number_per_day" => ("number", 3),
        other => (other, 1),
    }
}

/// Keys and arguments of `gcra.lua` for `limits` of `tenant`, keys under `prefix`:
/// limits that share a stored key ([`stored_as`]) name it once.
pub(super) fn gcra_parts(prefix: &str, tenant: &str, limits: &[Limit], now: Millis) -> Parts {
    let mut p = Parts::default();
    p.arg(now);
    for l in limits {
        let (scope, position) = stored_as(l.reason);
        let key = format!("{prefix}:{{rl:{tenant}}}:{scope}:{}", l.key);
        let index = match p.keys.iter().position(|k| *k == key) {
            Some(i) => i + 1,
            None => {
                p.key(key);
                p.keys.len()
            }
        };
        p.arg(index)
            .arg(position)
            .arg(l.window_ms)
            .arg(l.quota.max(1));
    }
    p
}

/// Reads `gcra.lua`'s reply for `limits`.
pub(super) fn decode(limits: &[Limit], v: Value) -> StoreResult<Decision> {
    let bad = || StoreError("unexpected reply from the rate-limit script".into());
    let items = match v {
        Value::Array(items) => items,
        _ => return Err(bad()),
    };
    let head = match items.first() {
        Some(Value::BulkString(b)) => String::from_utf8_lossy(b).to_string(),
        Some(Value::SimpleString(s)) => s.clone(),
        _ => return Err(bad()),
    };
    let num = |i: usize| items.get(i).and_then(int).ok_or_else(bad);
    if head == "deny" {
        let i = num(1)? as usize;
        let limit = limits.get(i.wrapping_sub(1)).ok_or_else(bad)?.clone();
        return Ok(Decision::Denied {
            limit,
            retry_after_ms: num(2)?.max(0) as u64,
        });
    }
    let mut quotas = Vec::with_capacity(limits.len());
    for (i, l) in limits.iter().enumerate() {
        quotas.push(quota_after(l, num(1 + i)? as f64 / 1000.0));
    }
    Ok(Decision::Allowed(quotas))
}

#[async_trait]
impl RateLimiter for RedisLimiter {
    async fn acquire(&self, tenant: &str, limits: &[Limit], now: Millis) -> StoreResult<Decision> {
        if limits.is_empty() {
            return Ok(Decision::Allowed(Vec::new()));
        }
        let mut inv = self.script.prepare_invoke();
        gcra_parts(&self.prefix, tenant, limits, now).apply(&mut inv);
        decode(limits, self.conn.invoke(&inv).await?)
    }
}
