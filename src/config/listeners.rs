//! The checks of every listener's settings.

use super::Config;

/// Problems with the listeners' connection limits.
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
    p
}

#[cfg(test)]
mod tests {
    use crate::config::{problems, Config, DEFAULT_TOML};

    #[test]
    fn listener_problems_are_reported() {
        let mut c = Config::from_toml(DEFAULT_TOML).unwrap();
        assert_eq!(problems(&c), Vec::<String>::new());
        c.server.max_connections = 0;
        c.server.idle_timeout_ms = 0;
        let p = problems(&c).join("\n");
        for want in ["server.max_connections", "server.idle_timeout_ms"] {
            assert!(p.contains(want), "{want} not reported: {p}");
        }
    }
}
