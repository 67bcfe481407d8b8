//! The behavioural suite: every scenario runs against the memory store, a single Redis
//! and a 3-master Redis Cluster, through the real HTTP API.

mod support;

use otpgw::config::TenantConfig;
use serde_json::json;
use support::app::{number, wrong};
use support::{spawn_app, Backend};

macro_rules! on_every_backend {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { super::$name(super::Backend::Memory).await } )*
        }
        mod redis {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { super::$name(super::Backend::Redis).await } )*
        }
        mod cluster {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { super::$name(super::Backend::Cluster).await } )*
        }
    };
}

on_every_backend!(
    right_code_approves_once_and_is_used_up,
    wrong_code_spends_an_attempt,
    resend_keeps_id_and_code_and_counts_sends,
    resend_inside_cooldown_is_429_with_retry_after,
    sends_past_the_cap_are_429_max_sends_reached,
    attempts_run_out_then_checks_are_429,
    new_start_after_max_attempts_is_a_new_verification,
    check_by_id_works_and_other_tenants_see_404,
    cancel_ends_the_verification,
    unknown_and_malformed_ids_are_404,
    expired_code_is_404_and_reads_expired,
    per_number_send_limit_spans_verifications,
    per_number_failed_check_limit_spans_verifications,
    fifty_concurrent_right_checks_approve_exactly_once,
    twenty_concurrent_starts_make_one_verification,
    idempotency_key_replays_and_conflicts,
    delivery_status_reaches_sent,
    metadata_and_locale_round_trip,
    code_length_is_honoured_with_leading_zeros_possible,
);

async fn right_code_approves_once_and_is_used_up(b: Backend) {
    let app = spawn_app(b, |_| {}).await;
    let to = number();
    let r = app.start(&to).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["status"], "pending");
    assert_eq!(r.body["send_count"], 1);
    assert_eq!(r.body["sends_remaining"], 4);
    assert_eq!(r.body["check_attempts_remaining"], 5);
    assert!(r.body["id"].as_str().unwrap().starts_with("vrf_"));
    assert!(!r.text.contains("code\""), "the code is never returned");
    let code = app.code_for(&to).await;
    assert_eq!(code.len(), 6);
    let ok = app.check(&to, &code).await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert_eq!(ok.body["status"], "approved");
    assert_eq!(ok.body["valid"], true);
    let again = app.check(&to, &code).await;
    assert_eq!(again.status, 404);
    assert_eq!(again.code(), "verification_not_found");
    let id = r.body["id"].as_str().unwrap();
    assert_eq!(app.fetch(id).await.body["status"], "approved");
}

async fn wrong_code_spends_an_attempt(b: Backend) {
    let app = spawn_app(b, |_| {}).await;
    let to = number();
    app.start(&to).await;
    let code = app.code_for(&to).await;
    let r = app.check(&to, &wrong(&code)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["valid"], false);
    assert_eq!(r.body["status"], "pending");
    assert_eq!(r.body["check_attempts_remaining"], 4);
    let bad = app.check(&to, "12ab56").await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.code(), "invalid_code_format");
    let r = app.check(&to, &wrong(&code)).await;
    assert_eq!(
        r.body["check_attempts_remaining"], 3,
        "a malformed code uses no attempt"
    );
}

async fn resend_keeps_id_and_code_and_counts_sends(b: Backend) {
    let app = spawn_app(b, |c| tenant(c).resend_cooldown_secs = 0).await;
    let to = number();
    let first = app.start(&to).await;
    let code = app.code_for(&to).await;
    let second = app.start(&to).await;
    assert_eq!(second.status, 200, "{}", second.text);
    assert_eq!(second.body["id"], first.body["id"]);
    assert_eq!(second.body["send_count"], 2);
    assert_eq!(second.body["sends_remaining"], 3);
    wait_messages(&app, &to, 2).await;
    for m in app.messages_to(&to).await {
        assert!(m.contains(&code), "every send carries the same code");
    }
    assert_eq!(app.check(&to, &code).await.body["status"], "approved");
}

async fn resend_inside_cooldown_is_429_with_retry_after(b: Backend) {
    let app = spawn_app(b, |_| {}).await;
    let to = number();
    app.start(&to).await;
    let r = app.start(&to).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.code(), "rate_limited");
    assert_eq!(r.body["reason"], "resend_cooldown");
    let secs: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((29..=30).contains(&secs), "{secs}");
    assert_eq!(
        r.header("content-type").unwrap(),
        "application/problem+json"
    );
}

