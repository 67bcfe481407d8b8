//! The guard's state in Redis (one node or a cluster), laid out as the memory backend's:
//! all of a tenant's keys under its hash tag `{pg:<tenant>}`.
//!
//! - `…:t:<channel>:<level>:<generation>`: a hash of tallies (`rs,ra,ls,la,t` in
//!   thousandths of a send), one generation per `baseline_ms`, kept two generations;
//!   at most `max_tracked` fields, new levels beyond that share the field `~`;
//! - `…:blocks`: a hash `<channel>:<level>:<field>` → the block record (see
//!   [`encode_block`]), kept 30 days after the last block for its strikes.

use super::memory::{OVERFLOW, STRIKE_MEMORY_MS};
use super::model::{self, Prior, Tally};
use super::Target;
use super::{Action, Block, Explain, GuardPolicy, Level, Probe, PumpStore, PumpVerdict, Rule};
use crate::domain::Millis;
use crate::store::redis::{Conn, Parts};
use crate::store::{StoreError, StoreResult};
use ::redis::{Script, Value};
use async_trait::async_trait;
use std::sync::Arc;

/// Reads, per target, the current and previous generation's tally, the current
/// generation's size, and the block record. KEYS: per target (cur, prev), then blocks;
/// ARGV: per target (field, block field).
const READ: &str = r"
local n = (#KEYS - 1) / 2
local out = {}
for i = 1, n do
  local f = ARGV[2 * i - 1]
  out[#out + 1] = redis.call('HGET', KEYS[2 * i - 1], f) or ''
  out[#out + 1] = redis.call('HGET', KEYS[2 * i], f) or ''
  out[#out + 1] = redis.call('HGET', KEYS[2 * i - 1], '~') or ''
  out[#out + 1] = redis.call('HGET', KEYS[2 * i], '~') or ''
  out[#out + 1] = redis.call('HLEN', KEYS[2 * i - 1])
  out[#out + 1] = redis.call('HGET', KEYS[#KEYS], ARGV[2 * i]) or ''
end
return out
";

/// Writes tallies and blocks. KEYS: tally hashes then blocks; ARGV: ttl ms, strike
/// memory ms, tally count, (field, value) per tally, then (block field, value) pairs.
const WRITE: &str = r"
local ttl, keep, n = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
for i = 1, n do
  redis.call('HSET', KEYS[i], ARGV[2 + 2 * i], ARGV[3 + 2 * i])
  redis.call('PEXPIRE', KEYS[i], ttl)
end
local j = 4 + 2 * n
while j < #ARGV do
  redis.call('HSET', KEYS[#KEYS], ARGV[j], ARGV[j + 1])
  redis.call('PEXPIRE', KEYS[#KEYS], keep)
  j = j + 2
end
return 1
";

/// Redis guard state.
pub struct RedisPumps {
    conn: Arc<Conn>,
    prefix: String,
    read: Script,
    write: Script,
}

fn tag(prefix: &str, tenant: &str) -> String {
    format!("{prefix}:{{pg:{tenant}}}")
}

fn gen_key(prefix: &str, probe: &Probe, level: Level, gen: i64) -> String {
    format!(
        "{}:t:{}:{}:{gen}",
        tag(prefix, &probe.tenant),
        probe.channel,
        level.as_str()
    )
}

fn block_field(channel: &str, level: Level, field: &str) -> String {
    format!("{channel}:{}:{field}", level.as_str())
}

/// `until|strikes|action|since|rule|sends|approvals|expected|baseline|tolerance|country|label`.
pub fn encode_block(b: &Block) -> String {
    let e = &b.explain;
    format!(
        "{}|{}|{}|{}|{}|{:.3}|{:.3}|{:.4}|{:.3}|{:.3}|{}|{}",
        b.until_ms,
        b.strikes,
        b.action.index(),
        b.since_ms,
        u8::from(e.rule == Rule::Long),
        e.sends,
        e.approvals,
        e.expected,
        e.baseline_sends,
        e.tolerance,
        b.country,
        b.label
    )
}

/// Reads [`encode_block`]'s form back.
pub fn decode_block(tenant: &str, key: &str, raw: &str) -> Option<Block> {
    let mut k = key.splitn(3, ':');
    let (channel, level, field) = (k.next()?, Level::parse(k.next()?)?, k.next()?);
    let p: Vec<&str> = raw.splitn(12, '|').collect();
    let num = |i: usize| p.get(i)?.parse::<f64>().ok();
    Some(Block {
        tenant: tenant.to_string(),
        channel: channel.to_string(),
        level,
        field: field.to_string(),
        until_ms: p.first()?.parse().ok()?,
        strikes: p.get(1)?.parse().ok()?,
        action: Action::from_index(p.get(2)?.parse().ok()?)?,
        since_ms: p.get(3)?.parse().ok()?,
        explain: Explain {
            rule: if *p.get(4)? == "1" {
                Rule::Long
            } else {
                Rule::Recent
            },
            sends: num(5)?,
            approvals: num(6)?,
            expected: num(7)?,
            baseline_sends: num(8)?,
            tolerance: num(9)?,
        },
        country: p.get(10)?.to_string(),
        label: p.get(11)?.to_string(),
    })
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::BulkString(b) => Some(String::from_utf8_lossy(b).to_string()),
        Value::SimpleString(s) => Some(s.clone()),
        _ => None,
    }
}

fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Int(i) => Some(*i),
        v => text(v)?.parse().ok(),
    }
}

fn bad() -> StoreError {
    StoreError("unexpected reply from the pumping guard's script".into())
}

impl RedisPumps {
    /// Over a connection, with keys under `prefix` (`P:v1`).
    pub fn new(conn: Arc<Conn>, prefix: String) -> Self {
        RedisPumps {
            conn,
            prefix,
            read: Script::new(READ),
            write: Script::new(WRITE),
        }
    }

    /// Per target: where it counts (overflow maybe), its tally, its block.
    async fn load(
        &self,
        probe: &Probe,
        p: &GuardPolicy,
        now: Millis,
    ) -> StoreResult<Vec<(Target, Option<Tally>, Option<Block>)>> {
        let gen = now.div_euclid(p.baseline_ms.max(1) as i64);
        let mut parts = Parts::default();
        for tg in &probe.targets {
            parts
                .key(gen_key(&self.prefix, probe, tg.level, gen))
                .key(gen_key(&self.prefix, probe, tg.level, gen - 1));
            parts
                .arg(&tg.field)
                .arg(block_field(&probe.channel, tg.level, &tg.field));
        }
        parts.key(format!("{}:blocks", tag(&self.prefix, &probe.tenant)));
        let mut inv = self.read.prepare_invoke();
        parts.apply(&mut inv);
        let Value::Array(items) = self.conn.invoke(&inv).await? else {
            return Err(bad());
        };
        let mut out = Vec::new();
        for (tg, row) in probe.targets.iter().zip(items.chunks(6)) {
            let s = |i: usize| row.get(i).and_then(text).unwrap_or_default();
            let (cur, prev, ocur, oprev) = (s(0), s(1), s(2), s(3));
            let len = row.get(4).and_then(int).ok_or_else(bad)?;
            let found = [cur, prev].into_iter().find(|v| !v.is_empty());
            let (target, tally) = match found {
                Some(v) => (tg.clone(), Tally::decode(&v)),
                None if len >= i64::from(p.max_tracked) => {
                    let o = [ocur, oprev].into_iter().find(|v| !v.is_empty());
                    (
                        Target {
                            level: tg.level,
                            field: OVERFLOW.into(),
                            label: "(overflow)".into(),
                        },
                        o.and_then(|v| Tally::decode(&v)),
                    )
                }
                None => (tg.clone(), None),
            };
            let key = block_field(&probe.channel, tg.level, &target.field);
            let block = if target.field == tg.field {
                decode_block(&probe.tenant, &key, &s(5))
            } else {
                None
            };
            out.push((target, tally, block));
        }
        Ok(out)
    }

    async fn store(
        &self,
        probe: &Probe,
        p: &GuardPolicy,
        now: Millis,
        tallies: &[(Level, String, Tally)],
        blocks: &[Block],
    ) -> StoreResult<()> {
        let gen = now.div_euclid(p.baseline_ms.max(1) as i64);
        let mut parts = Parts::default();
        parts
            .arg(2 * p.baseline_ms)
            .arg(STRIKE_MEMORY_MS + p.max_block_ms as i64)
            .arg(tallies.len());
        for (level, field, t) in tallies {
            parts.key(gen_key(&self.prefix, probe, *level, gen));
            parts.arg(field).arg(t.encode());
        }
        for b in blocks {
            parts
                .arg(block_field(&b.channel, b.level, &b.field))
                .arg(encode_block(b));
        }
        parts.key(format!("{}:blocks", tag(&self.prefix, &probe.tenant)));
        let mut inv = self.write.prepare_invoke();
        parts.apply(&mut inv);
        self.conn.invoke(&inv).await.map(|_| ())
    }
}

#[async_trait]
impl PumpStore for RedisPumps {
    async fn record_send(
        &self,
        probe: &Probe,
        p: &GuardPolicy,
        now: Millis,
    ) -> StoreResult<PumpVerdict> {
        let loaded = self.load(probe, p, now).await?;
        let overflowed = loaded
            .iter()
            .zip(&probe.targets)
            .filter(|((t, _, _), tg)| t.field != tg.field)
            .count() as u32;
        let mut seen = probe.clone();
        seen.targets = loaded.iter().map(|(t, _, _)| t.clone()).collect();
        let tallies: Vec<Option<Tally>> = loaded.iter().map(|(_, t, _)| *t).collect();
        let priors: Vec<Option<Prior>> = loaded
            .iter()
            .map(|(_, _, b)| {
                b.as_ref().map(|b| Prior {
                    until_ms: b.until_ms,
                    strikes: b.strikes,
                    action: b.action,
                    explain: b.explain,
                })
            })
            .collect();
        let d = model::decide(p, &seen, &tallies, &priors, now);
        let writes: Vec<(Level, String, Tally)> = seen
            .targets
            .iter()
            .zip(&d.tallies)
            .filter_map(|(tg, t)| Some((tg.level, tg.field.clone(), (*t)?)))
            .collect();
        let blocks: Vec<Block> = d
            .verdict
            .trips
            .iter()
            .filter(|t| t.new && t.until_ms > 0)
            .map(|t| Block {
                tenant: probe.tenant.clone(),
                channel: probe.channel.clone(),
                level: t.level,
                field: t.field.clone(),
                label: t.label.clone(),
                country: probe.country.clone(),
                action: t.action,
                until_ms: t.until_ms,
                strikes: t.strikes,
                since_ms: now,
                explain: t.explain,
            })
            .collect();
        if !writes.is_empty() || !blocks.is_empty() {
            self.store(probe, p, now, &writes, &blocks).await?;
        }
        Ok(PumpVerdict {
            overflowed,
            ..d.verdict
        })
    }

    async fn record_approval(
        &self,
        probe: &Probe,
        p: &GuardPolicy,
        now: Millis,
    ) -> StoreResult<()> {
        let loaded = self.load(probe, p, now).await?;
        let writes: Vec<(Level, String, Tally)> = loaded
            .into_iter()
            .zip(&probe.targets)
            .filter(|((t, old, _), tg)| t.field == tg.field || old.is_some())
            .map(|((t, old, _), _)| (t.level, t.field, model::approve(old, p, now)))
            .collect();
        self.store(probe, p, now, &writes, &[]).await
    }

    async fn blocks(&self, tenant: &str, now: Millis) -> StoreResult<Vec<Block>> {
        let mut cmd = ::redis::cmd("HGETALL");
        cmd.arg(format!("{}:blocks", tag(&self.prefix, tenant)));
        let items: Vec<Value> = match self.conn.query(&cmd).await? {
            Value::Array(a) => a,
            Value::Map(m) => m.into_iter().flat_map(|(k, v)| [k, v]).collect(),
            _ => Vec::new(),
        };
        let mut out: Vec<Block> = items
            .chunks(2)
            .filter_map(|kv| decode_block(tenant, &text(kv.first()?)?, &text(kv.get(1)?)?))
            .filter(|b| b.until_ms > now)
            .collect();
        out.sort_by(|a, b| (a.level, &a.label).cmp(&(b.level, &b.label)));
        Ok(out)
    }

    async fn lift(
        &self,
        tenant: &str,
        level: Level,
        field: &str,
        p: &GuardPolicy,
        now: Millis,
    ) -> StoreResult<bool> {
        let channel = "sms";
        let mut cmd = ::redis::cmd("HDEL");
        cmd.arg(format!("{}:blocks", tag(&self.prefix, tenant)))
            .arg(block_field(channel, level, field));
        let had = int(&self.conn.query(&cmd).await?).unwrap_or(0) > 0;
        // Forget the level's counts too, in both generations that may hold them.
        let gen = now.div_euclid(p.baseline_ms.max(1) as i64);
        let probe = Probe {
            tenant: tenant.to_string(),
            channel: channel.to_string(),
            country: String::new(),
            targets: Vec::new(),
            challenge_passed: false,
            low_score: false,
        };
        for g in [gen, gen - 1] {
            let mut del = ::redis::cmd("HDEL");
            del.arg(gen_key(&self.prefix, &probe, level, g)).arg(field);
            self.conn.query(&del).await?;
        }
        Ok(had)
    }
}
