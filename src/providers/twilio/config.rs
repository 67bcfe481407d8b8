//! Twilio provider settings.

use super::voice_config::VoiceConfig;
use crate::providers::settings::{blank, timeout_problem, url_problem, DEFAULT_TIMEOUT_MS};
use crate::secret::Secret;
use serde::Deserialize;

/// Twilio's production REST API.
pub const DEFAULT_BASE_URL: &str = "https://api.twilio.com";

/// `[providers.<name>]` with `kind = "twilio"`.
///
/// Credentials: `auth_token` (HTTP Basic `account_sid:auth_token`), or an API key pair
/// `api_key_sid` + `api_key_secret` (Basic `api_key_sid:api_key_secret`, used for sending
/// when both are set). Status callbacks are signed with the account's auth token, so
/// `status_callback_url` needs `auth_token`. With a `[providers.<name>.voice]` table the
/// instance also places calls (the `voice` channel), and then needs no SMS sender.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// API root; the default is Twilio's production URL. Change it for a regional edge
    /// (`https://api.dublin.ie1.twilio.com`) or a test server.
    pub base_url: String,
    /// Per-attempt timeout, in milliseconds.
    pub timeout_ms: u64,
    /// Sends per second this instance may make through this provider (none: no cap).
    pub max_tps: Option<u32>,
    /// Account SID (`AC` + 32 hex digits): the path of the Messages resource.
    pub account_sid: String,
    /// Account auth token: Basic-auth password with `account_sid`, and the key of the
    /// `X-Twilio-Signature` HMAC on status callbacks.
    pub auth_token: Option<Secret>,
    /// API key SID (`SK…`), used with `api_key_secret` instead of the auth token to send.
    #[serde(deserialize_with = "crate::secret::text::option")]
    pub api_key_sid: Option<String>,
    /// API key secret.
    pub api_key_secret: Option<Secret>,
    /// Sender: a Twilio number in E.164, a short code or an alphanumeric sender ID.
    /// Exactly one of `from` and `messaging_service_sid` (neither: no SMS, for an
    /// instance that only calls).
    #[serde(deserialize_with = "crate::secret::text::option")]
    pub from: Option<String>,
    /// Messaging Service SID (`MG` + 32 hex digits) that picks the sender from its pool.
    pub messaging_service_sid: Option<String>,
    /// Public URL of this gateway's receipts endpoint for this instance
    /// (`https://…/v1/receipts/<name>`), sent as `StatusCallback`; unset: no callbacks.
    pub status_callback_url: Option<String>,
    /// `[providers.<name>.whatsapp]`: a WhatsApp sender and Content Template; when set,
    /// the instance sends on the `whatsapp` channel too ([`super::whatsapp`]).
    pub whatsapp: Option<super::whatsapp::WhatsappConfig>,
    /// Calls (`[providers.<name>.voice]`); unset: this instance sends no voice.
    pub voice: Option<VoiceConfig>,
    /// `[providers.<name>.prices]`: price of one message per ISO 3166 country code,
    /// `default` for the rest, in the account's currency (spend in the fleet numbers).
    pub prices: crate::providers::settings::PriceTable,
    /// After a final SMS receipt (delivered, undelivered, failed), read the message's
    /// `price` from its Messages resource and count it as the spend in place of the
    /// `prices` estimate (`delivery::price_fetch`). Needs the price in the same
    /// currency as `prices`.
    pub fetch_price: bool,
    /// With `fetch_price`: delays before each read of the price, in milliseconds (1 to
    /// 5 of them, each at most an hour). The first read waits the first; a price still
    /// null, or a read that failed but may succeed later, is read again after the next.
    pub fetch_price_delays_ms: Vec<u64>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            prices: Default::default(),
            fetch_price: false,
            fetch_price_delays_ms: super::price::DEFAULT_DELAYS_MS.to_vec(),
            base_url: DEFAULT_BASE_URL.into(),
            timeout_ms: DEFAULT_TIMEOUT_MS,
            max_tps: None,
            account_sid: String::new(),
            auth_token: None,
            api_key_sid: None,
            api_key_secret: None,
            from: None,
            messaging_service_sid: None,
            status_callback_url: None,
            whatsapp: None,
            voice: None,
        }
    }
}

/// `prefix` followed by exactly 32 hex digits (Twilio SIDs).
pub(crate) fn is_sid(s: &str, prefix: &str) -> bool {
    s.len() == prefix.len() + 32
        && s.starts_with(prefix)
        && s[prefix.len()..].bytes().all(|b| b.is_ascii_hexdigit())
}

