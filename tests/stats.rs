//! The fleet numbers and spend (`GET /v1/admin/stats`, `stats.*`): the shared per-minute
//! buckets on memory, one Redis and a Redis Cluster (increments from two instances sum
//! exactly, buckets expire at the retention), and the admin API over the real gateway
//! (the scenario's numbers, spend, bad parameters, the admin key, Redis down).

mod support;

use otpgw::config::{Secret, StoreConfig, StoreKind};
use otpgw::store::stats::Bump;
use serde_json::Value;
use std::time::Duration;
use support::{on_every_backend_kind, spawn_app, Backend, TestApp};

const ADMIN_KEY: &str = "otpgw_admin_key_for_stats_tests_only";

fn store_config(backend: Backend, prefix: &str) -> StoreConfig {
    let mut cfg = StoreConfig::default();
    cfg.redis.key_prefix = prefix.to_string();
    match backend {
        Backend::Memory => {}
        Backend::Redis => {
            cfg.kind = StoreKind::Redis;
            cfg.redis.url = Secret(support::redis::shared_redis().url());
        }
        Backend::Cluster => {
            cfg.kind = StoreKind::Redis;
            cfg.redis.cluster_nodes = support::redis::shared_cluster()
                .urls()
                .into_iter()
                .map(Secret)
                .collect();
        }
    }
    cfg
}

/// Sets the `console` instance's `[providers.console.prices]`.
fn price_console(c: &mut otpgw::config::Config, table: &[(&str, f64)]) {
    let Some(otpgw::providers::ProviderConfig::Console(p)) = c.providers.get_mut("console") else {
        panic!("the default config has a console provider");
    };
    p.prices = table.iter().map(|(k, v)| (k.to_string(), *v)).collect();
}

fn fresh_prefix() -> String {
    format!("st{}", hex::encode(otpgw::crypto::random_bytes::<5>()))
}

fn now_minute() -> i64 {
    otpgw::domain::now_millis() / 60_000
}

fn bump(minute: i64, tenant: &str, field: &str, n: i64) -> Bump {
    Bump {
        minute,
        tenant: tenant.into(),
        field: field.into(),
        n,
    }
}

fn total(bumps: &[Bump], minute: i64, tenant: &str, field: &str) -> i64 {
    bumps
        .iter()
        .filter(|b| b.minute == minute && b.tenant == tenant && b.field == field)
        .map(|b| b.n)
        .sum()
}

