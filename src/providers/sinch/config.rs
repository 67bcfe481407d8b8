//! Sinch provider settings.

use crate::providers::settings::{timeout_problem, url_problem, DEFAULT_TIMEOUT_MS};
use crate::secret::Secret;
use serde::Deserialize;

/// Regions of the SMS REST API (`https://{region}.sms.api.sinch.com`).
pub const REGIONS: [&str; 5] = ["us", "eu", "au", "br", "ca"];

/// `[providers.<name>]` with `kind = "sinch"`.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Region of the service plan: `us` (default), `eu`, `au`, `br` or `ca`. Picks the
    /// production URL `https://{region}.sms.api.sinch.com` unless `base_url` is set.
    pub region: String,
    /// API root; unset: the production URL of `region`. Set it for a test server.
    pub base_url: Option<String>,
    /// Per-attempt timeout, in milliseconds.
    pub timeout_ms: u64,
    /// Sends per second this instance may make through this provider (none: no cap).
    pub max_tps: Option<u32>,
    /// Service plan ID (part of every path).
    #[serde(deserialize_with = "crate::secret::text::string")]
    pub service_plan_id: String,
    /// API token of that service plan (`Authorization: Bearer …`).
    pub api_token: Secret,
    /// Sender: a number in E.164, a short code or an alphanumeric sender ID. Unset: the
    /// service plan's default originator.
    #[serde(deserialize_with = "crate::secret::text::option")]
    pub from: Option<String>,
    /// Public URL of this gateway's receipts endpoint for this instance
    /// (`https://…/v1/receipts/<name>`), sent as `callback_url` with `token=…` appended.
    /// Unset: receipts go to the callback URL set in the Sinch dashboard, if any.
    pub callback_url: Option<String>,
    /// A random value the callback URL carries as `?token=…` (Sinch does not sign SMS
    /// callbacks); receipts without it are refused. Setting it asks for a delivery report
    /// per message. At least 16 characters.
    pub receipt_token: Option<Secret>,
    /// `[providers.<name>.prices]`: price of one message per ISO 3166 country code,
    /// `default` for the rest, in the account's currency (spend in the fleet numbers).
    pub prices: crate::providers::settings::PriceTable,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            prices: Default::default(),
            region: "us".into(),
            base_url: None,
            timeout_ms: DEFAULT_TIMEOUT_MS,
            max_tps: None,
            service_plan_id: String::new(),
            api_token: Secret::default(),
            from: None,
            callback_url: None,
            receipt_token: None,
        }
    }
}

/// Shortest `receipt_token` accepted.
pub const MIN_TOKEN_LEN: usize = 16;

impl Config {
    /// The API root in use: `base_url`, or the production URL of `region`.
    pub fn effective_base_url(&self) -> String {
        match &self.base_url {
            Some(u) => u.trim_end_matches('/').to_string(),
            None => format!("https://{}.sms.api.sinch.com", self.region),
        }
    }

    /// Problems with these settings, one sentence each.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if !REGIONS.contains(&self.region.as_str()) {
            p.push(format!("region must be one of {}", REGIONS.join(", ")));
        }
        if let Some(u) = &self.base_url {
            url_problem(&mut p, "base_url", u);
        }
        timeout_problem(&mut p, self.timeout_ms);
        if self.service_plan_id.is_empty()
            || !self
                .service_plan_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric())
        {
            p.push("service_plan_id is required (letters and digits)".into());
        }
        if self.api_token.trim().is_empty() {
            p.push("api_token is required".into());
        }
        let token = self.receipt_token.as_deref().filter(|s| !s.is_empty());
        if let Some(t) = token {
            if t.len() < MIN_TOKEN_LEN {
                p.push(format!(
                    "receipt_token must be at least {MIN_TOKEN_LEN} characters"
                ));
            }
        }
        if let Some(cb) = &self.callback_url {
            url_problem(&mut p, "callback_url", cb);
            if token.is_none() {
                p.push(
                    "callback_url needs receipt_token: receipts are never accepted \
                     unauthenticated"
                        .into(),
                );
            }
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok() -> Config {
        Config {
            service_plan_id: "a1b2c3d4e5f60718293a4b5c6d7e8f90".into(),
            api_token: "apitoken-secret".into(),
            ..Config::default()
        }
    }

    #[test]
    fn region_picks_the_production_url() {
        assert!(ok().problems().is_empty());
        assert_eq!(ok().effective_base_url(), "https://us.sms.api.sinch.com");
        let eu = Config {
            region: "eu".into(),
            ..ok()
        };
        assert_eq!(eu.effective_base_url(), "https://eu.sms.api.sinch.com");
        assert_eq!(
            Config {
                region: "xx".into(),
                ..ok()
            }
            .problems()
            .len(),
            1
        );
        let own = Config {
            base_url: Some("http://127.0.0.1:9/".into()),
            ..ok()
        };
        assert_eq!(own.effective_base_url(), "http://127.0.0.1:9");
    }

    #[test]
    fn callback_needs_a_token() {
        let cb = Some("https://gw.example/v1/receipts/sn".to_string());
        assert_eq!(
            Config {
                callback_url: cb.clone(),
                ..ok()
            }
            .problems()
            .len(),
            1
        );
        let c = Config {
            callback_url: cb,
            receipt_token: Some("t0ken-t0ken-t0ken".into()),
            ..ok()
        };
        assert!(c.problems().is_empty());
    }
}