impl Config {
    /// Problems with these settings, one sentence each.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        url_problem(&mut p, "base_url", &self.base_url);
        timeout_problem(&mut p, self.timeout_ms);
        if !is_sid(&self.account_sid, "AC") {
            p.push("account_sid must be AC followed by 32 hex digits".into());
        }
        let delays = &self.fetch_price_delays_ms;
        if !(1..=5).contains(&delays.len()) || delays.iter().any(|d| *d > 3_600_000) {
            p.push("fetch_price_delays_ms takes 1 to 5 delays of at most 3600000".into());
        }
        let key_pair = (!blank(&self.api_key_sid), !blank(&self.api_key_secret));
        match key_pair {
            (true, false) | (false, true) => {
                p.push("api_key_sid and api_key_secret go together".into())
            }
            (false, false) if blank(&self.auth_token) => {
                p.push("set auth_token, or api_key_sid and api_key_secret".into())
            }
            _ => {}
        }
        if let Some(k) = self.api_key_sid.as_deref().filter(|s| !s.is_empty()) {
            if !is_sid(k, "SK") {
                p.push("api_key_sid must be SK followed by 32 hex digits".into());
            }
        }
        match (!blank(&self.from), !blank(&self.messaging_service_sid)) {
            (true, true) => p.push("set either from or messaging_service_sid, not both".into()),
            (false, false) if self.voice.is_none() && self.whatsapp.is_none() => p.push(
                "set from or messaging_service_sid (or voice or whatsapp, for those channels only)"
                    .into(),
            ),
            _ => {}
        }
        if let Some(m) = self
            .messaging_service_sid
            .as_deref()
            .filter(|s| !s.is_empty())
        {
            if !is_sid(m, "MG") {
                p.push("messaging_service_sid must be MG followed by 32 hex digits".into());
            }
        }
        if let Some(v) = &self.voice {
            p.extend(v.problems());
        }
        if let Some(cb) = &self.status_callback_url {
            url_problem(&mut p, "status_callback_url", cb);
            if blank(&self.auth_token) {
                p.push(
                    "status_callback_url needs auth_token: Twilio signs callbacks with it".into(),
                );
            }
        }
        if let Some(w) = &self.whatsapp {
            p.extend(w.problems());
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok() -> Config {
        Config {
            account_sid: format!("AC{}", "a".repeat(32)),
            auth_token: Some("tok".into()),
            from: Some("+15005550006".into()),
            ..Config::default()
        }
    }

    #[test]
    fn a_complete_config_has_no_problems() {
        assert!(ok().problems().is_empty(), "{:?}", ok().problems());
    }

    #[test]
    fn sender_and_credentials_are_checked() {
        let both = Config {
            messaging_service_sid: Some(format!("MG{}", "b".repeat(32))),
            ..ok()
        };
        assert_eq!(both.problems().len(), 1);
        let none = Config { from: None, ..ok() };
        assert_eq!(none.problems().len(), 1);
        let no_creds = Config {
            auth_token: None,
            ..ok()
        };
        assert_eq!(no_creds.problems().len(), 1);
        let half_key = Config {
            api_key_sid: Some(format!("SK{}", "c".repeat(32))),
            ..ok()
        };
        assert_eq!(half_key.problems().len(), 1);
        let cb_without_token = Config {
            auth_token: None,
            api_key_sid: Some(format!("SK{}", "c".repeat(32))),
            api_key_secret: Some("s".into()),
            status_callback_url: Some("https://gw.example/v1/receipts/tw".into()),
            ..ok()
        };
        assert_eq!(cb_without_token.problems().len(), 1);
        assert_eq!(
            Config {
                account_sid: "AC1".into(),
                ..ok()
            }
            .problems()
            .len(),
            1
        );
    }

    #[test]
    fn a_voice_table_makes_the_sms_sender_optional_and_is_checked() {
        let voice = |from: &str| VoiceConfig {
            from: from.into(),
            ..VoiceConfig::default()
        };
        let calls_only = Config {
            from: None,
            voice: Some(voice("+15005550006")),
            ..ok()
        };
        assert!(
            calls_only.problems().is_empty(),
            "{:?}",
            calls_only.problems()
        );
        let bad_caller_id = Config {
            voice: Some(voice("Acme")),
            ..ok()
        };
        assert_eq!(bad_caller_id.problems().len(), 1);
        let parsed: Config = toml::from_str(
            "account_sid = \"AC0123456789abcdef0123456789abcdef\"\nauth_token = \"t\"\n\
             [voice]\nfrom = \"+15005550006\"\nring_timeout_secs = 30\n\
             [voice.locales.es]\nlanguage = \"es-MX\"\nvoice = \"Polly.Mia\"",
        )
        .unwrap();
        assert!(parsed.problems().is_empty(), "{:?}", parsed.problems());
        let v = parsed.voice.unwrap();
        assert!(v.slow, "slow by default");
        assert_eq!(v.locales["es"].voice, "Polly.Mia");
    }
}
