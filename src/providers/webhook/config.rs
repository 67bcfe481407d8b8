//! Webhook provider settings.

use serde::Deserialize;

/// `[providers.<name>]` with `kind = "webhook"`.
#[derive(Clone, Deserialize)]
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
    #[serde(deserialize_with = "crate::config::secret::text::option")]
    pub signing_secret: Option<String>,
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

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("webhook::Config")
            .field("url", &self.url)
            .field("timeout_ms", &self.timeout_ms)
            .field("max_tps", &self.max_tps)
            .field(
                "signing_secret",
                &self.signing_secret.as_ref().map(|_| "<redacted>"),
            )
            .finish()
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
