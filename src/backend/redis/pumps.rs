//! The guard's state in Redis (one node or a cluster), laid out as the memory backend's:
//! all of a tenant's keys under its hash tag `{pg:<tenant>}`, so one script can read,
//! decide and write them on Redis Cluster too.
//!
//! - `…:t:<channel>:<level>:<generation>`: a hash of tallies (`rs,ra,ls,la,t` in
//!   thousandths of a send), one generation per `baseline_ms`, kept two generations;
//!   at most `max_tracked` fields, new levels beyond that share the field `~`;
//! - `…:blocks`: a hash `<channel>:<level>:<field>` → the block record (see
//!   [`decode_block`]), kept 30 days after the last block for its strikes.
//!
//! A send is one call of `guard.lua`: it reads the levels' tallies and blocks, runs the
//! decision of [`crate::ratelimit::pumping::model::decide`] (mirrored line by line in Lua), writes the new
//! blocks and, when the send is let through, the counts, and answers the verdict. An
//! approval is one call too. On one node the admission scripts join the same script
//! (`fused.rs`) into a start's or check's single round trip.

use super::conn::Conn;
use super::guard_codec::{approval_parts, bad, block_field, blocks_key, decode_block};
use super::guard_codec::{decode_send, gen_key, gen_of, int, send_parts, text};
use crate::domain::Millis;
use crate::error::StoreResult;
use crate::ratelimit::pumping::{
    active_blocks, Block, GuardPolicy, Level, Probe, PumpStore, PumpVerdict,
};
use ::redis::{Script, Value};
use async_trait::async_trait;
use std::sync::Arc;

/// The guard's script: a send's whole decision, or an approval (also joined into the
/// one-node admission scripts).
pub(super) static GUARD: &str = include_str!("lua/guard.lua");

/// Lifts a block and forgets the level's counts in both generations that may hold them.
/// KEYS: blocks, current and previous generation; ARGV: block field, field.
const LIFT: &str = r"
local had = redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[2])
redis.call('HDEL', KEYS[3], ARGV[2])
return had
";

/// Redis guard state.
pub struct RedisPumps {
    conn: Arc<Conn>,
    prefix: String,
    guard: Script,
    lift: Script,
}

impl RedisPumps {
    /// Over a connection, with keys under `prefix` (`P:v1`).
    pub fn new(conn: Arc<Conn>, prefix: String) -> Self {
        RedisPumps {
            conn,
            prefix,
            guard: Script::new(GUARD),
            lift: Script::new(LIFT),
        }
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
        let mut inv = self.guard.prepare_invoke();
        send_parts(&self.prefix, probe, p, now).apply(&mut inv);
        decode_send(self.conn.invoke(&inv).await?, probe)
    }

    async fn record_approval(
        &self,
        probe: &Probe,
        p: &GuardPolicy,
        now: Millis,
    ) -> StoreResult<()> {
        let mut inv = self.guard.prepare_invoke();
        approval_parts(&self.prefix, probe, p, now).apply(&mut inv);
        self.conn.invoke(&inv).await.map(|_| ())
    }

    async fn blocks(&self, tenant: &str, now: Millis) -> StoreResult<Vec<Block>> {
        let mut cmd = ::redis::cmd("HGETALL");
        cmd.arg(blocks_key(&self.prefix, tenant));
        let items: Vec<Value> = match self.conn.query(&cmd).await? {
            Value::Array(a) => a,
            Value::Map(m) => m.into_iter().flat_map(|(k, v)| [k, v]).collect(),
            _ => return Err(bad()),
        };
        let all = items
            .chunks(2)
            .filter_map(|kv| decode_block(tenant, &text(kv.first()?)?, &text(kv.get(1)?)?));
        Ok(active_blocks(all, now))
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
        let gen = gen_of(now, p);
        let mut inv = self.lift.prepare_invoke();
        inv.key(blocks_key(&self.prefix, tenant))
            .key(gen_key(&self.prefix, tenant, channel, level, gen))
            .key(gen_key(&self.prefix, tenant, channel, level, gen - 1))
            .arg(block_field(channel, level, field))
            .arg(field);
        Ok(int(&self.conn.invoke(&inv).await?).unwrap_or(0) > 0)
    }
}
