//! SMS-pumping simulator: the guard (memory backend, the model's own `decide`, probes
//! built by the gateway's own `probe`) against a simulated day of a tenant's normal
//! traffic with one attack, or one innocent surprise, on top.
//!
//! Normal traffic: ~24 countries with real calling codes and mobile ranges, volumes
//! skewed like a real tenant's, a daily curve in each country's local time, 70-90 % of
//! users typing their code back after a log-normal delay (median 42 s), some resends,
//! client IPs (a few carrier NATs shared by many users), sessions and devices for most.
//! Three days of normal traffic come first, so the guard has its baselines.
//!
//! `cargo bench --bench pumping` runs every scenario at full size and prints the table
//! of `docs/abuse.md`; `cargo test --bench pumping` (no `--bench` argument) runs a small
//! version of three of them and asserts the targets. `PUMPING_CONFIG` (TOML, the
//! `[tenants.<id>.pumping]` keys) overrides the defaults; `PUMPING_ONLY` (names,
//! comma-separated) picks scenarios; `PUMPING_SENDS` (first sends per day) and
//! `PUMPING_SEED` change the tenant; `PUMPING_DEBUG` prints every trip.

mod gateway;
mod rng;
mod scenarios;
mod sim;
mod traffic;
mod world;

use otpgw::config::PumpingConfig;
use otpgw::ratelimit::pumping::Level;
use scenarios::Scenario;
use sim::{Params, Stats};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::Instant;

fn pct(n: u64, of: u64) -> String {
    if of == 0 {
        return "-".into();
    }
    let p = 100.0 * n as f64 / of as f64;
    let d = if p == 0.0 || p >= 1.0 { 1 } else { 3 };
    format!("{n} ({p:.d$} %)")
}

fn levels(m: &BTreeMap<Level, u64>) -> String {
    if m.is_empty() {
        return "none".into();
    }
    m.iter()
        .map(|(l, n)| format!("{} {n}", l.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn blocks(m: &BTreeMap<Level, (BTreeSet<String>, u64)>) -> String {
    if m.is_empty() {
        return "none".into();
    }
    let one = |(l, (set, trips)): (&Level, &(BTreeSet<String>, u64))| match *trips as usize {
        n if n == set.len() => format!("{} {n}", l.as_str()),
        n => format!("{} {} ({n} trips)", l.as_str(), set.len()),
    };
    m.iter().map(one).collect::<Vec<_>>().join(", ")
}

/// The targets: at most 5 % of attack sends and none after the attack's first hour,
/// at most 0.1 % of normal sends refused.
fn missed(sc: &Scenario, s: &Stats) -> Vec<&'static str> {
    let mut out = Vec::new();
    if sc.attack.is_some() {
        if s.through * 20 > s.attack {
            out.push("attack > 5 %");
        }
        if s.late > 0 {
            out.push("attack after 1st hour");
        }
    }
    if s.refused * 1000 > s.normal {
        out.push("normal refused > 0.1 %");
    }
    out
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let cfg: PumpingConfig = match std::env::var("PUMPING_CONFIG") {
        Ok(t) => toml::from_str(&t).expect("PUMPING_CONFIG"),
        Err(_) => PumpingConfig::default(),
    };
    let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<f64>().ok());
    let params = Params {
        sends_per_day: env("PUMPING_SENDS").unwrap_or(if full { 100_000.0 } else { 10_000.0 }),
        warmup_days: if full { 3 } else { 1 },
        seed: env("PUMPING_SEED").map_or(0x5EED, |s| s as u64),
    };
    let only = std::env::var("PUMPING_ONLY").ok();
    let small = ["concentrated", "thin spread", "marketing campaign"];
    let list: Vec<Scenario> = scenarios::all(if full { 1.0 } else { 0.2 }, &cfg)
        .into_iter()
        .filter(|s| match &only {
            Some(o) => o.split(',').any(|n| n.trim() == s.name),
            None => full || small.contains(&s.name),
        })
        .collect();
    println!(
        "pumping simulator: tenant of {} first sends/day (plus resends), {} warm-up day(s); settings: {cfg:?}",
        params.sends_per_day, params.warmup_days
    );
    let began = Instant::now();
    let pool = world::Pool::new(
        params.sends_per_day,
        params.warmup_days as f64 + 1.0,
        &mut rng::Rng::new(params.seed ^ 0x9001),
    );
    println!("numbers drawn in {:.1} s", began.elapsed().as_secs_f64());
    let results: Vec<Mutex<Option<(Stats, f64)>>> = list.iter().map(|_| Mutex::new(None)).collect();
    let threads = std::env::var("PUMPING_THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let next = Mutex::new(0usize);
    std::thread::scope(|s| {
        for _ in 0..threads.min(list.len()) {
            s.spawn(|| loop {
                let i = {
                    let mut n = next.lock().expect("queue");
                    *n += 1;
                    *n - 1
                };
                let Some(sc) = list.get(i) else { break };
                let t = Instant::now();
                let st = sim::run(sc, &cfg, &params, &pool);
                *results[i].lock().expect("result") = Some((st, t.elapsed().as_secs_f64()));
            });
        }
    });
    println!();
    println!("| scenario | attack sends | let through (24 h) | after its 1st hour | normal sends | refused | challenged | blocks by level | targets |");
    println!("|---|---|---|---|---|---|---|---|---|");
    let mut failures = Vec::new();
    let mut notes = Vec::new();
    for (sc, r) in list.iter().zip(&results) {
        let (st, secs) = r.lock().expect("result").take().expect("ran");
        let miss = missed(sc, &st);
        let attack = sc.attack.is_some();
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            sc.name,
            if attack {
                st.attack.to_string()
            } else {
                "-".into()
            },
            if attack {
                pct(st.through, st.attack)
            } else {
                "-".into()
            },
            if attack {
                st.late.to_string()
            } else {
                "-".into()
            },
            st.normal,
            pct(st.refused, st.normal),
            pct(st.challenged, st.normal),
            blocks(&st.blocks),
            if miss.is_empty() {
                "met".into()
            } else {
                format!("missed: {}", miss.join(", "))
            },
        );
        notes.push(format!(
            "- {}: {} ({secs:.1} s; normal refused by level: {}; warm-up: {} of {} refused; overflowed: {})",
            sc.name,
            sc.what,
            levels(&st.refused_by),
            st.warmup_refused,
            st.warmup_normal,
            st.overflowed
        ));
        if !miss.is_empty() {
            failures.push(format!("{}: {}", sc.name, miss.join(", ")));
        }
    }
    println!();
    for n in notes {
        println!("{n}");
    }
    println!(
        "\n{} scenario(s) in {:.1} s",
        list.len(),
        began.elapsed().as_secs_f64()
    );
    if !full {
        assert!(failures.is_empty(), "targets missed: {failures:?}");
    }
}