async fn sends_past_the_cap_are_429_max_sends_reached(b: Backend) {
    let app = spawn_app(b, |c| {
        let t = tenant(c);
        t.resend_cooldown_secs = 0;
        t.max_sends = 2;
    })
    .await;
    let to = number();
    assert_eq!(app.start(&to).await.status, 201);
    let second = app.start(&to).await;
    assert_eq!(second.status, 200);
    assert_eq!(second.body["sends_remaining"], 0);
    let third = app.start(&to).await;
    assert_eq!(third.status, 429);
    assert_eq!(third.code(), "max_sends_reached");
    assert!(third.header("retry-after").is_some());
}

async fn attempts_run_out_then_checks_are_429(b: Backend) {
    let app = spawn_app(b, |_| {}).await;
    let to = number();
    app.start(&to).await;
    let code = app.code_for(&to).await;
    let bad = wrong(&code);
    for left in (1..5).rev() {
        let r = app.check(&to, &bad).await;
        assert_eq!(r.body["check_attempts_remaining"], left);
    }
    let last = app.check(&to, &bad).await;
    assert_eq!(last.status, 200);
    assert_eq!(last.body["status"], "max_attempts_reached");
    assert_eq!(last.body["check_attempts_remaining"], 0);
    let after = app.check(&to, &code).await;
    assert_eq!(after.status, 429, "even the right code: {}", after.text);
    assert_eq!(after.code(), "max_attempts_reached");
    assert!(after.header("retry-after").is_some());
}

async fn new_start_after_max_attempts_is_a_new_verification(b: Backend) {
    let app = spawn_app(b, |c| tenant(c).max_check_attempts = 1).await;
    let to = number();
    let first = app.start(&to).await;
    let code = app.code_for(&to).await;
    assert_eq!(
        app.check(&to, &wrong(&code)).await.body["status"],
        "max_attempts_reached"
    );
    let second = app.start(&to).await;
    assert_eq!(second.status, 201, "{}", second.text);
    assert_ne!(second.body["id"], first.body["id"]);
}

async fn check_by_id_works_and_other_tenants_see_404(b: Backend) {
    let other_key = "otpgw_other_tenant_key_for_tests";
    let app = spawn_app(b, |c| {
        c.tenants.insert(
            "other".into(),
            TenantConfig {
                api_keys: vec![otpgw::crypto::hash_api_key(other_key)],
                ..TenantConfig::default()
            },
        );
    })
    .await;
    let to = number();
    let r = app.start(&to).await;
    let id = r.body["id"].as_str().unwrap().to_string();
    let code = app.code_for(&to).await;

    let mut other = reqwest::Client::new().post(app.url("/v1/verifications/check"));
    other = other
        .bearer_auth(other_key)
        .json(&json!({"id": id, "code": code}));
    let r = app.send(other).await;
    assert_eq!(r.status, 404, "another tenant cannot check it: {}", r.text);
    let r = app
        .send(
            reqwest::Client::new()
                .get(app.url(&format!("/v1/verifications/{id}")))
                .bearer_auth(other_key),
        )
        .await;
    assert_eq!(r.status, 404, "another tenant cannot read it");
    let r = app
        .send(
            reqwest::Client::new()
                .post(app.url(&format!("/v1/verifications/{id}/cancel")))
                .bearer_auth(other_key),
        )
        .await;
    assert_eq!(r.status, 404, "another tenant cannot cancel it");
    let r = app
        .send(
            reqwest::Client::new()
                .post(app.url("/v1/verifications/check"))
                .bearer_auth(other_key)
                .json(&json!({"to": to, "code": code})),
        )
        .await;
    assert_eq!(
        r.status, 404,
        "another tenant has nothing pending for the number"
    );

    let ok = app.check_id(&id, &code).await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert_eq!(ok.body["valid"], true);
}

async fn cancel_ends_the_verification(b: Backend) {
    let app = spawn_app(b, |_| {}).await;
    let to = number();
    let id = app.start(&to).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let code = app.code_for(&to).await;
    let r = app.cancel(&id).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["status"], "canceled");
    assert_eq!(app.check(&to, &code).await.status, 404);
    assert_eq!(app.check_id(&id, &code).await.status, 404);
    assert_eq!(
        app.cancel(&id).await.status,
        200,
        "canceling again answers the same"
    );
    assert_eq!(app.fetch(&id).await.body["status"], "canceled");
    assert_eq!(
        app.start(&to).await.status,
        201,
        "a canceled one does not block a new start"
    );
}

