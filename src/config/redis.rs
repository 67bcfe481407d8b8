//! The Redis store's settings (one node, Redis Sentinel, or a Redis Cluster) and their
//! checks.

use super::Secret;
use serde::Deserialize;

/// Redis store settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisStoreConfig {
    /// Single-node URL (`redis://host:6379/0`; TLS, `rediss://`, is not supported yet); used when
    /// `cluster_nodes` is empty and `sentinel` is not set. With `sentinel`, its user,
    /// password, database and scheme apply to the master the sentinels name (its host and
    /// port are not used). May hold a password: it never appears in logs.
    pub url: Secret,
    /// Seed nodes of a Redis Cluster (`redis://host:port`); non-empty selects cluster mode.
    pub cluster_nodes: Vec<Secret>,
    /// A primary with replicas under Redis Sentinel; set, it selects Sentinel mode.
    pub sentinel: Option<SentinelConfig>,
    /// Prefix of every key; lets several deployments share one Redis.
    pub key_prefix: String,
    /// Number of shards a number hashes into. Part of every key name: do not change it
    /// while verifications are live.
    pub shards: u16,
    /// Connect timeout, in milliseconds (with Sentinel: asking the sentinels for the
    /// master and connecting to it, together).
    pub connect_timeout_ms: u64,
    /// Deadline for one command or script, in milliseconds; past it the request gets 503.
    pub command_timeout_ms: u64,
}

impl Default for RedisStoreConfig {
    fn default() -> Self {
        RedisStoreConfig {
            url: Secret("redis://127.0.0.1:6379/0".into()),
            cluster_nodes: Vec::new(),
            sentinel: None,
            key_prefix: "otpgw".into(),
            shards: 64,
            connect_timeout_ms: 1_000,
            command_timeout_ms: 1_000,
        }
    }
}

/// Redis Sentinel: the sentinels to ask, and the name of the master they watch.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SentinelConfig {
    /// The master's name, as in the sentinels' `sentinel monitor <name> …` line.
    pub master_name: String,
    /// Sentinel addresses (`redis://host:26379`, `redis://:password@host:26379` when the
    /// sentinels require a password); asked in turn for the current master.
    pub addresses: Vec<Secret>,
}

fn is_redis_url(u: &str) -> bool {
    u.starts_with("redis://") || u.starts_with("rediss://")
}

/// TLS to Redis (`rediss://`) is not built in yet: refused here with the way round it,
/// instead of failing at the first connection with the client's "feature not enabled".
fn is_tls_url(u: &str) -> bool {
    u.starts_with("rediss://")
}

/// Every problem of the Redis settings, as one sentence each.
pub(super) fn problems(r: &RedisStoreConfig) -> Vec<String> {
    let mut p = Vec::new();
    let mut urls: Vec<&str> = r.cluster_nodes.iter().map(|s| s.0.as_str()).collect();
    if r.cluster_nodes.is_empty() {
        urls.push(r.url.0.as_str());
    }
    if let Some(s) = &r.sentinel {
        if !r.cluster_nodes.is_empty() {
            p.push(
                "store.redis.sentinel and store.redis.cluster_nodes are both set: \
                 a deployment is one node, Sentinel or a Cluster, keep one"
                    .into(),
            );
        }
        if s.master_name.trim().is_empty() {
            p.push("store.redis.sentinel.master_name must name the monitored master".into());
        }
        if s.addresses.is_empty() {
            p.push("store.redis.sentinel.addresses must list at least one sentinel".into());
        }
        urls.extend(s.addresses.iter().map(|a| a.0.as_str()));
    }
    if urls.iter().any(|u| is_tls_url(u)) {
        p.push(
            "store.redis: TLS to Redis (rediss://) is not supported by this build; \
             reach Redis over a private network or a local TLS tunnel and use redis://"
                .into(),
        );
    }
    if !urls.into_iter().all(is_redis_url) {
        p.push("store.redis URLs must start with redis:// or rediss://".into());
    }
    if r.shards == 0 || r.shards > 4096 {
        p.push("store.redis.shards must be between 1 and 4096".into());
    }
    if r.key_prefix.is_empty() || r.key_prefix.contains(['{', '}', ' ']) {
        p.push("store.redis.key_prefix must be non-empty without braces or spaces".into());
    }
    p
}

#[cfg(test)]
#[allow(clippy::result_large_err)]
mod tests {
    use super::super::{problems as all_problems, Config};

    fn redis(section: &str) -> Vec<String> {
        let toml = format!("mode = \"dev\"\n[store]\nkind = \"redis\"\n{section}");
        all_problems(&Config::from_toml(&toml).unwrap())
            .into_iter()
            .filter(|p| p.starts_with("store.redis"))
            .collect()
    }

    #[test]
    fn a_sentinel_section_is_accepted() {
        let p = redis(
            r#"[store.redis]
            url = "redis://:master-password@ignored/2"
            [store.redis.sentinel]
            master_name = "otp"
            addresses = ["redis://127.0.0.1:26379", "redis://:pw@10.0.0.2:26379"]"#,
        );
        assert_eq!(p, Vec::<String>::new());
    }

    #[test]
    fn sentinel_with_cluster_nodes_or_without_name_or_addresses_is_refused() {
        let p = redis(
            r#"[store.redis]
            cluster_nodes = ["redis://n1:6379"]
            [store.redis.sentinel]
            master_name = " "
            addresses = []"#,
        )
        .join("\n");
        assert!(
            p.contains("sentinel and store.redis.cluster_nodes are both set"),
            "{p}"
        );
        assert!(p.contains("master_name"), "{p}");
        assert!(p.contains("at least one sentinel"), "{p}");
        let bad =
            redis("[store.redis.sentinel]\nmaster_name = \"otp\"\naddresses = [\"s1:26379\"]");
        assert_eq!(
            bad,
            ["store.redis URLs must start with redis:// or rediss://"]
        );
    }

    #[test]
    fn tls_urls_are_refused_with_the_way_round_it() {
        for section in [
            "[store.redis]\nurl = \"rediss://:pw@r1:6380/0\"",
            "[store.redis]\ncluster_nodes = [\"rediss://n1:6380\"]",
        ] {
            let p = redis(section).join("\n");
            assert!(
                p.contains("TLS to Redis (rediss://) is not supported"),
                "{p}"
            );
            assert!(!p.contains("pw"), "no URL is echoed: {p}");
        }
    }

    #[test]
    fn sentinel_can_come_from_the_environment() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("OTPGW_STORE__REDIS__SENTINEL__MASTER_NAME", "otp");
            jail.set_env(
                "OTPGW_STORE__REDIS__SENTINEL__ADDRESSES",
                "[redis://s1:26379, redis://:pw@s2:26379]",
            );
            let c = Config::load(None).map_err(|e| e.to_string())?;
            let s = c.store.redis.sentinel.expect("sentinel set");
            assert_eq!(s.master_name, "otp");
            assert_eq!(s.addresses[1].0, "redis://:pw@s2:26379");
            Ok(())
        });
    }

    #[test]
    fn sentinel_addresses_are_redacted_and_typos_are_refused() {
        let c = Config::from_toml(
            "[store.redis.sentinel]\nmaster_name = \"otp\"\naddresses = [\"redis://:hunter2@s1:26379\"]",
        )
        .unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
        let typo = Config::from_toml("[store.redis.sentinel]\nmaster = \"otp\"\naddresses = []");
        assert!(typo.unwrap_err().to_string().contains("master"));
    }
}
