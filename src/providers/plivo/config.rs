//! Plivo provider settings.

use crate::providers::settings::{blank, timeout_problem, url_problem, DEFAULT_TIMEOUT_MS};
use crate::secret::Secret;
use serde::Deserialize;

/// `[providers.<name>]` with `kind = "plivo"`.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// API origin; `/v1/Account/<auth_id>/Message/` is appended. Change it only for a
    /// test double.
    pub base_url: String,
    /// Auth ID: the account in the path and the Basic-auth user name.
    #[serde(deserialize_with = "crate::secret::text::string")]
    pub auth_id: String,
    /// Auth Token: the Basic-auth password, and the key of callback signatures.
    pub auth_token: Secret,
    /// Sender (`src`): a Plivo number (E.164, the `+` is optional), a short code or an
    /// alphanumeric sender ID. Exactly one of `src` and `powerpack_uuid`.
    #[serde(deserialize_with = "crate::secret::text::option")]
    pub src: Option<String>,
    /// Powerpack (number pool) to send from, instead of `src`.
    pub powerpack_uuid: Option<String>,
    /// Where Plivo sends status callbacks for each message (`url`, method `POST`): the
    /// public URL of this instance's `POST /v1/receipts/<name>`. Unset: no callbacks.
    pub status_url: Option<String>,
    /// Whether Plivo may keep the text in its logs (`log`). Off by default: the text
    /// holds the code, and with `log = false` Plivo also masks the number in its records.
    pub log: bool,
    /// Also accept `X-Plivo-Signature-V2` callbacks (what Plivo's messaging guide
    /// documents). V2 signs only the URL and a nonce, not the callback's fields, so a
    /// captured callback can be replayed with another status: off by default, V3 only.
    pub accept_v2_signatures: bool,
    /// Per-attempt timeout, in milliseconds.
    pub timeout_ms: u64,
    /// Sends per second this instance may make through this provider (none: no cap).
    pub max_tps: Option<u32>,
    /// `[providers.<name>.prices]`: price of one message per ISO 3166 country code,
    /// `default` for the rest, in the account's currency (spend in the fleet numbers).
    pub prices: crate::providers::settings::PriceTable,
}

/// Plivo's API origin.
pub const DEFAULT_BASE_URL: &str = "https://api.plivo.com";

impl Default for Config {
    fn default() -> Self {
        Config {
            prices: Default::default(),
            base_url: DEFAULT_BASE_URL.into(),
            auth_id: String::new(),
            auth_token: Secret::default(),
            src: None,
            powerpack_uuid: None,
            status_url: None,
            log: false,
            accept_v2_signatures: false,
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
        if self.auth_id.trim().is_empty() {
            p.push("auth_id is required".into());
        } else if !self
            .auth_id
            .trim()
            .chars()
            .all(|c| c.is_ascii_alphanumeric())
        {
            p.push("auth_id must be letters and digits".into());
        }
        if self.auth_token.trim().is_empty() {
            p.push("auth_token is required".into());
        }
        match (blank(&self.src), blank(&self.powerpack_uuid)) {
            (true, true) => p.push("set src or powerpack_uuid".into()),
            (false, false) => p.push("set src or powerpack_uuid, not both".into()),
            _ => {}
        }
        if let Some(u) = &self.status_url {
            url_problem(&mut p, "status_url", u);
        }
        timeout_problem(&mut p, self.timeout_ms);
        p
    }
}
