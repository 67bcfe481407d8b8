//! The traffic: when users and the attacker arrive, and how each of them behaves (the
//! number, client IP, session and device they send with; whether and when they type
//! the code back or press resend).

use crate::rng::Rng;
use crate::scenarios::{Attack, Outage, Scenario, Source};
use crate::world::{diurnal, diurnal_max, total_share, COUNTRIES};
use otpgw::domain::{ClientSession, PhoneNumber, RiskContext};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub const H: i64 = 3_600_000;
pub const DAY: i64 = 24 * H;
/// The simulated day: 2025-06-10 00:00 UTC, two days into one of the baseline's storage
/// generations at the default `baseline_secs`.
pub const DAY_START: i64 = 1_749_513_600_000;
/// Who arrives: a country's user (its index in `COUNTRIES`) or the attacker.
pub const ATTACKER: usize = usize::MAX;
const UAS: [&str; 4] = [
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) Mobile/15E148",
    "Mozilla/5.0 (Linux; Android 14; SM-S918B) Chrome/125.0 Mobile",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/125.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) Safari/605.1.15",
];
const BOT_UA: &str = "okhttp/4.12.0";

pub struct User {
    pub to: PhoneNumber,
    pub ip: IpAddr,
    pub risk: RiskContext,
    pub attack: bool,
    /// Typing delay (ms) when the code is typed back.
    pub typed: Option<i64>,
    /// Resend this long (ms) after the first send.
    pub resend: Option<i64>,
    /// The code typed back is the resent one.
    pub code_on_resend: bool,
    /// Events still to come.
    pub pending: u8,
}

fn v4(r: &mut Rng) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(0x0100_0000 + r.below(0xDE00_0000) as u32))
}

fn v6(r: &mut Rng) -> IpAddr {
    let hi = 0x2a00_u128 << 112 | u128::from(r.next()) << 64;
    IpAddr::V6(Ipv6Addr::from(hi | u128::from(r.next())))
}

fn delay(r: &mut Rng) -> i64 {
    // Median 42 s; 5 % under 10 s, 5 % over 3 min.
    (r.lognormal(42.0, 0.88) * 1000.0) as i64
}

fn session(s: String) -> Option<ClientSession> {
    Some(ClientSession::parse(&s).expect("session id"))
}

/// First sends from `start` to the day's end, in time order: `(time, who)`; and the
/// attacker's numbers, in the order its sends come.
pub fn arrivals(
    sc: &Scenario,
    per_day: f64,
    start: i64,
    rng: &mut Rng,
) -> (Vec<(i64, usize)>, Vec<PhoneNumber>) {
    let end = DAY_START + DAY;
    // (time, country index; usize::MAX for the attacker)
    let mut arrivals: Vec<(i64, usize)> = Vec::new();
    let total = total_share();
    for (ci, c) in COUNTRIES.iter().enumerate() {
        let mut r = rng.fork(ci as u64 + 1);
        let camp = sc.campaign.as_ref().filter(|k| k.iso == c.iso);
        let boost = |t: i64| match camp {
            Some(k) if (DAY_START + k.start..DAY_START + k.start + k.len).contains(&t) => k.factor,
            _ => 1.0,
        };
        let top =
            per_day * c.share / total * diurnal_max() * camp.map_or(1.0, |k| k.factor.max(1.0));
        let mean_gap = DAY as f64 / top;
        let mut t = start as f64;
        loop {
            t += r.exp(mean_gap);
            if t >= end as f64 {
                break;
            }
            let ti = t as i64;
            let hour = (ti - DAY_START) as f64 / H as f64 + c.utc;
            let rate = per_day * c.share / total * diurnal(hour) * boost(ti);
            if r.chance(rate / top) {
                arrivals.push((ti, ci));
            }
        }
    }
    let mut arng = rng.fork(0xA7);
    let mut attack_numbers = Vec::new();
    if let Some(a) = &sc.attack {
        for _ in 0..a.sends {
            let t = DAY_START + a.start + arng.below(a.len as u64) as i64;
            arrivals.push((t, ATTACKER));
            attack_numbers.push(a.number(&mut arng));
        }
    }
    arrivals.sort_unstable();
    (arrivals, attack_numbers)
}

/// A user of country `ci` starting at `t` with number `to`.
pub fn normal(ci: usize, to: PhoneNumber, t: i64, outage: Option<&Outage>, r: &mut Rng) -> User {
    let c = &COUNTRIES[ci];
    let ip = if r.chance(0.12) {
        // Carrier NAT: four addresses per country carry 12 % of its users.
        IpAddr::V4(Ipv4Addr::new(198, 18, ci as u8, r.below(4) as u8))
    } else if r.chance(0.3) {
        v6(r)
    } else {
        v4(r)
    };
    let x = r.unit();
    let risk = RiskContext {
        session_id: if r.chance(0.85) {
            session(r.token())
        } else {
            None
        },
        device_id: if x < 0.55 { session(r.token()) } else { None },
        user_agent: (x < 0.9).then(|| r.pick(&UAS).to_string()),
        ..RiskContext::default()
    };
    let down =
        |t: i64| outage.filter(|o| (DAY_START + o.start..DAY_START + o.start + o.len).contains(&t));
    let d = delay(r);
    let rd = (r.between(35.0, 120.0) * 1000.0) as i64;
    let first_arrives = down(t).is_none_or(|o| r.chance(o.delivered));
    let (typed, resend, code_on_resend) = if first_arrives {
        if r.chance(c.conv) {
            (Some(d), (d > rd && r.chance(0.3)).then_some(rd), false)
        } else {
            (None, r.chance(0.3).then_some(rd), false)
        }
    } else if r.chance(0.6) {
        let second = down(t + rd).is_none_or(|o| r.chance(o.delivered));
        ((second && r.chance(c.conv)).then_some(d), Some(rd), true)
    } else {
        (None, None, false)
    };
    User {
        to,
        ip,
        risk,
        attack: false,
        typed,
        resend,
        code_on_resend,
        pending: 0,
    }
}

/// One send of the attacker.
pub fn attacker(a: &Attack, to: PhoneNumber, r: &mut Rng) -> User {
    let (ip, risk) = match a.source {
        Source::Rotating => (
            v4(r),
            RiskContext {
                session_id: session(r.token()),
                device_id: session(r.token()),
                ..RiskContext::default()
            },
        ),
        Source::OneIp => (
            IpAddr::V4(Ipv4Addr::new(45, 137, 21, 9)),
            RiskContext {
                user_agent: Some(BOT_UA.into()),
                ..RiskContext::default()
            },
        ),
        Source::OneSession => (
            v4(r),
            RiskContext {
                session_id: session("bot-session-1".into()),
                device_id: session(r.token()),
                ..RiskContext::default()
            },
        ),
    };
    let typed = r.chance(a.approves).then(|| delay(r));
    User {
        to,
        ip,
        risk,
        attack: true,
        typed,
        resend: None,
        code_on_resend: false,
        pending: 0,
    }
}
