//! MessageBird (Bird) provider settings.

use crate::providers::http::is_http_url;
use crate::providers::settings::{timeout_problem, url_problem, DEFAULT_TIMEOUT_MS};
use crate::secret::Secret;
use serde::Deserialize;

/// `[providers.<name>]` with `kind = "messagebird"`.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// API origin; `/messages` is appended. Change it only for a test double.
    pub base_url: String,
    /// Live access key, sent as `Authorization: AccessKey <access_key>`.
    pub access_key: Secret,
    /// Sender: a number with its country code, or up to 11 letters and digits.
    #[serde(deserialize_with = "crate::secret::text::string")]
    pub originator: String,
    /// Where MessageBird sends status reports for each message (`reportUrl`): the public
    /// URL of this instance's `/v1/receipts/<name>`. Unset: the account's report URL.
    pub report_url: Option<String>,
    /// The account's signing key, for checking the `MessageBird-Signature-JWT` of status
    /// reports. Unset: receipts are refused (404).
    pub signing_key: Option<Secret>,
    /// Per-attempt timeout, in milliseconds.
    pub timeout_ms: u64,
    /// Sends per second this instance may make through this provider (none: no cap).
    pub max_tps: Option<u32>,
    /// `[providers.<name>.prices]`: price of one message per ISO 3166 country code,
    /// `default` for the rest, in the account's currency (spend in the fleet numbers).
    pub prices: crate::providers::settings::PriceTable,
}

/// MessageBird's REST API origin.
pub const DEFAULT_BASE_URL: &str = "https://rest.messagebird.com";

impl Default for Config {
    fn default() -> Self {
        Config {
            prices: Default::default(),
            base_url: DEFAULT_BASE_URL.into(),
            access_key: Secret::default(),
            originator: String::new(),
            report_url: None,
            signing_key: None,
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
        if self.access_key.trim().is_empty() {
            p.push("access_key is required".into());
        }
        let o = self.originator.trim();
        let number = o.strip_prefix('+').unwrap_or(o);
        if o.is_empty() {
            p.push("originator is required".into());
        } else if !(number.bytes().all(|b| b.is_ascii_digit()) && number.len() <= 17
            || o.len() <= 11 && o.bytes().all(|b| b.is_ascii_alphanumeric() || b == b' '))
        {
            p.push("originator must be a number or at most 11 letters and digits".into());
        }
        match (&self.report_url, &self.signing_key) {
            (Some(u), _) if !is_http_url(u) => p.push("report_url must be an http:// or https:// URL".into()),
            (Some(_), None) => p.push(
                "report_url is set but signing_key is not: status reports cannot be verified and will be refused".into(),
            ),
            _ => {}
        }
        timeout_problem(&mut p, self.timeout_ms);
        p
    }
}
