//! The Redis Streams queue: one stream per shard (`P:v1:{sS}:q`, beside the number's
//! keys, see `crate::store::redis`), one consumer group `otpgw`, one consumer per gateway
//! process.
//!
//! - `receive`: `XREADGROUP … >` on every shard at most every [`SWEEP_EVERY`], and in
//!   between only on the shards this process queued sends into (the store rings a
//!   [`Doorbell`] with the shard on each start); one command naming every stream on a
//!   single node, one command per shard (run concurrently) on a cluster, which cannot
//!   serve several slots in one command;
//! - `reclaim`: `XAUTOCLAIM` of entries idle past the visibility timeout, which is how
//!   the sends of a killed process are taken over by the others;
//! - `touch`: `XCLAIM … JUSTID` to the same consumer, resetting the idle time;
//! - `ack`: `XACK` + `XDEL` (a script), so the stream holds only unfinished sends;
//! - `dead_letter`: `XADD` to the shard's `:dead` stream (capped) + `XACK` + `XDEL`.
//!
//! The group is created on first use with `XGROUP CREATE … 0 MKSTREAM`, so sends queued
//! before any worker existed are still read.

use super::*;
use crate::store::redis::Conn;
use ::redis::{Script, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const GROUP: &str = "otpgw";

/// Every shard's stream is read at least this often (sends queued by other processes,
/// or left over by an earlier read); in between, `receive` reads only the shards this
/// process rang the doorbell for, and costs nothing when there are none.
pub const SWEEP_EVERY: Duration = Duration::from_millis(20);

/// Queue over Redis Streams.
pub struct RedisQueue {
    conn: Arc<Conn>,
    prefix: String,
    shards: u16,
    groups_ready: AtomicBool,
    ack: Script,
    dead: Script,
    doorbell: Doorbell,
    last_sweep: Mutex<Option<Instant>>,
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::BulkString(b) => String::from_utf8(b.clone()).ok(),
        Value::SimpleString(s) => Some(s.clone()),
        Value::Int(i) => Some(i.to_string()),
        _ => None,
    }
}

fn items(v: &Value) -> &[Value] {
    match v {
        Value::Array(a) => a,
        _ => &[],
    }
}

/// Parses one `[id, [field, value, …]]` stream entry.
fn entry(v: &Value, shard: u16, redelivered: bool) -> Option<(Lease, Vec<String>)> {
    let parts = items(v);
    let id = text(parts.first()?)?;
    let fields: Vec<String> = items(parts.get(1)?).iter().filter_map(text).collect();
    let get = |k: &str| {
        fields
            .chunks_exact(2)
            .find(|p| p[0] == k)
            .map(|p| p[1].clone())
    };
    let opt = |k: &str| get(k).filter(|s| !s.is_empty());
    let msg = QueuedMessage {
        id: VerificationId::parse(&get("v")?).ok()?,
        tenant: get("t")?,
        seq: get("s")?.parse().ok()?,
        app_hash: opt("h"),
        request_id: opt("r"),
    };
    Some((
        Lease {
            msg,
            entry: id,
            shard,
            redelivered,
        },
        fields,
    ))
}

impl RedisQueue {
    /// A queue over `conn` with the store's prefix and shard count; `doorbell` is the
    /// one the store rings when a start of this process queues a send.
    pub fn new(conn: Arc<Conn>, prefix: String, shards: u16, doorbell: Doorbell) -> Self {
        RedisQueue {
            conn,
            prefix,
            shards: shards.max(1),
            groups_ready: AtomicBool::new(false),
            ack: Script::new(include_str!("ack.lua")),
            dead: Script::new(include_str!("dead.lua")),
            doorbell,
            last_sweep: Mutex::new(None),
        }
    }

    /// Which shards to read now: all of them when a sweep is due, else the rung ones.
    fn shards_to_read(&self) -> Vec<u16> {
        let mut last = self.last_sweep.lock().unwrap_or_else(|p| p.into_inner());
        let rung = self.doorbell.take_shards();
        if last.is_none_or(|t| t.elapsed() >= SWEEP_EVERY) {
            *last = Some(Instant::now());
            (0..self.shards).collect()
        } else {
            rung.into_iter().filter(|s| *s < self.shards).collect()
        }
    }

