//! The pumping guard's two backends agree: the same seeded traffic (several countries,
//! many areas, ranges and prefixes, a few sources, approvals arriving later, a pumping
//! burst and a slow drip, time moving by seconds to hours across generations, a small
//! `max_tracked` so levels overflow, blocks lifted now and then) goes through
//! `MemoryPumps` (the model in Rust) and through `RedisPumps` (`guard.lua` on a real
//! redis-server), and every verdict and the blocks at the end must be the same.

mod support;

use otpgw::backend::memory::MemoryPumps;
use otpgw::domain::Millis;
use otpgw::ratelimit::pumping::{block_of, Action, Block, Explain, GuardPolicy, Level};
use otpgw::ratelimit::pumping::{LevelPolicy, Outcome, Probe, PumpStore};
use otpgw::ratelimit::pumping::{PumpVerdict, Rule, Target, Trip, OVERFLOW};
use support::app::base_config;
use support::Backend;

/// splitmix64: a small seeded generator, the same traffic on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, p: f64) -> bool {
        ((self.next() >> 11) as f64 / (1u64 << 53) as f64) < p
    }
}

fn policy(max_tracked: u32, levels: [Option<(Action, f64, f64)>; 8]) -> GuardPolicy {
    GuardPolicy {
        recent_ms: 600_000,
        baseline_ms: 6 * 3_600_000,
        prior: 0.6,
        floor: 0.2,
        z: 2.0,
        lag_ms: 60_000,
        jump: 3.0,
        block_ms: 120_000,
        max_block_ms: 3_600_000,
        max_tracked,
        levels: levels.map(|l| {
            l.map(|(action, budget, drop)| LevelPolicy {
                action,
                budget,
                drop,
            })
        }),
    }
}

fn policies() -> [GuardPolicy; 2] {
    use Action::{Challenge as C, Enforce as E, Shadow as S};
    [
        policy(
            150,
            [
                None,
                Some((C, 20.0, 0.75)),
                Some((E, 6.0, 0.5)),
                Some((S, 2.0, 0.5)),
                Some((E, 3.0, 0.5)),
                Some((C, 3.0, 0.5)),
                Some((E, 3.0, 0.5)),
                Some((C, 3.0, 0.6)),
            ],
        ),
        policy(
            30,
            [
                None,
                Some((E, 25.0, 0.7)),
                Some((C, 5.0, 0.5)),
                Some((E, 3.0, 0.5)),
                Some((S, 1.5, 0.5)),
                Some((E, 2.5, 0.5)),
                None,
                Some((S, 2.0, 0.5)),
            ],
        ),
    ]
}

const COUNTRIES: [(&str, &str); 5] = [
    ("US", "+1415"),
    ("GB", "+447700"),
    ("LV", "+3712"),
    ("ID", "+62812"),
    ("NG", "+234803"),
];

/// A number in one of a few areas per country, with 4 ranges per area and 4 prefixes
/// per range, so levels repeat (14 characters: the area is its first 9).
fn number(r: &mut Rng, country: usize, area: u64, drip: bool) -> String {
    let cc = COUNTRIES[country].1;
    let (range, prefix) = if drip {
        (0, 0)
    } else {
        (r.below(4), r.below(4))
    };
    format!(
        "{cc}{area:0>w$}{range}{prefix}{:03}",
        r.below(1000),
        w = 9 - cc.len()
    )
}

/// `sources`: the real users' pools of addresses, sessions and devices, the attacker's
/// few own, or none.
#[derive(Clone, Copy, PartialEq)]
enum Sources {
    Users,
    Attacker,
    None,
}

fn probe(r: &mut Rng, tenant: &str, country: usize, to: &str, sources: Sources) -> Probe {
    let t = |level, field: String, label: String| Target {
        level,
        field,
        label,
    };
    let mut targets = vec![
        t(Level::Tenant, "all".into(), "all".into()),
        t(
            Level::Country,
            COUNTRIES[country].0.into(),
            COUNTRIES[country].0.into(),
        ),
    ];
    for level in [Level::Area, Level::Range, Level::Prefix] {
        let b = block_of(to, level).unwrap();
        targets.push(t(level, format!("h:{b}"), b.to_string()));
    }
    let pools = match sources {
        Sources::Users => [
            (Level::Ip, 0, 8),
            (Level::Session, 0, 14),
            (Level::Device, 0, 9),
        ],
        _ => [
            (Level::Ip, 100, 2),
            (Level::Session, 100, 3),
            (Level::Device, 100, 2),
        ],
    };
    for (level, from, pool) in pools {
        if sources != Sources::None && r.chance(0.7) {
            let v = from + r.below(pool);
            targets.push(t(level, format!("{}{v}", level.as_str()), format!("s{v}")));
        }
    }
    Probe {
        tenant: tenant.into(),
        channel: "sms".into(),
        country: COUNTRIES[country].0.into(),
        targets,
        challenge_passed: r.chance(0.1),
        low_score: r.chance(0.15),
    }
}

/// The explanations' numbers equal to 1e-9 (they are in fact bit for bit).
fn same_explain(x: &Explain, y: &Explain) -> bool {
    let n = |e: &Explain| {
        [
            e.sends,
            e.approvals,
            e.expected,
            e.baseline_sends,
            e.tolerance,
        ]
    };
    x.rule == y.rule && n(x).iter().zip(n(y)).all(|(u, v)| (u - v).abs() <= 1e-9)
}

