//! The Redis limiter: `gcra.lua` over the tenant's slot, one round trip per request.

use super::{quota_after, Decision, Limit, RateLimiter};
use crate::domain::Millis;
use crate::store::redis::Conn;
use crate::store::{StoreError, StoreResult};
use ::redis::{Script, Value};
use async_trait::async_trait;
use std::sync::Arc;

static GCRA: &str = include_str!("gcra.lua");

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

#[async_trait]
impl RateLimiter for RedisLimiter {
    async fn acquire(&self, tenant: &str, limits: &[Limit], now: Millis) -> StoreResult<Decision> {
        if limits.is_empty() {
            return Ok(Decision::Allowed(Vec::new()));
        }
        let mut inv = self.script.prepare_invoke();
        inv.arg(now);
        for l in limits {
            inv.key(format!(
                "{}:{{rl:{tenant}}}:{}:{}",
                self.prefix, l.reason, l.key
            ))
            .arg(l.window_ms)
            .arg(l.quota.max(1));
        }
        let bad = || StoreError("unexpected reply from the rate-limit script".into());
        let items = match self.conn.invoke(&inv).await? {
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
}
