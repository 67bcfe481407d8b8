//! `[stats]`: the fleet numbers (per-minute buckets shared by every instance) and the
//! prices that turn accepted sends into spend; their checks.

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
    /// Price of one accepted message per provider instance: `[stats.prices.<provider>]`
    /// with a value per ISO 3166 country code and `default` for the rest, in the
    /// provider's unit (no currency is assumed; keep one per provider). A provider
    /// without prices adds no spend.
    pub prices: BTreeMap<String, BTreeMap<String, f64>>,
}

impl Default for StatsConfig {
    fn default() -> Self {
        StatsConfig {
            retention_hours: 48,
            flush_ms: 5000,
            prices: BTreeMap::new(),
        }
    }
}

/// Problems of `[stats]` (`providers`: the configured instance names).
pub fn problems(s: &StatsConfig, providers: &[&String]) -> Vec<String> {
    let mut p = Vec::new();
    if !(1..=744).contains(&s.retention_hours) {
        p.push("stats.retention_hours must be between 1 and 744".into());
    }
    if !(100..=60_000).contains(&s.flush_ms) {
        p.push("stats.flush_ms must be between 100 and 60000".into());
    }
    for (name, table) in &s.prices {
        if !providers.contains(&name) {
            p.push(format!("stats.prices.{name}: no provider of that name"));
        }
        for (country, price) in table {
            let code = country == "default"
                || (country.len() == 2 && country.bytes().all(|b| b.is_ascii_uppercase()));
            if !code {
                p.push(format!(
                    "stats.prices.{name}.{country}: a country is an ISO 3166 code (`FR`) or `default`"
                ));
            }
            if !price.is_finite() || *price < 0.0 {
                p.push(format!(
                    "stats.prices.{name}.{country} must be a price of 0 or more"
                ));
            }
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_name_a_provider_a_country_and_a_price_of_zero_or_more() {
        let mut s = StatsConfig::default();
        let tw = "tw".to_string();
        assert!(problems(&s, &[&tw]).is_empty());
        s.prices.insert(
            "tw".into(),
            [("FR".to_string(), 0.07), ("default".to_string(), 0.05)].into(),
        );
        assert!(problems(&s, &[&tw]).is_empty());
        s.prices.insert(
            "nope".into(),
            [("fr".to_string(), -1.0), ("XYZ".to_string(), f64::NAN)].into(),
        );
        s.flush_ms = 10;
        s.retention_hours = 0;
        let p = problems(&s, &[&tw]);
        assert_eq!(p.len(), 7, "{p:?}");
        assert!(p
            .iter()
            .any(|x| x.contains("stats.prices.nope: no provider")));
    }
}
