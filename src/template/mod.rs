//! Message text: per-tenant, per-locale templates with `{code}`, `{brand}`, `{minutes}`,
//! plus the two machine-readable extras phones look for.
//!
//! Layout of a rendered message:
//! ```text
//! <template text>
//! <app_hash>            (if the request gave one: Android SMS Retriever)
//! @<domain> #<code>     (if the tenant set webotp_domain: WebOTP needs the LAST line)
//! ```
//! WebOTP only reads an origin-bound last line; SMS Retriever only needs the hash in the
//! text, so the hash sits on its own line at the end of the text, right before the WebOTP
//! line when there is one.
//!
//! Locale fallback: the exact tag (`pt-BR`), its language (`pt`), the tenant's default
//! locale, then `en`; tenant templates first, built-in texts after.

mod channel;
mod preview;

pub use crate::domain::gsm::{encoding_of, segments, Encoding};
pub use channel::{html_escape, render_for, spoken, ChannelText, SUBJECT};
pub use preview::{lint, preview, Preview};

use crate::config::{TemplateSet, TenantConfig};
use crate::domain::{AppHash, OtpCode};

/// Built-in `default` template texts.
pub const BUILTIN: &[(&str, &str)] = &[
    (
        "en",
        "{brand}: your verification code is {code}. It expires in {minutes} minutes.",
    ),
    (
        "es",
        "{brand}: tu código es {code}. Caduca en {minutes} minutos.",
    ),
    (
        "fr",
        "{brand} : votre code de vérification est {code}. Il expire dans {minutes} minutes.",
    ),
    (
        "de",
        "{brand}: Ihr Bestätigungscode lautet {code}. Er läuft in {minutes} Minuten ab.",
    ),
    (
        "pt",
        "{brand}: seu código é {code}. Expira em {minutes} minutos.",
    ),
];

/// Everything a message needs besides the template choice.
#[derive(Debug)]
pub struct MessageParts<'a> {
    /// The code.
    pub code: &'a OtpCode,
    /// Minutes until the code expires (rounded up).
    pub minutes: u64,
    /// Android app hash, if any.
    pub app_hash: Option<&'a AppHash>,
}

/// Finds the template text for `name` and `locale` with the documented fallback.
/// `None` when the tenant has no template of that name (and it is not `default`).
pub fn pick<'t>(tenant: &'t TenantConfig, name: &str, locale: Option<&str>) -> Option<&'t str> {
    let set = tenant.templates.get(name);
    if set.is_none() && name != "default" {
        return None;
    }
    let mut candidates: Vec<&str> = Vec::with_capacity(4);
    if let Some(l) = locale {
        candidates.push(l);
        if let Some((lang, _)) = l.split_once('-') {
            candidates.push(lang);
        }
    }
    candidates.push(&tenant.default_locale);
    candidates.push("en");
    for c in &candidates {
        if let Some(t) = set.and_then(|s| s.get(*c)) {
            return Some(t);
        }
        if name == "default" {
            if let Some((_, t)) = BUILTIN.iter().find(|(l, _)| l.eq_ignore_ascii_case(c)) {
                return Some(t);
            }
        }
    }
    set.and_then(|s| s.values().next().map(String::as_str))
}

/// Renders the message text.
pub fn render(tenant: &TenantConfig, text: &str, parts: &MessageParts<'_>) -> String {
    let mut out = text
        .replace("{brand}", &tenant.brand)
        .replace("{minutes}", &parts.minutes.to_string())
        .replace("{code}", parts.code.expose());
    if let Some(h) = parts.app_hash {
        out.push('\n');
        out.push_str(h.as_str());
    }
    if let Some(d) = &tenant.webotp_domain {
        out.push_str("\n\n@");
        out.push_str(d);
        out.push_str(" #");
        out.push_str(parts.code.expose());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::CodeLength;

    fn tenant() -> TenantConfig {
        TenantConfig {
            brand: "Acme".into(),
            ..TenantConfig::default()
        }
    }

    #[test]
    fn default_template_with_both_extras_fits_one_gsm7_segment() {
        let mut t = tenant();
        t.brand = "Acme Store".into();
        t.webotp_domain = Some("login.acme-store.example".into());
        let code = OtpCode::from_value(1234567890, CodeLength::new(10).unwrap());
        let hash = AppHash::parse("FA+9qCX9VSu").unwrap();
        let text = pick(&t, "default", None).unwrap();
        let msg = render(
            &t,
            text,
            &MessageParts {
                code: &code,
                minutes: 10,
                app_hash: Some(&hash),
            },
        );
        assert_eq!(encoding_of(&msg), Encoding::Gsm7);
        assert_eq!(segments(&msg), 1, "{} chars: {msg}", msg.chars().count());
        let lines: Vec<&str> = msg.lines().collect();
        assert_eq!(
            *lines.last().unwrap(),
            "@login.acme-store.example #1234567890"
        );
        assert!(lines.contains(&"FA+9qCX9VSu"));
    }

    #[test]
    fn locale_falls_back_tag_then_language_then_default_then_en() {
        let mut t = tenant();
        t.templates.insert(
            "default".into(),
            [("pt-BR".to_string(), "BR {code}".to_string())].into(),
        );
        assert_eq!(pick(&t, "default", Some("pt-BR")), Some("BR {code}"));
        assert!(pick(&t, "default", Some("pt-PT"))
            .unwrap()
            .contains("código"));
        assert!(pick(&t, "default", Some("xx"))
            .unwrap()
            .contains("verification code"));
        t.default_locale = "de".into();
        assert!(pick(&t, "default", Some("xx"))
            .unwrap()
            .contains("Bestätigungscode"));
        assert_eq!(pick(&t, "login", None), None);
    }

    #[test]
    fn placeholders_are_filled() {
        let t = tenant();
        let code = OtpCode::parse("004217").unwrap();
        let msg = render(
            &t,
            "{brand} {code} {minutes}",
            &MessageParts {
                code: &code,
                minutes: 7,
                app_hash: None,
            },
        );
        assert_eq!(msg, "Acme 004217 7");
    }
}
