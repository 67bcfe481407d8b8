//! Telnyx provider settings.

use crate::providers::settings::{blank, timeout_problem, url_problem, DEFAULT_TIMEOUT_MS};
use crate::secret::Secret;
use serde::Deserialize;

/// `[providers.<name>]` with `kind = "telnyx"`.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// API origin; `/v2/messages` is appended. Change it only for a test double.
    pub base_url: String,
    /// API key (V2), sent as `Authorization: Bearer <api_key>`.
    pub api_key: Secret,
    /// Sender: a `+E.164` Telnyx number, an alphanumeric sender ID or a short code.
    /// Needed unless `messaging_profile_id` is set; alphanumeric senders need both.
    #[serde(deserialize_with = "crate::secret::text::option")]
    pub from: Option<String>,
    /// Messaging profile to send through (number pool, alphanumeric sender ID).
    pub messaging_profile_id: Option<String>,
    /// Where Telnyx posts delivery webhooks for each message: the public URL of this
    /// instance's `POST /v1/receipts/<name>`. Unset: the profile's webhook settings apply.
    pub webhook_url: Option<String>,
    /// The account's webhook public key (base64, from the portal), for checking the
    /// `telnyx-signature-ed25519` of receipts. Unset: receipts are refused (404).
    #[serde(deserialize_with = "crate::secret::text::option")]
    pub public_key: Option<String>,
    /// Oldest accepted `telnyx-timestamp` (and furthest in the future), in seconds.
    pub signature_tolerance_s: u64,
    /// Per-attempt timeout, in milliseconds.
    pub timeout_ms: u64,
    /// Sends per second this instance may make through this provider (none: no cap).
    pub max_tps: Option<u32>,
    /// `[providers.<name>.prices]`: price of one message per ISO 3166 country code,
    /// `default` for the rest, in the account's currency (spend in the fleet numbers).
    pub prices: crate::providers::settings::PriceTable,
}

/// Telnyx's API origin.
pub const DEFAULT_BASE_URL: &str = "https://api.telnyx.com";

impl Default for Config {
    fn default() -> Self {
        Config {
            prices: Default::default(),
            base_url: DEFAULT_BASE_URL.into(),
            api_key: Secret::default(),
            from: None,
            messaging_profile_id: None,
            webhook_url: None,
            public_key: None,
            signature_tolerance_s: 300,
            timeout_ms: DEFAULT_TIMEOUT_MS,
            max_tps: None,
        }
    }
}

impl Config {
    /// Problems with these settings, one sentence each.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        url_problem(&mut p, "base_url", &self.base_url);
        if self.api_key.trim().is_empty() {
            p.push("api_key is required".into());
        }
        if blank(&self.from) && blank(&self.messaging_profile_id) {
            p.push("set from, messaging_profile_id, or both".into());
        }
        if let Some(u) = &self.webhook_url {
            url_problem(&mut p, "webhook_url", u);
        }
        match &self.public_key {
            Some(k) if super::public_key(k).is_none() => {
                p.push("public_key must be a base64 Ed25519 public key (32 bytes)".into())
            }
            None if self.webhook_url.is_some() => p.push(
                "webhook_url is set but public_key is not: receipts cannot be verified and will be refused".into(),
            ),
            _ => {}
        }
        if self.signature_tolerance_s == 0 {
            p.push("signature_tolerance_s must be at least 1".into());
        }
        timeout_problem(&mut p, self.timeout_ms);
        p
    }
}