async fn unknown_and_malformed_ids_are_404(b: Backend) {
    let app = spawn_app(b, |_| {}).await;
    for id in [
        "vrf_0000000000000000000000000000",
        "nope",
        "vrf_%2e%2e%2f",
        &"a".repeat(5000),
    ] {
        let r = app.fetch(id).await;
        assert_eq!(r.status, 404, "{id}");
        assert_eq!(r.code(), "verification_not_found");
        assert_eq!(app.check_id(id, "123456").await.status, 404);
    }
}

async fn expired_code_is_404_and_reads_expired(b: Backend) {
    let app = spawn_app(b, |c| tenant(c).ttl_secs = 1).await;
    let to = number();
    let id = app.start(&to).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let code = app.code_for(&to).await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(app.check(&to, &code).await.status, 404);
    assert_eq!(app.check_id(&id, &code).await.status, 404);
    let r = app.fetch(&id).await;
    assert_eq!(r.status, 200, "still readable during retention");
    assert_eq!(r.body["status"], "expired");
    assert_eq!(
        app.start(&to).await.status,
        201,
        "an expired one does not block a new start"
    );
}

async fn per_number_send_limit_spans_verifications(b: Backend) {
    let app = spawn_app(b, |c| tenant(c).number_sends_per_hour = 2).await;
    let to = number();
    assert_eq!(app.start(&to).await.status, 201);
    let code = app.code_for(&to).await;
    assert_eq!(app.check(&to, &code).await.body["valid"], true);
    assert_eq!(app.start(&to).await.status, 201);
    let id = app.fetch_latest_id(&to).await;
    app.cancel(&id).await;
    let r = app.start(&to).await;
    assert_eq!(r.status, 429, "{}", r.text);
    assert_eq!(r.body["reason"], "number_send_limit");
    let secs: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!(secs > 3500 && secs <= 3600, "{secs}");
    assert_eq!(
        app.start(&number()).await.status,
        201,
        "other numbers are not affected"
    );
}

async fn per_number_failed_check_limit_spans_verifications(b: Backend) {
    let app = spawn_app(b, |c| {
        let t = tenant(c);
        t.number_failed_checks_per_hour = 3;
        t.max_check_attempts = 2;
    })
    .await;
    let to = number();
    app.start(&to).await;
    let code = app.code_for(&to).await;
    app.check(&to, &wrong(&code)).await;
    app.check(&to, &wrong(&code)).await;
    app.start(&to).await;
    let code2 = app.code_for_nth(&to, 2).await;
    assert_eq!(app.check(&to, &wrong(&code2)).await.status, 200);
    let r = app.check(&to, &code2).await;
    assert_eq!(r.status, 429, "{}", r.text);
    assert_eq!(r.body["reason"], "number_check_limit");
    assert!(r.header("retry-after").is_some());
}

async fn fifty_concurrent_right_checks_approve_exactly_once(b: Backend) {
    let app = std::sync::Arc::new(spawn_app(b, |_| {}).await);
    let to = number();
    app.start(&to).await;
    let code = app.code_for(&to).await;
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let (app, to, code) = (app.clone(), to.clone(), code.clone());
        tasks.push(tokio::spawn(async move { app.check(&to, &code).await }));
    }
    let mut approved = 0;
    let mut not_found = 0;
    for t in tasks {
        let r = t.await.unwrap();
        match r.status {
            200 if r.body["valid"] == true => approved += 1,
            404 => not_found += 1,
            other => panic!("unexpected {other}: {}", r.text),
        }
    }
    assert_eq!((approved, not_found), (1, 49));
}

async fn twenty_concurrent_starts_make_one_verification(b: Backend) {
    let app = std::sync::Arc::new(spawn_app(b, |c| tenant(c).resend_cooldown_secs = 0).await);
    let to = number();
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (app, to) = (app.clone(), to.clone());
        tasks.push(tokio::spawn(async move { app.start(&to).await }));
    }
    let mut created = 0;
    let mut resent = 0;
    let mut ids = std::collections::HashSet::new();
    for t in tasks {
        let r = t.await.unwrap();
        match r.status {
            201 => created += 1,
            200 => resent += 1,
            429 => assert_eq!(r.code(), "max_sends_reached"),
            other => panic!("unexpected {other}: {}", r.text),
        }
        if let Some(id) = r.body["id"].as_str() {
            ids.insert(id.to_string());
        }
    }
    assert_eq!(created, 1);
    assert_eq!(resent, 4, "max_sends 5 = one create and four resends");
    assert_eq!(ids.len(), 1);
    let id = ids.into_iter().next().unwrap();
    assert_eq!(app.fetch(&id).await.body["send_count"], 5);
}

