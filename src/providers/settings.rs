//! What every adapter's settings share. Each `Config` keeps its own `timeout_ms`,
//! `max_tps` and URL fields rather than one `#[serde(flatten)]`-ed struct: the keys
//! stay where users write them, `base_url` differs in kind (a vendor default, or unset
//! for a regional URL in `sinch` and `aws_sns`; `url` with no default in `webhook`),
//! and serde documents `deny_unknown_fields` as unsupported with `flatten`. What they
//! share instead: the default timeout, the checks `problems()` makes of those fields
//! and of optional ones ([`blank`], [`nonblank`]), and the client built from
//! `timeout_ms`.

use super::callback::is_http_url;
use std::collections::BTreeMap;
use std::time::Duration;

/// `[providers.<name>.prices]`: the price of one message through the instance, per
/// ISO 3166 country code, with `default` for the rest, in the account's currency. The
/// adapter never reads it: the fleet numbers price accepted sends with it (spend) and
/// `config` checks it (codes real, prices finite and not negative).
pub type PriceTable = BTreeMap<String, f64>;

/// Default per-attempt timeout of every adapter, in milliseconds.
pub const DEFAULT_TIMEOUT_MS: u64 = 5_000;

/// Adds a problem when the setting `name` is not an `http://` or `https://` URL.
pub fn url_problem(p: &mut Vec<String>, name: &str, url: &str) {
    if !is_http_url(url) {
        p.push(format!("{name} must be an http:// or https:// URL"));
    }
}

/// Adds a problem when `timeout_ms` is 0.
pub fn timeout_problem(p: &mut Vec<String>, timeout_ms: u64) {
    if timeout_ms == 0 {
        p.push("timeout_ms must be at least 1".into());
    }
}

/// An optional setting trimmed, or `None` when unset or only blanks.
pub fn nonblank<S: AsRef<str>>(s: &Option<S>) -> Option<String> {
    s.as_ref()
        .map(|s| s.as_ref().trim())
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// Whether an optional setting is unset or only blanks (for `problems()`).
pub fn blank<S: AsRef<str>>(s: &Option<S>) -> bool {
    nonblank(s).is_none()
}

/// The adapter's pooled client ([`super::http::client`]) with a `timeout_ms` timeout.
pub fn client(timeout_ms: u64) -> anyhow::Result<reqwest::Client> {
    super::http::client(Duration::from_millis(timeout_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_and_timeout_problems_name_the_setting() {
        let mut p = Vec::new();
        url_problem(&mut p, "base_url", "https://api.example");
        timeout_problem(&mut p, 1);
        assert!(p.is_empty());
        url_problem(&mut p, "status_url", "ftp://x");
        timeout_problem(&mut p, 0);
        assert_eq!(
            p,
            [
                "status_url must be an http:// or https:// URL",
                "timeout_ms must be at least 1"
            ]
        );
    }
}
