//! Delivery faults: failover, breakers, permanent rejections, rate caps, and a start that
//! cannot be queued.

mod support;

use otpgw::config::{Secret, StoreKind};
use otpgw::providers::{webhook, ProviderConfig};
use std::time::{Duration, Instant};
use support::app::{base_config, number, spawn_with};
use support::redis::RedisServer;
use support::sink::{Behaviour, Sink};
use support::{spawn_app, Backend, TestApp};

fn hook(url: String, timeout_ms: u64, max_tps: Option<u32>) -> ProviderConfig {
    ProviderConfig::Webhook(webhook::Config {
        url,
        timeout_ms,
        max_tps,
        ..Default::default()
    })
}

/// A gateway routing to providers `a` then `b`, each a webhook to its own sink.
async fn two_providers(a: &Sink, b: &Sink, tweak: impl FnOnce(&mut otpgw::Config)) -> TestApp {
    let (ua, ub) = (a.url(), b.url());
    spawn_app(Backend::Memory, move |c| {
        c.providers.insert("a".into(), hook(ua, 300, None));
        c.providers.insert("b".into(), hook(ub, 300, None));
        c.routing.default = vec!["a".into(), "b".into()];
        tweak(c);
    })
    .await
}

async fn wait_delivery(app: &TestApp, id: &str, want: &str) -> serde_json::Value {
    let t = Instant::now();
    loop {
        let r = app.fetch(id).await;
        if r.body["delivery"]["status"] == want {
            return r.body;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "delivery stuck at {}",
            r.body["delivery"]
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn start_id(app: &TestApp) -> String {
    let r = app.start(&number()).await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["id"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_500_fails_over_to_the_next_provider_and_is_delivered_once() {
    let (a, b) = (
        Sink::start(Behaviour::Status(500)).await,
        Sink::start(Behaviour::Ok).await,
    );
    let app = two_providers(&a, &b, |_| {}).await;
    let id = start_id(&app).await;
    let v = wait_delivery(&app, &id, "sent").await;
    assert_eq!(v["delivery"]["provider"], "b");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(a.received().len(), 1, "a was tried once");
    assert_eq!(b.received().len(), 1, "b delivered exactly once");
    assert_eq!(b.received()[0].body["id"], id.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_provider_times_out_fails_over_opens_its_breaker_and_closes_after_a_good_probe() {
    let (a, b) = (
        Sink::start(Behaviour::Hang).await,
        Sink::start(Behaviour::Ok).await,
    );
    let app = two_providers(&a, &b, |c| {
        c.delivery.breaker.consecutive_failures = 2;
        c.delivery.breaker.open_ms = 1_000;
    })
    .await;
    for _ in 0..4 {
        let id = start_id(&app).await;
        assert_eq!(
            wait_delivery(&app, &id, "sent").await["delivery"]["provider"],
            "b"
        );
    }
    assert_eq!(
        a.received().len(),
        2,
        "after 2 timeouts the breaker kept a out of rotation"
    );
    a.set(Behaviour::Ok);
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let probe = start_id(&app).await;
    assert_eq!(
        wait_delivery(&app, &probe, "sent").await["delivery"]["provider"],
        "a",
        "the probe went to a"
    );
    let after = start_id(&app).await;
    assert_eq!(
        wait_delivery(&app, &after, "sent").await["delivery"]["provider"],
        "a",
        "closed again"
    );
    assert_eq!(b.received().len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_account_fails_over_to_the_next_provider() {
    let (a, b) = (
        Sink::start(Behaviour::Status(401)).await,
        Sink::start(Behaviour::Ok).await,
    );
    let app = two_providers(&a, &b, |_| {}).await;
    let id = start_id(&app).await;
    let v = wait_delivery(&app, &id, "sent").await;
    assert_eq!(
        v["delivery"]["provider"], "b",
        "credentials refused at a: b delivers"
    );
    assert_eq!((a.received().len(), b.received().len()), (1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_rejection_is_not_failed_over_and_is_dead_lettered_with_the_reason() {
    let server = RedisServer::start();
    let (a, b) = (
        Sink::start(Behaviour::Status(400)).await,
        Sink::start(Behaviour::Ok).await,
    );
    let (mut cfg, prefix) = base_config(Backend::Memory);
    cfg.store.kind = StoreKind::Redis;
    cfg.store.redis.url = Secret(server.url());
    cfg.providers.insert("a".into(), hook(a.url(), 300, None));
    cfg.providers.insert("b".into(), hook(b.url(), 300, None));
    cfg.routing.default = vec!["a".into(), "b".into()];
    otpgw::providers::http::install_tls_provider();
    let app = spawn_with(cfg, prefix.clone(), Backend::Redis).await;
    let id = start_id(&app).await;
    let v = wait_delivery(&app, &id, "failed").await;
    assert_eq!(v["delivery"]["provider"], "a");
    let reason = v["delivery"]["reason"].as_str().unwrap_or_default();
    assert!(reason.starts_with("rejected by a: "), "{v}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(a.received().len(), 1, "not retried");
    assert!(
        b.received().is_empty(),
        "no failover after a permanent rejection"
    );
    let client = redis::Client::open(server.url()).unwrap();
    let mut con = client.get_connection().unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}:v1:*:dead"))
        .query(&mut con)
        .unwrap();
    let mut reasons = Vec::new();
    for k in keys {
        let entries: Vec<(String, Vec<String>)> = redis::cmd("XRANGE")
            .arg(&k)
            .arg("-")
            .arg("+")
            .query(&mut con)
            .unwrap();
        for (_, f) in entries {
            if f.chunks(2).any(|p| p[0] == "v" && p[1] == id) {
                reasons.extend(
                    f.chunks(2)
                        .filter(|p| p[0] == "reason")
                        .map(|p| p[1].clone()),
                );
            }
        }
    }
    assert_eq!(reasons.len(), 1, "dead-lettered once");
    assert!(reasons[0].contains("rejected by a"), "{reasons:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_providers_send_rate_cap_is_respected_and_the_rest_fails_over() {
    let (a, b) = (
        Sink::start(Behaviour::Ok).await,
        Sink::start(Behaviour::Ok).await,
    );
    let (ua, ub) = (a.url(), b.url());
    let app = spawn_app(Backend::Memory, move |c| {
        c.providers.insert("a".into(), hook(ua, 1000, Some(2)));
        c.providers.insert("b".into(), hook(ub, 1000, None));
        c.routing.default = vec!["a".into(), "b".into()];
    })
    .await;
    let started = Instant::now();
    // All ten at once, so the cap (not a slow machine) decides who goes where.
    let ids: Vec<String> = futures_util::future::join_all((0..10).map(|_| start_id(&app))).await;
    for id in &ids {
        wait_delivery(&app, id, "sent").await;
    }
    let window = started.elapsed().as_secs_f64();
    let via_a = a.received().len() as f64;
    // Two per second, plus the initial burst of the bucket.
    assert!(
        via_a <= 2.0 * window + 2.0,
        "{via_a} sends through a in {window:.2} s"
    );
    assert_eq!(
        a.received().len() + b.received().len(),
        10,
        "every message went out once"
    );
    assert!(!b.received().is_empty(), "the overflow failed over to b");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_that_cannot_be_queued_answers_503_and_writes_nothing() {
    let server = RedisServer::start();
    let (mut cfg, prefix) = base_config(Backend::Memory);
    cfg.store.kind = StoreKind::Redis;
    cfg.store.redis.url = Secret(server.url());
    cfg.store.redis.shards = 4;
    otpgw::providers::http::install_tls_provider();
    // Damage every shard's send stream: the enqueue step of a start fails.
    for s in 0..4 {
        server.cli(&[
            "SET",
            &format!("{prefix}:v1:{{s{s:04x}}}:q"),
            "not-a-stream",
        ]);
    }
    let app = spawn_with(cfg, prefix.clone(), Backend::Redis).await;
    let to = number();
    let r = app.start(&to).await;
    assert_eq!(r.status, 503, "{}", r.text);
    assert_eq!(r.code(), "store_unavailable");
    assert!(r.header("retry-after").is_some());
    let keys = server.cli(&["KEYS", &format!("{prefix}:*")]);
    let mut keys: Vec<&str> = keys.lines().collect();
    keys.sort();
    assert_eq!(
        keys.len(),
        4,
        "only the damaged streams exist, no record, index or counter: {keys:?}"
    );
    assert!(keys.iter().all(|k| k.ends_with(":q")));

    server.stop();
    let r = app.start(&number()).await;
    assert_eq!(r.status, 503, "Redis down at enqueue");
    server.restart();
    let keys = server.cli(&["KEYS", &format!("{prefix}:*")]);
    // Workers recreate their (empty) shard streams on the restarted Redis; what must not
    // exist is a record, an index or a counter.
    let half_made: Vec<&str> = keys.lines().filter(|k| !k.ends_with(":q")).collect();
    assert!(half_made.is_empty(), "nothing half-made: {half_made:?}");
}
