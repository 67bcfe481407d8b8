use super::*;
use crate::ratelimit::pumping::{LevelPolicy, Target};

fn policy() -> GuardPolicy {
    let lp = |action, budget, drop| {
        Some(LevelPolicy {
            action,
            budget,
            drop,
        })
    };
    GuardPolicy {
        recent_ms: 3_600_000,
        baseline_ms: 3 * 86_400_000,
        prior: 0.6,
        floor: 0.2,
        z: 3.0,
        lag_ms: 120_000,
        jump: 3.0,
        block_ms: 3_600_000,
        max_block_ms: 4 * 3_600_000,
        max_tracked: 1000,
        levels: [
            None,
            lp(Action::Challenge, 30.0, 0.75),
            lp(Action::Enforce, 8.0, 0.5),
            lp(Action::Enforce, 6.0, 0.5),
            lp(Action::Enforce, 4.0, 0.5),
            lp(Action::Challenge, 4.0, 0.5),
            None,
            None,
        ],
    }
}

fn probe(prefix: &str, ip: Option<&str>) -> Probe {
    let mut targets = vec![
        Target {
            level: Level::Tenant,
            field: "all".into(),
            label: "t".into(),
        },
        Target {
            level: Level::Country,
            field: "LV".into(),
            label: "LV".into(),
        },
        Target {
            level: Level::Prefix,
            field: prefix.into(),
            label: prefix.into(),
        },
    ];
    if let Some(ip) = ip {
        targets.push(Target {
            level: Level::Ip,
            field: ip.into(),
            label: ip.into(),
        });
    }
    Probe {
        tenant: "t".into(),
        channel: "sms".into(),
        country: "LV".into(),
        targets,
        challenge_passed: false,
        low_score: false,
    }
}

/// Runs sends through [`decide`] on plain maps (what a backend does), approving each
/// allowed send with probability `conv` (deterministically: every k-th).
struct Sim {
    p: GuardPolicy,
    tallies: std::collections::HashMap<(Level, String), Tally>,
    blocks: std::collections::HashMap<(Level, String), Prior>,
}

impl Sim {
    fn new() -> Self {
        Sim {
            p: policy(),
            tallies: Default::default(),
            blocks: Default::default(),
        }
    }

    fn send(&mut self, pr: &Probe, now: Millis) -> PumpVerdict {
        let key = |t: &Target| (t.level, t.field.clone());
        let tallies: Vec<_> = pr
            .targets
            .iter()
            .map(|t| self.tallies.get(&key(t)).copied())
            .collect();
        let priors: Vec<_> = pr
            .targets
            .iter()
            .map(|t| self.blocks.get(&key(t)).copied())
            .collect();
        let d = decide(&self.p, pr, &tallies, &priors, now);
        for (t, new) in pr.targets.iter().zip(d.tallies) {
            if let Some(new) = new {
                self.tallies.insert(key(t), new);
            }
        }
        for trip in d.verdict.trips.iter().filter(|t| t.new && t.until_ms > 0) {
            self.blocks.insert(
                (trip.level, trip.field.clone()),
                Prior {
                    until_ms: trip.until_ms,
                    strikes: trip.strikes,
                    action: trip.action,
                    explain: trip.explain,
                },
            );
        }
        d.verdict
    }

    fn approve(&mut self, pr: &Probe, now: Millis) {
        for t in &pr.targets {
            let k = (t.level, t.field.clone());
            let old = self.tallies.get(&k).copied();
            self.tallies.insert(k, approve(old, &self.p, now));
        }
    }
}

#[test]
fn a_prefix_that_never_converts_is_blocked_within_a_dozen_sends_and_stays_blocked() {
    let mut sim = Sim::new();
    // The tenant's real traffic elsewhere: 80 % typed back.
    let mut home = probe("+4420000", None);
    home.targets[1].field = "GB".into();
    for i in 0..400 {
        sim.send(&home, i * 1000);
        if i % 5 != 0 {
            sim.approve(&home, i * 1000 + 500);
        }
    }
    let pr = probe("+3712000", None);
    let mut through = 0;
    for i in 0..200 {
        let v = sim.send(&pr, 1_000_000 + i * 1000);
        if !v.refuses() {
            through += 1;
        } else {
            assert_eq!(v.cause().unwrap().level, Level::Prefix, "{v:?}");
        }
    }
    assert!((5..=20).contains(&through), "let through {through}");
    // An hour later the block has ended; the level is on probation (no budget), so a
    // couple of sends at most go through before a second, longer block.
    let later = 1_000_000 + 200_000 + 3_700_000;
    let verdicts: Vec<_> = (0..10).map(|i| sim.send(&pr, later + i * 1000)).collect();
    let again = verdicts.iter().filter(|v| !v.refuses()).count();
    assert!(again <= 3, "{again} through after the block");
    let second = verdicts.iter().find_map(|v| v.cause().filter(|c| c.new));
    assert_eq!(
        second.map(|c| c.strikes),
        Some(2),
        "the repeat is a second strike"
    );
}

