//! The memory store's support-lookup index: per destination (tenant and keyed hash of
//! the number or address, every channel together), the ids of its verifications and
//! delivery-only sends with their creation times, newest first, as `start.lua` keeps
//! the sorted set `lk` in Redis. Written under the store's lock by the start that
//! creates the record; at most [`LOOKUP_MAX`] ids per destination, the entry expiring
//! `lookup_ms` after its newest id. The entries count per tenant like records do, so a
//! tenant at its cap loses its soonest-to-expire destination first.

use super::room::Caps;
use super::state::Inner;
use crate::domain::{Millis, VerificationId};
use crate::store::{LookupEntry, NumberRef, StartSpec, LOOKUP_MAX};

/// A destination's lookup key: its tenant and keyed hash, whatever the channel.
fn lookup_key(n: &NumberRef) -> String {
    format!("lk:{}:{}", n.tenant, n.key)
}

impl Inner {
    /// Records a created start's id in its destination's index (nothing when the
    /// tenant keeps no index).
    pub fn index_lookup(&mut self, spec: &StartSpec, caps: Caps, now: Millis) {
        if spec.lookup_ms <= 0 {
            return;
        }
        let key = lookup_key(&spec.number);
        let since = now - spec.lookup_ms;
        let mut ids = self.lookups.remove(&key).unwrap_or_default();
        ids.retain(|(at, _)| *at >= since);
        ids.insert(
            0,
            (spec.fresh.created_at, spec.fresh.id.as_str().to_string()),
        );
        ids.truncate(LOOKUP_MAX);
        let tenant = &spec.number.tenant;
        if self.lookups.len_in(tenant) >= caps.per_tenant {
            self.lookups.evict_soonest_in(tenant);
        }
        self.lookups
            .insert_in(Some(tenant), key, ids, now + spec.lookup_ms);
    }

    /// A destination's index entries created at or after `since`, newest first.
    pub fn lookup(&self, n: &NumberRef, since: Millis, now: Millis) -> Vec<LookupEntry> {
        let Some(ids) = self.lookups.get(&lookup_key(n), now) else {
            return Vec::new();
        };
        ids.iter()
            .filter(|(at, _)| *at >= since)
            .filter_map(|(at, id)| {
                Some(LookupEntry {
                    id: VerificationId::parse_stored(id)?,
                    created_at: *at,
                })
            })
            .collect()
    }
}
