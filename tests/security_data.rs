//! What the gateway keeps about people, and how much one caller can take from others:
//! idempotent answers hold no personal data and live no longer than their verification;
//! the per-IP limit keys IPv6 clients by network; one tenant's traffic never evicts
//! another tenant's verifications from the memory store.

mod support;

use otpgw::config::TenantConfig;
use serde_json::{json, Value};
use support::app::{abuse_off, number, Backend, TestApp};
use support::scan::scan_all;
use support::spawn_app;

const EMAIL: &str = "alice.secret@example.com";
const OTHER_KEY: &str = "otpgw_other_tenant_key_for_tests";

macro_rules! on {
    ($backends:tt: $($name:ident),* $(,)?) => { $( on!(@one $backends $name); )* };
    (@one [$($b:ident),*] $name:ident) => {
        mod $name { $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[allow(non_snake_case)]
            async fn $b() { super::$name(super::Backend::$b).await }
        )* }
    };
}

on!([Redis, Cluster]:
    idempotent_start_leaves_no_number_or_email_at_rest,
    idempotency_entry_expires_with_its_verification,
);
on!([Memory, Redis, Cluster]: replay_answers_the_same_until_the_verification_is_gone);
on!([Memory, Redis]:
    ipv6_clients_are_limited_by_their_64,
    ipv4_mapped_addresses_count_as_ipv4,
    a_56_setting_groups_wider,
);

fn redis_urls(b: Backend) -> Vec<String> {
    match b {
        Backend::Redis => vec![support::redis::shared_redis().url()],
        Backend::Cluster => support::redis::shared_cluster().urls(),
        Backend::Memory => panic!("no Redis behind the memory store"),
    }
}

async fn start_with_key(app: &TestApp, key: &str, body: Value) -> support::app::Resp {
    let req = app
        .http
        .post(app.url("/v1/verifications"))
        .bearer_auth(&app.key)
        .header("idempotency-key", key)
        .json(&body);
    app.send(req).await
}

fn personal(to: &str) -> Value {
    json!({"to": to, "metadata": {"email": EMAIL, "plan": "pro"}})
}

async fn idempotent_start_leaves_no_number_or_email_at_rest(b: Backend) {
    let app = spawn_app(b, |_| {}).await;
    let to = number();
    let key = format!("signup:{EMAIL}");
    let first = start_with_key(&app, &key, personal(&to)).await;
    assert_eq!(first.status, 201, "{}", first.text);
    let replay = start_with_key(&app, &key, personal(&to)).await;
    assert_eq!(
        replay.header("idempotent-replayed").as_deref(),
        Some("true")
    );
    app.code_for(&to).await;
    let digits = &to[1..];
    let key_hash = otpgw::crypto::sha256_hex(key.as_bytes());
    let all = scan_all(&redis_urls(b), &app.prefix);
    assert!(
        all.iter().any(|s| s.key.contains(":v:")),
        "the record was read"
    );
    assert!(
        all.iter().any(|s| s.key.contains(":{i")),
        "the idempotency entry was read"
    );
    for s in &all {
        let value = String::from_utf8_lossy(&s.value);
        for secret in [digits, EMAIL] {
            assert!(!s.key.contains(secret), "{secret} in key {}", s.key);
            assert!(
                !value.contains(secret),
                "{secret} in the value of {}",
                s.key
            );
        }
        assert!(
            !s.key.contains(&key_hash),
            "an unkeyed hash of the Idempotency-Key names {}",
            s.key
        );
    }
}

async fn idempotency_entry_expires_with_its_verification(b: Backend) {
    let app = spawn_app(b, |c| {
        let t = c.tenants.get_mut("demo").unwrap();
        t.ttl_secs = 300;
        t.retention_secs = 600;
    })
    .await;
    let r = start_with_key(&app, "k-ttl", personal(&number())).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["id"].as_str().unwrap();
    let all = scan_all(&redis_urls(b), &app.prefix);
    let record = all.iter().find(|s| s.key.ends_with(id)).expect("record");
    let idem = all.iter().find(|s| s.key.contains(":{i")).expect("entry");
    assert!(record.expires_at > 0 && idem.expires_at > 0);
    assert!(
        idem.expires_at <= record.expires_at,
        "the idempotency entry outlives its verification by {} s",
        (idem.expires_at - record.expires_at) / 1000
    );
}

