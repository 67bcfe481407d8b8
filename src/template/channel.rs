//! The text of a send on each channel: SMS as [`super::render`] makes it; WhatsApp the
//! tenant's WhatsApp text, else its SMS text (without the SMS-only extras); a call's
//! script with the code spoken digit by digit; an email's subject, plain-text and HTML
//! parts. Locale fallback is the same as for SMS: the exact tag, its language, the
//! tenant's default locale, `en`, then any text of that name.

use super::{MessageParts, TemplateSet};
use crate::config::TenantConfig;
use crate::domain::Channel;
use std::collections::BTreeMap;

/// Built-in email subject (English).
pub const SUBJECT: &str = "Your {brand} verification code";

/// A rendered send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelText {
    /// The SMS or WhatsApp text, a call's script, an email's plain-text part.
    pub body: String,
    /// An email's subject.
    pub subject: Option<String>,
    /// An email's HTML part.
    pub html: Option<String>,
    /// The locale the text is in, for a call (whose voice must speak that language):
    /// the locale of the voice text picked, or `en` for the built-in one. `None` on
    /// the other channels, which keep the locale asked for.
    pub spoken_locale: Option<String>,
}

/// The text of `name` in `sets` for `locale` with the usual fallback, and the locale
/// it is in.
fn pick_in<'t>(
    sets: &'t BTreeMap<String, TemplateSet>,
    name: &str,
    locale: Option<&str>,
    default_locale: &str,
) -> Option<(&'t str, &'t str)> {
    let set = sets.get(name)?;
    let mut candidates: Vec<&str> = Vec::with_capacity(4);
    if let Some(l) = locale {
        candidates.push(l);
        if let Some((lang, _)) = l.split_once('-') {
            candidates.push(lang);
        }
    }
    candidates.extend([default_locale, "en"]);
    candidates
        .iter()
        .find_map(|c| set.get_key_value(*c))
        .or_else(|| set.iter().next())
        .map(|(l, t)| (t.as_str(), l.as_str()))
}

/// The code as a call says it: digit by digit, a pause (comma) between digits.
pub fn spoken(code: &str) -> String {
    let digits: Vec<String> = code.chars().map(String::from).collect();
    digits.join(", ")
}

fn fill(tenant: &TenantConfig, text: &str, code: &str, minutes: u64) -> String {
    text.replace("{brand}", &tenant.brand)
        .replace("{minutes}", &minutes.to_string())
        .replace("{code}", code)
}

/// Escapes text for HTML element content and attribute values.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Renders the send of template `name` on `channel` in `locale`.
pub fn render_for(
    tenant: &TenantConfig,
    channel: Channel,
    name: &str,
    locale: Option<&str>,
    parts: &MessageParts<'_>,
) -> ChannelText {
    let own = tenant.channel_settings(channel);
    let dl = tenant.default_locale.as_str();
    let code = parts.code.expose();
    let sms_text = || super::pick(tenant, name, locale).unwrap_or("{code}");
    let own_pick = pick_in(&own.templates, name, locale, dl);
    let own_text = own_pick.map(|(t, _)| t);
    let plain = |body: String| ChannelText {
        body,
        subject: None,
        html: None,
        spoken_locale: None,
    };
    match channel {
        Channel::Sms => plain(super::render(tenant, sms_text(), parts)),
        Channel::Whatsapp => plain(fill(
            tenant,
            own_text.unwrap_or_else(sms_text),
            code,
            parts.minutes,
        )),
        Channel::Voice => {
            let (text, spoken_in) = match own_pick {
                Some((t, l)) => (t, l),
                None => (
                    crate::config::channel_builtin(channel).unwrap_or("{code}"),
                    "en",
                ),
            };
            ChannelText {
                spoken_locale: Some(spoken_in.to_string()),
                ..plain(fill(tenant, text, &spoken(code), parts.minutes))
            }
        }
        Channel::Email => {
            let text = own_text
                .or(crate::config::channel_builtin(channel))
                .unwrap_or("{code}");
            let body = fill(tenant, text, code, parts.minutes);
            let subject = pick_in(&own.subjects, name, locale, dl).map_or(SUBJECT, |(t, _)| t);
            // a subject never carries the code (inbox previews, relay logs)
            let subject = fill(tenant, subject, "", parts.minutes).replace(['\r', '\n'], " ");
            let html = match pick_in(&own.html_templates, name, locale, dl) {
                Some((h, _)) => h
                    .replace("{brand}", &html_escape(&tenant.brand))
                    .replace("{minutes}", &parts.minutes.to_string())
                    .replace("{code}", &html_escape(code)),
                None => builtin_html(&body, code),
            };
            ChannelText {
                body,
                subject: Some(subject),
                html: Some(html),
                spoken_locale: None,
            }
        }
    }
}