/// Two instances (two backends over one Redis; on memory, two flushers into one store)
/// flushing into the same minute, many times at once: the bucket holds the exact sum.
async fn two_instances_adding_to_one_minute_sum_exactly(backend: Backend) {
    let prefix = fresh_prefix();
    let keys = support::store::keys();
    let cfg = store_config(backend, &prefix);
    let a = otpgw::backend::build_with(&cfg, 100, &keys, 48)
        .unwrap()
        .stats;
    let b = match backend {
        Backend::Memory => a.clone(),
        _ => {
            otpgw::backend::build_with(&cfg, 100, &keys, 48)
                .unwrap()
                .stats
        }
    };
    let m = now_minute();
    let mut tasks = Vec::new();
    for i in 0..20 {
        let s = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            let flush = [
                bump(m, "t1", "sms|FR|tw|accepted", 3),
                bump(m, "t1", "sms|FR|-|starts", 1),
                bump(m, "t2", "sms|GB|-|starts", 2),
            ];
            s.add(&flush).await.unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let got = a.read(&["t1".into(), "t2".into()], m - 1, m).await.unwrap();
    assert_eq!(total(&got, m, "t1", "sms|FR|tw|accepted"), 60);
    assert_eq!(total(&got, m, "t1", "sms|FR|-|starts"), 20);
    assert_eq!(total(&got, m, "t2", "sms|GB|-|starts"), 40);
    let only_t2 = b.read(&["t2".into()], m, m).await.unwrap();
    assert_eq!(
        only_t2.len(),
        1,
        "a read names its tenants only: {only_t2:?}"
    );
}

/// A bucket lives `retention_hours`: in memory an older minute is dropped; on Redis each
/// bucket's hash carries a TTL of the retention (plus a minute) and no more.
async fn buckets_expire_at_the_retention(backend: Backend) {
    let prefix = fresh_prefix();
    let cfg = store_config(backend, &prefix);
    let stats = otpgw::backend::build_with(&cfg, 100, &support::store::keys(), 1)
        .unwrap()
        .stats;
    let m = now_minute();
    stats
        .add(&[
            bump(m, "t", "sms|FR|-|starts", 1),
            bump(m - 61, "t", "sms|FR|-|starts", 5),
        ])
        .await
        .unwrap();
    let got = stats.read(&["t".into()], m - 120, m).await.unwrap();
    assert_eq!(total(&got, m, "t", "sms|FR|-|starts"), 1);
    if backend == Backend::Memory {
        assert_eq!(total(&got, m - 61, "t", "sms|FR|-|starts"), 0, "{got:?}");
        return;
    }
    let key = format!("{prefix}:v1:st:t:{m}");
    let port = match backend {
        Backend::Redis => support::redis::shared_redis().port,
        _ => support::redis::shared_cluster().nodes[0].port,
    };
    let ttl: i64 = support::redis::cli(port, &["-c", "TTL", &key])
        .expect("redis-cli answers")
        .parse()
        .expect("a TTL");
    assert!((3000..=3660).contains(&ttl), "TTL of {key}: {ttl}");
}

/// A gateway on `backend` flushing every 100 ms, with an admin key and a price for the
/// console provider (0.05 by default, 0.08 in the US).
async fn gateway(backend: Backend) -> TestApp {
    spawn_app(backend, |c| {
        c.admin.api_keys = vec![otpgw::crypto::hash_api_key(ADMIN_KEY)];
        c.stats.flush_ms = 100;
        price_console(c, &[("default", 0.05), ("US", 0.08)]);
    })
    .await
}

async fn stats(app: &TestApp, query: &str, key: Option<&str>) -> (u16, Value) {
    let mut req = app.http.get(app.url(&format!("/v1/admin/stats{query}")));
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    let r = app.send(req).await;
    (r.status, r.body)
}

/// Three starts to US numbers, a fourth to one of them inside its resend cooldown
/// (refused), two right codes: the API answers 3 starts, 1 refusal, 3 accepted sends
/// through `console`, 2 approvals, conversion 0.6667 and a spend of 3 × 0.08, by
/// provider and by country, once the instance has flushed.
async fn the_api_answers_the_scenario_numbers(backend: Backend) {
    let app = gateway(backend).await;
    let numbers: Vec<String> = (0..3).map(|_| support::app::number()).collect();
    for n in &numbers {
        assert_eq!(app.start(n).await.status, 201);
    }
    assert_eq!(
        app.start(&numbers[0]).await.status,
        429,
        "inside the cooldown"
    );
    for n in &numbers[..2] {
        let code = app.code_for(n).await;
        assert_eq!(app.check(n, &code).await.body["valid"], true);
    }
    let mut body = Value::Null;
    for _ in 0..100 {
        let (status, b) = stats(&app, "?window=1h&by=provider", Some(ADMIN_KEY)).await;
        assert_eq!(status, 200, "{b}");
        body = b;
        let t = &body["totals"];
        if t["accepted"] == 3 && t["approvals"] == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let t = &body["totals"];
    assert_eq!(t["starts"], 3, "{body}");
    let refused: i64 = t["refused"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_i64().unwrap())
        .sum();
    assert_eq!(refused, 1, "{t}");
    assert_eq!(t["sends"], 3);
    assert_eq!(t["accepted"], 3);
    assert_eq!(t["failed"], 0);
    assert_eq!(t["approvals"], 2);
    assert_eq!(t["conversion"], 0.6667);
    assert!((t["spend"].as_f64().unwrap() - 0.24).abs() < 1e-9, "{t}");
    assert_eq!(body["window"], "1h");
    assert_eq!(body["step_seconds"], 60);
    let console = body["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["key"] == "console")
        .expect("a console group");
    assert_eq!(console["accepted"], 3);
    assert_eq!(console["series"].as_array().unwrap().len(), 60);
    assert!(
        (body["spend"]["per_provider"]["console"]["spend"]
            .as_f64()
            .unwrap()
            - 0.24)
            .abs()
            < 1e-9
    );
    assert!(
        (body["spend"]["per_country"]["US"]["spend"]
            .as_f64()
            .unwrap()
            - 0.24)
            .abs()
            < 1e-9
    );

    let (status, by_country) = stats(&app, "?window=48h&by=country", Some(ADMIN_KEY)).await;
    assert_eq!(status, 200);
    assert_eq!(by_country["step_seconds"], 3600);
    let us = &by_country["groups"][0];
    assert_eq!(
        (us["key"].as_str(), us["starts"].as_i64()),
        (Some("US"), Some(3))
    );
    assert_eq!(us["series"].as_array().unwrap().len(), 48);
    app.stop().await;
}

/// An unknown window, grouping or parameter is a `400 invalid_request` problem.
async fn bad_query_parameters_are_400(backend: Backend) {
    let app = gateway(backend).await;
    for q in [
        "?window=2h",
        "?by=planet",
        "?window=1h&color=red",
        "?window=",
    ] {
        let (status, body) = stats(&app, q, Some(ADMIN_KEY)).await;
        assert_eq!(status, 400, "{q}: {body}");
        assert_eq!(body["code"], "invalid_request", "{q}");
    }
    app.stop().await;
}

/// No key is `401`, a tenant's key (not an admin key) `403`, from loopback too.
async fn the_admin_key_is_required(backend: Backend) {
    let app = gateway(backend).await;
    let (status, _) = stats(&app, "", None).await;
    assert_eq!(status, 401);
    let tenant_key = app.key.clone();
    let (status, _) = stats(&app, "", Some(&tenant_key)).await;
    assert_eq!(status, 403);
    app.stop().await;
}

const SID: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "twilio-auth-token-for-stats-tests";
const MESSAGE: &str = "SM00000000000000000000000000000001";

/// Twilio's Messages resource, answering the documented 201 with a fixed sid.
async fn twilio_stand_in() -> String {
    support::twilio::messages_stand_in(MESSAGE).await
}

/// A status callback signed as Twilio signs it.
async fn twilio_receipt(app: &TestApp, params: &[(&str, &str)]) -> u16 {
    support::twilio::receipt(app, "https://otp.example.com", "tw", TOKEN, params).await
}

/// A send through Twilio (stand-in) and its signed `delivered` callback, sent twice: one
/// delivered, delivery rate 1, the latency in the first bucket (p50 and p95 of 2 s) for
/// `tw`, and the replayed receipt not counted again.
async fn a_delivered_receipt_counts_once_with_its_latency(backend: Backend) {
    let base = twilio_stand_in().await;
    let app = spawn_app(backend, move |c| {
        c.admin.api_keys = vec![otpgw::crypto::hash_api_key(ADMIN_KEY)];
        c.stats.flush_ms = 100;
        support::twilio::send_through(c, support::twilio::config(base, SID, TOKEN));
    })
    .await;
    let id = app.start(&support::app::number()).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let t = std::time::Instant::now();
    while app.fetch(&id).await.body["delivery"]["status"] != "sent" {
        assert!(t.elapsed() < Duration::from_secs(5), "never sent");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let delivered = [("MessageSid", MESSAGE), ("MessageStatus", "delivered")];
    assert_eq!(twilio_receipt(&app, &delivered).await, 200);
    assert_eq!(twilio_receipt(&app, &delivered).await, 200);
    let t = std::time::Instant::now();
    while stats(&app, "?by=provider", Some(ADMIN_KEY)).await.1["totals"]["delivered"] != 1 {
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "the receipt was never counted"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Several flushes later, the replay has still not been counted.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let body = stats(&app, "?by=provider", Some(ADMIN_KEY)).await.1;
    assert_eq!(body["totals"]["delivered"], 1, "{body}");
    assert_eq!(body["totals"]["accepted"], 1);
    assert_eq!(body["totals"]["delivery_rate"], 1.0);
    let tw = &body["latency"][0];
    assert_eq!(tw["provider"], "tw", "{body}");
    assert_eq!(
        (tw["p50_seconds"].as_i64(), tw["p95_seconds"].as_i64()),
        (Some(2), Some(2))
    );
    app.stop().await;
}

/// With the pumping guard enforcing a small prefix budget, starts into one prefix until
/// the guard refuses: each refusal is counted under its reason (`prefix_blocked`) and
/// adds what the route's first provider (`console`, 0.08 to the US) would have charged
/// to `spend_avoided`.
async fn a_guard_refusal_counts_the_spend_it_avoided(backend: Backend) {
    let app = spawn_app(backend, |c| {
        c.admin.api_keys = vec![otpgw::crypto::hash_api_key(ADMIN_KEY)];
        c.stats.flush_ms = 100;
        price_console(c, &[("US", 0.08)]);
        let p = &mut c.tenants.get_mut("demo").unwrap().pumping;
        p.mode = otpgw::config::PumpingMode::Enforce;
        p.levels.prefix.budget = 1.0;
        p.block_secs = 600;
    })
    .await;
    let n = support::app::number();
    let prefix = &n[..n.len() - 3];
    let mut refused = 0;
    for i in 0..60u32 {
        let r = app.start(&format!("{prefix}{:03}", i * 7 % 1000)).await;
        if r.status != 201 {
            assert_eq!(r.body["reason"], "prefix_blocked", "{}", r.text);
            refused += 1;
            if refused == 2 {
                break;
            }
        }
    }
    assert_eq!(refused, 2, "the guard never refused twice");
    let t = std::time::Instant::now();
    let body = loop {
        let b = stats(&app, "?by=country", Some(ADMIN_KEY)).await.1;
        if b["totals"]["refused"]["prefix_blocked"] == 2 {
            break b;
        }
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "refusals never counted: {b}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let avoided = body["totals"]["spend_avoided"].as_f64().unwrap();
    assert!((avoided - 0.16).abs() < 1e-9, "{body}");
    let us = body["spend"]["per_country"]["US"]["avoided"]
        .as_f64()
        .unwrap();
    assert!((us - 0.16).abs() < 1e-9, "{body}");
    app.stop().await;
}

on_every_backend_kind!(
    a_guard_refusal_counts_the_spend_it_avoided,
    a_delivered_receipt_counts_once_with_its_latency,
    two_instances_adding_to_one_minute_sum_exactly,
    buckets_expire_at_the_retention,
    the_api_answers_the_scenario_numbers,
    bad_query_parameters_are_400,
    the_admin_key_is_required,
);

/// With Redis unreachable the stats answer `503 store_unavailable`, saying what could
/// not be read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_is_503_with_a_clear_problem() {
    let port = support::redis::free_port();
    let app = spawn_app(Backend::Memory, |c| {
        c.admin.api_keys = vec![otpgw::crypto::hash_api_key(ADMIN_KEY)];
        c.store.kind = StoreKind::Redis;
        c.store.redis.url = Secret(format!("redis://127.0.0.1:{port}"));
        c.store.redis.connect_timeout_ms = 200;
        c.store.redis.command_timeout_ms = 200;
    })
    .await;
    let (status, body) = stats(&app, "?window=1h", Some(ADMIN_KEY)).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["code"], "store_unavailable");
    assert!(
        body["detail"]
            .as_str()
            .unwrap_or("")
            .contains("fleet numbers"),
        "{body}"
    );
    app.stop().await;
}