    /// `XREADGROUP` of up to `per` new entries from each of `shards`: one command on a
    /// single node, one per shard on a cluster. Returns each shard's reply.
    async fn read_new(
        &self,
        consumer: &str,
        shards: &[u16],
        per: usize,
    ) -> Vec<(u16, QueueResult<Value>)> {
        let cmd = |streams: &[u16]| {
            let mut cmd = ::redis::cmd("XREADGROUP");
            cmd.arg("GROUP")
                .arg(GROUP)
                .arg(consumer)
                .arg("COUNT")
                .arg(per)
                .arg("STREAMS");
            for s in streams {
                cmd.arg(self.stream(*s));
            }
            for _ in streams {
                cmd.arg(">");
            }
            cmd
        };
        if self.conn.is_cluster() || shards.len() == 1 {
            let futs = shards.iter().map(|&s| {
                let c = cmd(&[s]);
                async move { (s, self.conn.query(&c).await.map_err(QueueError::from)) }
            });
            return futures_util::future::join_all(futs).await;
        }
        match self.conn.query(&cmd(shards)).await {
            Err(e) => {
                let e = QueueError::from(e);
                shards
                    .iter()
                    .map(|s| (*s, Err(QueueError(e.0.clone()))))
                    .collect()
            }
            Ok(v) => {
                // The reply lists only the streams that had entries, by name.
                let names: HashMap<String, u16> =
                    shards.iter().map(|s| (self.stream(*s), *s)).collect();
                items(&v)
                    .iter()
                    .filter_map(|stream| {
                        let name = text(items(stream).first()?)?;
                        let shard = *names.get(&name)?;
                        Some((shard, Ok(Value::Array(vec![stream.clone()]))))
                    })
                    .collect()
            }
        }
    }

    fn stream(&self, shard: u16) -> String {
        format!("{}:{{s{shard:04x}}}:q", self.prefix)
    }

    fn dead_stream(&self, shard: u16) -> String {
        format!("{}:{{s{shard:04x}}}:dead", self.prefix)
    }

    async fn ensure_groups(&self) -> QueueResult<()> {
        if self.groups_ready.load(Ordering::Acquire) {
            return Ok(());
        }
        for shard in 0..self.shards {
            let mut cmd = ::redis::cmd("XGROUP");
            cmd.arg("CREATE")
                .arg(self.stream(shard))
                .arg(GROUP)
                .arg("0")
                .arg("MKSTREAM");
            if let Err(e) = self.conn.query(&cmd).await {
                if !e.0.contains("BUSYGROUP") {
                    return Err(e.into());
                }
            }
        }
        self.groups_ready.store(true, Ordering::Release);
        Ok(())
    }

    async fn per_shard<F, Fut, T>(&self, f: F) -> Vec<(u16, QueueResult<T>)>
    where
        F: Fn(u16) -> Fut,
        Fut: std::future::Future<Output = QueueResult<T>>,
    {
        let futs = (0..self.shards).map(|s| {
            let fut = f(s);
            async move { (s, fut.await) }
        });
        futures_util::future::join_all(futs).await
    }

    /// The full entry of a lease (for dead-lettering it whole).
    async fn fields(&self, lease: &Lease) -> QueueResult<Vec<String>> {
        let mut cmd = ::redis::cmd("XRANGE");
        cmd.arg(self.stream(lease.shard))
            .arg(&lease.entry)
            .arg(&lease.entry);
        let v = self.conn.query(&cmd).await?;
        Ok(items(&v)
            .first()
            .and_then(|e| entry(e, lease.shard, false))
            .map(|(_, f)| f)
            .unwrap_or_default())
    }
}

#[async_trait]
impl Queue for RedisQueue {
    async fn receive(&self, consumer: &str, max: usize) -> QueueResult<Vec<Lease>> {
        self.ensure_groups().await?;
        let shards = self.shards_to_read();
        if shards.is_empty() {
            return Ok(Vec::new());
        }
        let per = max.div_ceil(shards.len()).max(1);
        let results = self.read_new(consumer, &shards, per).await;
        let mut out = Vec::new();
        let mut first_err = None;
        for (shard, r) in results {
            match r {
                Ok(v) => {
                    let before = out.len();
                    for stream in items(&v) {
                        let entries = items(stream).get(1).map(items).unwrap_or(&[]);
                        out.extend(
                            entries
                                .iter()
                                .filter_map(|e| entry(e, shard, false))
                                .map(|(l, _)| l),
                        );
                    }
                    if out.len() - before >= per {
                        // It may hold more: read it again next time, not at the next sweep.
                        self.doorbell.remark(shard);
                    }
                }
                Err(e) => {
                    if e.0.contains("NOGROUP") {
                        self.groups_ready.store(false, Ordering::Release);
                    }
                    self.doorbell.remark(shard);
                    first_err.get_or_insert(e);
                }
            }
        }
        match first_err {
            Some(e) if out.is_empty() => Err(e),
            _ => Ok(out),
        }
    }

