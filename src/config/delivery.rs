//! Routing and circuit-breaker settings (`[routing]` with its per-channel tables,
//! `[delivery.breaker]`).

use crate::domain::Channel;
use serde::Deserialize;
use std::collections::BTreeMap;

/// `[routing]`: which providers, in which order, per destination.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RoutingConfig {
    /// Providers (names of `[providers.<name>]`) tried in order for destinations that no
    /// route matches.
    pub default: Vec<String>,
    /// Optional weights for `default`, same length: the first provider is drawn by
    /// weight, the rest follow in weighted order as failover.
    pub default_weights: Vec<u32>,
    /// Routes, first match wins.
    pub routes: Vec<RouteConfig>,
    /// The other channels' routing (`[routing.channels.whatsapp]`, `voice`, `email`),
    /// each shaped like the SMS routing above; the top level is SMS's. A channel with
    /// no table here has no providers, and a tenant cannot enable it.
    pub channels: BTreeMap<String, RouteTable>,
}

impl Default for RoutingConfig {
    fn default() -> Self {
        RoutingConfig {
            default: vec!["console".into()],
            default_weights: Vec::new(),
            routes: Vec::new(),
            channels: BTreeMap::new(),
        }
    }
}

/// `[routing.channels.<channel>]`: one channel's providers, as for SMS.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RouteTable {
    /// Providers tried in order for destinations no route matches (for email: all).
    pub default: Vec<String>,
    /// Optional weights for `default`, same length.
    pub default_weights: Vec<u32>,
    /// Routes by country or prefix, first match wins (phone channels only).
    pub routes: Vec<RouteConfig>,
}

impl RoutingConfig {
    /// The table of `channel` (SMS: the top level), if it has one.
    pub fn table(&self, channel: Channel) -> Option<RouteTable> {
        match channel {
            Channel::Sms => Some(RouteTable {
                default: self.default.clone(),
                default_weights: self.default_weights.clone(),
                routes: self.routes.clone(),
            }),
            other => self.channels.get(other.as_str()).cloned(),
        }
    }

    /// Problems with the channel tables' names.
    pub fn channel_problems(&self) -> Vec<String> {
        self.channels
            .keys()
            .filter(|k| !matches!(Channel::from_name(k), Some(c) if c != Channel::Sms))
            .map(|k| format!("routing.channels.{k}: not a channel (use whatsapp, voice or email; SMS is the top level of [routing])"))
            .collect()
    }
}

/// `[[routing.routes]]`: destinations and their providers.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// ISO 3166 country codes (`US`, `GB`) or calling-code prefixes (`+1`, `+4420`).
    pub destinations: Vec<String>,
    /// Providers tried in order (failover on retryable errors only).
    pub providers: Vec<String>,
    /// Optional weights, same length as `providers`.
    #[serde(default)]
    pub weights: Vec<u32>,
}

/// `[delivery.breaker]`: when a provider is taken out of rotation and how it comes back.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BreakerConfig {
    /// Opens after this many failures in a row.
    pub consecutive_failures: u32,
    /// Or when the failure ratio over `window_ms` reaches this (0..1) …
    pub error_ratio: f64,
    /// … with at least this many calls in the window.
    pub min_calls: u32,
    /// Length of the ratio window, in milliseconds.
    pub window_ms: u64,
    /// How long it stays open before one probe is let through, in milliseconds.
    pub open_ms: u64,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            consecutive_failures: 5,
            error_ratio: 0.5,
            min_calls: 20,
            window_ms: 30_000,
            open_ms: 30_000,
        }
    }
}

/// Problems of `[routing]` and its channel tables, and of `[delivery.breaker]`.
pub(super) fn routing_problems(c: &super::Config) -> Vec<String> {
    let mut p = Vec::new();
    let r = &c.routing;
    let check = |p: &mut Vec<String>, at: &str, names: &[String], weights: &[u32]| {
        if names.is_empty() {
            p.push(format!("{at} names no provider"));
        }
        for n in names {
            if !c.providers.contains_key(n) {
                p.push(format!(
                    "{at} names provider `{n}`, which has no [providers.{n}] section"
                ));
            }
        }
        if !weights.is_empty() && (weights.len() != names.len() || weights.iter().all(|w| *w == 0))
        {
            p.push(format!(
                "{at}: weights must have one entry per provider, not all zero"
            ));
        }
    };
    p.extend(r.channel_problems());
    let tables = std::iter::once(("routing".to_string(), r.table(crate::domain::Channel::Sms)))
        .chain(
            r.channels
                .iter()
                .map(|(k, t)| (format!("routing.channels.{k}"), Some(t.clone()))),
        );
    for (at_table, t) in tables {
        let Some(t) = t else { continue };
        if at_table == "routing.channels.email" && !t.routes.is_empty() {
            p.push(format!(
                "{at_table}.routes: an email address matches no route; use `default`"
            ));
        }
        table_problems(&mut p, &check, &at_table, &t);
    }
    let b = &c.delivery.breaker;
    if b.consecutive_failures == 0 || !(0.0..=1.0).contains(&b.error_ratio) || b.open_ms == 0 {
        p.push(
            "delivery.breaker: consecutive_failures >= 1, error_ratio in 0..1, open_ms >= 1".into(),
        );
    }
    p
}

/// Checks a list of provider names and its weights (`at` names where they are).
type NamesCheck<'a> = dyn Fn(&mut Vec<String>, &str, &[String], &[u32]) + 'a;

/// One routing table's problems (`at`: `routing` or `routing.channels.<name>`).
fn table_problems(p: &mut Vec<String>, check: &NamesCheck<'_>, at: &str, r: &RouteTable) {
    check(p, &format!("{at}.default"), &r.default, &r.default_weights);
    for (i, route) in r.routes.iter().enumerate() {
        let at = format!("{at}.routes[{i}]");
        check(p, &at, &route.providers, &route.weights);
        if route.destinations.is_empty() {
            p.push(format!("{at} has no destinations"));
        }
        for d in &route.destinations {
            let iso = d.len() == 2 && d.bytes().all(|b| b.is_ascii_uppercase());
            let prefix =
                d.len() >= 2 && d.starts_with('+') && d[1..].bytes().all(|b| b.is_ascii_digit());
            if !(iso || prefix) {
                p.push(format!(
                    "{at}: destination `{d}` is neither an ISO country code (US) nor a prefix (+1)"
                ));
            }
        }
    }
}
