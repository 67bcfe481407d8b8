//! Delivery-only sends (`/v1/deliveries`): a code made elsewhere arrives at the provider
//! as supplied, shows its delivery status, is never checkable as a verification, is
//! sealed at rest, refuses anything but 4..10 digits, replays under an
//! `Idempotency-Key`, and is judged by the pumping guard by volume unless confirmed (a
//! confirmation credits the sources its `risk_context` names); an unknown one answers
//! `404 delivery_not_found`.

mod support;

use otpgw::providers::{webhook, ProviderConfig};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use support::app::{number, Resp, TestApp};
use support::scan::scan_all;
use support::sink::{Behaviour, Sink};
use support::{spawn_app, Backend};

support::on_every_backend_kind!(
    the_supplied_code_reaches_the_provider_and_the_status_follows,
    a_delivery_is_never_checkable_as_a_verification,
    a_delivery_never_resends_or_hides_a_pending_verification,
    only_four_to_ten_digits_are_delivered,
    an_idempotency_key_replays_the_delivery_and_sends_once,
    confirm_counts_once_and_is_idempotent,
    unconfirmed_deliveries_to_one_prefix_trip_the_guard,
    confirmed_deliveries_keep_the_guard_quiet,
    a_confirmation_credits_the_sources_its_risk_context_names,
    an_unknown_delivery_answers_delivery_not_found,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn neither_number_nor_code_is_at_rest_in_redis() {
    at_rest(Backend::Redis).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn neither_number_nor_code_is_at_rest_in_a_cluster() {
    at_rest(Backend::Cluster).await
}

async fn deliver(app: &TestApp, to: &str, code: &str) -> Resp {
    app.post("/v1/deliveries", json!({"to": to, "code": code}))
        .await
}

async fn wait_status(app: &TestApp, id: &str, want: &str) -> Value {
    let t = Instant::now();
    loop {
        let r = app.get(&format!("/v1/deliveries/{id}")).await;
        assert_eq!(r.status, 200, "{}", r.text);
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

async fn the_supplied_code_reaches_the_provider_and_the_status_follows(b: Backend) {
    let sink = Sink::start(Behaviour::Ok).await;
    let url = sink.url();
    let app = spawn_app(b, move |c| {
        let hook = webhook::Config {
            url,
            timeout_ms: 2000,
            ..Default::default()
        };
        c.providers
            .insert("sink".into(), ProviderConfig::Webhook(hook));
        c.routing.default = vec!["sink".into()];
    })
    .await;
    let to = number();
    let r = deliver(&app, &to, "0047193").await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("dlv_"), "{id}");
    assert_eq!(r.body["to"], to);
    assert_eq!(r.body["confirmed"], false);
    assert!(!r.text.contains("0047193"), "the answer holds the code");
    let got = sink.wait_for(1, 10).await;
    assert_eq!(got[0].body["to"], to);
    let text = got[0].body["body"].as_str().unwrap();
    assert!(text.contains("0047193"), "{text}");
    assert_eq!(support::app::extract_code(text), "0047193");
    let v = wait_status(&app, &id, "sent").await;
    assert_eq!(v["delivery"]["provider"], "sink");
    // another tenant's key, or a verification's path, does not reach it
    assert_eq!(app.fetch(&id).await.status, 404);
    let r = app
        .get("/v1/deliveries/dlv_00000000000000000000000000")
        .await;
    assert_eq!(r.status, 404);
}

async fn a_delivery_is_never_checkable_as_a_verification(b: Backend) {
    let app = spawn_app(b, |_| {}).await;
    let to = number();
    let r = deliver(&app, &to, "482913").await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(app.code_for(&to).await, "482913");
    let by_id = app.check_id(&id, "482913").await;
    assert_eq!(by_id.status, 404, "{}", by_id.text);
    assert_eq!(by_id.code(), "verification_not_found");
    let by_number = app.check(&to, "482913").await;
    assert_eq!(by_number.status, 404, "{}", by_number.text);
    assert_eq!(by_number.code(), "verification_not_found");
    let v = app.get(&format!("/v1/deliveries/{id}")).await;
    assert_eq!(v.body["confirmed"], false, "a check never confirms it");
}

async fn a_delivery_never_resends_or_hides_a_pending_verification(b: Backend) {
    let app = spawn_app(b, |_| {}).await;
    let to = number();
    let started = app.start(&to).await;
    assert_eq!(started.status, 201);
    let code = app.code_for(&to).await;
    let d = deliver(&app, &to, "55555555").await;
    assert_eq!(d.status, 201, "{}", d.text);
    let t = Instant::now();
    while !app
        .messages_to(&to)
        .await
        .iter()
        .any(|m| m.contains("55555555"))
    {
        assert!(t.elapsed() < Duration::from_secs(10), "no delivery message");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let fetched = app.fetch(started.body["id"].as_str().unwrap()).await;
    assert_eq!(
        fetched.body["send_count"], 1,
        "the verification was not resent"
    );
    let r = app.check(&to, &code).await;
    assert_eq!(r.body["status"], "approved", "{}", r.text);
}

async fn only_four_to_ten_digits_are_delivered(b: Backend) {
    let app = spawn_app(b, |_| {}).await;
    let to = number();
    for bad in [
        json!("123"),
        json!("12345678901"),
        json!("12a456"),
        json!("123 456"),
        json!(" 123456"),
        json!("١٢٣٤٥٦"),
        json!("Your code is 123456"),
        json!(123456),
        json!(null),
    ] {
        let r = app
            .post("/v1/deliveries", json!({"to": to, "code": bad}))
            .await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text);
        assert_eq!(r.code(), "invalid_code_format", "{bad}");
    }
    let r = app
        .post(
            "/v1/deliveries",
            json!({"to": to, "code": "1234", "text": "hi"}),
        )
        .await;
    assert_eq!(r.status, 400, "an unknown field: {}", r.text);
    let r = app.post("/v1/deliveries", json!({"code": "1234"})).await;
    assert_eq!(r.status, 400, "no `to`: {}", r.text);
    let r = deliver(&app, "+1555", "1234").await;
    assert_eq!(r.code(), "invalid_phone_number");
    for good in ["1234", "0000000000"] {
        let r = deliver(&app, &number(), good).await;
        assert_eq!(r.status, 201, "{good}: {}", r.text);
    }
    assert!(
        app.messages_to(&to).await.is_empty(),
        "nothing was sent to {to}"
    );
}

async fn an_idempotency_key_replays_the_delivery_and_sends_once(b: Backend) {
    let app = spawn_app(b, |_| {}).await;
    let to = number();
    let body = json!({"to": to, "code": "918273", "metadata": {"user": "u1"}});
    let send = |body: Value| {
        let req = app
            .http
            .post(app.url("/v1/deliveries"))
            .bearer_auth(&app.key)
            .header("idempotency-key", "login-42")
            .json(&body);
        app.send(req)
    };
    let first = send(body.clone()).await;
    assert_eq!(first.status, 201, "{}", first.text);
    let again = send(body.clone()).await;
    assert_eq!(again.status, 201, "{}", again.text);
    assert_eq!(again.header("idempotent-replayed").as_deref(), Some("true"));
    assert_eq!(again.body["id"], first.body["id"]);
    assert_eq!(again.body["to"], to);
    assert_eq!(again.body["metadata"]["user"], "u1");
    let other = send(json!({"to": to, "code": "111111"})).await;
    assert_eq!(other.status, 409, "{}", other.text);
    app.code_for(&to).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(app.messages_to(&to).await.len(), 1, "sent once");
}

async fn confirm_counts_once_and_is_idempotent(b: Backend) {
    let app = spawn_app(b, |_| {}).await;
    let to = number();
    let r = deliver(&app, &to, "246810").await;
    let id = r.body["id"].as_str().unwrap().to_string();
    let path = format!("/v1/deliveries/{id}/confirm");
    let metric = || async {
        let text = app
            .http
            .get(app.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .find(|l| {
                l.starts_with("otpgw_deliveries_total{")
                    && l.contains("outcome=\"confirmed\"")
                    && l.contains("tenant=\"demo\"")
            })
            .and_then(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let before = metric().await;
    for _ in 0..3 {
        let c = app.post(&path, json!({})).await;
        assert_eq!(c.status, 200, "{}", c.text);
        assert_eq!(c.body["confirmed"], true);
        assert_eq!(c.body["id"], id);
    }
    assert_eq!(metric().await, before + 1, "counted once");
    let v = app.get(&format!("/v1/deliveries/{id}")).await;
    assert_eq!(v.body["confirmed"], true);
    let r = app
        .post(
            "/v1/deliveries/dlv_00000000000000000000000000/confirm",
            json!({}),
        )
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(r.code(), "delivery_not_found");
    let vrf = app.start(&number()).await;
    let path = format!(
        "/v1/deliveries/{}/confirm",
        vrf.body["id"].as_str().unwrap()
    );
    assert_eq!(
        app.post(&path, json!({})).await.status,
        404,
        "a verification is no delivery"
    );
}

/// The guard on with a small prefix budget (as `tests/abuse/guard.rs` sets it).
fn guarded(c: &mut otpgw::Config) {
    let p = &mut c.tenants.get_mut("demo").unwrap().pumping;
    p.mode = otpgw::config::PumpingMode::Enforce;
    p.levels.prefix.budget = 1.0;
    p.block_secs = 600;
}

/// A 3-digit block no other test of this run uses.
fn fresh_prefix() -> String {
    let n = number();
    n[..n.len() - 3].to_string()
}

async fn unconfirmed_deliveries_to_one_prefix_trip_the_guard(b: Backend) {
    let app = spawn_app(b, guarded).await;
    let prefix = fresh_prefix();
    for i in 0..60u32 {
        let r = deliver(&app, &format!("{prefix}{:03}", i * 7 % 1000), "135790").await;
        if r.status != 201 {
            assert_eq!(r.status, 403, "{}", r.text);
            assert_eq!(r.code(), "destination_blocked");
            assert_eq!(r.body["reason"], "prefix_blocked");
            assert!((2..=12).contains(&i), "{i} deliveries before the block");
            return;
        }
    }
    panic!("60 unconfirmed deliveries into {prefix} and no block");
}

async fn confirmed_deliveries_keep_the_guard_quiet(b: Backend) {
    let app = spawn_app(b, guarded).await;
    let prefix = fresh_prefix();
    for i in 0..20u32 {
        let r = deliver(&app, &format!("{prefix}{:03}", i * 7 % 1000), "135790").await;
        assert_eq!(r.status, 201, "delivery {i}: {}", r.text);
        let id = r.body["id"].as_str().unwrap();
        let c = app
            .post(&format!("/v1/deliveries/{id}/confirm"), json!({}))
            .await;
        assert_eq!(c.status, 200, "{}", c.text);
    }
}

/// The guard on with only the session level, on a small budget: the number's levels off,
/// so only what the session is credited with decides.
fn session_guarded(c: &mut otpgw::Config) {
    use otpgw::config::LevelMode;
    let p = &mut c.tenants.get_mut("demo").unwrap().pumping;
    p.mode = otpgw::config::PumpingMode::Enforce;
    let l = &mut p.levels;
    for level in [&mut l.country, &mut l.area, &mut l.range, &mut l.prefix] {
        level.action = LevelMode::Off;
    }
    l.session.action = LevelMode::Enforce;
    l.session.budget = 1.0;
    p.block_secs = 600;
}

/// Deliveries from one fresh session, each confirmed with `confirm` as its body, until
/// one is refused: how many went through (`None`: all `n`).
async fn session_run(app: &TestApp, n: u32, name_it_on_confirm: bool) -> Option<u32> {
    let session = format!("s-{}", hex::encode(otpgw::crypto::random_bytes::<6>()));
    let risk = json!({"session_id": session});
    for i in 0..n {
        let body = json!({"to": number(), "code": "135790", "risk_context": risk});
        let r = app.post("/v1/deliveries", body).await;
        if r.status != 201 {
            assert_eq!(r.status, 403, "{}", r.text);
            assert_eq!(r.body["reason"], "session_blocked", "{}", r.text);
            return Some(i);
        }
        let id = r.body["id"].as_str().unwrap();
        let confirm = if name_it_on_confirm {
            json!({"risk_context": risk})
        } else {
            json!({})
        };
        let c = app
            .post(&format!("/v1/deliveries/{id}/confirm"), confirm)
            .await;
        assert_eq!(c.status, 200, "{}", c.text);
        assert_eq!(c.body["confirmed"], true);
    }
    None
}

async fn a_confirmation_credits_the_sources_its_risk_context_names(b: Backend) {
    let app = spawn_app(b, session_guarded).await;
    // Confirmed without naming the session: the number is credited, the session is not.
    let through = session_run(&app, 60, false).await;
    assert!(
        through.is_some_and(|n| (2..=12).contains(&n)),
        "a session never credited: {through:?} deliveries before its block"
    );
    // The same traffic confirmed with the delivery's risk_context: the session converts.
    assert_eq!(session_run(&app, 20, true).await, None);
    // A body is read strictly: unknown fields and a bad risk_context are refused.
    let r = deliver(&app, &number(), "135790").await;
    let path = format!("/v1/deliveries/{}/confirm", r.body["id"].as_str().unwrap());
    for bad in [
        json!({"risk": {}}),
        json!({"risk_context": {"captcha_score": 2}}),
    ] {
        let c = app.post(&path, bad).await;
        assert_eq!(c.status, 400, "{}", c.text);
        assert_eq!(c.code(), "invalid_request");
    }
    // No body at all still confirms.
    let c = app
        .http
        .post(app.url(&path))
        .bearer_auth(&app.key)
        .send()
        .await
        .unwrap();
    assert_eq!(c.status(), 200);
}

async fn an_unknown_delivery_answers_delivery_not_found(b: Backend) {
    let app = spawn_app(b, |_| {}).await;
    let vrf = app.start(&number()).await;
    let vrf = vrf.body["id"].as_str().unwrap().to_string();
    for id in [
        "dlv_00000000000000000000000000000000".to_string(),
        "dlv_0000000000000000000000000000".to_string(),
        "nonsense".to_string(),
        vrf,
    ] {
        let r = app.get(&format!("/v1/deliveries/{id}")).await;
        assert_eq!(
            (r.status, r.code()),
            (404, "delivery_not_found"),
            "{id}: {}",
            r.text
        );
        assert_eq!(r.body["status"], 404);
        let r = app
            .post(&format!("/v1/deliveries/{id}/confirm"), json!({}))
            .await;
        assert_eq!(
            (r.status, r.code()),
            (404, "delivery_not_found"),
            "{id}: {}",
            r.text
        );
    }
}

async fn at_rest(b: Backend) {
    let app = spawn_app(b, |_| {}).await;
    let to = number();
    let code = "8675309";
    let r = deliver(&app, &to, code).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(app.code_for(&to).await, code);
    let urls = match b {
        Backend::Cluster => support::redis::shared_cluster().urls(),
        _ => vec![support::redis::shared_redis().url()],
    };
    let all = scan_all(&urls, &app.prefix);
    assert!(
        all.iter().any(|s| s.key.contains(":v:dlv_")),
        "the record was read"
    );
    for s in &all {
        let value = String::from_utf8_lossy(&s.value);
        for secret in [&to[1..], code] {
            assert!(!s.key.contains(secret), "{secret} in key {}", s.key);
            assert!(
                !value.contains(secret),
                "{secret} in the value of {}",
                s.key
            );
        }
    }
}
