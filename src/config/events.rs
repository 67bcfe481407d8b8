//! `[tenants.<id>.events]`: where a tenant's events go (`docs/events.md`), and the checks
//! `otpgw config check` runs on them.
//!
//! One receiver per tenant: a URL, the Standard Webhooks secret its calls are signed
//! with, and the event types it wants (all when unset). A URL that is not http(s) is
//! refused here, before anything is queued for it: a receiver cannot be fixed by retries.

use crate::secret::Secret;
use serde::Deserialize;

/// Every event type a tenant can receive, in the order the docs list them.
pub const EVENT_TYPES: [&str; 8] = [
    "verification.approved",
    "verification.canceled",
    "verification.max_attempts",
    "verification.expired",
    "delivery.sent",
    "delivery.delivered",
    "delivery.failed",
    "fraud.blocked",
];

/// Default time an event is retried before it is dead-lettered, in hours.
pub const DEFAULT_RETRY_HOURS: u64 = 24;

/// Default time a receiver has to answer one call, in milliseconds.
pub const DEFAULT_TIMEOUT_MS: u64 = 5000;

/// The events receiver of one tenant.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EventsConfig {
    /// Where events are `POST`ed: an `http://` or `https://` URL. A redirect is answered
    /// as a failure, never followed.
    pub url: String,
    /// The Standard Webhooks secret calls are signed with (`whsec_<base64>`, or
    /// `v1,whsec_<base64>`; at least 16 bytes). Never printed.
    pub secret: Secret,
    /// The event types sent (see [`EVENT_TYPES`]); empty: all of them.
    pub types: Vec<String>,
    /// How long an event is retried, with exponential backoff, before it is
    /// dead-lettered with the reason, in hours (0: the default, 24).
    pub retry_hours: u64,
    /// The retry window in seconds, replacing `retry_hours` when not 0 (a short window
    /// for a test receiver or a tenant that wants stale events dropped soon); at most a
    /// week.
    pub retry_secs: u64,
    /// How long the receiver has to answer one call, in milliseconds (0: the default,
    /// 5000); a receiver that hangs longer counts as a failed attempt.
    pub timeout_ms: u64,
}

impl Default for EventsConfig {
    fn default() -> Self {
        EventsConfig {
            url: String::new(),
            secret: Secret::from(""),
            types: Vec::new(),
            retry_hours: 0,
            retry_secs: 0,
            timeout_ms: 0,
        }
    }
}

impl EventsConfig {
    /// Whether events of type `ty` go to this receiver.
    pub fn wants(&self, ty: &str) -> bool {
        self.types.is_empty() || self.types.iter().any(|t| t == ty)
    }

    /// The retry window in seconds: `retry_secs` when set, else `retry_hours` (the
    /// default when 0); at most a week.
    pub fn retry_secs(&self) -> u64 {
        let week = 7 * 24 * 3600;
        match (self.retry_secs, self.retry_hours) {
            (0, 0) => DEFAULT_RETRY_HOURS * 3600,
            (0, h) => h.saturating_mul(3600).min(week),
            (s, _) => s.min(week),
        }
    }

    /// The per-call timeout (the default when 0, at most a minute).
    pub fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(match self.timeout_ms {
            0 => DEFAULT_TIMEOUT_MS,
            n => n.min(60_000),
        })
    }

    /// The signing key (None when the secret does not parse; [`problems`] says why).
    pub fn key(&self) -> Option<Vec<u8>> {
        crate::crypto::webhook_sig::parse_secret(&self.secret).ok()
    }
}

