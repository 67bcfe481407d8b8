//! The memory store's caps: what one tenant may hold, what all hold together, and who
//! makes room when a cap is reached.
//!
//! Verifications and stored idempotent answers both count, per tenant (the group of
//! their [`TtlMap`](super::ttl_map::TtlMap) entries). At its own cap a tenant makes room by
//! losing its own soonest-to-expire entry, counted as an eviction. At the store's cap
//! nothing is evicted: the entries there belong to others, and no tenant's traffic may
//! push out another tenant's pending verifications, so the new entry is refused until
//! the soonest one expires.

use super::state::Inner;
use crate::domain::Millis;

/// The caps, from `store.memory`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Caps {
    /// Entries of every tenant together.
    pub total: usize,
    /// Entries of one tenant.
    pub per_tenant: usize,
}

impl Caps {
    /// The caps of a config (a tenant's share never above the total).
    pub fn new(cfg: &crate::config::MemoryStoreConfig) -> Self {
        let total = cfg.max_entries.max(1);
        Caps {
            total,
            per_tenant: cfg.max_entries_per_tenant.unwrap_or(total).clamp(1, total),
        }
    }
}

/// No room for a tenant's entry: the store's cap is reached; the soonest entry
/// expires in this many ms (at least a second).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Full(pub i64);

impl Inner {
    /// Entries `tenant` holds.
    pub(super) fn held_by(&self, tenant: &str) -> usize {
        self.records.len_in(tenant) + self.idem.len_in(tenant)
    }

    /// Entries held, all tenants.
    pub(super) fn held(&self) -> usize {
        self.records.len() + self.idem.len()
    }

    /// Room for one more entry of `tenant`: expired entries go first; then, at the
    /// tenant's cap, its own soonest-to-expire entries. Returns how many live entries
    /// were evicted.
    pub(super) fn make_room(&mut self, tenant: &str, caps: Caps, now: Millis) -> Result<u64, Full> {
        if self.held_by(tenant) < caps.per_tenant && self.held() < caps.total {
            return Ok(0);
        }
        self.records.purge(now);
        self.idem.purge(now);
        let mut evicted = 0;
        while self.held_by(tenant) >= caps.per_tenant {
            let record = self.records.soonest_in(tenant);
            let idem = self.idem.soonest_in(tenant);
            let gone = match (record, idem) {
                (Some(r), Some(i)) if i < r => self.idem.evict_soonest_in(tenant),
                (Some(_), _) => self.records.evict_soonest_in(tenant),
                (None, _) => self.idem.evict_soonest_in(tenant),
            };
            if gone.is_none() {
                break;
            }
            evicted += 1;
        }
        if self.held() >= caps.total {
            let soonest = [self.records.soonest(), self.idem.soonest()]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(now);
            return Err(Full((soonest - now).max(1000)));
        }
        Ok(evicted)
    }
}