async fn idempotency_key_replays_and_conflicts(b: Backend) {
    let app = spawn_app(b, |_| {}).await;
    let to = number();
    let req = |key: &str, body: serde_json::Value| {
        reqwest::Client::new()
            .post(app.url("/v1/verifications"))
            .bearer_auth(&app.key)
            .header("idempotency-key", key)
            .json(&body)
    };
    let first = app.send(req("k-1", json!({"to": to}))).await;
    assert_eq!(first.status, 201);
    let replay = app.send(req("k-1", json!({"to": to}))).await;
    assert_eq!(replay.status, 201, "{}", replay.text);
    assert_eq!(replay.body, first.body);
    assert_eq!(
        replay.header("idempotent-replayed").as_deref(),
        Some("true")
    );
    let other_body = app
        .send(req("k-1", json!({"to": to, "locale": "fr"})))
        .await;
    assert_eq!(other_body.status, 409);
    assert_eq!(other_body.code(), "idempotency_conflict");
    let fresh_key = app.send(req("k-2", json!({"to": to}))).await;
    assert_eq!(
        fresh_key.status, 429,
        "a new key is a new request: resend cooldown"
    );
    app.code_for(&to).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        app.messages_to(&to).await.len(),
        1,
        "the replay sent nothing"
    );
    let bad = app
        .send(req(&"x".repeat(256), json!({"to": number()})))
        .await;
    assert_eq!(bad.status, 400);
}

async fn delivery_status_reaches_sent(b: Backend) {
    let app = spawn_app(b, |_| {}).await;
    let to = number();
    let id = app.start(&to).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut last = String::new();
    for _ in 0..100 {
        let r = app.fetch(&id).await;
        last = r.body["delivery"]["status"].as_str().unwrap().to_string();
        if last == "sent" {
            assert_eq!(r.body["delivery"]["provider"], "console");
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("delivery status stuck at {last}");
}

async fn metadata_and_locale_round_trip(b: Backend) {
    let app = spawn_app(b, |_| {}).await;
    let to = number();
    let r = app
        .post(
            "/v1/verifications",
            json!({"to": to, "locale": "de-AT", "metadata": {"user": 42, "flow": "login"}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["metadata"], json!({"user": 42, "flow": "login"}));
    let id = r.body["id"].as_str().unwrap();
    assert_eq!(app.fetch(id).await.body["metadata"]["flow"], "login");
    let _ = app.code_for(&to).await;
    assert!(
        app.messages_to(&to).await[0].contains("Bestätigungscode"),
        "German falls back from de-AT to de"
    );
}

async fn code_length_is_honoured_with_leading_zeros_possible(b: Backend) {
    let app = spawn_app(b, |_| {}).await;
    for len in [4, 10] {
        let to = number();
        let r = app
            .post("/v1/verifications", json!({"to": to, "code_length": len}))
            .await;
        assert_eq!(r.status, 201);
        let code = app.code_for(&to).await;
        assert_eq!(code.len(), len);
        assert_eq!(app.check(&to, &code).await.body["valid"], true);
    }
}

fn tenant(c: &mut otpgw::Config) -> &mut TenantConfig {
    c.tenants.get_mut("demo").unwrap()
}

async fn wait_messages(app: &support::TestApp, to: &str, n: usize) {
    for _ in 0..200 {
        if app.messages_to(to).await.len() >= n {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("fewer than {n} messages to {to}");
}

trait Extra {
    async fn fetch_latest_id(&self, to: &str) -> String;
    async fn code_for_nth(&self, to: &str, n: usize) -> String;
}

impl Extra for support::TestApp {
    /// Id of the verification pending for `to` (via a resend-free read: the outbox
    /// does not carry ids, so ask the API with a check of a malformed-free wrong code
    /// is not an option; use a start that hits the cooldown instead).
    async fn fetch_latest_id(&self, to: &str) -> String {
        let r = self
            .post(
                "/v1/verifications/check",
                json!({"to": to, "code": "0000000000"}),
            )
            .await;
        r.body["id"]
            .as_str()
            .expect("a pending verification")
            .to_string()
    }

    async fn code_for_nth(&self, to: &str, n: usize) -> String {
        wait_messages(self, to, n).await;
        support::app::extract_code(&self.messages_to(to).await[0])
    }
}
