//! The scenarios: each attack (or innocent surprise) on top of the same normal day.

use crate::rng::Rng;
use crate::world::{country, fill};
use otpgw::config::PumpingConfig;
use otpgw::domain::PhoneNumber;

const H: i64 = 3_600_000;

/// Where an attack's numbers come from.
pub enum Targets {
    /// Uniform over the numbers under these E.164 starts (one drawn per send), each
    /// `len` digits long after `+`.
    Blocks(Vec<String>, usize),
    /// Uniform over a country's mobile ranges.
    Country(&'static str),
}

/// Where an attack's requests come from.
#[derive(Clone, Copy, PartialEq)]
pub enum Source {
    /// Residential proxies: a new IP, session and device id for every send.
    Rotating,
    /// One IP and one user agent, no session or device id.
    OneIp,
    /// One session id through rotating proxies, a new device id every send.
    OneSession,
}

pub struct Attack {
    /// Sends in all.
    pub sends: u64,
    /// Start, ms after the simulated day's start.
    pub start: i64,
    /// Length, ms.
    pub len: i64,
    pub targets: Targets,
    pub source: Source,
    /// Share of its codes the attacker types back.
    pub approves: f64,
}

impl Attack {
    pub fn number(&self, rng: &mut Rng) -> PhoneNumber {
        match &self.targets {
            Targets::Blocks(starts, len) => {
                let start: &String = rng.pick(starts);
                fill(start, *len, rng)
            }
            Targets::Country(iso) => country(iso).number(rng),
        }
    }
}

/// A marketing campaign: one country's volume multiplied for a while, users as usual.
pub struct Campaign {
    pub iso: &'static str,
    pub factor: f64,
    pub start: i64,
    pub len: i64,
}

/// Codes stop arriving for a while, everywhere: `delivered` of them still do.
pub struct Outage {
    pub start: i64,
    pub len: i64,
    pub delivered: f64,
}

pub struct Scenario {
    pub name: &'static str,
    pub what: String,
    pub attack: Option<Attack>,
    pub campaign: Option<Campaign>,
    pub outage: Option<Outage>,
}

fn attack(name: &'static str, what: String, a: Attack) -> Scenario {
    Scenario {
        name,
        what,
        attack: Some(a),
        campaign: None,
        outage: None,
    }
}

fn steady(sends: u64, targets: Targets, source: Source, approves: f64) -> Attack {
    Attack {
        sends,
        start: 0,
        len: 24 * H,
        targets,
        source,
        approves,
    }
}

/// `n` distinct 10 000-number ranges of a country.
fn ranges(iso: &str, n: usize, rng: &mut Rng) -> (Vec<String>, usize) {
    let c = country(iso);
    let mut v: Vec<String> = Vec::new();
    let mut len = 0;
    while v.len() < n {
        let (r, l) = c.range(rng);
        len = l;
        if !v.contains(&r) {
            v.push(r);
        }
    }
    (v, len)
}

/// Sends per hour that keep one area at `share` of its recent trip point under `cfg`,
/// for a level expected to convert `pe` of its sends.
fn under_recent(cfg: &PumpingConfig, share: f64, pe: f64) -> f64 {
    let tau_h = cfg.recent_secs as f64 / 3600.0;
    let pending = 1.0 - (-(cfg.approval_lag_secs as f64) / cfg.recent_secs as f64).exp();
    let (b, z) = (cfg.levels.area.budget, cfg.noise_sigmas);
    // x: the recent count; deficit x·pe·(1 - pending) against share · (budget + noise).
    let mut x = 10.0;
    for _ in 0..50 {
        x = share * (b + z * (x * pe * (1.0 - pe)).sqrt()) / (pe * (1.0 - pending));
    }
    x / tau_h
}

/// Every scenario; `scale` multiplies attack volumes (the small test case).
pub fn all(scale: f64, cfg: &PumpingConfig) -> Vec<Scenario> {
    let mut rng = Rng::new(0xA77AC4);
    let n = |x: f64| (x * scale).round() as u64;
    let rot = Source::Rotating;
    let (one_range, len) = ranges("PH", 1, &mut rng);
    let (typed_range, tlen) = ranges("ID", 1, &mut rng);
    let (many, mlen) = ranges("VN", 200, &mut rng);
    let drip = n(under_recent(cfg, 0.6, 0.75) * 24.0 * 10.0);
    vec![
        Scenario {
            name: "normal day",
            what: "no attack".into(),
            attack: None,
            campaign: None,
            outage: None,
        },
        attack(
            "concentrated",
            format!("{} sends over 24 h into one 10 000-number range ({}xxxx)", n(10_000.0), one_range[0]),
            steady(n(10_000.0), Targets::Blocks(one_range, len), rot, 0.0),
        ),
        attack(
            "thin spread",
            format!("{} sends over 24 h spread over the 100 thousand-blocks of +23480312xxxxx", n(10_000.0)),
            steady(n(10_000.0), Targets::Blocks(vec!["+23480312".into()], 13), rot, 0.0),
        ),
        attack(
            "country spread",
            format!("{} sends over 24 h spread over every mobile range of KE", n(20_000.0)),
            steady(n(20_000.0), Targets::Country("KE"), rot, 0.0),
        ),
        attack(
            "slow drip",
            format!("{drip} sends over 24 h spread over the 10 areas of +12124xxxxxx, each kept at 60 % of its recent trip point"),
            steady(drip, Targets::Blocks(vec!["+12124".into()], 11), rot, 0.0),
        ),
        attack(
            "types back 3 %",
            format!("{} sends over 24 h into one range ({}xxxx), 3 % of codes typed back", n(10_000.0), typed_range[0]),
            steady(n(10_000.0), Targets::Blocks(typed_range, tlen), rot, 0.03),
        ),
        attack(
            "never-served burst",
            format!("{} sends in 2 h into UZ, a country the tenant never sent to", n(5_000.0)),
            Attack {
                start: 10 * H,
                len: 2 * H,
                ..steady(n(5_000.0), Targets::Country("UZ"), rot, 0.0)
            },
        ),
        attack(
            "one IP",
            format!("{} sends over 24 h from one IP into 200 VN ranges", n(5_000.0)),
            steady(n(5_000.0), Targets::Blocks(many.clone(), mlen), Source::OneIp, 0.0),
        ),
        attack(
            "one session",
            format!("{} sends over 24 h in one session via rotating proxies into 200 VN ranges", n(5_000.0)),
            steady(n(5_000.0), Targets::Blocks(many, mlen), Source::OneSession, 0.0),
        ),
        Scenario {
            name: "marketing campaign",
            what: "ES volume x5 from 09:00 to 15:00 UTC, users as usual".into(),
            attack: None,
            campaign: Some(Campaign {
                iso: "ES",
                factor: 5.0,
                start: 9 * H,
                len: 6 * H,
            }),
            outage: None,
        },
        Scenario {
            name: "carrier outage",
            what: "from 14:00 to 15:00 UTC only 25 % of codes arrive, everywhere; users resend".into(),
            attack: None,
            campaign: None,
            outage: Some(Outage {
                start: 14 * H,
                len: H,
                delivered: 0.25,
            }),
        },
    ]
}
