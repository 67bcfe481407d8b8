//! Faults: the store going away and coming back, a webhook provider failing or hanging,
//! a full queue, and what is at rest in Redis after a run.

mod support;

use otpgw::config::Secret;
use otpgw::providers::{webhook, ProviderConfig};
use serde_json::json;
use std::time::{Duration, Instant};
use support::app::{base_config, number, spawn_with};
use support::redis::{RedisCluster, RedisServer};
use support::sink::{Behaviour, Sink};
use support::{spawn_app, Backend, TestApp};

async fn on_redis(server: &RedisServer, tweak: impl FnOnce(&mut otpgw::Config)) -> TestApp {
    otpgw::providers::webhook::install_tls_provider();
    let (mut cfg, prefix) = base_config(Backend::Memory);
    cfg.store.kind = otpgw::config::StoreKind::Redis;
    cfg.store.redis.url = Secret(server.url());
    cfg.store.redis.command_timeout_ms = 300;
    cfg.store.redis.connect_timeout_ms = 300;
    tweak(&mut cfg);
    spawn_with(cfg, prefix, Backend::Redis).await
}

async fn with_webhook(sink: &Sink, tweak: impl FnOnce(&mut otpgw::Config)) -> TestApp {
    let url = sink.url();
    spawn_app(Backend::Memory, move |c| {
        let hook = webhook::Config {
            url,
            timeout_ms: 300,
            ..Default::default()
        };
        c.providers
            .insert("hook".into(), ProviderConfig::Webhook(hook));
        c.routing.default = vec!["hook".into()];
        tweak(c);
    })
    .await
}

fn hook(c: &mut otpgw::Config) -> &mut webhook::Config {
    match c.providers.get_mut("hook") {
        Some(ProviderConfig::Webhook(w)) => w,
        _ => panic!("the webhook provider is configured"),
    }
}

