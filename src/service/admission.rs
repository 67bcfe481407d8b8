//! What a request is admitted by: the shared limits of a start or a check and the
//! pumping guard's probe, built from the tenant's settings (see [`crate::store::admit`]
//! for how a store decides them), the geo permissions decided before them, and the
//! client keys a check's failures are counted under (decided by the check itself, since
//! only a wrong code is charged: see [`crate::store::CheckSpec`]).

use super::guard::{guard_policy, probe, Sources};
use super::Tenant;
use crate::config::{PumpingMode, TenantConfig};
use crate::crypto::Keys;
use crate::domain::{Channel, CheckClient, ClientNet, Destination, PhoneNumber};
use crate::error::{Error, Result};
use crate::ratelimit::pumping::{prefix_of, GuardPolicy, Level, Probe};
use crate::ratelimit::Limit;
use crate::store::Admission;

const SEC: u64 = 1000;
const MIN: u64 = 60 * SEC;
const HOUR: u64 = 60 * MIN;
const DAY: u64 = 24 * HOUR;

/// Quota and window (ms) of a named limit in a tenant's settings, for the
/// `RateLimit-Policy` of a `429`.
pub fn limit_policy(cfg: &TenantConfig, reason: &str) -> Option<(u32, u64)> {
    let l = &cfg.limits;
    let (q, w) = match reason {
        "number_per_minute" => (
            l.number_per_minute,
            l.number_minute_window_secs.max(1) * SEC,
        ),
        "number_per_hour" => (l.number_per_hour, HOUR),
        "number_per_day" => (l.number_per_day, DAY),
        "client_ip" => (l.client_ip_per_hour, HOUR),
        "tenant_sends" => (l.tenant_sends_per_sec, SEC),
        "tenant_checks" => (l.tenant_checks_per_sec, SEC),
        "api_key_sends" => (l.api_key_sends_per_sec, SEC),
        "api_key_checks" => (l.api_key_checks_per_sec, SEC),
        "country" => (l.country_per_hour, HOUR),
        "prefix" => (l.prefix_per_hour, HOUR),
        other => return channel_policy(cfg, other),
    };
    (q > 0).then_some((q, w))
}

/// The per-channel limits' names: `<channel>_destination` and `<channel>_tenant`.
pub fn channel_reason(channel: Channel, per_destination: bool) -> &'static str {
    match (channel, per_destination) {
        (Channel::Sms, true) => "sms_destination",
        (Channel::Sms, false) => "sms_tenant",
        (Channel::Whatsapp, true) => "whatsapp_destination",
        (Channel::Whatsapp, false) => "whatsapp_tenant",
        (Channel::Voice, true) => "voice_destination",
        (Channel::Voice, false) => "voice_tenant",
        (Channel::Email, true) => "email_destination",
        (Channel::Email, false) => "email_tenant",
    }
}

fn channel_policy(cfg: &TenantConfig, reason: &str) -> Option<(u32, u64)> {
    let (name, scope) = reason.rsplit_once('_')?;
    let s = cfg.channel.get(name)?;
    let q = match scope {
        "destination" => s.destination_sends_per_hour,
        "tenant" => s.tenant_sends_per_hour,
        _ => return None,
    };
    (q > 0).then_some((q, HOUR))
}

fn limit(cfg: &TenantConfig, reason: &'static str, key: String) -> Option<Limit> {
    limit_policy(cfg, reason).map(|(quota, window_ms)| Limit {
        reason,
        key,
        quota,
        window_ms,
    })
}

/// Refuses a destination by the tenant's geo permissions.
pub fn geo_check(cfg: &TenantConfig, to: &PhoneNumber) -> Result<()> {
    let g = &cfg.geo;
    let country = to.region().unwrap_or("");
    let listed = |list: &[String]| list.iter().any(|c| c.eq_ignore_ascii_case(country));
    if (!g.allow_countries.is_empty() && !listed(&g.allow_countries)) || listed(&g.deny_countries) {
        return Err(Error::DestinationBlocked {
            reason: "country_not_allowed".into(),
        });
    }
    if !g.deny_number_types.is_empty() {
        let kind = to.number_type();
        if g.deny_number_types.iter().any(|t| t == kind) {
            return Err(Error::DestinationBlocked {
                reason: "number_type_not_allowed".into(),
            });
        }
    }
    Ok(())
}

fn safe_listed(cfg: &TenantConfig, to: &str) -> bool {
    cfg.pumping
        .safe_list
        .iter()
        .any(|s| !s.is_empty() && to.starts_with(s.as_str()))
}

fn guarded(cfg: &TenantConfig, to: &str) -> bool {
    cfg.pumping.mode != PumpingMode::Off && !safe_listed(cfg, to)
}