/// The built-in HTML part: the plain text's paragraphs, the code set large.
fn builtin_html(body: &str, code: &str) -> String {
    let mut out = String::from("<!DOCTYPE html>\n<html><body style=\"font-family:sans-serif\">\n");
    for para in body.split("\n\n") {
        let p = html_escape(para).replace(
            &html_escape(code),
            &format!(
                "<strong style=\"font-size:1.6em;letter-spacing:0.15em\">{}</strong>",
                html_escape(code)
            ),
        );
        out.push_str(&format!("<p>{}</p>\n", p.replace('\n', "<br>")));
    }
    out.push_str("</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::OtpCode;

    fn parts(code: &OtpCode) -> MessageParts<'_> {
        MessageParts {
            code,
            minutes: 10,
            app_hash: None,
        }
    }

    #[test]
    fn a_call_says_the_digits_one_by_one() {
        let t = TenantConfig {
            brand: "Acme".into(),
            ..Default::default()
        };
        let code = OtpCode::parse("042917").unwrap();
        let r = render_for(&t, Channel::Voice, "default", None, &parts(&code));
        assert_eq!(r.body, "Your Acme verification code is: 0, 4, 2, 9, 1, 7.");
        assert_eq!(
            r.spoken_locale.as_deref(),
            Some("en"),
            "the built-in text is English"
        );
    }

    #[test]
    fn a_call_speaks_in_the_locale_of_the_text_it_says() {
        let t = TenantConfig {
            channel: toml::from_str(
                "[voice.templates.default]\npt = \"O seu código é {code}.\"\nen = \"Your code is {code}.\"",
            )
            .unwrap(),
            ..Default::default()
        };
        let code = OtpCode::parse("123456").unwrap();
        let r = render_for(&t, Channel::Voice, "default", Some("pt-BR"), &parts(&code));
        assert_eq!(r.spoken_locale.as_deref(), Some("pt"));
        assert!(r.body.starts_with("O seu código"));
        let r = render_for(&t, Channel::Voice, "default", Some("es"), &parts(&code));
        assert_eq!(
            r.spoken_locale.as_deref(),
            Some("en"),
            "no Spanish text: English, said in English"
        );
    }

    #[test]
    fn an_email_has_a_codeless_subject_and_an_escaped_html_part() {
        let t = TenantConfig {
            brand: "A&B <Shop>".into(),
            ..Default::default()
        };
        let code = OtpCode::parse("123456").unwrap();
        let r = render_for(&t, Channel::Email, "default", None, &parts(&code));
        assert_eq!(
            r.subject.as_deref(),
            Some("Your A&B <Shop> verification code")
        );
        assert!(r.body.contains("123456"));
        let html = r.html.unwrap();
        assert!(html.contains("A&amp;B &lt;Shop&gt;"), "{html}");
        assert!(html.contains(">123456</strong>"), "{html}");
        assert!(!html.contains("<Shop>"));
    }

    #[test]
    fn whatsapp_falls_back_to_the_sms_text_without_its_extras() {
        let t = TenantConfig {
            brand: "Acme".into(),
            webotp_domain: Some("acme.example".into()),
            ..Default::default()
        };
        let code = OtpCode::parse("123456").unwrap();
        let r = render_for(&t, Channel::Whatsapp, "default", Some("es"), &parts(&code));
        assert!(
            r.body.starts_with("Acme: tu código es 123456"),
            "{}",
            r.body
        );
        assert!(!r.body.contains("@acme.example"));
    }
}