fn same_verdict(m: &PumpVerdict, r: &PumpVerdict) -> bool {
    let key = |t: &Trip| {
        let label = (t.level, t.field.clone(), t.label.clone());
        (label, t.action, t.new, t.until_ms, t.strikes)
    };
    (m.outcome, m.overflowed, m.trips.len()) == (r.outcome, r.overflowed, r.trips.len())
        && m.trips
            .iter()
            .zip(&r.trips)
            .all(|(a, b)| key(a) == key(b) && same_explain(&a.explain, &b.explain))
}

fn same_blocks(m: &[Block], r: &[Block]) -> bool {
    m.len() == r.len()
        && m.iter().zip(r).all(|(a, b)| {
            let b2 = Block {
                explain: a.explain,
                ..b.clone()
            };
            *a == b2 && same_explain(&a.explain, &b.explain)
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_and_redis_give_the_same_verdicts() {
    let started = std::time::Instant::now();
    let (cfg, _) = base_config(Backend::Redis);
    let redis = support::store::gate(&cfg.store).pumps;
    let memory = MemoryPumps::default();
    let pols = policies();
    let tenants = ["ta", "tb"];
    let mut r = Rng(0x005e_ed0f_9a7e);
    let mut now: Millis = 1_700_000_000_000;
    let mut due: Vec<(Millis, Probe, usize)> = Vec::new();
    let mut seen = std::collections::BTreeMap::<&str, usize>::new();
    let mut count = |what, n: usize| *seen.entry(what).or_default() += n;
    const STEPS: usize = 6000;
    for step in 0..STEPS {
        // Every 600 steps a burst of 90 to a new area, in turn in each country.
        let burst = (300..390).contains(&(step % 600));
        let target = step / 600;
        now += match r.below(200) {
            _ if burst => 500 + r.below(4_000) as i64,
            0 => 3_600_000 + r.below(3 * 3_600_000) as i64,
            1..=6 => 60_000 + r.below(600_000) as i64,
            _ => 1000 + r.below(30_000) as i64,
        };
        // Approvals that have arrived by now, in the order they were typed.
        due.sort_by_key(|d| d.0);
        while due.first().is_some_and(|d| d.0 <= now) {
            let (at, pr, ti) = due.remove(0);
            memory.record_approval(&pr, &pols[ti], at).await.unwrap();
            redis.record_approval(&pr, &pols[ti], at).await.unwrap();
            count("approvals", 1);
        }
        let ti = r.below(2) as usize;
        let tenant = tenants[ti];
        // Real users convert ~75 %; the burst and a slow drip to one prefix never do.
        let drip = !burst && r.chance(0.1);
        let (country, area, conv, sources) = if burst && r.chance(0.7) {
            (target % 5, 70 + target as u64, 0.0, Sources::Attacker)
        } else if drip {
            (3, 5, 0.0, Sources::None)
        } else {
            let c = r.below(5) as usize;
            (c, r.below(4 + c as u64), 0.75, Sources::Users)
        };
        let to = number(&mut r, country, area, drip);
        let pr = probe(&mut r, tenant, country, &to, sources);
        let m = memory.send_now(&pr, &pols[ti], now);
        let v = redis.record_send(&pr, &pols[ti], now).await.unwrap();
        assert!(
            same_verdict(&m, &v),
            "step {step} at {now}: {pr:?}\nmemory {m:#?}\nredis {v:#?}"
        );
        count("refused", usize::from(m.refuses()));
        count("challenged", usize::from(m.outcome == Outcome::Challenge));
        count("overflowed", m.overflowed as usize);
        for t in &m.trips {
            count(
                if t.new {
                    "new trips"
                } else {
                    "refused by a block"
                },
                1,
            );
            count("shadow trips", usize::from(t.action == Action::Shadow));
            count("long-rule trips", usize::from(t.explain.rule == Rule::Long));
            count("overflow-entry trips", usize::from(t.field == OVERFLOW));
        }
        if !m.refuses() && r.chance(conv) {
            due.push((now + 5_000 + r.below(240_000) as i64, pr, ti));
        }
        if step % 97 == 96 {
            // An operator lifts one of the active blocks (or one that is not there).
            let list = memory.blocks(tenant, now).await.unwrap();
            let (level, field) = match list.get(r.below(list.len() as u64 + 1) as usize) {
                Some(b) => (b.level, b.field.clone()),
                None => (Level::Prefix, "h:none".to_string()),
            };
            let a = memory.lift(tenant, level, &field, &pols[ti], now).await;
            let b = redis.lift(tenant, level, &field, &pols[ti], now).await;
            let lifted = a.unwrap();
            assert_eq!(lifted, b.unwrap(), "lift at step {step}");
            count("lifted", usize::from(lifted));
        }
    }
    // Every block record, ended ones too (`blocks` lists those ending after the time
    // it is given), and the active ones.
    for (t, at) in [("ta", 0), ("tb", 0), ("ta", now), ("tb", now)] {
        let m = memory.blocks(t, at).await.unwrap();
        let v = redis.blocks(t, at).await.unwrap();
        assert!(same_blocks(&m, &v), "{t}: memory {m:#?}\nredis {v:#?}");
        count("block records", m.len());
    }
    eprintln!("{STEPS} steps in {:?}: {seen:?}", started.elapsed());
    let least = [
        ("refused", 300),
        ("challenged", 30),
        ("refused by a block", 300),
        ("new trips", 60),
        ("shadow trips", 20),
        ("long-rule trips", 20),
        ("overflowed", 1000),
        ("approvals", 2000),
        ("lifted", 5),
        ("block records", 4),
    ];
    for (what, n) in least {
        assert!(seen[what] >= n, "the traffic covers {what}: {seen:?}");
    }
    assert_eq!(
        seen["overflow-entry trips"], 0,
        "the overflow entry is never judged"
    );
}