#[test]
fn a_prefix_that_converts_like_real_traffic_is_never_blocked() {
    let mut sim = Sim::new();
    let pr = probe("+3712001", None);
    for i in 0..500 {
        let now = i * 20_000;
        let v = sim.send(&pr, now);
        assert!(!v.refuses(), "send {i}: {v:?}");
        if i % 5 != 0 {
            sim.approve(&pr, now + 30_000);
        }
    }
}

#[test]
fn a_passed_challenge_goes_through_and_counts() {
    let mut sim = Sim::new();
    let mut outcomes = Vec::new();
    for i in 0..40 {
        let pr = probe(&format!("+37120{i:02}"), Some("ip1"));
        outcomes.push(sim.send(&pr, i * 1000).outcome);
    }
    let first = outcomes
        .iter()
        .position(|o| *o == Outcome::Challenge)
        .expect("challenged");
    assert!(first < 20, "{outcomes:?}");
    let mut pr = probe("+3712099", Some("ip1"));
    pr.challenge_passed = true;
    let v = sim.send(&pr, 50_000);
    assert_eq!(v.outcome, Outcome::Allowed, "{v:?}");
    assert!(v
        .trips
        .iter()
        .any(|t| t.level == Level::Ip && t.action == Action::Challenge));
}

#[test]
fn shadow_reports_and_never_refuses() {
    let mut sim = Sim::new();
    for l in sim.p.levels.iter_mut().flatten() {
        l.action = Action::Shadow;
    }
    let pr = probe("+3712100", None);
    let mut reported = 0;
    for i in 0..100 {
        let v = sim.send(&pr, i * 1000);
        assert_eq!(v.outcome, Outcome::Allowed);
        reported += v.trips.len();
    }
    assert!(reported > 50, "{reported}");
    assert!(sim.blocks.is_empty());
}

#[test]
fn tallies_round_trip_and_decay_by_their_time_constants() {
    let p = policy();
    let t = Tally {
        rs: 10_000,
        ra: 5_000,
        ls: 20_000,
        la: 8_000,
        t: 0,
    };
    assert_eq!(Tally::decode(&t.encode()), Some(t));
    let d = t.decayed(3_600_000, &p);
    assert_eq!(d.rs, 3_679, "one time constant: 1/e");
    assert!(d.ls > 19_000);
    assert_eq!(t.decayed(-5, &p), t, "a clock behind decays nothing");
}

#[test]
fn blocks_double_up_to_the_cap() {
    let p = policy();
    let h = 3_600_000;
    assert_eq!(
        (1..=5).map(|s| block_len(&p, s)).collect::<Vec<_>>(),
        [h, 2 * h, 4 * h, 4 * h, 4 * h]
    );
}

#[test]
fn switching_a_tenant_to_shadow_releases_its_blocks() {
    let mut sim = Sim::new();
    let pr = probe("+3712200", None);
    let refused = (0..40)
        .filter(|i| sim.send(&pr, i * 1000).refuses())
        .count();
    assert!(refused > 0);
    for l in sim.p.levels.iter_mut().flatten() {
        l.action = Action::Shadow;
    }
    let v = sim.send(&pr, 41_000);
    assert_eq!(v.outcome, Outcome::Allowed, "{v:?}");
    assert!(v.trips.iter().all(|t| t.action == Action::Shadow), "{v:?}");
}

#[test]
fn a_passed_challenge_does_not_strike_its_level_again() {
    let mut sim = Sim::new();
    let mut i = 0;
    while sim
        .send(&probe(&format!("+3713{i:03}"), Some("ipx")), i * 1000)
        .outcome
        != Outcome::Challenge
    {
        i += 1;
    }
    let mut pr = probe("+3713999", Some("ipx"));
    pr.challenge_passed = true;
    for k in 0..5 {
        let v = sim.send(&pr, (i + 1 + k) * 1000);
        let ip: Vec<_> = v.trips.iter().filter(|t| t.level == Level::Ip).collect();
        assert_eq!(ip.len(), 1, "{v:?}");
        assert_eq!((ip[0].new, ip[0].strikes), (false, 1), "{v:?}");
    }
}
