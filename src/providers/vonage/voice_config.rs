//! Vonage voice settings (`[providers.<name>.voice]`): the Vonage application that
//! places the calls, its private key, the caller id, where call events go and how they
//! are authenticated, and the built-in table of the language each locale is spoken in.
//!
//! The languages are those of the Voice API's `talk` action (BCP-47 codes from its
//! reference); `style` picks one of the voices Vonage has for a language (0 is the
//! first). A deployment overrides or extends the table with `locales`.

use crate::providers::settings::{nonblank, url_problem};
use crate::providers::speech;
use crate::secret::Secret;
use serde::Deserialize;
use std::collections::BTreeMap;

/// The Voice API's production root (the calls resource is `/v1/calls` under it).
pub const DEFAULT_VOICE_BASE_URL: &str = "https://api.nexmo.com";

/// The language and voice style a call speaks in.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Talker {
    /// The `talk` action's `language` (`en-US`, `es-ES`, `pt-BR`, …).
    pub language: String,
    /// The `talk` action's `style`: which of the language's voices (0: the first).
    #[serde(default)]
    pub style: u32,
}

/// The built-in table: locale tag → language (style 0). `en` is the fallback.
pub const BUILTIN: [(&str, &str); 24] = [
    ("en", "en-US"),
    ("en-GB", "en-GB"),
    ("en-AU", "en-AU"),
    ("en-IN", "en-IN"),
    ("es", "es-ES"),
    ("es-MX", "es-MX"),
    ("es-US", "es-US"),
    ("fr", "fr-FR"),
    ("fr-CA", "fr-CA"),
    ("de", "de-DE"),
    ("it", "it-IT"),
    ("pt", "pt-BR"),
    ("pt-PT", "pt-PT"),
    ("nl", "nl-NL"),
    ("da", "da-DK"),
    ("nb", "nb-NO"),
    ("no", "nb-NO"),
    ("sv", "sv-SE"),
    ("pl", "pl-PL"),
    ("ro", "ro-RO"),
    ("ru", "ru-RU"),
    ("tr", "tr-TR"),
    ("ja", "ja-JP"),
    ("ko", "ko-KR"),
];

/// `[providers.<name>.voice]` of a `vonage` instance: with it the instance also sends
/// on the `voice` channel (Voice API `POST /v1/calls`, authenticated with a JWT signed
/// by the application's private key).
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VoiceConfig {
    /// Voice API root; the default is Vonage's production URL.
    pub base_url: String,
    /// The Vonage application's id (a UUID), the `application_id` claim of the JWT.
    #[serde(deserialize_with = "crate::secret::text::string")]
    pub application_id: String,
    /// The application's private key, PEM (`-----BEGIN PRIVATE KEY-----`, PKCS#8, as
    /// the Vonage dashboard makes it; PKCS#1 is taken too). `\n` written as two
    /// characters (an environment variable) is read as a line break. Or:
    pub private_key: Option<Secret>,
    /// A file holding that PEM (exactly one of `private_key` and `private_key_file`).
    pub private_key_file: Option<String>,
    /// Caller id: a Vonage number of the application, E.164 with or without `+`.
    #[serde(deserialize_with = "crate::secret::text::string")]
    pub from: String,
    /// Public URL of this gateway's receipts endpoint for this instance
    /// (`https://…/v1/receipts/<name>`), sent as the call's `event_url`. Unset: events
    /// go to the application's event URL.
    pub event_url: Option<String>,
    /// The account's signature secret (Vonage dashboard, settings): the key of the
    /// HS256 JWT Vonage signs call events with. Without it call events are refused.
    pub signature_secret: Option<Secret>,
    /// `ringing_timer`: seconds the phone may ring before Vonage hangs up (1..=120);
    /// unset: Vonage's 60.
    pub ringing_timer_secs: Option<u32>,
    /// `machine_detection = "hangup"`: Vonage ends a call a machine (voicemail)
    /// answered; its `machine` event is then an undelivered receipt.
    pub hang_up_on_machines: bool,
    /// Say the text slowly (SSML `<prosody rate='slow'>`); the commas between the
    /// digits pause either way.
    pub slow: bool,
    /// `premium`: the premium version of the voice, where Vonage has one (priced
    /// higher).
    pub premium: bool,
    /// Language and style by locale (`[providers.<name>.voice.locales.es]` with
    /// `language` and `style`), over the built-in table; `en` is the fallback.
    pub locales: BTreeMap<String, Talker>,
}

impl Default for VoiceConfig {
    fn default() -> Self {
        VoiceConfig {
            base_url: DEFAULT_VOICE_BASE_URL.into(),
            application_id: String::new(),
            private_key: None,
            private_key_file: None,
            from: String::new(),
            event_url: None,
            signature_secret: None,
            ringing_timer_secs: None,
            hang_up_on_machines: false,
            slow: true,
            premium: false,
            locales: BTreeMap::new(),
        }
    }
}

/// Whether `s` has the 8-4-4-4-12 hexadecimal form of a UUID.
fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups
            .iter()
            .all(|g| g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The caller id as the Voice API takes it: the digits, without `+`.
pub(crate) fn digits(number: &str) -> &str {
    let n = number.trim();
    n.strip_prefix('+').unwrap_or(n)
}

/// The DER bytes of a PEM text (any label), `None` when it is not PEM.
fn pem_der(pem: &str) -> Option<(String, Vec<u8>)> {
    use base64::Engine as _;
    let pem = pem.replace("\\n", "\n");
    let label = pem
        .lines()
        .find(|l| l.starts_with("-----BEGIN "))?
        .to_string();
    let body: String = pem
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("-----"))
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .ok()?;
    Some((label, der))
}

