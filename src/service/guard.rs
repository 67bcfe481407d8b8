//! The pumping guard's side of a request: the policy a tenant's settings give the model,
//! and the probe a send or an approval is counted by (the number's levels and the
//! request's sources), built exactly as the simulator builds it.

use super::Tenant;
use crate::config::{LevelConfig, LevelMode, PumpingConfig, PumpingMode};
use crate::crypto::Keys;
use crate::domain::{ClientNet, ClientSession, PhoneNumber, RiskContext};
use crate::ratelimit::pumping::{block_of, Action, GuardPolicy, Level, LevelPolicy, Probe, Target};
use std::net::IpAddr;

/// The guard's policy for the model, from a tenant's settings (`mode = "shadow"` turns
/// every level to shadow; a level's `off` leaves it out).
pub fn guard_policy(c: &PumpingConfig) -> GuardPolicy {
    let l = &c.levels;
    let level = |lc: &LevelConfig| {
        let action = match (c.mode, lc.action) {
            (_, LevelMode::Off) | (PumpingMode::Off, _) => return None,
            (PumpingMode::Shadow, _) | (_, LevelMode::Shadow) => Action::Shadow,
            (_, LevelMode::Enforce) => Action::Enforce,
            (_, LevelMode::Challenge) => Action::Challenge,
        };
        Some(LevelPolicy {
            action,
            budget: lc.budget.max(0.0),
            drop: lc.drop.clamp(0.0, 1.0),
        })
    };
    let mut levels = [None; 8];
    for lv in Level::ALL {
        levels[lv.index()] = match lv {
            Level::Tenant => None,
            Level::Country => level(&l.country),
            Level::Area => level(&l.area),
            Level::Range => level(&l.range),
            Level::Prefix => level(&l.prefix),
            Level::Ip => level(&l.ip),
            Level::Session => level(&l.session),
            Level::Device => level(&l.device),
        };
    }
    let recent_ms = c.recent_secs.max(1) * 1000;
    GuardPolicy {
        recent_ms,
        baseline_ms: (c.baseline_secs.max(1) * 1000).max(recent_ms),
        prior: c.expected_conversion.clamp(0.01, 1.0),
        floor: c.conversion_floor.clamp(0.0, 1.0),
        z: c.noise_sigmas.max(0.0),
        lag_ms: c.approval_lag_secs * 1000,
        jump: c.volume_jump.max(1.0),
        block_ms: c.block_secs.max(1) * 1000,
        max_block_ms: c.max_block_secs.max(c.block_secs).max(1) * 1000,
        max_tracked: c.max_tracked.max(1),
        levels,
    }
}

/// The sources a request names, for the guard.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sources<'a> {
    /// The end user's IP.
    pub ip: Option<IpAddr>,
    /// A session named outside `risk_context` (a check's `client_session`).
    pub session: Option<&'a ClientSession>,
    /// The caller's `risk_context`.
    pub risk: Option<&'a RiskContext>,
}

fn masked_ip(net: &ClientNet) -> String {
    match net.addr() {
        IpAddr::V4(a) => {
            let o = a.octets();
            format!("{}.{}.{}.x", o[0], o[1], o[2])
        }
        IpAddr::V6(_) => net.to_string(),
    }
}

/// Where a send to `to` counts for the guard: tenant, country, the number's blocks,
/// then the sources the request names (those whose level is on).
pub fn probe(
    keys: &Keys,
    tenant: &Tenant,
    to: &PhoneNumber,
    src: Sources<'_>,
    policy: &GuardPolicy,
) -> Probe {
    let t = &tenant.id;
    let country = to.region().unwrap_or("unknown").to_string();
    let on = |l: Level| policy.levels[l.index()].is_some();
    let mut targets = vec![
        Target {
            level: Level::Tenant,
            field: "all".into(),
            label: t.clone(),
        },
        Target {
            level: Level::Country,
            field: country.clone(),
            label: country.clone(),
        },
    ];
    for level in [Level::Area, Level::Range, Level::Prefix] {
        if let Some(block) = block_of(to.as_str(), level).filter(|_| on(level)) {
            targets.push(Target {
                level,
                field: keys.scope_key(t, level.as_str(), block),
                label: block.to_string(),
            });
        }
    }
    let net = src
        .ip
        .map(|ip| ClientNet::of(ip, tenant.cfg.limits.ipv6_prefix_len));
    let mut source = |level: Level, value: Option<String>, label: String| {
        if let Some(v) = value.filter(|_| on(level)) {
            let field = keys.scope_key(t, level.as_str(), &v);
            let label = format!("{label}{}", &field[..8]);
            targets.push(Target {
                level,
                field,
                label,
            });
        }
    };
    if let Some(n) = &net {
        let label = format!("{} ", masked_ip(n));
        source(Level::Ip, Some(n.to_string()), label);
    }
    let risk = src.risk;
    let session = risk
        .and_then(|r| r.session_id.as_ref())
        .or(src.session)
        .map(|s| s.as_str().to_string());
    source(Level::Session, session, "session ".into());
    let device = risk.and_then(|r| match (&r.device_id, &r.user_agent, &net) {
        (Some(d), _, _) => Some(format!("id:{}", d.as_str())),
        (None, Some(ua), Some(n)) => Some(format!("ua:{n}:{ua}")),
        _ => None,
    });
    source(Level::Device, device, "device ".into());
    Probe {
        tenant: t.clone(),
        channel: "sms".into(),
        country,
        targets,
        challenge_passed: risk.is_some_and(|r| r.challenge_passed),
        low_score: risk
            .and_then(|r| r.captcha_score)
            .is_some_and(|s| s < tenant.cfg.pumping.low_captcha_score),
    }
}
