//! One Redis node with the pumping guard on: the guard's decision runs inside a start's
//! one script (a refused start is one script too, and writes no verification) and a
//! check that approves counts the approval inside its own one script.

mod support;

use otpgw::config::{PumpingMode, Secret};
use std::time::Duration;
use support::app::{number, TestApp};
use support::redis::RedisServer;
use support::{spawn_app, Backend};

/// Scripts run on `redis` so far, once no flow is running any more (delivery runs its
/// own scripts a moment after a start).
async fn settled_calls(redis: &RedisServer) -> u64 {
    let calls = || {
        let stats = redis.cli(&["INFO", "commandstats"]);
        let line = stats.lines().find(|l| l.starts_with("cmdstat_evalsha:"));
        let calls = line.and_then(|l| l.split(['=', ',']).nth(1)?.parse::<u64>().ok());
        calls.unwrap_or(0)
    };
    let mut last = calls();
    loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let now = calls();
        if now == last {
            return now;
        }
        last = now;
    }
}

/// The tenant level's stored tally (`rs,ra,ls,la,t`) of the current generation.
fn tenant_tally(redis: &RedisServer, app: &TestApp) -> Vec<i64> {
    let keys = redis.cli(&[
        "KEYS",
        &format!("{}:v1:{{pg:demo}}:t:sms:tenant:*", app.prefix),
    ]);
    let key = keys.lines().max().expect("the tenant's tally");
    let v = redis.cli(&["HGET", key, "all"]);
    v.split(',').map(|x| x.parse().unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guard_decides_in_the_start_and_counts_in_the_check() {
    let redis = RedisServer::start();
    let url = redis.url();
    let app = spawn_app(Backend::Redis, move |c| {
        c.store.redis.url = Secret(url);
        let p = &mut c.tenants.get_mut("demo").unwrap().pumping;
        p.mode = PumpingMode::Enforce;
        p.levels.prefix.budget = 1.0;
        p.block_secs = 600;
    })
    .await;
    let n = number();
    let prefix = &n[..n.len() - 3];
    let mut sent = Vec::new();
    let refused = loop {
        let to = format!("{prefix}{:03}", sent.len());
        let before = settled_calls(&redis).await;
        let r = app.start(&to).await;
        if r.status != 201 {
            break (r, before);
        }
        sent.push(to);
        assert!(sent.len() < 40, "never refused");
    };
    let (r, before) = refused;
    assert_eq!(
        (r.status, r.body["reason"].as_str()),
        (403, Some("prefix_blocked")),
        "{}",
        r.text
    );
    assert_eq!(
        settled_calls(&redis).await - before,
        1,
        "a refused start is one script"
    );
    let blocks = redis.cli(&["HLEN", &format!("{}:v1:{{pg:demo}}:blocks", app.prefix)]);
    assert_eq!(blocks, "1");
    let tally = tenant_tally(&redis, &app);
    assert!(
        (tally[0] - 1000 * sent.len() as i64).abs() < 50 && tally[1] == 0,
        "sends counted (decayed a little), the refused one not, no approval yet: {tally:?}"
    );

    let wrong = support::app::wrong(&app.code_for(&sent[1]).await);
    let r = app.check(&sent[1], &wrong).await;
    assert_eq!(r.body["valid"], false, "{}", r.text);
    assert_eq!(
        tenant_tally(&redis, &app)[1],
        0,
        "a wrong code counts nothing (and loaded the check's script)"
    );

    let to = &sent[0];
    let code = app.code_for(to).await;
    let before = settled_calls(&redis).await;
    let r = app.check(to, &code).await;
    assert_eq!(r.body["status"], "approved", "{}", r.text);
    assert_eq!(
        settled_calls(&redis).await - before,
        1,
        "a check and its approval are one script"
    );
    assert_eq!(tenant_tally(&redis, &app)[1], 1000, "the approval counted");
}
