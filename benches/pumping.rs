//! SMS-pumping simulator: the guard (memory backend, default thresholds) against a day
//! of traffic in simulated time.
//!
//! - Normal traffic: sends to numbers in 300 busy prefixes (so each prefix sees enough
//!   sends to be judged), 80 % of them approved 5 to 120 s after the send.
//! - Attack: steady sends to every number of two prefixes, never approved, for the
//!   whole day.
//!
//! Prints the sends let through to the attacked prefixes (before the first block and in
//! total) and the share of normal sends blocked. Run: `cargo bench --bench pumping`.

use otpgw::config::PumpingConfig;
use otpgw::ratelimit::pumping::{prefix_of, Bucket, MemoryPumps, PumpPolicy, PumpVerdict};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
}

fn bucket(number: &str) -> Bucket {
    let prefix = prefix_of(number).to_string();
    Bucket {
        tenant: "acme".into(),
        country: "XX".into(),
        field: prefix.clone(),
        prefix,
    }
}

struct Run {
    normal: u64,
    normal_blocked: u64,
    attack: u64,
    attack_through: u64,
    through_before_first_block: Vec<u64>,
    blocks: u64,
}

fn simulate(cfg: &PumpingConfig, normal_per_hour: u64, attack_per_hour: u64, seed: u64) -> Run {
    let policy = PumpPolicy {
        window_ms: cfg.window_secs * 1000,
        min_sends: cfg.min_sends,
        min_conversion: cfg.min_conversion,
        block_ms: cfg.block_secs * 1000,
        max_block_ms: cfg.max_block_secs * 1000,
        shadow: false,
    };
    let pumps = MemoryPumps::default();
    let mut rng = Rng(seed);
    let day_ms: i64 = 24 * 3600 * 1000;
    // Every send of the day, in time order: (time, is_attack, number).
    let mut sends: Vec<(i64, bool, String)> = Vec::new();
    let normal_total = normal_per_hour * 24;
    for _ in 0..normal_total {
        let t = rng.below(day_ms as u64) as i64;
        let prefix = 4_420_000 + rng.below(300);
        sends.push((t, false, format!("+{prefix}{:03}", rng.below(1000))));
    }
    let attack_total = attack_per_hour * 24;
    for i in 0..attack_total {
        let t = (i as i64) * day_ms / attack_total as i64;
        let prefix = if i % 2 == 0 { "+3712345" } else { "+3712346" };
        sends.push((t, true, format!("{prefix}{:03}", i / 2 % 1000)));
    }
    sends.sort();
    let mut approvals: BinaryHeap<Reverse<(i64, String)>> = BinaryHeap::new();
    let mut run = Run {
        normal: 0,
        normal_blocked: 0,
        attack: 0,
        attack_through: 0,
        through_before_first_block: vec![0, 0],
        blocks: 0,
    };
    let mut first_block_seen = [false, false];
    for (t, attack, number) in sends {
        while let Some(Reverse((at, _))) = approvals.peek() {
            if *at > t {
                break;
            }
            let Reverse((at, n)) = approvals.pop().unwrap();
            pumps.approve_now(&bucket(&n), policy.window_ms, at);
        }
        let verdict = pumps.send_now(&bucket(&number), &policy, t);
        let admitted = verdict == PumpVerdict::Ok;
        if matches!(verdict, PumpVerdict::BlockedNow { .. }) {
            run.blocks += 1;
        }
        if attack {
            run.attack += 1;
            let p = usize::from(number.starts_with("+3712346"));
            if matches!(verdict, PumpVerdict::BlockedNow { .. }) {
                first_block_seen[p] = true;
            }
            if admitted {
                run.attack_through += 1;
                if !first_block_seen[p] {
                    run.through_before_first_block[p] += 1;
                }
            }
        } else {
            run.normal += 1;
            if !admitted {
                run.normal_blocked += 1;
            } else if rng.chance(0.8) {
                approvals.push(Reverse((t + 5_000 + rng.below(115_000) as i64, number)));
            }
        }
    }
    run
}

fn main() {
    let cfg = PumpingConfig::default();
    println!(
        "pumping guard, defaults: window {} s, min_sends {}, min_conversion {}, first block {} s (doubling, max {} s)",
        cfg.window_secs, cfg.min_sends, cfg.min_conversion, cfg.block_secs, cfg.max_block_secs
    );
    println!("| normal sends/h | attack sends/h | normal sends | normal blocked | attack sends | let through before 1st block (per prefix) | let through in 24 h | blocks |");
    println!("|---|---|---|---|---|---|---|---|");
    // `cargo test --all-targets` runs this too (without `--bench`): one small case.
    let full = std::env::args().any(|a| a == "--bench");
    let cases: &[(u64, u64)] = if full {
        &[(10_000, 1_000), (10_000, 5_000), (50_000, 2_000)]
    } else {
        &[(1_000, 200)]
    };
    for &(normal, attack) in cases {
        let r = simulate(&cfg, normal, attack, 0x9E37_79B9_7F4A_7C15);
        assert!(
            r.normal_blocked * 1000 <= r.normal,
            "more than 0.1 % of normal traffic blocked"
        );
        println!(
            "| {normal} | {attack} | {} | {} ({:.4} %) | {} | {} / {} | {} ({:.2} %) | {} |",
            r.normal,
            r.normal_blocked,
            100.0 * r.normal_blocked as f64 / r.normal as f64,
            r.attack,
            r.through_before_first_block[0],
            r.through_before_first_block[1],
            r.attack_through,
            100.0 * r.attack_through as f64 / r.attack as f64,
            r.blocks
        );
    }
}
