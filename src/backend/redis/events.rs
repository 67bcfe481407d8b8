//! The events queue on Redis ([`crate::queue::events`]), beside each shard's records
//! (hash tag `{sS}` of the verification id's shard, so every script touches one slot and
//! it works on Redis Cluster):
//!
//! | key | type | holds |
//! |---|---|---|
//! | `P:v1:{sS}:ev:l:<id>` | list (TTL 8 days from the last append) | the verification's waiting events, `<seq> <event>`, head first |
//! | `P:v1:{sS}:ev:n:<id>` | counter (TTL 8 days) | the verification's last `seq` |
//! | `P:v1:{sS}:ev:due` | sorted set | verification ids by when their head is due: now (new), a lease's end (claimed), a retry's time |
//! | `P:v1:{sS}:ev:try` | hash | id → `<seq> <attempts> <first attempt ms>` of a head that failed |
//! | `P:v1:{sS}:ev:exp` / `:ev:expd` | sorted set / hash | expiry timers: id by when, id → its `verification.expired` event |
//! | `P:v1:{sS}:ev:dead` | list, capped at [`DEAD_CAP`] | dead letters, newest first (JSON: `at`, `attempts`, `reason`, `entry`) |
//!
//! A claim moves the line's score to the lease's end, so a head whose instance died is
//! due again when the lease passes and any instance claims it. Settling checks that it
//! still is the head (`ev_settle.lua`): a late instance cannot settle it twice.

use super::conn::Conn;
use super::keys::Layout;
use super::record::int;
use super::stream::{items, text};
use crate::domain::VerificationId;
use crate::queue::events::{ClaimedEvent, DeadEvent, EventQueue, EventsDepth};
use crate::queue::{QueueError, QueueResult};
use ::redis::Script;
use async_trait::async_trait;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;

/// Dead letters kept per shard.
pub const DEAD_CAP: usize = 1000;

/// TTL of a line and its counter from the last append: over the longest window (a week).
const KEEP_SECS: u64 = 8 * 24 * 3600;

impl Layout {
    fn ev(&self, shard: u16, what: &str) -> String {
        format!("{}:ev:{what}", self.tag(shard))
    }
    fn ev_line(&self, id: &VerificationId) -> String {
        format!("{}{}", self.ev(id.shard(), "l:"), id.as_str())
    }
}

/// The events queue over Redis.
pub struct RedisEvents {
    conn: Arc<Conn>,
    layout: Layout,
    append: Script,
    poll: Script,
    settle: Script,
    timer: Script,
    /// The shard the next poll starts at (turning, so no shard starves the others).
    next: AtomicU16,
}

fn bad(what: &str) -> QueueError {
    QueueError(format!("unexpected reply to {what}"))
}

/// `<seq> <text>` as stored in a line.
fn split_entry(e: &str) -> Option<(u64, String)> {
    let (seq, text) = e.split_once(' ')?;
    Some((seq.parse().ok()?, text.to_string()))
}

impl RedisEvents {
    /// The events queue over `conn` in the store's key layout.
    pub fn new(conn: Arc<Conn>, layout: Layout) -> Self {
        RedisEvents {
            conn,
            layout,
            append: Script::new(include_str!("lua/ev_append.lua")),
            poll: Script::new(include_str!("lua/ev_poll.lua")),
            settle: Script::new(include_str!("lua/ev_settle.lua")),
            timer: Script::new(include_str!("lua/ev_timer.lua")),
            next: Default::default(),
        }
    }

    async fn poll_shard(
        &self,
        shard: u16,
        now: i64,
        lease_ms: u64,
        max: usize,
    ) -> QueueResult<Vec<ClaimedEvent>> {
        let l = &self.layout;
        let mut inv = self.poll.prepare_invoke();
        inv.key(l.ev(shard, "due"))
            .key(l.ev(shard, "try"))
            .key(l.ev(shard, "exp"))
            .key(l.ev(shard, "expd"))
            .arg(now)
            .arg(lease_ms)
            .arg(max)
            .arg(l.ev(shard, "l:"))
            .arg(l.ev(shard, "n:"))
            .arg(KEEP_SECS);
        let reply = self.conn.invoke(&inv).await?;
        let parts = items(&reply);
        parts.first().and_then(int).ok_or_else(|| bad("ev_poll"))?;
        let mut out = Vec::new();
        for c in parts.get(1).map(items).unwrap_or_default() {
            let f = items(c);
            let (Some(id), Some(head), Some(tries)) = (
                f.first().and_then(text),
                f.get(1).and_then(text),
                f.get(2).and_then(text),
            ) else {
                return Err(bad("ev_poll"));
            };
            let id = VerificationId::parse_stored(&id).ok_or_else(|| bad("ev_poll"))?;
            let (seq, text) = split_entry(&head).ok_or_else(|| bad("ev_poll"))?;
            // `<seq> <attempts> <first>`, for this head only
            let t: Vec<i64> = tries.split(' ').filter_map(|x| x.parse().ok()).collect();
            let (attempts, first_ms) = match t[..] {
                [s, a, f] if s as u64 == seq => (a as u32, f),
                _ => (0, 0),
            };
            out.push(ClaimedEvent {
                verification: id,
                seq,
                text,
                attempts,
                first_ms,
            });
        }
        Ok(out)
    }

