//! Routing and circuit-breaker settings (`[routing]`, `[delivery.breaker]`).

use serde::Deserialize;

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
}

impl Default for RoutingConfig {
    fn default() -> Self {
        RoutingConfig {
            default: vec!["console".into()],
            default_weights: Vec::new(),
            routes: Vec::new(),
        }
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