    async fn reclaim(
        &self,
        consumer: &str,
        min_idle_ms: u64,
        max: usize,
    ) -> QueueResult<Vec<Lease>> {
        self.ensure_groups().await?;
        let per = max.div_ceil(self.shards as usize).max(1);
        let results = self
            .per_shard(|shard| async move {
                let mut cmd = ::redis::cmd("XAUTOCLAIM");
                cmd.arg(self.stream(shard))
                    .arg(GROUP)
                    .arg(consumer)
                    .arg(min_idle_ms);
                cmd.arg("0-0").arg("COUNT").arg(per);
                Ok(self.conn.query(&cmd).await?)
            })
            .await;
        let mut out = Vec::new();
        for (shard, r) in results {
            let v = r?;
            let entries = items(&v).get(1).map(items).unwrap_or(&[]);
            out.extend(
                entries
                    .iter()
                    .filter_map(|e| entry(e, shard, true))
                    .map(|(l, _)| l),
            );
        }
        Ok(out)
    }

    async fn touch(&self, consumer: &str, lease: &Lease) -> QueueResult<()> {
        let mut cmd = ::redis::cmd("XCLAIM");
        cmd.arg(self.stream(lease.shard))
            .arg(GROUP)
            .arg(consumer)
            .arg(0)
            .arg(&lease.entry)
            .arg("JUSTID");
        self.conn.query(&cmd).await?;
        Ok(())
    }

    async fn ack(&self, lease: &Lease) -> QueueResult<()> {
        let mut inv = self.ack.prepare_invoke();
        inv.key(self.stream(lease.shard))
            .arg(GROUP)
            .arg(&lease.entry);
        self.conn.invoke(&inv).await?;
        Ok(())
    }

    async fn dead_letter(&self, lease: &Lease, reason: &str) -> QueueResult<()> {
        let fields = self.fields(lease).await?;
        let mut inv = self.dead.prepare_invoke();
        inv.key(self.stream(lease.shard))
            .key(self.dead_stream(lease.shard))
            .arg(GROUP)
            .arg(&lease.entry)
            .arg(reason);
        for f in fields {
            inv.arg(f);
        }
        self.conn.invoke(&inv).await?;
        Ok(())
    }

    async fn depth(&self) -> QueueResult<QueueDepth> {
        let results = self
            .per_shard(|shard| async move {
                let mut q = ::redis::cmd("XLEN");
                q.arg(self.stream(shard));
                let mut d = ::redis::cmd("XLEN");
                d.arg(self.dead_stream(shard));
                let mut first = ::redis::cmd("XRANGE");
                first
                    .arg(self.stream(shard))
                    .arg("-")
                    .arg("+")
                    .arg("COUNT")
                    .arg(1);
                let q = self.conn.query(&q).await?;
                let d = self.conn.query(&d).await?;
                let first = self.conn.query(&first).await?;
                // Stream ids start with the millisecond they were added at.
                let oldest = items(&first)
                    .first()
                    .and_then(|e| items(e).first().and_then(text))
                    .and_then(|id| id.split('-').next().and_then(|ms| ms.parse::<u64>().ok()));
                Ok((as_u64(&q), as_u64(&d), oldest))
            })
            .await;
        let mut depth = QueueDepth::default();
        let mut oldest: Option<u64> = None;
        for (_, r) in results {
            let (q, d, o) = r?;
            depth.pending += q;
            depth.dead += d;
            oldest = match (oldest, o) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        let now = crate::domain::now_millis().max(0) as u64;
        depth.oldest_age_ms = oldest.map(|t| now.saturating_sub(t));
        Ok(depth)
    }

    async fn queued(&self) {
        self.doorbell.wait().await
    }
}

fn as_u64(v: &Value) -> u64 {
    match v {
        Value::Int(i) => (*i).max(0) as u64,
        other => text(other).and_then(|s| s.parse().ok()).unwrap_or(0),
    }
}