async fn wait_delivery(app: &TestApp, id: &str, want: &str, secs: u64) -> serde_json::Value {
    let t = Instant::now();
    loop {
        let r = app.fetch(id).await;
        if r.body["delivery"]["status"] == want {
            return r.body;
        }
        assert!(
            t.elapsed() < Duration::from_secs(secs),
            "delivery stuck at {}",
            r.body["delivery"]
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_at_startup_gives_503_then_recovers_without_restart() {
    let server = RedisServer::start();
    server.stop();
    let app = on_redis(&server, |_| {}).await;
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status, 503);
    assert_eq!(ready.code(), "store_unavailable");
    assert!(ready.header("retry-after").is_some());
    let r = app.start(&number()).await;
    assert_eq!(r.status, 503, "{}", r.text);
    assert_eq!(r.code(), "store_unavailable");
    assert!(r.header("retry-after").is_some());
    assert!(
        !r.text.contains("127.0.0.1"),
        "no internals in the answer: {}",
        r.text
    );
    assert_eq!(app.check(&number(), "123456").await.status, 503);

    server.restart();
    let t = Instant::now();
    while app.get("/readyz").await.status != 200 {
        assert!(t.elapsed() < Duration::from_secs(10), "did not recover");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let to = number();
    assert_eq!(app.start(&to).await.status, 201);
    let code = app.code_for(&to).await;
    assert_eq!(app.check(&to, &code).await.body["valid"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restart_while_requests_flow_never_panics_or_hangs() {
    let server = RedisServer::start();
    let app = std::sync::Arc::new(on_redis(&server, |_| {}).await);
    let stop_at = Instant::now() + Duration::from_secs(3);
    let mut workers = Vec::new();
    for _ in 0..4 {
        let app = app.clone();
        workers.push(tokio::spawn(async move {
            let mut seen = std::collections::BTreeMap::<u16, usize>::new();
            while Instant::now() < stop_at {
                let r = tokio::time::timeout(Duration::from_secs(5), app.start(&number()))
                    .await
                    .expect("a request hung");
                *seen.entry(r.status).or_default() += 1;
            }
            seen
        }));
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    server.stop();
    tokio::time::sleep(Duration::from_millis(700)).await;
    server.restart();
    let mut total = std::collections::BTreeMap::<u16, usize>::new();
    for w in workers {
        for (k, v) in w.await.unwrap() {
            *total.entry(k).or_default() += v;
        }
    }
    // 429 only when two random numbers collide (a resend inside the cooldown).
    assert!(
        total.keys().all(|s| matches!(*s, 201 | 429 | 503)),
        "{total:?}"
    );
    assert!(total.get(&429).copied().unwrap_or(0) < 10, "{total:?}");
    assert!(
        total.get(&503).copied().unwrap_or(0) > 0,
        "the outage was seen: {total:?}"
    );
    let t = Instant::now();
    loop {
        if app.start(&number()).await.status == 201 {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "no recovery after restart"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_answering_500_is_retried_then_failed_before_expiry() {
    let sink = Sink::start(Behaviour::Status(500)).await;
    let app = with_webhook(&sink, |c| c.tenants.get_mut("demo").unwrap().ttl_secs = 1).await;
    let id = app.start(&number()).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let body = wait_delivery(&app, &id, "failed", 5).await;
    assert_eq!(body["delivery"]["provider"], "hook");
    let reason = body["delivery"]["reason"].as_str().unwrap_or_default();
    assert!(reason.starts_with("out of retries: "), "{body}");
    assert!(
        sink.received().len() >= 2,
        "retried: {} attempts",
        sink.received().len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_hanging_times_out_and_is_retried_then_failed() {
    let sink = Sink::start(Behaviour::Hang).await;
    let app = with_webhook(&sink, |c| c.tenants.get_mut("demo").unwrap().ttl_secs = 2).await;
    let id = app.start(&number()).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    wait_delivery(&app, &id, "failed", 6).await;
    assert!(
        sink.received().len() >= 2,
        "timed out and retried: {}",
        sink.received().len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_failing_twice_then_ok_is_sent_once_accepted() {
    let sink = Sink::start(Behaviour::FailFirst(2, 503)).await;
    let app = with_webhook(&sink, |_| {}).await;
    let id = app.start(&number()).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    wait_delivery(&app, &id, "sent", 5).await;
    let got = sink.received();
    assert_eq!(got.len(), 3);
    assert!(got.iter().all(|r| r.body["id"] == id.as_str()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        sink.received().len(),
        3,
        "nothing after the accepted attempt"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_permanent_rejection_is_not_retried() {
    let sink = Sink::start(Behaviour::Status(400)).await;
    let app = with_webhook(&sink, |_| {}).await;
    let id = app.start(&number()).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    wait_delivery(&app, &id, "failed", 5).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sink.received().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_wire_format_and_signature() {
    let sink = Sink::start(Behaviour::Ok).await;
    let secret = "whsec-test-0123456789";
    let app = with_webhook(&sink, |c| hook(c).signing_secret = Some(secret.into())).await;
    let to = number();
    let req = reqwest::Client::new()
        .post(app.url("/v1/verifications"))
        .bearer_auth(&app.key)
        .header("x-request-id", "req-abc-123")
        .json(&json!({"to": to, "locale": "fr", "metadata": {"order": 7}}));
    let r = app.send(req).await;
    assert_eq!(r.status, 201);
    let got = sink.wait_for(1, 5).await.remove(0);
    assert_eq!(got.headers["content-type"], "application/json");
    assert_eq!(got.headers["x-request-id"], "req-abc-123");
    let keys: Vec<&String> = got.body.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        ["body", "channel", "code", "id", "locale", "metadata", "to"]
    );
    assert_eq!(got.body["channel"], "sms");
    assert_eq!(got.body["to"], to.as_str());
    assert_eq!(got.body["locale"], "fr");
    assert_eq!(got.body["metadata"], json!({"order": 7}));
    assert_eq!(got.body["id"], r.body["id"]);
    assert!(got.body["body"]
        .as_str()
        .unwrap()
        .contains("code de vérification"));
    let sig = got.headers["x-otpgw-signature"].to_str().unwrap();
    let (t, v1) = sig.split_once(",v1=").unwrap();
    let t: u64 = t.strip_prefix("t=").unwrap().parse().unwrap();
    let mut signed = t.to_string().into_bytes();
    signed.push(b'.');
    signed.extend_from_slice(&got.raw);
    assert_eq!(v1, otpgw::crypto::hmac_hex(secret.as_bytes(), &signed));
    let now = otpgw::domain::now_millis() as u64 / 1000;
    assert!(now.abs_diff(t) < 60);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_queue_answers_503_and_marks_delivery_failed() {
    let sink = Sink::start(Behaviour::Delay(Duration::from_secs(2))).await;
    let app = with_webhook(&sink, |c| {
        c.delivery.concurrency = 1;
        // The capacity counts messages in flight too: one sending plus one waiting.
        c.delivery.queue_capacity = 2;
        hook(c).timeout_ms = 5_000;
    })
    .await;
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let r = app.start(&number()).await;
        if r.status == 503 {
            assert_eq!(r.code(), "store_unavailable");
            assert!(r.header("retry-after").is_some());
        }
        statuses.push(r.status);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        &statuses[..2],
        &[201, 201],
        "one sending, one queued: {statuses:?}"
    );
    assert!(statuses[2..].iter().all(|s| *s == 503), "{statuses:?}");
}

async fn no_plaintext_codes_or_numbers_at_rest(app: TestApp, urls: Vec<String>) {
    let mut codes = Vec::new();
    let mut numbers = Vec::new();
    for i in 0..20 {
        let to = number();
        let r = app
            .post("/v1/verifications", json!({"to": to, "code_length": 10}))
            .await;
        assert_eq!(r.status, 201);
        let code = app.code_for(&to).await;
        if i % 2 == 0 {
            app.check(&to, &support::app::wrong(&code)).await;
        } else {
            app.check(&to, &code).await;
        }
        codes.push(code);
        numbers.push(to);
    }
    let all = support::scan::scan_all(&urls, &app.prefix);
    assert!(
        all.len() >= 40,
        "records, indexes and counters were written: {}",
        all.len()
    );
    for stored in &all {
        let key = &stored.key;
        let hay = String::from_utf8_lossy(&stored.value);
        for (code, to) in codes.iter().zip(&numbers) {
            assert!(!key.contains(code.as_str()), "code in key {key}");
            assert!(!key.contains(&to[1..]), "number in key {key}");
            assert!(
                !hay.contains(code.as_str()),
                "plaintext code in the value of {key}"
            );
            assert!(
                !hay.contains(&to[1..]),
                "plaintext number in the value of {key}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_holds_no_plaintext_code_or_number() {
    let server = RedisServer::start();
    let app = on_redis(&server, |_| {}).await;
    no_plaintext_codes_or_numbers_at_rest(app, vec![server.url()]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_cluster_holds_no_plaintext_code_or_number() {
    let cluster = RedisCluster::start();
    let urls = cluster.urls();
    let (mut cfg, prefix) = base_config(Backend::Memory);
    cfg.store.kind = otpgw::config::StoreKind::Redis;
    cfg.store.redis.cluster_nodes = urls.iter().cloned().map(Secret).collect();
    otpgw::providers::webhook::install_tls_provider();
    let app = spawn_with(cfg, prefix, Backend::Cluster).await;
    no_plaintext_codes_or_numbers_at_rest(app, urls).await;
}
