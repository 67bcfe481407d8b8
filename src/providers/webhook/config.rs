//! Webhook provider settings.

use crate::providers::settings::{timeout_problem, url_problem, DEFAULT_TIMEOUT_MS};
use crate::secret::Secret;
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
    /// `[providers.<name>.prices]`: price of one message per ISO 3166 country code,
    /// `default` for the rest, in the account's currency (spend in the fleet numbers).
    pub prices: crate::providers::settings::PriceTable,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            prices: Default::default(),
            url: String::new(),
            timeout_ms: DEFAULT_TIMEOUT_MS,
            max_tps: None,
            signing_secret: None,
        }
    }
}

impl Config {
    /// Problems with these settings, one sentence each.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        url_problem(&mut p, "url", &self.url);
        timeout_problem(&mut p, self.timeout_ms);
        p
    }
}
