//! `[stats]`: the fleet numbers (per-minute buckets shared by every instance); and the
//! checks of each provider's `[providers.<name>.prices]`, which turn accepted sends into
//! spend. Prices once lived in `[stats.prices]`; that section is refused with a pointer
//! to the new place.

use crate::domain::is_iso_country;
use crate::providers::ProviderConfig;
use serde::Deserialize;
use std::collections::BTreeMap;

/// The fleet numbers and spend (`GET /v1/admin/stats`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StatsConfig {
    /// Hours the per-minute buckets are kept (1..=744; the API's longest window is 48h).
    pub retention_hours: u64,
    /// How often each instance writes its buffered counts to the store, in
    /// milliseconds (100..=60000). A crash loses at most this much counting.
    pub flush_ms: u64,
    /// The ISO 4217 code (`USD`) of every `[providers.<name>.prices]`. When set, a price
    /// a provider reports in another currency (Twilio's `price_unit`) is not recorded:
    /// the estimate stays. Unset: reported prices are taken as they come.
    pub currency: Option<String>,
    /// Not a setting: prices moved to `[providers.<name>.prices]`. Read only so that
    /// `config check` refuses an old `[stats.prices]` with that hint.
    #[serde(rename = "prices")]
    pub moved_prices: Option<serde::de::IgnoredAny>,
}

impl Default for StatsConfig {
    fn default() -> Self {
        StatsConfig {
            retention_hours: 48,
            flush_ms: 5000,
            currency: None,
            moved_prices: None,
        }
    }
}

/// Problems of `[stats]`.
pub fn problems(s: &StatsConfig) -> Vec<String> {
    let mut p = Vec::new();
    if !(1..=744).contains(&s.retention_hours) {
        p.push("stats.retention_hours must be between 1 and 744".into());
    }
    if !(100..=60_000).contains(&s.flush_ms) {
        p.push("stats.flush_ms must be between 100 and 60000".into());
    }
    if let Some(c) = &s.currency {
        if c.len() != 3 || !c.bytes().all(|b| b.is_ascii_uppercase()) {
            p.push(format!(
                "stats.currency must be an ISO 4217 code of three capital letters (`USD`), not {c:?}"
            ));
        }
    }
    if s.moved_prices.is_some() {
        p.push(
            "stats.prices has moved: give each provider its prices in [providers.<name>.prices] \
             (default = 0.05, FR = 0.07)"
                .into(),
        );
    }
    p
}

/// Problems of every `[providers.<name>.prices]`: a key is an ISO 3166 alpha-2 code or
/// `default`, a price is finite and not negative.
pub fn price_problems(providers: &BTreeMap<String, ProviderConfig>) -> Vec<String> {
    let mut p = Vec::new();
    for (name, c) in providers {
        for (country, price) in c.prices() {
            if country != "default" && !is_iso_country(country) {
                p.push(format!(
                    "providers.{name}.prices.{country}: a country is an ISO 3166 code (`FR`) or `default`"
                ));
            }
            if !price.is_finite() || *price < 0.0 {
                p.push(format!(
                    "providers.{name}.prices.{country} must be a price of 0 or more"
                ));
            }
        }
    }
    p
}

/// The price tables by instance name, for the fleet numbers' recorder (`app.rs`).
pub fn price_tables(
    providers: &BTreeMap<String, ProviderConfig>,
) -> BTreeMap<String, BTreeMap<String, f64>> {
    providers
        .iter()
        .filter(|(_, c)| !c.prices().is_empty())
        .map(|(n, c)| (n.clone(), c.prices().clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn prices_name_a_real_country_and_a_price_of_zero_or_more() {
        let c = Config::from_toml(
            r#"
[providers.tw]
kind = "console"
[providers.tw.prices]
default = 0.05
FR = 0.0725
[providers.bad]
kind = "webhook"
url = "https://hooks.example/sms"
[providers.bad.prices]
fr = -1.0
ZZ = 0.1
UK = inf
"#,
        )
        .unwrap();
        let p = price_problems(&c.providers);
        assert_eq!(p.len(), 5, "{p:?}");
        assert!(
            p.iter().all(|x| x.starts_with("providers.bad.prices.")),
            "{p:?}"
        );
        assert!(p.iter().any(|x| x.contains("prices.fr must be a price")));
        assert!(p.iter().any(|x| x.contains("prices.UK must be a price")));
        let t = price_tables(&c.providers);
        assert_eq!(t["tw"]["FR"], 0.0725);
        assert!(!t.contains_key("console"), "no prices, no table");
    }

    #[test]
    fn the_old_stats_prices_section_is_refused_with_the_new_place() {
        let c = Config::from_toml("[stats.prices.console]\ndefault = 0.05\n").unwrap();
        let p = crate::config::problems(&c);
        assert!(
            p.iter()
                .any(|x| x.contains("stats.prices has moved")
                    && x.contains("[providers.<name>.prices]")),
            "{p:?}"
        );
        let mut s = StatsConfig::default();
        assert!(problems(&s).is_empty());
        s.flush_ms = 10;
        s.retention_hours = 0;
        assert_eq!(problems(&s).len(), 2);
    }

    #[test]
    fn the_currency_is_three_capital_letters() {
        for good in ["USD", "EUR"] {
            let c = Config::from_toml(&format!("[stats]\ncurrency = \"{good}\"\n")).unwrap();
            assert!(problems(&c.stats).is_empty(), "{good}");
        }
        for bad in ["usd", "US", "USDT", "U$D", ""] {
            let c = Config::from_toml(&format!("[stats]\ncurrency = \"{bad}\"\n")).unwrap();
            let p = problems(&c.stats);
            assert!(
                p.len() == 1 && p[0].starts_with("stats.currency must be an ISO 4217 code"),
                "{bad}: {p:?}"
            );
        }
    }
}
