//! The fleet numbers in process: the same (tenant, minute) buckets as the Redis hashes,
//! dropped past the retention at each flush.

use crate::domain::now_millis;
use crate::error::StoreResult;
use crate::store::stats::{Bump, FleetStats};
use async_trait::async_trait;
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

/// (minute, tenant) → field → count.
type Buckets = BTreeMap<(i64, String), HashMap<String, i64>>;

/// The in-process buckets, kept `retention_minutes`.
pub struct MemoryStats {
    buckets: Mutex<Buckets>,
    retention_minutes: i64,
}

impl MemoryStats {
    /// Buckets kept `retention_hours`.
    pub fn new(retention_hours: u64) -> Self {
        MemoryStats {
            buckets: Mutex::default(),
            retention_minutes: (retention_hours.max(1) * 60) as i64,
        }
    }
}

#[async_trait]
impl FleetStats for MemoryStats {
    async fn add(&self, bumps: &[Bump]) -> StoreResult<()> {
        let oldest = now_millis().div_euclid(60_000) - self.retention_minutes;
        let mut b = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        *b = b.split_off(&(oldest, String::new()));
        for x in bumps.iter().filter(|x| x.minute >= oldest) {
            *b.entry((x.minute, x.tenant.clone()))
                .or_default()
                .entry(x.field.clone())
                .or_default() += x.n;
        }
        Ok(())
    }

    async fn read(&self, tenants: &[String], from: i64, to: i64) -> StoreResult<Vec<Bump>> {
        let oldest = now_millis().div_euclid(60_000) - self.retention_minutes;
        let b = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = Vec::new();
        for ((minute, tenant), fields) in b.range((from.max(oldest), String::new())..) {
            if *minute > to {
                break;
            }
            if !tenants.contains(tenant) {
                continue;
            }
            out.extend(fields.iter().map(|(f, n)| Bump {
                minute: *minute,
                tenant: tenant.clone(),
                field: f.clone(),
                n: *n,
            }));
        }
        Ok(out)
    }
}
