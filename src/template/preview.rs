//! What a template will look like on a phone: `otpgw template preview`, and the warnings
//! `otpgw config check` and startup print for templates that need more than one SMS.

use super::{encoding_of, pick, render, segments, Encoding, MessageParts, BUILTIN};
use crate::config::{Config, TenantConfig};
use crate::domain::{AppHash, CodeLength, OtpCode};

/// A rendered sample and its cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preview {
    /// The text, with a sample code.
    pub text: String,
    /// GSM-7 or UCS-2.
    pub encoding: Encoding,
    /// Characters (UTF-16 units for UCS-2, septets for GSM-7 are counted by `segments`).
    pub chars: usize,
    /// SMS segments.
    pub segments: usize,
}

/// Renders `name`/`locale` for a tenant with a sample code of its length; `app_hash`
/// adds the worst-case Android hash line.
pub fn preview(
    t: &TenantConfig,
    name: &str,
    locale: Option<&str>,
    app_hash: bool,
) -> Option<Preview> {
    let text = pick(t, name, locale)?;
    let len = CodeLength::new(t.code_length as i64)
        .unwrap_or_else(|_| CodeLength::new(6).expect("valid"));
    let sample = "1234567890"[..len.get() as usize]
        .parse::<u64>()
        .unwrap_or(0);
    let code = OtpCode::from_value(sample, len);
    let hash = AppHash::parse("FA+9qCX9VSu").expect("valid sample hash");
    let minutes = t.ttl_secs.div_ceil(60).max(1);
    let body = render(
        t,
        text,
        &MessageParts {
            code: &code,
            minutes,
            app_hash: app_hash.then_some(&hash),
        },
    );
    Some(Preview {
        encoding: encoding_of(&body),
        chars: body.chars().count(),
        segments: segments(&body),
        text: body,
    })
}

/// One warning per tenant template and locale that needs more than one segment (with
/// an app hash line, the worst case).
pub fn lint(cfg: &Config) -> Vec<String> {
    let mut out = Vec::new();
    for (id, t) in &cfg.tenants {
        let mut pairs: Vec<(String, String)> = t
            .templates
            .iter()
            .flat_map(|(name, set)| set.keys().map(move |l| (name.clone(), l.clone())))
            .collect();
        for (l, _) in BUILTIN {
            if !pairs.iter().any(|(n, loc)| n == "default" && loc == l) {
                pairs.push(("default".into(), l.to_string()));
            }
        }
        for (name, locale) in pairs {
            if let Some(p) = preview(t, &name, Some(&locale), true) {
                if p.segments > 1 {
                    out.push(format!(
                        "tenants.{id}: template {name}/{locale} needs {} SMS segments ({:?}, {} characters); every send costs {}x",
                        p.segments, p.encoding, p.chars, p.segments
                    ));
                }
            }
        }
        out.extend(crate::config::channel_template_warnings(id, t));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previews_the_default_template() {
        let t = TenantConfig {
            brand: "Demo".into(),
            ..TenantConfig::default()
        };
        let p = preview(&t, "default", Some("en"), false).unwrap();
        assert_eq!(
            p.text,
            "Demo: your verification code is 123456. It expires in 10 minutes."
        );
        assert_eq!((p.encoding, p.segments), (Encoding::Gsm7, 1));
        assert!(preview(&t, "nope", None, false).is_none());
    }

    #[test]
    fn warns_about_a_template_that_needs_two_segments() {
        let mut cfg = Config::from_toml(crate::config::DEFAULT_TOML).unwrap();
        assert_eq!(lint(&cfg), Vec::<String>::new(), "the defaults fit one SMS");
        let t = cfg.tenants.get_mut("demo").unwrap();
        t.templates.get_mut("default").unwrap().insert("ru".into(), "Ваш код подтверждения {code}. Он действует {minutes} минут. Никому не сообщайте этот код.".into());
        let all = lint(&cfg);
        let w: Vec<&String> = all.iter().filter(|w| w.contains("segments")).collect();
        assert_eq!(w.len(), 1, "{w:?}");
        let calls = all
            .iter()
            .filter(|w| w.contains("default/ru has no voice text"));
        assert_eq!(calls.count(), 1, "the call has no Russian text: {all:?}");
        assert!(
            w[0].contains("default/ru") && w[0].contains("Ucs2"),
            "{w:?}"
        );
    }
}
