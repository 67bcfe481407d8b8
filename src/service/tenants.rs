//! Tenants and API-key authentication.
//!
//! Config holds `sha256:<hex>` of each key. A presented key is hashed and compared with
//! every configured hash in constant time, so neither timing nor early exit tells which
//! tenant, if any, was close.

use crate::config::TenantConfig;
use crate::crypto::{ct_eq, hash_api_key};
use std::collections::BTreeMap;
use std::sync::Arc;

/// A tenant and its settings.
#[derive(Debug, Clone)]
pub struct Tenant {
    /// Tenant id (the config section name).
    pub id: String,
    /// Settings.
    pub cfg: TenantConfig,
}

/// All tenants, and the key hashes that act for them.
#[derive(Debug, Clone, Default)]
pub struct Tenants {
    keys: Vec<(String, Arc<Tenant>)>,
    by_id: BTreeMap<String, Arc<Tenant>>,
}

impl Tenants {
    /// From the config's tenant map.
    pub fn new(map: &BTreeMap<String, TenantConfig>) -> Self {
        let mut keys = Vec::new();
        let mut by_id = BTreeMap::new();
        for (id, cfg) in map {
            let t = Arc::new(Tenant {
                id: id.clone(),
                cfg: cfg.clone(),
            });
            by_id.insert(id.clone(), t.clone());
            for h in &cfg.api_keys {
                keys.push((h.to_ascii_lowercase(), t.clone()));
            }
        }
        Tenants { keys, by_id }
    }

    /// A tenant by id.
    pub fn get(&self, id: &str) -> Option<Arc<Tenant>> {
        self.by_id.get(id).cloned()
    }

    /// The tenant a presented API key belongs to.
    pub fn authenticate(&self, api_key: &str) -> Option<Arc<Tenant>> {
        let h = hash_api_key(api_key);
        let mut found = None;
        for (hash, t) in &self.keys {
            if ct_eq(hash.as_bytes(), h.as_bytes()) {
                found = Some(t.clone());
            }
        }
        found
    }

    /// True if any tenant accepts this key hash.
    pub fn accepts_hash(&self, hash: &str) -> bool {
        self.keys.iter().any(|(h, _)| h == hash)
    }
}
