//! The Redis Streams queue: one stream per shard (`P:v1:{sS}:q`, beside the number's
//! keys, see the layout in `mod.rs`), one consumer group `otpgw`, one consumer per
//! gateway process.
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

use super::conn::Conn;
use super::keys::Layout;
use super::stream::{as_u64, entry, items, text};
use crate::backend::Doorbell;
use crate::queue::{Lease, Queue, QueueDepth, QueueResult};
use ::redis::Script;
use async_trait::async_trait;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The consumer group every gateway process reads in.
pub(super) const GROUP: &str = "otpgw";

/// Acks and deletes a stream entry (also joined into the store's `delivered` script).
pub(super) static ACK: &str = include_str!("lua/ack.lua");

/// Every shard's stream is read at least this often (sends queued by other processes,
/// or left over by an earlier read); in between, `receive` reads only the shards this
/// process rang the doorbell for, and costs nothing when there are none.
pub const SWEEP_EVERY: Duration = Duration::from_millis(20);

/// Queue over Redis Streams.
pub struct RedisQueue {
    pub(super) conn: Arc<Conn>,
    pub(super) layout: Layout,
    pub(super) groups_ready: AtomicBool,
    ack: Script,
    dead: Script,
    pub(super) doorbell: Doorbell,
    pub(super) last_sweep: Mutex<Option<Instant>>,
}

impl RedisQueue {
    /// A queue over `conn` in the store's key layout; `doorbell` is the one the store
    /// rings when a start of this process queues a send.
    pub fn new(conn: Arc<Conn>, layout: Layout, doorbell: Doorbell) -> Self {
        RedisQueue {
            conn,
            layout,
            groups_ready: AtomicBool::new(false),
            ack: Script::new(ACK),
            dead: Script::new(include_str!("lua/dead.lua")),
            doorbell,
            last_sweep: Mutex::new(None),
        }
    }
}

#[async_trait]
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
        let per = max.div_ceil(self.layout.shards as usize).max(1);
        let results = self
            .per_shard(|shard| async move {
                let mut cmd = ::redis::cmd("XAUTOCLAIM");
                cmd.arg(self.layout.stream(shard))
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
        cmd.arg(self.layout.stream(lease.shard))
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
        inv.key(self.layout.stream(lease.shard))
            .arg(GROUP)
            .arg(&lease.entry);
        self.conn.invoke(&inv).await?;
        Ok(())
    }

    async fn dead_letter(&self, lease: &Lease, reason: &str) -> QueueResult<()> {
        let fields = self.fields(lease).await?;
        let mut inv = self.dead.prepare_invoke();
        inv.key(self.layout.stream(lease.shard))
            .key(self.layout.dead_stream(lease.shard))
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
                q.arg(self.layout.stream(shard));
                let mut d = ::redis::cmd("XLEN");
                d.arg(self.layout.dead_stream(shard));
                let mut first = ::redis::cmd("XRANGE");
                first
                    .arg(self.layout.stream(shard))
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
