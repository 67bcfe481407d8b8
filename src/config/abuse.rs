//! Per-tenant abuse control: rate limits, geo permissions and the SMS-pumping guard.
//!
//! Every limit is a quota over a window, decided by GCRA (see [`crate::ratelimit`]);
//! `0` turns a limit off. Sends (starts and resends) and checks are counted separately.
//! (The failed-check limits, `number_failed_checks_per_hour` and
//! `client_failed_checks_per_hour`, sit beside the tenant's attempts in
//! [`super::TenantConfig`]; [`warnings`] flags settings that let one client lock a
//! number out.)

use serde::Deserialize;
use std::collections::BTreeMap;

/// Settings that work but leave a weakness the operator should know about, one
/// sentence each (printed by `otpgw config check` and logged at startup).
pub fn warnings(tenants: &BTreeMap<String, super::TenantConfig>) -> Vec<String> {
    let mut out = Vec::new();
    for (id, t) in tenants {
        let (client, number) = (
            t.client_failed_checks_per_hour,
            t.number_failed_checks_per_hour,
        );
        if client == 0 {
            out.push(format!(
                "tenants.{id}: client_failed_checks_per_hour = 0, so anyone who knows a number can use up its {number} failed checks per hour and lock the real user out of checking"
            ));
        } else if client >= number {
            out.push(format!(
                "tenants.{id}: client_failed_checks_per_hour ({client}) is not below number_failed_checks_per_hour ({number}), so one client can use up the number's failed checks and lock the real user out of checking; keep it well below"
            ));
        }
    }
    out
}

/// Rate limits of one tenant (`[tenants.<id>.limits]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Sends to one number per minute (reason `number_per_minute`).
    pub number_per_minute: u32,
    /// Window of `number_per_minute`, in seconds (60; other values are for tests and
    /// odd policies).
    pub number_minute_window_secs: u64,
    /// Sends to one number per hour (reason `number_per_hour`).
    pub number_per_hour: u32,
    /// Sends to one number per day (reason `number_per_day`).
    pub number_per_day: u32,
    /// Sends per end-user IP per hour, when the request gives `client_ip` (reason
    /// `client_ip`). An IPv6 address counts as its network (`ipv6_prefix_len`).
    pub client_ip_per_hour: u32,
    /// Prefix length (1..128) of the IPv6 network a `client_ip` is counted as, by
    /// `client_ip_per_hour` and `local_ip_per_sec`: one host usually holds a whole /64.
    /// IPv4 addresses (and IPv4-mapped IPv6) count one by one.
    pub ipv6_prefix_len: u8,
    /// Sends per second for the whole tenant (reason `tenant_sends`).
    pub tenant_sends_per_sec: u32,
    /// Checks per second for the whole tenant (reason `tenant_checks`).
    pub tenant_checks_per_sec: u32,
    /// Sends per second per API key (reason `api_key_sends`).
    pub api_key_sends_per_sec: u32,
    /// Checks per second per API key (reason `api_key_checks`).
    pub api_key_checks_per_sec: u32,
    /// Sends per destination country per hour (reason `country`).
    pub country_per_hour: u32,
    /// Sends per number prefix (E.164 minus its last 3 digits) per hour (reason `prefix`).
    pub prefix_per_hour: u32,
    /// Local shedding, per instance and without any Redis call: requests per second
    /// from one `client_ip` (IPv6: its network) before this instance answers
    /// `429 client_ip` by itself.
    pub local_ip_per_sec: u32,
    /// Local shedding: requests per second for the tenant on one instance before it
    /// answers `429 tenant_sends` / `tenant_checks` by itself.
    pub local_tenant_per_sec: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            number_per_minute: 3,
            number_minute_window_secs: 60,
            number_per_hour: 10,
            number_per_day: 20,
            client_ip_per_hour: 30,
            ipv6_prefix_len: 64,
            tenant_sends_per_sec: 100,
            tenant_checks_per_sec: 200,
            api_key_sends_per_sec: 100,
            api_key_checks_per_sec: 200,
            country_per_hour: 10_000,
            prefix_per_hour: 100,
            local_ip_per_sec: 20,
            local_tenant_per_sec: 1_000,
        }
    }
}

/// Geo permissions of one tenant (`[tenants.<id>.geo]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GeoConfig {
    /// ISO 3166 codes (`US`, `GB`) that may be sent to; empty allows every country not
    /// in `deny_countries`. Refusals answer `403 destination_blocked`,
    /// reason `country_not_allowed`.
    pub allow_countries: Vec<String>,
    /// ISO 3166 codes that may not be sent to.
    pub deny_countries: Vec<String>,
    /// Number types refused (reason `number_type_not_allowed`), as libphonenumber
    /// classes them: `premium_rate`, `shared_cost`, `toll_free`, `fixed_line`, `voip`,
    /// `pager`, `uan`, `personal_number`, `voicemail`. +1 numbers are classed
    /// `fixed_line_or_mobile`, which is never refused by `fixed_line`.
    pub deny_number_types: Vec<String>,
}

impl Default for GeoConfig {
    fn default() -> Self {
        GeoConfig {
            allow_countries: Vec::new(),
            deny_countries: Vec::new(),
            deny_number_types: vec!["premium_rate".into(), "shared_cost".into()],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TenantConfig;

    fn warned(number: u32, client: u32) -> Vec<String> {
        let t = TenantConfig {
            number_failed_checks_per_hour: number,
            client_failed_checks_per_hour: client,
            ..TenantConfig::default()
        };
        warnings(&BTreeMap::from([("t".to_string(), t)]))
    }

    #[test]
    fn a_client_limit_that_cannot_protect_the_real_user_is_flagged() {
        assert!(warned(50, 10).is_empty(), "the defaults");
        let w = warned(10, 10);
        assert!(w[0].contains("one client can use up"), "{w:?}");
        let w = warned(50, 0);
        assert!(w[0].contains("lock the real user out"), "{w:?}");
    }
}
