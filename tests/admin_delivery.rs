//! `GET /v1/admin/providers` and `GET /v1/admin/queues` through the real gateway: a
//! provider that refuses connections opens its breaker and shows so beside the one that
//! took the message; the send queue drains to zero; an events receiver that refuses
//! leaves an event waiting; with Redis stopped the queues answer `503` and the providers
//! still answer; no key is `401`, a tenant's key `403`.

mod support;

use otpgw::providers::{webhook, ProviderConfig};
use serde_json::Value;
use std::time::{Duration, Instant};
use support::app::{number, Resp};
use support::redis::RedisServer;
use support::{spawn_app, Backend, TestApp};

const ADMIN_KEY: &str = "otpgw_admin_key_for_admin_delivery_tests";

/// A port nothing listens on: connections are refused at once.
const REFUSED: &str = "http://127.0.0.1:1";

async fn admin_get(app: &TestApp, path: &str) -> Resp {
    let req = app.http.get(app.url(path)).bearer_auth(ADMIN_KEY);
    app.send(req).await
}

/// Polls `path` until `done` holds for its JSON (5 s at most).
async fn until(app: &TestApp, path: &str, done: impl Fn(&Value) -> bool) -> Value {
    let t = Instant::now();
    loop {
        let r = admin_get(app, path).await;
        assert_eq!(r.status, 200, "{}", r.text);
        if done(&r.body) {
            return r.body;
        }
        assert!(t.elapsed() < Duration::from_secs(5), "{path}: {}", r.text);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn admin(c: &mut otpgw::Config) {
    c.admin.api_keys = vec![otpgw::crypto::hash_api_key(ADMIN_KEY)];
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn providers_show_each_instance_with_its_channels_and_breaker() {
    let app = spawn_app(Backend::Memory, |c| {
        admin(c);
        let down = webhook::Config {
            url: format!("{REFUSED}/sms"),
            timeout_ms: 300,
            ..Default::default()
        };
        c.providers
            .insert("down".into(), ProviderConfig::Webhook(down));
        c.routing.default = vec!["down".into(), "console".into()];
        c.delivery.breaker.consecutive_failures = 1;
        c.delivery.breaker.open_ms = 600_000;
    })
    .await;
    let before = admin_get(&app, "/v1/admin/providers").await;
    assert_eq!(before.status, 200, "{}", before.text);
    let find = |body: &Value, name: &str| {
        body["providers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no {name}: {body}"))
    };
    assert_eq!(find(&before.body, "down")["breaker"], "closed");

    let to = number();
    assert_eq!(app.start(&to).await.status, 201);
    let body = until(&app, "/v1/admin/providers", |b| {
        find(b, "down")["breaker"] == "open"
    })
    .await;
    let down = find(&body, "down");
    assert_eq!(down["kind"], "webhook");
    assert_eq!(down["channels"], serde_json::json!(["sms"]));
    assert_eq!(down["binds"], serde_json::json!([]));
    let console = find(&body, "console");
    assert_eq!(
        (console["kind"].as_str(), console["breaker"].as_str()),
        (Some("console"), Some("closed"))
    );
    assert!(
        !app.messages_to(&to).await.is_empty(),
        "the console took it"
    );

    // No key (loopback too) is 401; a tenant's key is 403.
    let r = app.send(app.http.get(app.url("/v1/admin/providers"))).await;
    assert_eq!((r.status, r.code()), (401, "unauthorized"), "{}", r.text);
    let r = app.get("/v1/admin/providers").await;
    assert_eq!((r.status, r.code()), (403, "forbidden"), "{}", r.text);
    let r = app.get("/v1/admin/queues").await;
    assert_eq!((r.status, r.code()), (403, "forbidden"), "{}", r.text);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_events_the_queues_show_the_sends_and_null_events() {
    let app = spawn_app(Backend::Memory, admin).await;
    let to = number();
    assert_eq!(app.start(&to).await.status, 201);
    let body = until(&app, "/v1/admin/queues", |b| b["sends"]["pending"] == 0).await;
    assert_eq!(body["sends"]["dead"], 0, "{body}");
    assert_eq!(body["sends"]["oldest_age_ms"], Value::Null, "{body}");
    assert_eq!(
        body["events"],
        Value::Null,
        "no tenant has [events]: {body}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queues_show_events_waiting_and_answer_503_with_the_store_down() {
    let redis = RedisServer::start();
    let url = redis.url();
    let app = spawn_app(Backend::Redis, move |c| {
        admin(c);
        c.store.redis.url = otpgw::config::Secret(url);
        let t = c.tenants.get_mut("demo").unwrap();
        t.events = Some(otpgw::config::EventsConfig {
            url: format!("{REFUSED}/events"),
            secret: support::webhook_rx::secret(1).into(),
            types: vec!["delivery.sent".into()],
            retry_secs: 3600,
            timeout_ms: 300,
            ..Default::default()
        });
    })
    .await;
    assert_eq!(app.start(&number()).await.status, 201);
    let body = until(&app, "/v1/admin/queues", |b| {
        b["sends"]["pending"] == 0 && b["events"]["waiting"] == 1
    })
    .await;
    assert_eq!(body["events"]["dead"], 0, "{body}");

    redis.stop();
    let r = admin_get(&app, "/v1/admin/queues").await;
    assert_eq!(
        (r.status, r.code()),
        (503, "store_unavailable"),
        "{}",
        r.text
    );
    let r = admin_get(&app, "/v1/admin/providers").await;
    assert_eq!(r.status, 200, "the providers need no store: {}", r.text);
    assert!(!r.body["providers"].as_array().unwrap().is_empty());
    app.stop().await;
}
