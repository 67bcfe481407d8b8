//! The fleet numbers on Redis: one hash per (tenant, minute), `P:v1:st:<tenant>:<minute>`
//! (no hash tag: on a cluster each bucket is its own key in any slot), fields
//! `<channel>|<country>|<provider>|<counter>`, `HINCRBY` then `EXPIRE` at the retention.
//!
//! A flush is one `stats_add.lua` call with every bucket on one node, one call per
//! bucket on a cluster; a read is one `stats_read.lua` call per 240 buckets on one node,
//! one per bucket on a cluster (run 16 at a time).

use super::conn::Conn;
use crate::error::{StoreError, StoreResult};
use crate::store::stats::{Bump, FleetStats};
use ::redis::{Script, Value};
use async_trait::async_trait;
use futures_util::future::try_join_all;
use std::collections::BTreeMap;
use std::sync::Arc;

static ADD: &str = include_str!("lua/stats_add.lua");
static READ: &str = include_str!("lua/stats_read.lua");

/// Buckets per read script on one node.
const READ_CHUNK: usize = 240;

/// The buckets over a connection.
pub struct RedisStats {
    conn: Arc<Conn>,
    prefix: String,
    ttl_secs: u64,
    add: Script,
    read: Script,
}

impl RedisStats {
    /// Over `conn`, keys under `prefix` (`P:v1`), kept `retention_hours`.
    pub fn new(conn: Arc<Conn>, prefix: String, retention_hours: u64) -> Self {
        RedisStats {
            conn,
            prefix,
            ttl_secs: retention_hours.max(1) * 3600 + 60,
            add: Script::new(ADD),
            read: Script::new(READ),
        }
    }

    fn key(&self, tenant: &str, minute: i64) -> String {
        format!("{}:st:{tenant}:{minute}", self.prefix)
    }

    async fn add_buckets(&self, buckets: &[(String, Vec<(&str, i64)>)]) -> StoreResult<()> {
        let mut inv = self.add.prepare_invoke();
        inv.arg(self.ttl_secs);
        for (key, fields) in buckets {
            inv.key(key).arg(fields.len());
            for (f, n) in fields {
                inv.arg(*f).arg(*n);
            }
        }
        self.conn.invoke(&inv).await.map(|_| ())
    }

    async fn read_buckets(&self, keys: &[(String, i64, String)]) -> StoreResult<Vec<Bump>> {
        let mut inv = self.read.prepare_invoke();
        for (k, _, _) in keys {
            inv.key(k);
        }
        let Value::Array(hashes) = self.conn.invoke(&inv).await? else {
            return Err(StoreError("unexpected reply from stats_read.lua".into()));
        };
        let mut out = Vec::new();
        for ((_, minute, tenant), h) in keys.iter().zip(hashes) {
            let Value::Array(kv) = h else { continue };
            for pair in kv.chunks(2) {
                if let [f, n] = pair {
                    if let (Some(field), Some(n)) = (text(f), text(n).and_then(|s| s.parse().ok()))
                    {
                        out.push(Bump {
                            minute: *minute,
                            tenant: tenant.clone(),
                            field,
                            n,
                        });
                    }
                }
            }
        }
        Ok(out)
    }
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::BulkString(b) => String::from_utf8(b.clone()).ok(),
        Value::SimpleString(s) => Some(s.clone()),
        Value::Int(i) => Some(i.to_string()),
        _ => None,
    }
}

#[async_trait]
impl FleetStats for RedisStats {
    async fn add(&self, bumps: &[Bump]) -> StoreResult<()> {
        let mut by_key: BTreeMap<String, Vec<(&str, i64)>> = BTreeMap::new();
        for b in bumps {
            by_key
                .entry(self.key(&b.tenant, b.minute))
                .or_default()
                .push((b.field.as_str(), b.n));
        }
        let buckets: Vec<_> = by_key.into_iter().collect();
        if buckets.is_empty() {
            return Ok(());
        }
        if self.conn.is_cluster() {
            for one in buckets.chunks(1) {
                self.add_buckets(one).await?;
            }
            Ok(())
        } else {
            self.add_buckets(&buckets).await
        }
    }

    async fn read(&self, tenants: &[String], from: i64, to: i64) -> StoreResult<Vec<Bump>> {
        let keys: Vec<(String, i64, String)> = tenants
            .iter()
            .flat_map(|t| (from..=to).map(move |m| (t, m)))
            .map(|(t, m)| (self.key(t, m), m, t.clone()))
            .collect();
        let chunk = if self.conn.is_cluster() {
            1
        } else {
            READ_CHUNK
        };
        let calls: Vec<&[(String, i64, String)]> = keys.chunks(chunk).collect();
        let mut out = Vec::new();
        for wave in calls.chunks(16) {
            let parts = try_join_all(wave.iter().map(|c| self.read_buckets(c))).await?;
            out.extend(parts.into_iter().flatten());
        }
        Ok(out)
    }
}
