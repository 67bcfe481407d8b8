//! Config problems about who may call: key hashes, the demo key, the dev outbox.
//!
//! One key acts for one party: a hash listed under two tenants would authenticate as
//! whichever the gateway met last, and an admin hash that is also a tenant key would
//! give a tenant's backend the admin API. Hashes compare case-insensitively, as the
//! gateway compares them. In `mode = "production"` the public demo key (README) and the
//! dev outbox (every code, in clear) are refused.

use super::{Config, Mode, DEMO_API_KEY};
use std::collections::BTreeMap;

/// How a key hash must look, quoted in each format problem.
const HASH_FORMAT: &str =
    "must hold `sha256:<64 hex>` hashes (see `otpgw api-key new`), never raw keys";

/// Whether `h` is `sha256:` and 64 hex digits (either case).
pub fn is_key_hash(h: &str) -> bool {
    h.len() == 71 && h.starts_with("sha256:") && h[7..].bytes().all(|b| b.is_ascii_hexdigit())
}

/// Every problem of this kind, one sentence each.
pub fn problems(c: &Config) -> Vec<String> {
    let mut p = Vec::new();
    if c.admin.api_keys.iter().any(|k| !is_key_hash(k)) {
        p.push(format!("admin.api_keys {HASH_FORMAT}"));
    }
    // Lower-cased hash -> the tenants that list it.
    let mut owners: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for (id, t) in &c.tenants {
        for k in t.api_keys.iter().filter(|k| is_key_hash(k)) {
            let list = owners.entry(k.to_ascii_lowercase()).or_default();
            if !list.contains(&id.as_str()) {
                list.push(id);
            }
        }
    }
    for (hash, ids) in &owners {
        if ids.len() > 1 {
            p.push(format!(
                "the api key hash {}… is listed under tenants {}: one key acts for one tenant",
                &hash[..23],
                ids.join(" and ")
            ));
        }
    }
    let admin: Vec<String> = c
        .admin
        .api_keys
        .iter()
        .map(|k| k.to_ascii_lowercase())
        .collect();
    for h in &admin {
        if let Some(ids) = owners.get(h) {
            p.push(format!(
                "the admin key hash {}… is also a key of tenant {}: an admin key must not be a tenant key",
                &h[..23],
                ids.join(" and ")
            ));
        }
    }
    if c.mode == Mode::Production {
        let demo = crate::crypto::hash_api_key(DEMO_API_KEY);
        if let Some(ids) = owners.get(&demo) {
            p.push(format!(
                "tenants.{}: api_keys holds the public demo key from the README, which mode = \"production\" refuses: make a key with `otpgw api-key new`",
                ids.join(", tenants.")
            ));
        }
        if admin.contains(&demo) {
            p.push("admin.api_keys holds the public demo key from the README, which mode = \"production\" refuses".into());
        }
        if c.dev.outbox {
            p.push("dev.outbox = true shows every code to callers; mode = \"production\" refuses it: set it to false".into());
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::hash_api_key;

    fn config(mode: &str, tenants: &[(&str, &str)], admin: &[&str], outbox: bool) -> Config {
        let mut t = format!("mode = \"{mode}\"\nsecret = \"{}\"\n", "s".repeat(32));
        t.push_str(&format!(
            "[dev]\noutbox = {outbox}\n[admin]\napi_keys = {admin:?}\n"
        ));
        for (id, key) in tenants {
            t.push_str(&format!("[tenants.{id}]\napi_keys = [\"{key}\"]\n"));
        }
        Config::from_toml(&t).unwrap()
    }

    #[test]
    fn one_key_hash_under_two_tenants_is_refused_whatever_its_case() {
        let h = hash_api_key("shared");
        let upper = h.to_ascii_uppercase().replace("SHA256:", "sha256:");
        let c = config("dev", &[("a", &h), ("b", &upper)], &[], false);
        let all = super::super::problems(&c).join("\n");
        assert!(all.contains("listed under tenants a and b"), "{all}");
        assert!(
            !all.contains(&h[7..]),
            "only a prefix of the hash is named: {all}"
        );
    }

    #[test]
    fn an_admin_key_that_is_a_tenant_key_is_refused() {
        let h = hash_api_key("both");
        let c = config(
            "dev",
            &[("a", &h)],
            &[&h.to_ascii_uppercase().replace("SHA256:", "sha256:")],
            false,
        );
        let all = super::super::problems(&c).join("\n");
        assert!(all.contains("also a key of tenant a"), "{all}");
    }

    #[test]
    fn admin_keys_must_be_hashes() {
        let c = config(
            "dev",
            &[("a", &hash_api_key("k"))],
            &["raw-admin-key"],
            false,
        );
        let all = super::super::problems(&c).join("\n");
        assert!(
            all.contains("admin.api_keys must hold `sha256:<64 hex>`"),
            "{all}"
        );
        assert!(!all.contains("raw-admin-key"), "{all}");
    }

    #[test]
    fn production_refuses_the_outbox_and_the_demo_key_dev_allows_them() {
        let demo = hash_api_key(DEMO_API_KEY);
        let c = config("production", &[("demo", &demo)], &[&demo], true);
        let all = super::super::problems(&c).join("\n");
        assert!(
            all.contains("tenants.demo: api_keys holds the public demo key"),
            "{all}"
        );
        assert!(
            all.contains("admin.api_keys holds the public demo key"),
            "{all}"
        );
        assert!(all.contains("dev.outbox = true"), "{all}");
        let c = config("dev", &[("demo", &demo)], &[], true);
        assert_eq!(super::super::problems(&c), Vec::<String>::new());
    }
}
