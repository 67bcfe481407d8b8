//! The guard's state in Redis (one node or a cluster): `pump.lua`, one round trip per
//! send, all of a tenant's counters and blocks under its hash tag `{pg:<tenant>}`.

use super::{slot, Block, Bucket, PumpPolicy, PumpStore, PumpVerdict};
use crate::domain::Millis;
use crate::store::redis::{Conn, Parts};
use crate::store::{StoreError, StoreResult};
use ::redis::{Script, Value};
use async_trait::async_trait;
use std::sync::Arc;

/// The guard's script (also joined into the one-node admission script).
pub(crate) static PUMP: &str = include_str!("pump.lua");

/// Redis guard state (single node or cluster): `pump.lua`, one round trip per send.
pub struct RedisPumps {
    conn: Arc<Conn>,
    prefix: String,
    script: Script,
    approve: Script,
}

impl RedisPumps {
    /// Over a connection, with keys under `prefix` (`P:v1`).
    pub fn new(conn: Arc<Conn>, prefix: String) -> Self {
        RedisPumps {
            conn,
            prefix,
            script: Script::new(PUMP),
            approve: Script::new(
                "local n = redis.call('INCR', KEYS[1]) if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end return n",
            ),
        }
    }

    fn tag(&self, tenant: &str) -> String {
        tag(&self.prefix, tenant)
    }
}

fn tag(prefix: &str, tenant: &str) -> String {
    format!("{prefix}:{{pg:{tenant}}}")
}

/// Keys and arguments of `pump.lua` for one send (keys under `prefix`, `P:v1`).
pub(crate) fn send_parts(prefix: &str, b: &Bucket, p: &PumpPolicy, now: Millis) -> Parts {
    let (sl, frac) = slot(now, p.window_ms);
    let tag = tag(prefix, &b.tenant);
    let mut parts = Parts::default();
    parts
        .key(format!("{tag}:s:{}:{sl}", b.field))
        .key(format!("{tag}:s:{}:{}", b.field, sl - 1))
        .key(format!("{tag}:a:{}:{sl}", b.field))
        .key(format!("{tag}:a:{}:{}", b.field, sl - 1))
        .key(format!("{tag}:blocks"))
        .key(format!("{tag}:strikes:{}", b.field))
        .arg(now)
        .arg(format!("{frac:.6}"))
        .arg(&b.field)
        .arg(p.min_sends)
        .arg(format!("{:.6}", p.min_conversion))
        .arg(p.block_ms)
        .arg(p.max_block_ms)
        .arg(p.window_ms)
        .arg(if p.shadow { "1" } else { "0" })
        .arg(&b.country)
        .arg(&b.prefix);
    parts
}

/// The approval counter of `b`'s current window slot.
pub(crate) fn approval_key(prefix: &str, b: &Bucket, window_ms: u64, now: Millis) -> String {
    let (sl, _) = slot(now, window_ms);
    format!("{}:a:{}:{sl}", tag(prefix, &b.tenant), b.field)
}

/// Reads `pump.lua`'s reply.
pub(crate) fn decode_send(v: Value) -> StoreResult<PumpVerdict> {
    let bad = || StoreError("unexpected reply from the pumping script".into());
    let items = match v {
        Value::Array(items) => items,
        _ => return Err(bad()),
    };
    let num = |i: usize| items.get(i).and_then(int).ok_or_else(bad);
    Ok(
        match items.first().and_then(text).ok_or_else(bad)?.as_str() {
            "ok" => PumpVerdict::Ok,
            "blocked" => PumpVerdict::Blocked(num(1)?.max(0) as u64),
            "blocked_now" => PumpVerdict::BlockedNow {
                ms: num(1)? as u64,
                sends: num(2)? as u32,
                approvals: num(3)? as u32,
            },
            "would_block" => PumpVerdict::WouldBlock {
                sends: num(1)? as u32,
                approvals: num(2)? as u32,
            },
            _ => return Err(bad()),
        },
    )
}

fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Int(i) => Some(*i),
        Value::BulkString(b) => std::str::from_utf8(b).ok()?.parse().ok(),
        _ => None,
    }
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::BulkString(b) => Some(String::from_utf8_lossy(b).to_string()),
        Value::SimpleString(s) => Some(s.clone()),
        _ => None,
    }
}

fn parse_block(tenant: &str, raw: &str) -> Option<Block> {
    let mut p = raw.split('|');
    Some(Block {
        tenant: tenant.to_string(),
        until_ms: p.next()?.parse().ok()?,
        strikes: p.next()?.parse().ok()?,
        country: p.next()?.to_string(),
        prefix: p.next()?.to_string(),
        sends: p.next()?.parse().ok()?,
        approvals: p.next()?.parse().ok()?,
    })
}

#[async_trait]
impl PumpStore for RedisPumps {
    async fn record_send(
        &self,
        b: &Bucket,
        p: &PumpPolicy,
        now: Millis,
    ) -> StoreResult<PumpVerdict> {
        let mut inv = self.script.prepare_invoke();
        send_parts(&self.prefix, b, p, now).apply(&mut inv);
        decode_send(self.conn.invoke(&inv).await?)
    }

    async fn record_approval(&self, b: &Bucket, window_ms: u64, now: Millis) -> StoreResult<()> {
        let mut inv = self.approve.prepare_invoke();
        inv.key(approval_key(&self.prefix, b, window_ms, now))
            .arg(2 * window_ms);
        self.conn.invoke(&inv).await.map(|_| ())
    }

    async fn blocks(&self, tenant: &str, now: Millis) -> StoreResult<Vec<Block>> {
        let mut cmd = ::redis::cmd("HGETALL");
        cmd.arg(format!("{}:blocks", self.tag(tenant)));
        let v = self.conn.query(&cmd).await?;
        let items: Vec<Value> = match v {
            Value::Array(a) => a,
            Value::Map(m) => m.into_iter().flat_map(|(k, v)| [k, v]).collect(),
            _ => Vec::new(),
        };
        let mut out: Vec<Block> = items
            .chunks(2)
            .filter_map(|kv| text(kv.get(1)?))
            .filter_map(|raw| parse_block(tenant, &raw))
            .filter(|b| b.until_ms > now)
            .collect();
        out.sort_by(|a, b| a.prefix.cmp(&b.prefix));
        Ok(out)
    }

    async fn lift(&self, tenant: &str, field: &str) -> StoreResult<bool> {
        let mut cmd = ::redis::cmd("HDEL");
        cmd.arg(format!("{}:blocks", self.tag(tenant))).arg(field);
        let v = self.conn.query(&cmd).await?;
        Ok(int(&v).unwrap_or(0) > 0)
    }
}