async fn replay_answers_the_same_until_the_verification_is_gone(b: Backend) {
    let app = spawn_app(b, |c| c.tenants.get_mut("demo").unwrap().retention_secs = 1).await;
    let to = number();
    let first = start_with_key(&app, "k-gone", personal(&to)).await;
    assert_eq!(first.status, 201, "{}", first.text);
    assert_eq!(first.body["metadata"]["email"], EMAIL);
    let replay = start_with_key(&app, "k-gone", personal(&to)).await;
    assert_eq!((replay.status, &replay.body), (201, &first.body));
    let code = app.code_for(&to).await;
    assert_eq!(app.check(&to, &code).await.body["status"], "approved");
    let retained = start_with_key(&app, "k-gone", personal(&to)).await;
    assert_eq!(
        (retained.status, &retained.body),
        (201, &first.body),
        "within retention a replay answers the first answer"
    );
    tokio::time::sleep(std::time::Duration::from_millis(1300)).await;
    let gone = start_with_key(&app, "k-gone", personal(&to)).await;
    assert_eq!(
        (gone.status, gone.code()),
        (409, "idempotency_conflict"),
        "{}",
        gone.text
    );
    assert!(!gone.text.contains(&to[1..]) && !gone.text.contains(EMAIL));
    assert_eq!(app.messages_to(&to).await.len(), 1, "nothing sent again");
}

fn ip_limited(c: &mut otpgw::Config, per_hour: u32) {
    let t = c.tenants.get_mut("demo").unwrap();
    t.limits = abuse_off();
    t.limits.client_ip_per_hour = per_hour;
}

async fn start_from(app: &TestApp, ip: &str) -> (u16, String) {
    let r = app
        .post(
            "/v1/verifications",
            json!({"to": number(), "client_ip": ip}),
        )
        .await;
    (
        r.status,
        r.body["reason"].as_str().unwrap_or("").to_string(),
    )
}