/// The guard's bucket of a send to (or approval for) a number; none for an email
/// address (no toll to pump) or when the guard is off for it. The phone channels share
/// the guard's counters and blocks: a prefix being pumped is refused on SMS, WhatsApp
/// and voice alike, so an attacker cannot move to another channel.
fn guard(
    keys: &Keys,
    tenant: &Tenant,
    to: &Destination,
    src: Sources<'_>,
) -> Option<(Probe, GuardPolicy)> {
    let to = to.phone()?;
    let cfg = &tenant.cfg;
    if !guarded(cfg, to.as_str()) {
        return None;
    }
    let policy = guard_policy(&cfg.pumping);
    Some((probe(keys, tenant, to, src, &policy), policy))
}

/// The shared limits and guard bucket of a send to `to` on `channel` (the load harness
/// builds its ceiling from this too). `ip` counts as its [`ClientNet`]. The country
/// and prefix limits and the guard apply to numbers only.
pub fn start_admission(
    keys: &Keys,
    tenant: &Tenant,
    to: &Destination,
    channel: Channel,
    src: Sources<'_>,
) -> Admission {
    let ip = src.ip;
    let cfg = &tenant.cfg;
    let t = &tenant.id;
    let num = keys.scope_key(t, "number", &to.key_form());
    let country = to.region().unwrap_or("unknown");
    let prefix = to.phone().map(|n| prefix_of(n.as_str()));
    let pump = guard(keys, tenant, to, src);
    // The guard's prefix and IP levels are named by the same keyed hashes as the
    // per-prefix and per-IP limits: computed once.
    let named = |level: Level| {
        pump.as_ref()
            .and_then(|(p, _)| p.targets.iter().find(|x| x.level == level))
            .map(|x| x.field.clone())
    };
    let limits: Vec<Limit> = [
        limit(cfg, "number_per_minute", num.clone()),
        limit(cfg, "number_per_hour", num.clone()),
        limit(cfg, "number_per_day", num),
        ip.and_then(|ip| {
            let key = named(Level::Ip).unwrap_or_else(|| {
                let net = ClientNet::of(ip, cfg.limits.ipv6_prefix_len);
                keys.scope_key(t, "ip", &net.to_string())
            });
            limit(cfg, "client_ip", key)
        }),
        limit(cfg, "tenant_sends", String::new()),
        limit(cfg, "api_key_sends", tenant.key_id.clone()),
        to.phone()
            .and_then(|_| limit(cfg, "country", country.to_string())),
        prefix.and_then(|prefix| {
            let key = named(Level::Prefix).unwrap_or_else(|| keys.scope_key(t, "prefix", prefix));
            limit(cfg, "prefix", key)
        }),
        limit(
            cfg,
            channel_reason(channel, true),
            keys.scope_key(t, &format!("number:{}", channel.as_str()), &to.key_form()),
        ),
        limit(
            cfg,
            channel_reason(channel, false),
            format!("channel:{}", channel.as_str()),
        ),
    ]
    .into_iter()
    .flatten()
    .collect();
    Admission {
        tenant: t.clone(),
        limits,
        pump,
        approval: None,
        fail_open: cfg.pumping.fail_open,
    }
}

/// The shared limits of a code check, and where its approval counts for the guard (the
/// number's levels and the sources the check names).
pub fn check_admission(
    keys: &Keys,
    tenant: &Tenant,
    to: Option<&Destination>,
    src: Sources<'_>,
) -> Admission {
    let cfg = &tenant.cfg;
    let limits: Vec<Limit> = [
        limit(cfg, "tenant_checks", String::new()),
        limit(cfg, "api_key_checks", tenant.key_id.clone()),
    ]
    .into_iter()
    .flatten()
    .collect();
    Admission {
        tenant: tenant.id.clone(),
        limits,
        pump: None,
        approval: to.and_then(|n| guard(keys, tenant, n, src)),
        fail_open: cfg.pumping.fail_open,
    }
}

/// Keyed hashes of the clients a check comes from (its IP group, its session), under
/// which the store counts the check's failure per (number, client). Empty when the
/// caller named no client or the tenant's per-client limit is off: then only the
/// number's limit counts.
pub fn client_check_keys(keys: &Keys, tenant: &Tenant, client: &CheckClient) -> Vec<String> {
    if tenant.cfg.client_failed_checks_per_hour == 0 {
        return Vec::new();
    }
    client
        .keys(tenant.cfg.limits.ipv6_prefix_len)
        .into_iter()
        .map(|(scope, value)| keys.scope_key(&tenant.id, scope, &value))
        .collect()
}
