//! Workflow steps on Redis: `advance.lua` moves one verification on, or runs a shard's
//! due step timers (the sorted set `{sS}:wt` beside the shard's records and stream, so
//! on Redis Cluster too each move is one script in one slot). Each instance looks for
//! due timers every half second with one `ZRANGEBYSCORE … LIMIT 0 1` per shard, and runs
//! the script only on a shard where one is due.

use super::calls::bad_reply;
use super::record::{decode, int, text};
use super::store::RedisStore;
use crate::domain::{Millis, VerificationId};
use crate::store::{NextStep, NextWhy, Steps, StoreResult};
use ::redis::Value;
use async_trait::async_trait;

impl RedisStore {
    /// The outcomes in an `advance.lua` reply.
    fn moves(&self, v: Value) -> StoreResult<Vec<(VerificationId, NextStep)>> {
        let Value::Array(items) = v else {
            return Err(bad_reply("advance"));
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let Value::Array(f) = item else {
                return Err(bad_reply("advance"));
            };
            let id = f
                .first()
                .and_then(text)
                .and_then(|s| VerificationId::parse_stored(&s))
                .ok_or_else(|| bad_reply("advance"))?;
            let outcome = match f.get(1).and_then(text).as_deref() {
                Some("advanced") => {
                    let seq = f.get(2).and_then(int).ok_or_else(|| bad_reply("advance"))?;
                    let v = f
                        .get(3)
                        .and_then(|r| decode(&id, r, &self.sealer))
                        .ok_or_else(|| bad_reply("advance"))?;
                    NextStep::Advanced(Box::new(v), seq as u32)
                }
                Some("not_pending") => NextStep::NotPending,
                Some("no_workflow") => NextStep::NoWorkflow,
                Some("moved") => NextStep::Moved,
                Some("delivered") => NextStep::Delivered,
                Some("last") => NextStep::Last,
                _ => return Err(bad_reply("advance")),
            };
            if matches!(outcome, NextStep::Advanced(..)) {
                self.doorbell.ring(id.shard());
            }
            out.push((id, outcome));
        }
        Ok(out)
    }
}

#[async_trait]
impl Steps for RedisStore {
    async fn next_step(
        &self,
        id: &VerificationId,
        from: Option<u8>,
        why: NextWhy,
        now: Millis,
    ) -> StoreResult<NextStep> {
        let shard = id.shard();
        let mut inv = self.scripts.advance.prepare_invoke();
        inv.key(self.layout.stream(shard))
            .key(self.layout.timers(shard))
            .arg(now)
            .arg(self.layout.record_prefix(shard))
            .arg("one")
            .arg(id.as_str())
            .arg(from.map_or(String::new(), |f| f.to_string()))
            .arg(why.as_str())
            .arg(0);
        let mut moved = self.moves(self.conn.invoke(&inv).await?)?;
        moved
            .pop()
            .map(|(_, o)| o)
            .ok_or_else(|| bad_reply("advance"))
    }

    async fn due_steps(
        &self,
        now: Millis,
        max: usize,
    ) -> StoreResult<Vec<(VerificationId, NextStep)>> {
        let mut out = Vec::new();
        for shard in 0..self.layout.shards {
            if out.len() >= max {
                break;
            }
            // A plain read first: the script runs only for a shard with a timer due, so
            // an idle gateway polls with reads alone.
            let mut peek = ::redis::cmd("ZRANGEBYSCORE");
            peek.arg(self.layout.timers(shard))
                .arg("-inf")
                .arg(now)
                .arg("LIMIT")
                .arg(0)
                .arg(1);
            if matches!(self.conn.query(&peek).await?, Value::Array(a) if a.is_empty()) {
                continue;
            }
            let mut inv = self.scripts.advance.prepare_invoke();
            inv.key(self.layout.stream(shard))
                .key(self.layout.timers(shard))
                .arg(now)
                .arg(self.layout.record_prefix(shard))
                .arg("due")
                .arg("")
                .arg("")
                .arg("")
                .arg(max - out.len());
            out.extend(self.moves(self.conn.invoke(&inv).await?)?);
        }
        Ok(out)
    }
}