    async fn settle(&self, id: &VerificationId, seq: u64, args: &[String]) -> QueueResult<i64> {
        let shard = id.shard();
        let l = &self.layout;
        let mut inv = self.settle.prepare_invoke();
        inv.key(l.ev(shard, "due"))
            .key(l.ev(shard, "try"))
            .key(l.ev_line(id))
            .key(l.ev(shard, "dead"))
            .arg(id.as_str())
            .arg(seq);
        for a in args {
            inv.arg(a);
        }
        int(&self.conn.invoke(&inv).await?).ok_or_else(|| bad("ev_settle"))
    }

    async fn poll(&self, now: i64, lease_ms: u64, max: usize) -> QueueResult<Vec<ClaimedEvent>> {
        let mut out = Vec::new();
        let n = self.layout.shards;
        let first = self.next.fetch_add(1, Ordering::Relaxed) % n;
        for shard in (0..n).map(|i| (first + i) % n) {
            if out.len() >= max {
                break;
            }
            out.extend(
                self.poll_shard(shard, now, lease_ms, max - out.len())
                    .await?,
            );
        }
        Ok(out)
    }
}

#[derive(serde::Deserialize)]
struct DeadRecord {
    at: String,
    attempts: String,
    reason: String,
    entry: String,
}

#[async_trait]
impl EventQueue for RedisEvents {
    async fn append(&self, id: &VerificationId, text: &str, now: i64) -> QueueResult<u64> {
        let l = &self.layout;
        let mut inv = self.append.prepare_invoke();
        inv.key(l.ev_line(id))
            .key(format!("{}{}", l.ev(id.shard(), "n:"), id.as_str()))
            .key(l.ev(id.shard(), "due"))
            .arg(id.as_str())
            .arg(text)
            .arg(now)
            .arg(KEEP_SECS);
        let seq = int(&self.conn.invoke(&inv).await?).ok_or_else(|| bad("ev_append"))?;
        Ok(seq as u64)
    }

    async fn claim(&self, now: i64, lease_ms: u64, max: usize) -> QueueResult<Vec<ClaimedEvent>> {
        self.poll(now, lease_ms, max).await
    }

    async fn delivered(&self, id: &VerificationId, seq: u64, now: i64) -> QueueResult<bool> {
        let args = ["delivered".to_string(), now.to_string()];
        Ok(self.settle(id, seq, &args).await? == 1)
    }

    async fn retry(
        &self,
        id: &VerificationId,
        seq: u64,
        attempts: u32,
        first_ms: i64,
        at_ms: i64,
    ) -> QueueResult<()> {
        let args = [
            "retry",
            "0",
            &attempts.to_string(),
            &first_ms.to_string(),
            &at_ms.to_string(),
        ]
        .map(String::from);
        self.settle(id, seq, &args).await.map(|_| ())
    }

    async fn dead(
        &self,
        id: &VerificationId,
        seq: u64,
        attempts: u32,
        reason: &str,
        behind: &str,
        now: i64,
    ) -> QueueResult<usize> {
        let args = [
            "dead",
            &now.to_string(),
            &attempts.to_string(),
            reason,
            behind,
            &DEAD_CAP.to_string(),
        ]
        .map(String::from);
        Ok(self.settle(id, seq, &args).await?.max(0) as usize)
    }

    async fn dead_letters(&self, limit: usize) -> QueueResult<Vec<DeadEvent>> {
        let mut out = Vec::new();
        for shard in 0..self.layout.shards {
            let mut cmd = ::redis::cmd("LRANGE");
            cmd.arg(self.layout.ev(shard, "dead"))
                .arg(0)
                .arg(limit.max(1) - 1);
            for v in items(&self.conn.query(&cmd).await?) {
                let Some(r) = text(v).and_then(|t| serde_json::from_str::<DeadRecord>(&t).ok())
                else {
                    continue;
                };
                let Some((seq, text)) = split_entry(&r.entry) else {
                    continue;
                };
                out.push(DeadEvent {
                    at_ms: r.at.parse().unwrap_or(0),
                    attempts: r.attempts.parse().unwrap_or(0),
                    reason: r.reason,
                    seq,
                    text,
                });
            }
        }
        out.sort_by_key(|d| std::cmp::Reverse(d.at_ms)); // stable: a shard's own order kept
        out.truncate(limit);
        Ok(out)
    }

    async fn arm(&self, id: &VerificationId, text: &str, at_ms: i64) -> QueueResult<()> {
        let mut inv = self.timer.prepare_invoke();
        inv.key(self.layout.ev(id.shard(), "exp"))
            .key(self.layout.ev(id.shard(), "expd"))
            .arg(id.as_str())
            .arg(text)
            .arg(at_ms);
        self.conn.invoke(&inv).await.map(|_| ()).map_err(Into::into)
    }

    async fn disarm(&self, id: &VerificationId) -> QueueResult<()> {
        let mut inv = self.timer.prepare_invoke();
        inv.key(self.layout.ev(id.shard(), "exp"))
            .key(self.layout.ev(id.shard(), "expd"))
            .arg(id.as_str())
            .arg("")
            .arg(0);
        self.conn.invoke(&inv).await.map(|_| ()).map_err(Into::into)
    }

    async fn depth(&self) -> QueueResult<EventsDepth> {
        let mut d = EventsDepth::default();
        for shard in 0..self.layout.shards {
            let mut zc = ::redis::cmd("ZCARD");
            zc.arg(self.layout.ev(shard, "due"));
            d.lines += int(&self.conn.query(&zc).await?).unwrap_or(0) as u64;
            let mut ll = ::redis::cmd("LLEN");
            ll.arg(self.layout.ev(shard, "dead"));
            d.dead += int(&self.conn.query(&ll).await?).unwrap_or(0) as u64;
        }
        Ok(d)
    }
}
