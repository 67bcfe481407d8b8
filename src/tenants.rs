//! Tenants, admin keys and API-key authentication.
//!
//! A module of its own, below `service` and `delivery` (the service authenticates with
//! it, delivery workers find a tenant's templates in it), so neither imports the other;
//! `service` re-exports its types.
//!
//! Config holds `sha256:<hex>` of each key, lower-cased here once. A presented key is
//! hashed and compared with every configured hash in constant time, so neither timing
//! nor early exit tells which tenant, if any, was close. The config check refuses a hash
//! listed under two tenants or under a tenant and `admin.api_keys`, so a key has one
//! owner.
//!
//! The Twilio facade's HTTP Basic credentials (an Account SID and an Auth Token, or an
//! API key SID and its secret) are checked the same way ([`Tenants::authenticate_twilio`]):
//! every configured (user, hash) pair is compared, both halves in constant time.

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
    /// Short id of the API key that authenticated the request (a prefix of its
    /// hash; empty when the tenant was looked up by id). Names the `api_key` limits.
    pub key_id: String,
}

/// All tenants, and the key hashes that act for them.
#[derive(Debug, Clone, Default)]
pub struct Tenants {
    keys: Vec<(String, Arc<Tenant>)>,
    by_id: BTreeMap<String, Arc<Tenant>>,
    /// Twilio Basic credentials: (user SID, lower-cased secret hash, tenant).
    twilio: Vec<(String, String, Arc<Tenant>)>,
}

impl Tenants {
    /// From the config's tenant map.
    pub fn new(map: &BTreeMap<String, TenantConfig>) -> Self {
        let mut keys = Vec::new();
        let mut by_id = BTreeMap::new();
        let mut twilio = Vec::new();
        for (id, cfg) in map {
            let t = Arc::new(Tenant {
                id: id.clone(),
                cfg: cfg.clone(),
                key_id: String::new(),
            });
            by_id.insert(id.clone(), t);
            for h in &cfg.api_keys {
                let h = h.to_ascii_lowercase();
                let per_key = Arc::new(Tenant {
                    id: id.clone(),
                    cfg: cfg.clone(),
                    key_id: h.chars().skip(7).take(16).collect(),
                });
                keys.push((h, per_key));
            }
            if let Some(tw) = &cfg.twilio {
                let tokens = tw
                    .auth_token_hashes
                    .iter()
                    .map(|h| (tw.account_sid.clone(), h));
                let api = tw.api_keys.iter().map(|k| (k.sid.clone(), &k.secret_hash));
                for (user, h) in tokens.chain(api) {
                    let h = h.to_ascii_lowercase();
                    let per_key = Arc::new(Tenant {
                        id: id.clone(),
                        cfg: cfg.clone(),
                        key_id: h.chars().skip(7).take(16).collect(),
                    });
                    twilio.push((user, h, per_key));
                }
            }
        }
        Tenants {
            keys,
            by_id,
            twilio,
        }
    }

    /// The tenant a Twilio Basic credential (`user` an Account or API key SID, `secret`
    /// an Auth Token or API key secret) belongs to. Every pair is compared whatever
    /// matched before, so timing does not tell which user exists.
    pub fn authenticate_twilio(&self, user: &str, secret: &str) -> Option<Arc<Tenant>> {
        let h = hash_api_key(secret);
        let mut found = None;
        for (u, hash, t) in &self.twilio {
            let user_ok = ct_eq(u.as_bytes(), user.as_bytes());
            let secret_ok = ct_eq(hash.as_bytes(), h.as_bytes());
            if user_ok & secret_ok {
                found = Some(t.clone());
            }
        }
        found
    }

    /// A tenant by id.
    pub fn get(&self, id: &str) -> Option<Arc<Tenant>> {
        self.by_id.get(id).cloned()
    }

    /// Every tenant id, sorted.
    pub fn ids(&self) -> Vec<String> {
        self.by_id.keys().cloned().collect()
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

    /// True if any tenant accepts this key hash (lower-case hex).
    pub fn accepts_hash(&self, hash: &str) -> bool {
        self.keys.iter().any(|(h, _)| h == hash)
    }
}

/// The admin keys' hashes: the one check behind `/ops` and the admin API.
#[derive(Debug, Clone, Default)]
pub struct AdminKeys(Vec<String>);

impl AdminKeys {
    /// From `admin.api_keys`.
    pub fn new(hashes: &[String]) -> Self {
        AdminKeys(hashes.iter().map(|h| h.to_ascii_lowercase()).collect())
    }

    /// Whether a presented key is an admin key (compared with every hash, constant time).
    pub fn accepts(&self, key: &str) -> bool {
        let h = hash_api_key(key);
        let mut ok = false;
        for a in &self.0 {
            ok |= ct_eq(a.as_bytes(), h.as_bytes());
        }
        ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_hashes_match_whatever_their_case() {
        let upper = hash_api_key("k")
            .to_ascii_uppercase()
            .replace("SHA256:", "sha256:");
        let keys = AdminKeys::new(&[upper]);
        assert!(keys.accepts("k"));
        assert!(!keys.accepts("other"));
        assert!(!AdminKeys::default().accepts("k"));
    }

    #[test]
    fn twilio_credentials_match_user_and_secret_together() {
        let tw = Some(crate::config::TwilioConfig {
            account_sid: "AC1".into(),
            service_sids: vec![],
            auth_token_hashes: vec![hash_api_key("token")
                .to_ascii_uppercase()
                .replace("SHA256:", "sha256:")],
            api_keys: vec![crate::config::TwilioApiKey {
                sid: "SK1".into(),
                secret_hash: hash_api_key("secret"),
            }],
        });
        let cfg = TenantConfig {
            twilio: tw,
            ..Default::default()
        };
        let tenants = Tenants::new(&BTreeMap::from([("t".to_string(), cfg)]));
        assert_eq!(tenants.authenticate_twilio("AC1", "token").unwrap().id, "t");
        assert_eq!(
            tenants.authenticate_twilio("SK1", "secret").unwrap().id,
            "t"
        );
        for (u, p) in [
            ("AC1", "secret"),
            ("SK1", "token"),
            ("AC2", "token"),
            ("", ""),
        ] {
            assert!(tenants.authenticate_twilio(u, p).is_none(), "{u}:{p}");
        }
        // A Twilio credential is no API key, and the other way round.
        assert!(tenants.authenticate("token").is_none());
    }
}
