//! Twilio voice settings (`[providers.<name>.voice]`) and the built-in table of the
//! language and voice a call speaks in for each locale.
//!
//! The voices are Amazon Polly's standard voices, which Twilio's `<Say>` offers as
//! `Polly.<Name>` and which take SSML (`<prosody>`); the `language` values are the
//! codes Twilio's text-to-speech documentation lists for them. A deployment overrides
//! or extends the table with `locales` (`Polly.<Name>-Neural`, `Google.<voice>`, or the
//! basic `man`/`woman` voices, which take no SSML).

use crate::providers::speech;
use serde::Deserialize;
use std::collections::BTreeMap;

/// The language and voice a call speaks in.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Speaker {
    /// `<Say language="…">`: a Twilio language code (`en-US`, `es-ES`, `pt-BR`, …).
    pub language: String,
    /// `<Say voice="…">`: `Polly.Joanna`, `Polly.Lucia-Neural`, `Google.fr-FR-Standard-A`,
    /// `man`, `woman`, …
    pub voice: String,
}

/// The built-in table: locale tag → (language, voice). `en` is the fallback.
pub const BUILTIN: [(&str, &str, &str); 24] = [
    ("en", "en-US", "Polly.Joanna"),
    ("en-GB", "en-GB", "Polly.Amy"),
    ("en-AU", "en-AU", "Polly.Nicole"),
    ("en-IN", "en-IN", "Polly.Raveena"),
    ("es", "es-ES", "Polly.Lucia"),
    ("es-MX", "es-MX", "Polly.Mia"),
    ("es-US", "es-US", "Polly.Penelope"),
    ("fr", "fr-FR", "Polly.Celine"),
    ("fr-CA", "fr-CA", "Polly.Chantal"),
    ("de", "de-DE", "Polly.Marlene"),
    ("it", "it-IT", "Polly.Carla"),
    ("pt", "pt-BR", "Polly.Camila"),
    ("pt-PT", "pt-PT", "Polly.Ines"),
    ("nl", "nl-NL", "Polly.Lotte"),
    ("da", "da-DK", "Polly.Naja"),
    ("nb", "nb-NO", "Polly.Liv"),
    ("no", "nb-NO", "Polly.Liv"),
    ("sv", "sv-SE", "Polly.Astrid"),
    ("pl", "pl-PL", "Polly.Ewa"),
    ("ro", "ro-RO", "Polly.Carmen"),
    ("ru", "ru-RU", "Polly.Tatyana"),
    ("tr", "tr-TR", "Polly.Filiz"),
    ("ja", "ja-JP", "Polly.Mizuki"),
    ("ko", "ko-KR", "Polly.Seoyeon"),
];

/// `[providers.<name>.voice]` of a `twilio` instance: with it the instance also sends
/// on the `voice` channel (a call through the Call resource). Calls report their
/// progress to the instance's `status_callback_url`, like messages.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VoiceConfig {
    /// Caller id in E.164 (`+15005550006`): a Twilio number of the account or a
    /// verified outgoing caller id.
    #[serde(deserialize_with = "crate::secret::text::string")]
    pub from: String,
    /// `Timeout`: seconds the phone may ring before Twilio gives up (`no-answer`),
    /// 1..=600; unset: Twilio's 60. Voicemail usually answers after 20 to 30 s.
    pub ring_timeout_secs: Option<u32>,
    /// Say the text slowly (`<prosody rate="slow">`) when the voice takes SSML
    /// (`Polly.*`, `Google.*`); the commas between the digits pause in any voice.
    pub slow: bool,
    /// Language and voice by locale (`[providers.<name>.voice.locales.es]` with
    /// `language` and `voice`), over the built-in table; `en` is the fallback.
    pub locales: BTreeMap<String, Speaker>,
}

impl Default for VoiceConfig {
    fn default() -> Self {
        VoiceConfig {
            from: String::new(),
            ring_timeout_secs: None,
            slow: true,
            locales: BTreeMap::new(),
        }
    }
}

/// Whether `s` is `+` and 2 to 15 digits.
pub(crate) fn is_e164(s: &str) -> bool {
    s.strip_prefix('+')
        .is_some_and(|d| (2..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()))
}

impl VoiceConfig {
    /// Problems with these settings, one sentence each, named `voice.<key>`.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if !is_e164(self.from.trim()) {
            p.push(
                "voice.from (the caller id) must be a number in E.164 form (+15005550006)".into(),
            );
        }
        if let Some(t) = self.ring_timeout_secs {
            if !(1..=600).contains(&t) {
                p.push("voice.ring_timeout_secs must be 1..=600".into());
            }
        }
        for (tag, s) in &self.locales {
            if s.language.trim().is_empty() || s.voice.trim().is_empty() {
                p.push(format!("voice.locales.{tag} needs a language and a voice"));
            }
        }
        p
    }

    /// The locale table: the built-in one with `locales` on top.
    pub fn speakers(&self) -> BTreeMap<String, Speaker> {
        let builtin: Vec<(&str, Speaker)> = BUILTIN
            .iter()
            .map(|(tag, language, voice)| {
                let s = Speaker {
                    language: language.to_string(),
                    voice: voice.to_string(),
                };
                (*tag, s)
            })
            .collect();
        speech::merged(&builtin, &self.locales)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_has_the_usual_languages_and_takes_overrides() {
        let mut cfg = VoiceConfig {
            from: "+15005550006".into(),
            ..VoiceConfig::default()
        };
        assert!(cfg.problems().is_empty());
        let t = cfg.speakers();
        let lang = |l: &str| speech::pick(&t, l).unwrap().language.clone();
        assert_eq!(
            ["en", "es", "fr", "de", "pt-BR", "pt-PT", "en-GB", "xx"].map(lang),
            ["en-US", "es-ES", "fr-FR", "de-DE", "pt-BR", "pt-PT", "en-GB", "en-US"]
        );
        cfg.locales.insert(
            "es".into(),
            Speaker {
                language: "es-MX".into(),
                voice: "Polly.Mia".into(),
            },
        );
        assert_eq!(
            speech::pick(&cfg.speakers(), "es-AR").unwrap().voice,
            "Polly.Mia"
        );
    }

    #[test]
    fn the_documented_example_of_the_default_config_parses() {
        use crate::providers::ProviderConfig;
        let text = speech::documented_example("[providers.twcalls]");
        let parsed: BTreeMap<String, BTreeMap<String, ProviderConfig>> =
            toml::from_str(&text).expect("the documented keys parse");
        let ProviderConfig::Twilio(tw) = &parsed["providers"]["twcalls"] else {
            panic!("a twilio section: {text}");
        };
        assert!(tw.problems().is_empty(), "{:?}", tw.problems());
        let v = tw.voice.as_ref().expect("its voice table");
        assert_eq!((v.ring_timeout_secs, v.slow), (Some(30), true));
        assert_eq!(v.locales["es"].voice, "Polly.Mia");
    }

    #[test]
    fn caller_id_timeout_and_locale_entries_are_checked() {
        let bad = VoiceConfig {
            from: "Acme".into(),
            ring_timeout_secs: Some(0),
            locales: BTreeMap::from([(
                "es".to_string(),
                Speaker {
                    language: "es-ES".into(),
                    voice: " ".into(),
                },
            )]),
            ..VoiceConfig::default()
        };
        assert_eq!(bad.problems().len(), 3, "{:?}", bad.problems());
    }
}
