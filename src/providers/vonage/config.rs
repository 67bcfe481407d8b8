//! Vonage provider settings.

use super::voice_config::VoiceConfig;
use crate::providers::settings::{timeout_problem, url_problem, DEFAULT_TIMEOUT_MS};
use crate::secret::Secret;
use serde::Deserialize;

/// Vonage's production SMS API root (the API lives at `/sms/json` under it).
pub const DEFAULT_BASE_URL: &str = "https://rest.nexmo.com";

/// How Vonage signs webhooks: the method chosen for the signature secret in the Vonage
/// dashboard ("The default algorithm is 'MD5 hash' and we also support MD5 HMAC, SHA1
/// HMAC, SHA-256 HMAC and SHA-512 HMAC").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SignatureMethod {
    /// MD5 of the parameter string followed by the secret (Vonage's default).
    #[default]
    Md5hash,
    /// HMAC-MD5 of the parameter string, keyed with the secret.
    Md5,
    /// HMAC-SHA1.
    Sha1,
    /// HMAC-SHA256.
    Sha256,
    /// HMAC-SHA512.
    Sha512,
}

/// `[providers.<name>]` with `kind = "vonage"`.
///
/// Receipts are authenticated by Vonage's signature when `signature_secret` is set,
/// otherwise by `receipt_token` in the callback URL's query; with neither, receipts are
/// refused. With a `[providers.<name>.voice]` table the instance also places calls (the
/// `voice` channel, Voice API); an instance that only calls leaves the SMS keys
/// (`api_key`, `api_secret`, `from`) out.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// API root; the default is Vonage's production URL.
    pub base_url: String,
    /// Per-attempt timeout, in milliseconds.
    pub timeout_ms: u64,
    /// Sends per second this instance may make through this provider (none: no cap).
    pub max_tps: Option<u32>,
    /// API key (`api_key`).
    #[serde(deserialize_with = "crate::secret::text::string")]
    pub api_key: String,
    /// API secret (`api_secret`).
    pub api_secret: Secret,
    /// Sender: a virtual number (E.164, with or without `+`) or an alphanumeric sender ID.
    #[serde(deserialize_with = "crate::secret::text::string")]
    pub from: String,
    /// Public URL of this gateway's receipts endpoint for this instance
    /// (`https://…/v1/receipts/<name>`), sent as `callback` on each message (with
    /// `token=<receipt_token>` added when receipts are authenticated by token). Unset:
    /// receipts go to the URL set in the Vonage dashboard, if any.
    pub callback_url: Option<String>,
    /// Signature secret from the Vonage dashboard, once signed webhooks are enabled on the
    /// account: each receipt's `sig` is then verified.
    pub signature_secret: Option<Secret>,
    /// Signing method chosen for that secret in the dashboard.
    pub signature_method: SignatureMethod,
    /// Without `signature_secret`: a random value the callback URL carries as
    /// `?token=…`; receipts without it are refused. At least 16 characters.
    pub receipt_token: Option<Secret>,
    /// Calls (`[providers.<name>.voice]`); unset: this instance sends no voice.
    pub voice: Option<VoiceConfig>,
    /// `[providers.<name>.prices]`: price of one message per ISO 3166 country code,
    /// `default` for the rest, in the account's currency (spend in the fleet numbers).
    pub prices: crate::providers::settings::PriceTable,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            prices: Default::default(),
            base_url: DEFAULT_BASE_URL.into(),
            timeout_ms: DEFAULT_TIMEOUT_MS,
            max_tps: None,
            api_key: String::new(),
            api_secret: Secret::default(),
            from: String::new(),
            callback_url: None,
            signature_secret: None,
            signature_method: SignatureMethod::default(),
            receipt_token: None,
            voice: None,
        }
    }
}

/// Shortest `receipt_token` accepted.
pub const MIN_TOKEN_LEN: usize = 16;

