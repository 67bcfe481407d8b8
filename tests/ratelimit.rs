//! The rate limiter, one suite over memory, Redis and
//! Redis Cluster (the limiters `otpgw::backend::build` picks from the store kind).

mod support;

use otpgw::domain::now_millis;
use otpgw::ratelimit::{Backends, Decision, Limit};
use std::time::Duration;
use support::app::base_config;
use support::Backend;

fn backends(b: Backend) -> Backends {
    let (cfg, _) = base_config(b);
    support::store::gate(&cfg.store)
}

fn tenant() -> String {
    format!("t{}", hex::encode(otpgw::crypto::random_bytes::<4>()))
}

fn lim(reason: &'static str, key: &str, quota: u32, window_ms: u64) -> Limit {
    Limit {
        reason,
        key: key.into(),
        quota,
        window_ms,
    }
}

support::on_every_backend_kind!(
    admits_the_quota_then_refuses_with_a_wait,
    admits_again_after_the_window,
    a_refusal_charges_no_other_limit,
    tenants_and_keys_are_independent,
    concurrent_requests_admit_exactly_the_quota,
    remaining_counts_down,
    a_numbers_limits_share_a_key_and_keep_each_others_state,
);

async fn admits_the_quota_then_refuses_with_a_wait(b: Backend) {
    let be = backends(b);
    let t = tenant();
    let l = [lim("number_per_minute", "n1", 5, 10_000)];
    for i in 0..5 {
        let d = be.limiter.acquire(&t, &l, now_millis()).await.unwrap();
        assert!(matches!(d, Decision::Allowed(_)), "request {i}: {d:?}");
    }
    match be.limiter.acquire(&t, &l, now_millis()).await.unwrap() {
        Decision::Denied {
            limit,
            retry_after_ms,
        } => {
            assert_eq!(limit.reason, "number_per_minute");
            assert!((1..=2000).contains(&retry_after_ms), "{retry_after_ms}");
        }
        d => panic!("{d:?}"),
    }
}

async fn admits_again_after_the_window(b: Backend) {
    let be = backends(b);
    let t = tenant();
    let l = [lim("tenant_sends", "", 3, 300)];
    let run = || async {
        let mut ok = 0;
        for _ in 0..5 {
            if let Decision::Allowed(_) = be.limiter.acquire(&t, &l, now_millis()).await.unwrap() {
                ok += 1;
            }
        }
        ok
    };
    assert_eq!(run().await, 3);
    tokio::time::sleep(Duration::from_millis(320)).await;
    assert_eq!(run().await, 3);
}

async fn a_refusal_charges_no_other_limit(b: Backend) {
    let be = backends(b);
    let t = tenant();
    let wide = lim("tenant_sends", "", 10, 60_000);
    let narrow = lim("number_per_minute", "n", 1, 60_000);
    let both = [wide.clone(), narrow];
    let now = now_millis();
    assert!(matches!(
        be.limiter.acquire(&t, &both, now).await.unwrap(),
        Decision::Allowed(_)
    ));
    for _ in 0..3 {
        match be.limiter.acquire(&t, &both, now).await.unwrap() {
            Decision::Denied { limit, .. } => assert_eq!(limit.reason, "number_per_minute"),
            d => panic!("{d:?}"),
        }
    }
    match be.limiter.acquire(&t, &[wide], now).await.unwrap() {
        Decision::Allowed(q) => assert_eq!(q[0].remaining, 8, "only two were charged"),
        d => panic!("{d:?}"),
    }
}

async fn tenants_and_keys_are_independent(b: Backend) {
    let be = backends(b);
    let (t1, t2) = (tenant(), tenant());
    let now = now_millis();
    let l = |k: &str| [lim("prefix", k, 1, 60_000)];
    for (t, k) in [(&t1, "a"), (&t1, "b"), (&t2, "a")] {
        assert!(matches!(
            be.limiter.acquire(t, &l(k), now).await.unwrap(),
            Decision::Allowed(_)
        ));
    }
    assert!(matches!(
        be.limiter.acquire(&t1, &l("a"), now).await.unwrap(),
        Decision::Denied { .. }
    ));
}

async fn concurrent_requests_admit_exactly_the_quota(b: Backend) {
    let be = backends(b);
    let t = tenant();
    let mut tasks = Vec::new();
    for _ in 0..60 {
        let (be, t) = (be.clone(), t.clone());
        tasks.push(tokio::spawn(async move {
            let l = [lim("country", "US", 12, 600_000)];
            be.limiter.acquire(&t, &l, now_millis()).await.unwrap()
        }));
    }
    let mut ok = 0;
    for task in tasks {
        if let Decision::Allowed(_) = task.await.unwrap() {
            ok += 1;
        }
    }
    assert_eq!(ok, 12);
}

async fn remaining_counts_down(b: Backend) {
    let be = backends(b);
    let t = tenant();
    let l = [lim("client_ip", "ip", 3, 3_600_000)];
    let mut seen = Vec::new();
    for _ in 0..3 {
        match be.limiter.acquire(&t, &l, now_millis()).await.unwrap() {
            Decision::Allowed(q) => {
                assert_eq!((q[0].quota, q[0].window_ms), (3, 3_600_000));
                assert!(q[0].reset_ms > 0 && q[0].reset_ms <= 3_600_000);
                seen.push(q[0].remaining);
            }
            d => panic!("{d:?}"),
        }
    }
    assert_eq!(seen, [2, 1, 0]);
}

/// Minute, hour and day of one number are stored in one Redis key; each keeps its own
/// state, also when a request names only some of them (a limit turned off meanwhile).
async fn a_numbers_limits_share_a_key_and_keep_each_others_state(b: Backend) {
    let be = backends(b);
    let t = tenant();
    let minute = lim("number_per_minute", "n1", 2, 400);
    let hour = lim("number_per_hour", "n1", 3, 60_000);
    let both = [minute.clone(), hour.clone()];
    let acquire = |l: Vec<Limit>| {
        let be = be.clone();
        let t = t.clone();
        async move { be.limiter.acquire(&t, &l, now_millis()).await.unwrap() }
    };
    for i in 0..2 {
        let d = acquire(both.to_vec()).await;
        assert!(matches!(d, Decision::Allowed(_)), "{i}: {d:?}");
    }
    let d = acquire(both.to_vec()).await;
    assert!(
        matches!(&d, Decision::Denied { limit, .. } if limit.reason == "number_per_minute"),
        "{d:?}"
    );
    // The hour alone: its own state (2 of 3 used), not the minute's.
    let d = acquire(vec![hour.clone()]).await;
    assert!(
        matches!(d, Decision::Allowed(ref q) if q[0].remaining == 0),
        "{d:?}"
    );
    tokio::time::sleep(Duration::from_millis(450)).await;
    // The minute has room again; the hour, charged 3 times, refuses.
    let d = acquire(both.to_vec()).await;
    assert!(
        matches!(&d, Decision::Denied { limit, .. } if limit.reason == "number_per_hour"),
        "{d:?}"
    );
    let d = acquire(vec![minute]).await;
    assert!(
        matches!(d, Decision::Allowed(_)),
        "the minute kept its state: {d:?}"
    );
    if b == Backend::Redis {
        let keys = support::redis::shared_redis().cli(&["KEYS", &format!("*{{rl:{t}}}:*")]);
        assert_eq!(keys.lines().count(), 1, "one key for the number: {keys}");
        assert!(keys.contains(&format!("{{rl:{t}}}:number:n1")), "{keys}");
    }
}