/// Problems of one tenant's events section, each a sentence (prefixed by the caller).
/// No sentence repeats the secret.
pub fn problems(e: &EventsConfig) -> Vec<String> {
    let mut p = Vec::new();
    match reqwest::Url::parse(&e.url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
        Ok(_) => p.push("events.url must be an http:// or https:// URL with a host".into()),
        Err(_) => p.push("events.url is not a URL (write http(s)://host/path)".into()),
    }
    if let Err(why) = crate::crypto::webhook_sig::parse_secret(&e.secret) {
        p.push(format!("events.secret: {why}"));
    }
    for t in &e.types {
        if !EVENT_TYPES.contains(&t.as_str()) {
            p.push(format!(
                "events.types: `{t}` is not an event type (one of {})",
                EVENT_TYPES.join(", ")
            ));
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    fn good() -> EventsConfig {
        let b64 = base64::engine::general_purpose::STANDARD.encode([3u8; 24]);
        EventsConfig {
            url: "https://hooks.example.com/otp".into(),
            secret: Secret::from(format!("whsec_{b64}")),
            ..Default::default()
        }
    }

    #[test]
    fn a_complete_section_has_no_problems_and_wants_every_type() {
        let e = good();
        assert!(problems(&e).is_empty(), "{:?}", problems(&e));
        assert!(EVENT_TYPES.iter().all(|t| e.wants(t)));
        assert_eq!(e.retry_secs(), 24 * 3600);
        assert_eq!(e.timeout().as_millis(), 5000);
        assert_eq!(e.key().unwrap(), vec![3u8; 24]);
    }

    #[test]
    fn a_url_that_is_not_http_is_refused() {
        for url in [
            "ftp://x.example/a",
            "file:///etc/passwd",
            "hooks.example.com",
            "",
        ] {
            let e = EventsConfig {
                url: url.into(),
                ..good()
            };
            let p = problems(&e);
            assert_eq!(p.len(), 1, "{url}: {p:?}");
            assert!(p[0].starts_with("events.url"), "{url}: {p:?}");
        }
        let plain = EventsConfig {
            url: "http://127.0.0.1:9000/events".into(),
            ..good()
        };
        assert!(problems(&plain).is_empty());
    }

    #[test]
    fn a_bad_secret_is_refused_without_being_repeated() {
        let e = EventsConfig {
            secret: Secret::from("hunter2-not-a-whsec"),
            ..good()
        };
        let p = problems(&e);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].starts_with("events.secret"));
        assert!(!p[0].contains("hunter2"));
        assert!(e.key().is_none());
    }

    #[test]
    fn unknown_types_are_refused_and_a_list_narrows_what_is_sent() {
        let e = EventsConfig {
            types: vec![
                "verification.approved".into(),
                "verification.approve".into(),
            ],
            ..good()
        };
        let p = problems(&e);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].contains("`verification.approve`"));
        assert!(e.wants("verification.approved"));
        assert!(!e.wants("delivery.sent"));
    }

    #[test]
    fn retry_window_and_timeout_are_bounded() {
        let e = EventsConfig {
            retry_hours: 10_000,
            timeout_ms: 10_000_000,
            ..good()
        };
        assert_eq!(e.retry_secs(), 7 * 24 * 3600);
        assert_eq!(e.timeout().as_secs(), 60);
        let short = EventsConfig {
            retry_secs: 3,
            ..e.clone()
        };
        assert_eq!(short.retry_secs(), 3, "retry_secs replaces retry_hours");
        let long = EventsConfig {
            retry_secs: 10_000_000,
            ..e
        };
        assert_eq!(long.retry_secs(), 7 * 24 * 3600);
    }

    /// The commented `[tenants.demo.events]` example of `config/default.toml`, its
    /// `secret` replaced by `secret`, appended to the default.
    fn default_with_example(url: Option<&str>, secret: &str) -> String {
        let example: Vec<String> = crate::config::DEFAULT_TOML
            .lines()
            .skip_while(|l| *l != "# [tenants.demo.events]")
            .take_while(|l| !l.trim().is_empty())
            .filter_map(|l| l.strip_prefix("# "))
            .filter(|l| l.starts_with('[') || l.contains(" = "))
            .map(|l| match l.split_once(" = ") {
                Some(("secret", _)) => format!("secret = \"{secret}\""),
                Some(("url", v)) => format!(
                    "url = {}",
                    url.map(|u| format!("\"{u}\"")).unwrap_or(v.into())
                ),
                _ => l.to_string(),
            })
            .collect();
        assert!(example.len() >= 6, "the example is documented: {example:?}");
        format!("{}\n{}\n", crate::config::DEFAULT_TOML, example.join("\n"))
    }

    #[test]
    fn the_documented_example_parses_and_config_check_refuses_a_bad_url() {
        let b64 = base64::engine::general_purpose::STANDARD.encode([9u8; 32]);
        let secret = format!("whsec_{b64}");
        let c = crate::config::Config::from_toml(&default_with_example(None, &secret)).unwrap();
        let e = c.tenants["demo"].events.as_ref().expect("the section");
        assert_eq!(e.url, "https://auth.example.com/otpgw-events");
        assert!(e.wants("delivery.failed") && !e.wants("delivery.sent"));
        assert_eq!((e.retry_secs(), e.timeout().as_millis()), (24 * 3600, 5000));
        let p = crate::config::problems(&c);
        assert!(p.is_empty(), "{p:?}");

        let bad = default_with_example(Some("ftp://auth.example.com/x"), &secret);
        let c = crate::config::Config::from_toml(&bad).unwrap();
        let p = crate::config::problems(&c);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].starts_with("tenants.demo: events.url"), "{p:?}");
        assert!(
            !format!("{c:?}").contains(&b64),
            "Debug never shows the secret"
        );
    }
}