impl Config {
    /// Whether this instance sends SMS: always without voice settings; with them, when
    /// any SMS key is set.
    pub fn sends_sms(&self) -> bool {
        self.voice.is_none()
            || !(self.api_key.trim().is_empty()
                && self.api_secret.trim().is_empty()
                && self.from.trim().is_empty())
    }

    /// Problems with these settings, one sentence each.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        url_problem(&mut p, "base_url", &self.base_url);
        timeout_problem(&mut p, self.timeout_ms);
        if self.sends_sms() {
            if self.api_key.trim().is_empty() {
                p.push("api_key is required".into());
            }
            if self.api_secret.trim().is_empty() {
                p.push("api_secret is required".into());
            }
            if self.from.trim().is_empty() {
                p.push("from (the sender) is required".into());
            }
        }
        if let Some(v) = &self.voice {
            p.extend(v.problems());
        }
        let secret = self.signature_secret.as_deref().filter(|s| !s.is_empty());
        let token = self.receipt_token.as_deref().filter(|s| !s.is_empty());
        if let Some(t) = token {
            if t.len() < MIN_TOKEN_LEN {
                p.push(format!(
                    "receipt_token must be at least {MIN_TOKEN_LEN} characters"
                ));
            }
        }
        if secret.is_some() && token.is_some() {
            p.push("set signature_secret or receipt_token, not both".into());
        }
        if let Some(cb) = &self.callback_url {
            url_problem(&mut p, "callback_url", cb);
            if secret.is_none() && token.is_none() {
                p.push(
                    "callback_url needs signature_secret or receipt_token: receipts are never \
                     accepted unauthenticated"
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
            api_key: "abcd1234".into(),
            api_secret: "abcdef0123456789".into(),
            from: "AcmeInc".into(),
            ..Config::default()
        }
    }

    #[test]
    fn receipts_need_one_way_to_authenticate() {
        assert!(ok().problems().is_empty());
        let cb = Some("https://gw.example/v1/receipts/vg".to_string());
        assert_eq!(
            Config {
                callback_url: cb.clone(),
                ..ok()
            }
            .problems()
            .len(),
            1
        );
        let token = Some(Secret::from("0123456789abcdef"));
        let secret = Some(Secret::from("sigsecret"));
        let with_token = Config {
            callback_url: cb.clone(),
            receipt_token: token.clone(),
            ..ok()
        };
        assert!(with_token.problems().is_empty());
        let both = Config {
            signature_secret: secret,
            receipt_token: token,
            ..ok()
        };
        assert_eq!(both.problems().len(), 1);
        let short = Config {
            receipt_token: Some("short".into()),
            ..ok()
        };
        assert_eq!(short.problems().len(), 1);
    }

    #[test]
    fn an_instance_that_only_calls_needs_no_sms_keys() {
        let voice = VoiceConfig {
            application_id: "aaaaaaaa-bbbb-cccc-dddd-0123456789ab".into(),
            private_key: Some(include_str!("testdata/throwaway_rsa2048.pem").into()),
            from: "447700900001".into(),
            ..VoiceConfig::default()
        };
        let calls_only = Config {
            voice: Some(voice.clone()),
            ..Config::default()
        };
        assert!(
            calls_only.problems().is_empty(),
            "{:?}",
            calls_only.problems()
        );
        assert!(!calls_only.sends_sms());
        let both = Config {
            voice: Some(voice),
            ..ok()
        };
        assert!(both.problems().is_empty() && both.sends_sms());
        let half_sms = Config {
            api_key: "abcd1234".into(),
            ..calls_only
        };
        assert_eq!(half_sms.problems().len(), 2, "{:?}", half_sms.problems());
        assert!(!Config::default().problems().is_empty());
    }

    #[test]
    fn method_names_parse() {
        #[derive(Deserialize)]
        struct W {
            m: SignatureMethod,
        }
        let w: W = toml::from_str("m = \"sha256\"").unwrap();
        assert_eq!(w.m, SignatureMethod::Sha256);
    }
}
