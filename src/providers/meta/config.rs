//! Meta WhatsApp Cloud API settings, and the language a message's locale is sent in.

use crate::providers::settings::{blank, timeout_problem, url_problem, DEFAULT_TIMEOUT_MS};
use crate::secret::Secret;
use serde::Deserialize;
use std::collections::BTreeMap;

/// Meta's Graph API origin.
pub const DEFAULT_BASE_URL: &str = "https://graph.facebook.com";
/// The Graph API version the adapter is written against (and Meta's OpenAPI document).
pub const DEFAULT_API_VERSION: &str = "v23.0";
/// The template language when no entry of `languages` matches.
pub const DEFAULT_LANGUAGE: &str = "en_US";

/// `[providers.<name>]` with `kind = "meta_whatsapp"`.
///
/// Sends an approved authentication template (body `{{1}}` and a copy-code button) from
/// one business phone number. Delivery webhooks need `app_secret`; the subscription
/// handshake needs `verify_token`.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// API origin; the default is Meta's Graph API. Change it only for a test double.
    pub base_url: String,
    /// Graph API version in the path (`v23.0`).
    pub api_version: String,
    /// The business phone number's id (WhatsApp Manager → API Setup), not the number.
    #[serde(deserialize_with = "crate::secret::text::string")]
    pub phone_number_id: String,
    /// A system user's permanent access token with `whatsapp_business_messaging`, sent as
    /// `Authorization: Bearer <access_token>`.
    pub access_token: Secret,
    /// The approved authentication template's name (category `AUTHENTICATION`, a
    /// copy-code button), e.g. `otp_code`.
    #[serde(deserialize_with = "crate::secret::text::string")]
    pub template_name: String,
    /// Our locale tags (`en`, `pt-BR`) to the template's languages at Meta (`en_US`,
    /// `pt_BR`). A message's locale is looked up as written, then by its language
    /// (`pt` for `pt-BR`), ignoring case; with no entry it goes in `default_language`.
    /// List only languages the template is approved in: another is refused (132001).
    pub languages: BTreeMap<String, String>,
    /// The template language used when `languages` has no entry for the locale.
    pub default_language: String,
    /// The app secret (App settings → Basic): the key of the `X-Hub-Signature-256`
    /// HMAC on every webhook. Unset: delivery webhooks are refused (404).
    pub app_secret: Option<Secret>,
    /// The verify token typed into the app's webhook settings; Meta sends it back in the
    /// subscription handshake (`hub.verify_token`). Unset: the handshake is refused.
    pub verify_token: Option<Secret>,
    /// Per-attempt timeout, in milliseconds.
    pub timeout_ms: u64,
    /// Sends per second this instance may make through this provider (none: no cap).
    pub max_tps: Option<u32>,
    /// `[providers.<name>.prices]`: price of one message per ISO 3166 country code,
    /// `default` for the rest, in the account's currency (spend in the fleet numbers).
    pub prices: crate::providers::settings::PriceTable,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            prices: Default::default(),
            base_url: DEFAULT_BASE_URL.into(),
            api_version: DEFAULT_API_VERSION.into(),
            phone_number_id: String::new(),
            access_token: Secret::default(),
            template_name: String::new(),
            languages: BTreeMap::from([("en".to_string(), DEFAULT_LANGUAGE.to_string())]),
            default_language: DEFAULT_LANGUAGE.into(),
            app_secret: None,
            verify_token: None,
            timeout_ms: DEFAULT_TIMEOUT_MS,
            max_tps: None,
        }
    }
}

/// Whether `s` is a non-empty run of `[A-Za-z0-9_-]` (template names, language codes).
fn is_word(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl Config {
    /// Problems with these settings, one sentence each.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        url_problem(&mut p, "base_url", &self.base_url);
        timeout_problem(&mut p, self.timeout_ms);
        let v = self.api_version.strip_prefix('v').unwrap_or("");
        if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            p.push("api_version must look like v23.0".into());
        }
        if self.phone_number_id.is_empty()
            || !self.phone_number_id.bytes().all(|b| b.is_ascii_digit())
        {
            p.push("phone_number_id must be the number's id (digits), not the number".into());
        }
        if self.access_token.trim().is_empty() {
            p.push("access_token is required".into());
        }
        if !is_word(&self.template_name) {
            p.push(
                "template_name must be the approved template's name (letters, digits, _)".into(),
            );
        }
        for (tag, code) in &self.languages {
            if !is_word(tag) || !is_word(code) {
                p.push(format!("languages: `{tag}` = `{code}` must be a locale tag and a Meta language code such as en_US"));
            }
        }
        if !is_word(&self.default_language) {
            p.push("default_language must be a Meta language code such as en_US".into());
        }
        if !blank(&self.verify_token) && blank(&self.app_secret) {
            p.push("verify_token is set but app_secret is not: the subscription would verify, then every webhook would be refused".into());
        }
        p
    }

    /// The template language for `locale`: the entry for the tag, then for its language,
    /// then `default_language`.
    pub fn language_for(&self, locale: &str) -> &str {
        let find = |tag: &str| {
            self.languages
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(tag))
                .map(|(_, v)| v.as_str())
        };
        let lang = locale.split(['-', '_']).next().unwrap_or(locale);
        find(locale)
            .or_else(|| find(lang))
            .unwrap_or(&self.default_language)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok() -> Config {
        Config {
            phone_number_id: "106540352242922".into(),
            access_token: "EAAtoken".into(),
            template_name: "otp_code".into(),
            ..Config::default()
        }
    }

    #[test]
    fn a_complete_config_has_no_problems() {
        assert!(ok().problems().is_empty(), "{:?}", ok().problems());
    }

    #[test]
    fn each_missing_or_wrong_setting_is_one_problem() {
        let cases = [
            Config {
                phone_number_id: "+15550783881".into(),
                ..ok()
            },
            Config {
                access_token: " ".into(),
                ..ok()
            },
            Config {
                template_name: "otp code".into(),
                ..ok()
            },
            Config {
                api_version: "23".into(),
                ..ok()
            },
            Config {
                default_language: "".into(),
                ..ok()
            },
            Config {
                verify_token: Some("v".into()),
                ..ok()
            },
            Config {
                base_url: "graph.facebook.com".into(),
                ..ok()
            },
            Config {
                timeout_ms: 0,
                ..ok()
            },
        ];
        for c in cases {
            assert_eq!(c.problems().len(), 1, "{c:?}: {:?}", c.problems());
        }
    }

    #[test]
    fn the_language_falls_back_from_tag_to_language_to_the_default() {
        let c = Config {
            languages: BTreeMap::from([
                ("en".into(), "en_US".into()),
                ("pt-BR".into(), "pt_BR".into()),
                ("pt".into(), "pt_PT".into()),
                ("fr".into(), "fr".into()),
            ]),
            default_language: "es".into(),
            ..ok()
        };
        assert_eq!(c.language_for("pt-BR"), "pt_BR");
        assert_eq!(c.language_for("pt-br"), "pt_BR", "tags ignore case");
        assert_eq!(c.language_for("pt-AO"), "pt_PT", "the language's entry");
        assert_eq!(c.language_for("fr-CA"), "fr");
        assert_eq!(c.language_for("en"), "en_US");
        assert_eq!(c.language_for("de"), "es", "the default");
        assert_eq!(Config::default().language_for("en-GB"), "en_US");
        assert_eq!(Config::default().language_for("ja"), "en_US");
    }
}
