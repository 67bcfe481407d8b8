//! The pumping guard's state, one suite over memory, Redis and Redis Cluster: blocks,
//! their listing and lifting, approvals, shadow mode and the overflow cap. The rules
//! themselves are unit-tested in `src/ratelimit/pumping/model_tests.rs`; the simulator
//! (`benches/pumping.rs`) measures them against attacks.

mod support;

use otpgw::config::PumpingConfig;
use otpgw::domain::now_millis;
use otpgw::ratelimit::pumping::{Action, GuardPolicy, Level, Outcome, Probe, PumpStore, Target};
use otpgw::ratelimit::Backends;
use otpgw::service::guard_policy;
use support::app::base_config;
use support::Backend;

fn backends(b: Backend) -> Backends {
    let (cfg, _) = base_config(b);
    support::store::gate(&cfg.store)
}

fn tenant() -> String {
    format!("t{}", hex::encode(otpgw::crypto::random_bytes::<4>()))
}

fn policy() -> GuardPolicy {
    let mut c = PumpingConfig::default();
    c.levels.prefix.budget = 1.0;
    c.block_secs = 10;
    c.max_block_secs = 60;
    guard_policy(&c)
}

fn probe(t: &str, prefix: &str) -> Probe {
    let target = |level, field: &str| Target {
        level,
        field: field.into(),
        label: field.into(),
    };
    Probe {
        tenant: t.into(),
        channel: "sms".into(),
        country: "US".into(),
        targets: vec![
            target(Level::Tenant, "all"),
            target(Level::Country, "US"),
            target(Level::Prefix, prefix),
        ],
        challenge_passed: false,
        low_score: false,
    }
}

/// Sends until the guard refuses; the number of sends let through.
async fn until_refused(g: &dyn PumpStore, pr: &Probe, p: &GuardPolicy, now: i64) -> usize {
    for i in 0..100 {
        if g.record_send(pr, p, now).await.unwrap().refuses() {
            return i;
        }
    }
    panic!("never refused");
}

async fn a_prefix_without_approvals_is_blocked_listed_and_lifted(b: Backend) {
    let be = backends(b);
    let (t, p, now) = (tenant(), policy(), now_millis());
    let pr = probe(&t, "+14155550");
    let through = until_refused(&*be.pumps, &pr, &p, now).await;
    assert!((3..=12).contains(&through), "{through}");
    let v = be.pumps.record_send(&pr, &p, now + 1).await.unwrap();
    assert_eq!(v.outcome, Outcome::Blocked);
    let cause = v.cause().unwrap();
    assert_eq!(
        (cause.level, cause.new, cause.strikes),
        (Level::Prefix, false, 1)
    );
    assert_eq!(cause.until_ms - (now + 1), 9_999);
    let other = probe(&t, "+14155551");
    assert!(!be
        .pumps
        .record_send(&other, &p, now)
        .await
        .unwrap()
        .refuses());

    let blocks = be.pumps.blocks(&t, now).await.unwrap();
    assert_eq!(blocks.len(), 1, "{blocks:?}");
    let bl = &blocks[0];
    assert_eq!(
        (
            bl.level,
            bl.label.as_str(),
            bl.country.as_str(),
            bl.strikes,
            bl.action
        ),
        (Level::Prefix, "+14155550", "US", 1, Action::Enforce)
    );
    assert!(
        bl.explain.sends >= 3.0 && bl.explain.approvals == 0.0,
        "{bl:?}"
    );
    assert!(
        bl.explain.expected > 0.0 && bl.explain.tolerance > 0.0,
        "{bl:?}"
    );

    assert!(be
        .pumps
        .lift(&t, Level::Prefix, "+14155550", &p, now)
        .await
        .unwrap());
    assert!(!be
        .pumps
        .lift(&t, Level::Prefix, "+14155550", &p, now)
        .await
        .unwrap());
    assert!(be.pumps.blocks(&t, now).await.unwrap().is_empty());
    // Lifting forgets the counts and the strikes: the prefix starts on its budget again.
    assert_eq!(until_refused(&*be.pumps, &pr, &p, now).await, through);
    let v = be.pumps.record_send(&pr, &p, now).await.unwrap();
    assert_eq!(v.cause().unwrap().strikes, 1);
}

async fn a_block_that_ends_on_a_still_pumped_prefix_trips_again_and_doubles(b: Backend) {
    let be = backends(b);
    let (t, p, now) = (tenant(), policy(), now_millis());
    let pr = probe(&t, "+14155552");
    until_refused(&*be.pumps, &pr, &p, now).await;
    let v = be.pumps.record_send(&pr, &p, now + 10_001).await.unwrap();
    let cause = v.cause().expect("refused at once");
    assert_eq!((cause.new, cause.strikes), (true, 2), "{v:?}");
    assert_eq!(
        cause.until_ms - (now + 10_001),
        20_000,
        "the second block is twice as long"
    );
}

async fn approvals_keep_a_prefix_open(b: Backend) {
    let be = backends(b);
    let (t, p, now) = (tenant(), policy(), now_millis());
    let pr = probe(&t, "+14155553");
    for i in 0..40 {
        let v = be.pumps.record_send(&pr, &p, now + i).await.unwrap();
        assert!(!v.refuses(), "send {i}: {v:?}");
        be.pumps.record_approval(&pr, &p, now + i).await.unwrap();
    }
    assert!(be.pumps.blocks(&t, now).await.unwrap().is_empty());
}

async fn shadow_mode_never_blocks(b: Backend) {
    let be = backends(b);
    let (t, now) = (tenant(), now_millis());
    let mut c = PumpingConfig::default();
    c.levels.prefix.budget = 1.0;
    c.mode = otpgw::config::PumpingMode::Shadow;
    let p = guard_policy(&c);
    let pr = probe(&t, "+14155554");
    let mut would = 0;
    for _ in 0..20 {
        let v = be.pumps.record_send(&pr, &p, now).await.unwrap();
        assert_eq!(v.outcome, Outcome::Allowed);
        would += v
            .trips
            .iter()
            .filter(|t| t.action == Action::Shadow)
            .count();
    }
    assert!(would >= 10, "{would}");
    assert!(be.pumps.blocks(&t, now).await.unwrap().is_empty());
}

async fn a_full_level_counts_newcomers_in_its_overflow_entry(b: Backend) {
    let be = backends(b);
    let (t, now) = (tenant(), now_millis());
    let p = guard_policy(&PumpingConfig {
        max_tracked: 3,
        ..PumpingConfig::default()
    });
    let mut overflowed = 0;
    for i in 0..10 {
        let pr = probe(&t, &format!("+1415556{i}"));
        overflowed += be.pumps.record_send(&pr, &p, now).await.unwrap().overflowed;
    }
    // Tenant and country are one entry each; three prefixes fit, seven overflow.
    assert_eq!(overflowed, 7);
}

support::on_every_backend_kind!(
    a_prefix_without_approvals_is_blocked_listed_and_lifted,
    a_block_that_ends_on_a_still_pumped_prefix_trips_again_and_doubles,
    approvals_keep_a_prefix_open,
    shadow_mode_never_blocks,
    a_full_level_counts_newcomers_in_its_overflow_entry,
);