impl VoiceConfig {
    /// The RSA key the calls' JWTs are signed with; the error names the setting, never
    /// the key.
    pub fn load_key(&self) -> Result<ring::signature::RsaKeyPair, String> {
        let text = match (
            nonblank(&self.private_key),
            nonblank(&self.private_key_file),
        ) {
            (Some(k), None) => k,
            (None, Some(path)) => std::fs::read_to_string(&path)
                .map_err(|e| format!("voice.private_key_file cannot be read: {}", e.kind()))?,
            _ => return Err("voice: set exactly one of private_key and private_key_file".into()),
        };
        let bad = || {
            "voice.private_key is not an RSA private key in PEM (PKCS#8 or PKCS#1) of 2048 bits or more".to_string()
        };
        let (label, der) = pem_der(&text).ok_or_else(bad)?;
        let key = if label.contains("RSA PRIVATE KEY") {
            ring::signature::RsaKeyPair::from_der(&der)
        } else {
            ring::signature::RsaKeyPair::from_pkcs8(&der)
        };
        key.map_err(|_| bad())
    }

    /// Problems with these settings, one sentence each, named `voice.<key>`.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        url_problem(&mut p, "voice.base_url", &self.base_url);
        if !is_uuid(self.application_id.trim()) {
            p.push("voice.application_id must be the Vonage application's id (a UUID)".into());
        }
        if let Err(e) = self.load_key() {
            p.push(e);
        }
        let from = digits(&self.from);
        if !(7..=15).contains(&from.len()) || !from.bytes().all(|b| b.is_ascii_digit()) {
            p.push("voice.from (the caller id) must be a number of 7 to 15 digits".into());
        }
        if let Some(url) = &self.event_url {
            url_problem(&mut p, "voice.event_url", url);
            if nonblank(&self.signature_secret).is_none() {
                p.push(
                    "voice.event_url needs voice.signature_secret: call events are never \
                     accepted unsigned"
                        .into(),
                );
            }
        }
        if let Some(t) = self.ringing_timer_secs {
            if !(1..=120).contains(&t) {
                p.push("voice.ringing_timer_secs must be 1..=120".into());
            }
        }
        for (tag, t) in &self.locales {
            if t.language.trim().is_empty() {
                p.push(format!("voice.locales.{tag} needs a language"));
            }
        }
        p
    }

    /// The locale table: the built-in one with `locales` on top.
    pub fn talkers(&self) -> BTreeMap<String, Talker> {
        let builtin: Vec<(&str, Talker)> = BUILTIN
            .iter()
            .map(|(tag, language)| {
                let t = Talker {
                    language: language.to_string(),
                    style: 0,
                };
                (*tag, t)
            })
            .collect();
        speech::merged(&builtin, &self.locales)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_caller_ids_and_keys_are_checked() {
        assert!(is_uuid("aaaaaaaa-bbbb-cccc-dddd-0123456789ab"));
        assert!(!is_uuid("aaaaaaaa-bbbb-cccc-dddd-0123456789"));
        assert_eq!(digits("+447700900001"), "447700900001");
        let cfg = VoiceConfig {
            application_id: "app".into(),
            from: "Acme".into(),
            event_url: Some("https://gw.example/v1/receipts/vg".into()),
            ringing_timer_secs: Some(121),
            ..VoiceConfig::default()
        };
        let p = cfg.problems();
        assert_eq!(p.len(), 5, "{p:?}");
        assert!(p.iter().any(|s| s.contains("exactly one of private_key")));
        let not_a_key = VoiceConfig {
            private_key: Some(
                "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----".into(),
            ),
            ..VoiceConfig::default()
        };
        let e = not_a_key.load_key().unwrap_err();
        assert!(
            e.contains("not an RSA private key") && !e.contains("AAAA"),
            "{e}"
        );
        let missing = VoiceConfig {
            private_key_file: Some("/nonexistent/otpgw-key.pem".into()),
            ..VoiceConfig::default()
        };
        assert!(missing.load_key().unwrap_err().contains("cannot be read"));
    }

    #[test]
    fn the_documented_example_of_the_default_config_parses() {
        use crate::providers::ProviderConfig;
        let text = speech::documented_example("[providers.vg]");
        let parsed: BTreeMap<String, BTreeMap<String, ProviderConfig>> =
            toml::from_str(&text).expect("the documented keys parse");
        let ProviderConfig::Vonage(vg) = &parsed["providers"]["vg"] else {
            panic!("a vonage section: {text}");
        };
        assert!(!vg.sends_sms(), "calls only");
        // The example's key file is not on this machine; everything else is right.
        assert_eq!(vg.problems().len(), 1, "{:?}", vg.problems());
        assert!(vg.problems()[0].contains("private_key_file cannot be read"));
        let v = vg.voice.as_ref().expect("its voice table");
        assert_eq!(
            (v.ringing_timer_secs, v.slow, v.premium),
            (Some(30), true, false)
        );
        assert_eq!(v.locales["de"].style, 2);
    }

    #[test]
    fn the_table_maps_locales_to_talk_languages() {
        let mut cfg = VoiceConfig::default();
        let t = cfg.talkers();
        let lang = |l: &str| speech::pick(&t, l).unwrap().language.clone();
        assert_eq!(
            ["en", "es", "fr-FR", "de", "pt", "pt-PT", "zz"].map(lang),
            ["en-US", "es-ES", "fr-FR", "de-DE", "pt-BR", "pt-PT", "en-US"]
        );
        cfg.locales.insert(
            "de".into(),
            Talker {
                language: "de-DE".into(),
                style: 3,
            },
        );
        assert_eq!(speech::pick(&cfg.talkers(), "de-AT").unwrap().style, 3);
    }
}
