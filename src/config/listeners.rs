//! The `[metrics]` section (who may read `/metrics`, where, and how fresh its
//! store-backed gauges are) and the checks of every listener's settings.

use super::Config;
use serde::Deserialize;
use std::net::SocketAddr;

/// `/metrics` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Serve `/metrics` on this address of its own (and no longer on the API port);
    /// port 0 picks a free port. Unset: `/metrics` is on the API port.
    pub listen: Option<SocketAddr>,
    /// Hash (`sha256:<hex>`, from `otpgw api-key new`) of the token a scraper must send
    /// as `Authorization: Bearer <token>`; others get `401`. Unset: no token needed.
    pub bearer_token_hash: Option<String>,
    /// How often the gauges that cost store calls (queue depth, dead letters, oldest
    /// age, pumping blocks) are refreshed, in milliseconds. A scrape reads the last
    /// values and costs the store nothing.
    pub refresh_interval_ms: u64,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            listen: None,
            bearer_token_hash: None,
            refresh_interval_ms: 10_000,
        }
    }
}

/// Whether `h` has the form config keeps of a key: `sha256:<64 hex>`.
fn is_key_hash(h: &str) -> bool {
    h.len() == 71 && h.starts_with("sha256:") && h[7..].bytes().all(|b| b.is_ascii_hexdigit())
}

/// Problems with the listeners' connection limits and the `[metrics]` section.
pub(super) fn problems(c: &Config) -> Vec<String> {
    let mut p = Vec::new();
    let s = &c.server;
    if s.header_read_timeout_ms == 0 || s.idle_timeout_ms == 0 {
        p.push(
            "server.header_read_timeout_ms and server.idle_timeout_ms must be at least 1".into(),
        );
    }
    if s.max_connections == 0 || s.http2_max_concurrent_streams == 0 {
        p.push(
            "server.max_connections and server.http2_max_concurrent_streams must be at least 1"
                .into(),
        );
    }
    if s.http2_keepalive_interval_ms > 0 && s.http2_keepalive_timeout_ms == 0 {
        p.push("server.http2_keepalive_timeout_ms must be at least 1 when pings are on".into());
    }
    let m = &c.metrics;
    if m.bearer_token_hash
        .as_deref()
        .is_some_and(|h| !is_key_hash(h))
    {
        p.push(
            "metrics.bearer_token_hash must be a `sha256:<64 hex>` hash (see `otpgw api-key new`), \
             never the raw token"
                .into(),
        );
    }
    if m.refresh_interval_ms < 100 {
        p.push("metrics.refresh_interval_ms must be at least 100".into());
    }
    if let Some(l) = m.listen {
        let taken = [Some(s.listen), c.grpc.enabled.then_some(c.grpc.listen)];
        if l.port() != 0 && taken.contains(&Some(l)) {
            p.push(format!(
                "metrics.listen ({l}) is the address of another listener"
            ));
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use crate::config::{problems, Config, DEFAULT_TOML};

    #[test]
    fn listener_and_metrics_problems_are_reported_without_echoing_the_token() {
        let mut c = Config::from_toml(DEFAULT_TOML).unwrap();
        assert_eq!(problems(&c), Vec::<String>::new());
        c.server.max_connections = 0;
        c.server.idle_timeout_ms = 0;
        c.metrics.bearer_token_hash = Some("hunter2-the-raw-token".into());
        c.metrics.listen = Some(c.server.listen);
        let p = problems(&c).join("\n");
        for want in [
            "server.max_connections",
            "server.idle_timeout_ms",
            "metrics.bearer_token_hash",
            "metrics.listen",
        ] {
            assert!(p.contains(want), "{want} not reported: {p}");
        }
        assert!(!p.contains("hunter2"), "the token was echoed: {p}");
        c = Config::from_toml(DEFAULT_TOML).unwrap();
        let hash = crate::crypto::hash_api_key("t");
        c.metrics.bearer_token_hash = Some(format!("sha256:{}", hash[7..].to_uppercase()));
        assert!(problems(&c).is_empty(), "hex case does not matter");
    }
}
