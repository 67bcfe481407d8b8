//! Webhook provider settings.

use crate::config::Secret;
use serde::Deserialize;

/// `[providers.<name>]` with `kind = "webhook"`.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where messages are POSTed.
    pub url: String,
    /// Per-attempt timeout, in milliseconds.
    pub timeout_ms: u64,
    /// Sends per second this instance may make through this provider (none: no cap).
    pub max_tps: Option<u32>,
    /// If set, each request carries `X-Otpgw-Signature: t=<unix>,v1=<hex HMAC-SHA256 of
    /// "<t>.<body>">` under this secret.
    pub signing_secret: Option<Secret>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            url: String::new(),
            timeout_ms: 5_000,
            max_tps: None,
            signing_secret: None,
        }
    }
}

impl Config {
    /// Problems with these settings, one sentence each.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if !(self.url.starts_with("http://") || self.url.starts_with("https://")) {
            p.push("url must be an http:// or https:// URL".into());
        }
        if self.timeout_ms == 0 {
            p.push("timeout_ms must be at least 1".into());
        }
        p
    }
}
