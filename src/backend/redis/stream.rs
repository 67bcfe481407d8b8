//! Reading the shards' streams for the Redis queue: which shards to read now (every one
//! at a sweep, else the ones the doorbell rang for), `XREADGROUP` over them (one command
//! on a single node, one per shard on a cluster), the consumer group made on first use,
//! and the parsing of stream entries into leases.

use super::queue::{RedisQueue, GROUP, SWEEP_EVERY};
use crate::domain::VerificationId;
use crate::queue::{Lease, QueueError, QueueResult, QueuedMessage};
use ::redis::Value;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Instant;

/// A reply value as text.
pub(super) fn text(v: &Value) -> Option<String> {
    match v {
        Value::BulkString(b) => String::from_utf8(b.clone()).ok(),
        Value::SimpleString(s) => Some(s.clone()),
        Value::Int(i) => Some(i.to_string()),
        _ => None,
    }
}

/// A reply's array items (none for anything else).
pub(super) fn items(v: &Value) -> &[Value] {
    match v {
        Value::Array(a) => a,
        _ => &[],
    }
}

/// Parses one `[id, [field, value, …]]` stream entry.
pub(super) fn entry(v: &Value, shard: u16, redelivered: bool) -> Option<(Lease, Vec<String>)> {
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
        id: VerificationId::parse_stored(&get("v")?)?,
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

/// A count in a reply.
pub(super) fn as_u64(v: &Value) -> u64 {
    match v {
        Value::Int(i) => (*i).max(0) as u64,
        other => text(other).and_then(|s| s.parse().ok()).unwrap_or(0),
    }
}

impl RedisQueue {
    /// Which shards to read now: all of them when a sweep is due, else the rung ones.
    pub(super) fn shards_to_read(&self) -> Vec<u16> {
        let mut last = self.last_sweep.lock().unwrap_or_else(|p| p.into_inner());
        let rung = self.doorbell.take_shards();
        if last.is_none_or(|t| t.elapsed() >= SWEEP_EVERY) {
            *last = Some(Instant::now());
            (0..self.layout.shards).collect()
        } else {
            rung.into_iter()
                .filter(|s| *s < self.layout.shards)
                .collect()
        }
    }

    /// `XREADGROUP` of up to `per` new entries from each of `shards`: one command on a
    /// single node, one per shard on a cluster. Returns each shard's reply.
    pub(super) async fn read_new(
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
                cmd.arg(self.layout.stream(*s));
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
                let names: HashMap<String, u16> = shards
                    .iter()
                    .map(|s| (self.layout.stream(*s), *s))
                    .collect();
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

    /// Creates the consumer group on every shard's stream, once.
    pub(super) async fn ensure_groups(&self) -> QueueResult<()> {
        if self.groups_ready.load(Ordering::Acquire) {
            return Ok(());
        }
        for shard in 0..self.layout.shards {
            let mut cmd = ::redis::cmd("XGROUP");
            cmd.arg("CREATE")
                .arg(self.layout.stream(shard))
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

    /// `f` on every shard, concurrently, with each shard's result.
    pub(super) async fn per_shard<F, Fut, T>(&self, f: F) -> Vec<(u16, QueueResult<T>)>
    where
        F: Fn(u16) -> Fut,
        Fut: std::future::Future<Output = QueueResult<T>>,
    {
        let futs = (0..self.layout.shards).map(|s| {
            let fut = f(s);
            async move { (s, fut.await) }
        });
        futures_util::future::join_all(futs).await
    }

    /// The full entry of a lease (for dead-lettering it whole).
    pub(super) async fn fields(&self, lease: &Lease) -> QueueResult<Vec<String>> {
        let mut cmd = ::redis::cmd("XRANGE");
        cmd.arg(self.layout.stream(lease.shard))
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
