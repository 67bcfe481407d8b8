//! Whole-config validation that reports every problem at once (`otpgw config check`).

use super::{Config, Mode, StoreKind};
use crate::crypto::MIN_SECRET_LEN;

/// How to make a secret, quoted in every secret problem.
pub const SECRET_HINT: &str = "make one with `otpgw secret new` and pass it as OTPGW_SECRET, \
     or write it to a file readable only by the gateway and set OTPGW_SECRET_FILE";

/// Number types `geo.deny_number_types` may name.
pub const NUMBER_TYPES: &[&str] = &[
    "premium_rate",
    "shared_cost",
    "toll_free",
    "fixed_line",
    "mobile",
    "fixed_line_or_mobile",
    "voip",
    "pager",
    "uan",
    "personal_number",
    "voicemail",
    "unknown",
];

/// Every problem found, as one sentence each; empty when the config is usable.
pub fn problems(c: &Config) -> Vec<String> {
    let mut p = Vec::new();
    match c.secret_bytes() {
        Err(e) => p.push(e.to_string()),
        Ok(None) if c.mode == Mode::Production => p.push(format!(
            "no server secret is set (mode = \"production\"): {SECRET_HINT}"
        )),
        Ok(Some(s)) if s.len() < MIN_SECRET_LEN => p.push(format!(
            "the server secret is {} bytes; at least {MIN_SECRET_LEN} are needed: {SECRET_HINT}",
            s.len()
        )),
        _ => {}
    }
    if c.server.body_limit_bytes < 256 {
        p.push("server.body_limit_bytes must be at least 256".into());
    }
    if c.server.max_concurrent_requests == 0 {
        p.push("server.max_concurrent_requests must be at least 1".into());
    }
    if c.store.kind == StoreKind::Redis {
        p.extend(super::redis::problems(&c.store.redis));
    }
    if c.store.memory.max_entries == 0 || c.store.memory.max_entries_per_tenant == Some(0) {
        p.push("store.memory.max_entries and max_entries_per_tenant must be at least 1".into());
    }
    p.extend(super::stats::problems(&c.stats));
    p.extend(super::stats::price_problems(&c.providers));
    let d = &c.delivery;
    if d.concurrency == 0 || d.queue_capacity == 0 {
        p.push("delivery.concurrency and delivery.queue_capacity must be at least 1".into());
    }
    if d.retry_initial_ms == 0 || d.retry_max_ms < d.retry_initial_ms {
        p.push("delivery.retry_initial_ms must be > 0 and <= delivery.retry_max_ms".into());
    }
    for (name, pc) in &c.providers {
        for problem in pc.problems() {
            p.push(format!("providers.{name}: {problem}"));
        }
    }
    p.extend(super::delivery::routing_problems(c));
    p.extend(super::keys::problems(c));
    p.extend(super::twilio::problems(&c.tenants));
    p.extend(super::listeners::problems(c));
    p.extend(super::receipts::problems(c));
    if c.tenants.is_empty() {
        p.push("no tenants are configured: add a [tenants.<id>] section with api_keys".into());
    }
    for (id, t) in &c.tenants {
        let at = |what: &str| format!("tenants.{id}: {what}");
        if id.is_empty()
            || id.len() > 64
            || !id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            p.push(at("tenant ids are 1..64 of [A-Za-z0-9_-]"));
        }
        if t.api_keys.is_empty() {
            p.push(at("api_keys is empty, so no one can call as this tenant"));
        }
        if t.api_keys.iter().any(|k| !super::keys::is_key_hash(k)) {
            p.push(at("api_keys must hold `sha256:<64 hex>` hashes (see `otpgw api-key new`), never raw keys"));
        }
        for problem in super::hooks::problems(&t.hooks, &t.templates) {
            p.push(at(&problem));
        }
        for problem in t.events.iter().flat_map(super::events::problems) {
            p.push(at(&problem));
        }
        let served = |ch| {
            c.routing.table(ch).is_some_and(|r| {
                !r.default.is_empty() || r.routes.iter().any(|x| !x.providers.is_empty())
            })
        };
        for problem in super::channels::problems(&t.channels, &t.channel, &t.workflows, served) {
            p.push(at(&problem));
        }
        if !(4..=10).contains(&t.code_length) {
            p.push(at("code_length must be 4..10"));
        }
        if t.ttl_secs == 0 || t.max_check_attempts == 0 || t.max_sends == 0 {
            p.push(at(
                "ttl_secs, max_check_attempts and max_sends must be at least 1",
            ));
        }
        if t.number_sends_per_hour == 0 || t.number_failed_checks_per_hour == 0 {
            p.push(at(
                "number_sends_per_hour and number_failed_checks_per_hour must be at least 1",
            ));
        }
        if crate::domain::Locale::parse(&t.default_locale).is_err() {
            p.push(at("default_locale must be a BCP 47 tag"));
        }
        if let Some(d) = &t.webotp_domain {
            if d.is_empty() || d.contains([' ', '\n', '#', '@', '/']) {
                p.push(at(
                    "webotp_domain must be a bare host name such as example.com",
                ));
            }
        }
        for c in t.geo.allow_countries.iter().chain(&t.geo.deny_countries) {
            if !(c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase())) {
                p.push(at(&format!(
                    "geo: `{c}` is not an ISO 3166 country code such as US"
                )));
            }
        }
        for k in &t.geo.deny_number_types {
            if !NUMBER_TYPES.contains(&k.as_str()) {
                p.push(at(&format!(
                    "geo.deny_number_types: `{k}` is not one of {}",
                    NUMBER_TYPES.join(", ")
                )));
            }
        }
        let pg = &t.pumping;
        p.extend(pg.problems(id));
        if !(1..=128).contains(&t.limits.ipv6_prefix_len) {
            p.push(at("limits.ipv6_prefix_len must be 1..128"));
        }
        for e in &pg.safe_list {
            let ok = e.len() >= 2
                && e.len() <= 16
                && e.starts_with('+')
                && e[1..].bytes().all(|b| b.is_ascii_digit());
            if !ok {
                p.push(at(&format!(
                    "pumping.safe_list: `{e}` is not a number or prefix such as +4477009"
                )));
            }
        }
        for (name, set) in &t.templates {
            for (locale, text) in set {
                if !text.contains("{code}") {
                    p.push(at(&format!(
                        "template {name}/{locale} has no {{code}} placeholder"
                    )));
                }
            }
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_every_problem_not_just_the_first() {
        let c = Config::from_toml(
            r#"
            mode = "production"
            [store]
            kind = "redis"
            [store.redis]
            url = "http://nope"
            [providers.hook]
            kind = "webhook"
            [tenants.acme]
            api_keys = ["plaintext-key"]
            code_length = 12
        "#,
        )
        .unwrap();
        let p = problems(&c);
        let all = p.join("\n");
        assert!(all.contains("no server secret"), "{all}");
        assert!(all.contains("otpgw secret new"), "{all}");
        assert!(all.contains("redis://"), "{all}");
        assert!(all.contains("providers.hook: url"), "{all}");
        assert!(all.contains("sha256"), "{all}");
        assert!(all.contains("code_length"), "{all}");
        assert!(
            all.contains("routing.default names provider `console`"),
            "{all}"
        );
        assert_eq!(p.len(), 6, "{all}");
    }

    #[test]
    fn abuse_settings_are_checked() {
        let c = Config::from_toml(
            r#"
            mode = "dev"
            [tenants.acme]
            api_keys = ["sha256:0000000000000000000000000000000000000000000000000000000000000000"]
            [tenants.acme.geo]
            allow_countries = ["usa"]
            deny_number_types = ["premium"]
            [tenants.acme.pumping]
            expected_conversion = 1.5
            safe_list = ["4477"]
            [tenants.acme.pumping.levels.area]
            action = "enforce"
            budget = -1
            drop = 0.5
        "#,
        )
        .unwrap();
        let all = problems(&c).join("\n");
        for want in [
            "`usa` is not an ISO 3166",
            "`premium` is not one of",
            "expected_conversion must be in (0, 1]",
            "levels.area.budget must be 0 or more",
            "`4477` is not a number or prefix",
        ] {
            assert!(all.contains(want), "{want}: {all}");
        }
    }

    #[test]
    fn short_secret_is_refused_with_a_hint() {
        let c = Config::from_toml("mode = \"production\"\nsecret = \"short\"").unwrap();
        let all = problems(&c).join("\n");
        assert!(
            all.contains("5 bytes") && all.contains("OTPGW_SECRET"),
            "{all}"
        );
    }
}