async fn ipv6_clients_are_limited_by_their_64(b: Backend) {
    let app = spawn_app(b, |c| ip_limited(c, 30)).await;
    let mut passed = 0;
    for i in 0..34u32 {
        let ip = format!("2001:db8:1:2:{:x}::{:x}", (i * 7919) % 0xffff, i + 1);
        match start_from(&app, &ip).await {
            (201, _) => passed += 1,
            (429, reason) => assert_eq!(reason, "client_ip"),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(passed, 30, "34 addresses of one /64 share its 30 starts");
    assert_eq!(start_from(&app, "2001:db8:1:3::1").await.0, 201, "next /64");
}

async fn ipv4_mapped_addresses_count_as_ipv4(b: Backend) {
    let app = spawn_app(b, |c| ip_limited(c, 2)).await;
    assert_eq!(start_from(&app, "192.0.2.10").await.0, 201);
    assert_eq!(start_from(&app, "::ffff:192.0.2.10").await.0, 201);
    assert_eq!(
        start_from(&app, "::ffff:c000:20a").await,
        (429, "client_ip".to_string())
    );
    assert_eq!(start_from(&app, "192.0.2.11").await.0, 201);
}

async fn a_56_setting_groups_wider(b: Backend) {
    let app = spawn_app(b, |c| {
        ip_limited(c, 2);
        c.tenants.get_mut("demo").unwrap().limits.ipv6_prefix_len = 56;
    })
    .await;
    assert_eq!(start_from(&app, "2001:db8:1:200::1").await.0, 201);
    assert_eq!(start_from(&app, "2001:db8:1:2ff:1::1").await.0, 201);
    assert_eq!(start_from(&app, "2001:db8:1:2a0::7").await.0, 429);
    assert_eq!(
        start_from(&app, "2001:db8:1:300::1").await.0,
        201,
        "next /56"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_shedding_counts_an_ipv6_network_once() {
    let app = spawn_app(Backend::Memory, |c| {
        ip_limited(c, 0);
        c.tenants.get_mut("demo").unwrap().limits.local_ip_per_sec = 3;
    })
    .await;
    let app = &app;
    let starts = (0..12u32)
        .map(|i| async move { start_from(app, &format!("2001:db8:9:9::{:x}", i + 1)).await });
    let answers = futures_util::future::join_all(starts).await;
    let shed = answers
        .iter()
        .filter(|(s, r)| *s == 429 && r == "client_ip")
        .count();
    assert!(shed > 0, "12 at once from one /64 over 3/s: {answers:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_entries_count_toward_the_memory_cap() {
    let app = spawn_app(Backend::Memory, |c| c.store.memory.max_entries = 3).await;
    let first = start_with_key(&app, "k-cap", personal(&number())).await;
    assert_eq!(first.status, 201, "{}", first.text);
    let evictions = || async {
        let m = app.send(app.http.get(app.url("/metrics"))).await.text;
        m.lines()
            .find_map(|l| l.strip_prefix("otpgw_memory_store_evictions_total "))
            .map(|v| v.trim().parse::<f64>().unwrap())
            .unwrap()
    };
    assert_eq!(app.start(&number()).await.status, 201);
    assert_eq!(evictions().await, 0.0, "three places, three entries");
    assert_eq!(app.start(&number()).await.status, 201);
    assert_eq!(
        evictions().await,
        1.0,
        "the record and its stored answer took two of the three places"
    );
}

fn two_tenants(c: &mut otpgw::Config, max_entries: usize) {
    c.store.memory.max_entries = max_entries;
    c.tenants.insert(
        "other".into(),
        TenantConfig {
            api_keys: vec![otpgw::crypto::hash_api_key(OTHER_KEY)],
            limits: abuse_off(),
            ..TenantConfig::default()
        },
    );
}

async fn other_start(app: &TestApp, to: &str) -> support::app::Resp {
    let req = app
        .http
        .post(app.url("/v1/verifications"))
        .bearer_auth(OTHER_KEY)
        .json(&json!({ "to": to }));
    app.send(req).await
}

async fn other_check(app: &TestApp, to: &str, code: &str) -> support::app::Resp {
    let req = app
        .http
        .post(app.url("/v1/verifications/check"))
        .bearer_auth(OTHER_KEY)
        .json(&json!({ "to": to, "code": code }));
    app.send(req).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_tenant_never_evicts_another_tenants_verification() {
    let app = spawn_app(Backend::Memory, |c| two_tenants(c, 10)).await;
    let theirs = number();
    assert_eq!(other_start(&app, &theirs).await.status, 201);
    let code = app.code_for(&theirs).await;
    let mut refused = 0;
    for _ in 0..30 {
        let r = app.start(&number()).await;
        match r.status {
            201 => {}
            503 => {
                refused += 1;
                assert_eq!(r.code(), "store_unavailable");
                assert!(r.header("retry-after").is_some());
            }
            s => panic!("{s}: {}", r.text),
        }
    }
    let r = other_check(&app, &theirs, &code).await;
    assert_eq!(
        (r.status, &r.body["status"]),
        (200, &json!("approved")),
        "{}",
        r.text
    );
    assert!(refused > 0, "the flood filled the store");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_past_its_share_evicts_only_its_own() {
    let app = spawn_app(Backend::Memory, |c| {
        two_tenants(c, 100);
        c.store.memory.max_entries_per_tenant = Some(5);
    })
    .await;
    let theirs = number();
    assert_eq!(other_start(&app, &theirs).await.status, 201);
    let code = app.code_for(&theirs).await;
    let first = app.start(&number()).await.body["id"].clone();
    for _ in 0..20 {
        assert_eq!(app.start(&number()).await.status, 201);
    }
    let first = app.fetch(first.as_str().unwrap()).await;
    assert_eq!(first.status, 404, "the flooding tenant's oldest went");
    let r = other_check(&app, &theirs, &code).await;
    assert_eq!(
        (r.status, &r.body["status"]),
        (200, &json!("approved")),
        "{}",
        r.text
    );
}
