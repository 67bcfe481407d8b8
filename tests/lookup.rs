//! The support lookup (`POST /v1/admin/lookup`) through the real HTTP API on the memory
//! store, a single Redis and a Redis Cluster: a destination's verifications are found
//! with their channels, workflow steps, delivery and checks, and nothing at rest names
//! the number or address; bad input, another tenant, the admin-key rules, and the
//! tenant's retention.

mod support;

use otpgw::config::{StepConfig, WorkflowConfig};
use otpgw::crypto::hash_api_key;
use otpgw::providers::{webhook, ProviderConfig};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use support::app::{number, wrong, Resp};
use support::scan::scan_all;
use support::sink::{Behaviour, Sink};
use support::{spawn_app, Backend, TestApp};

const ADMIN_KEY: &str = "otpgw_admin_key_for_the_lookup_tests";
const ADDRESS: &str = "lookup.person@example.com";

support::on_every_backend_kind!(
    a_destinations_verifications_are_found_and_nothing_names_it_at_rest,
    a_number_in_bad_format_is_400,
    another_tenants_number_finds_nothing_and_an_unknown_tenant_is_404,
    lookup_retention_is_respected,
    a_record_gone_from_the_store_shows_what_the_index_knows,
);

/// Every channel on, a workflow `flow` (SMS for 60 s, then WhatsApp), SMS through a
/// webhook provider at `sms`, an admin key, and a second tenant `other`.
fn setup(c: &mut otpgw::Config, sms: &Sink) {
    c.admin.api_keys = vec![hash_api_key(ADMIN_KEY)];
    let t = c.tenants.get_mut("demo").unwrap();
    t.channels = ["sms", "whatsapp", "voice", "email"]
        .map(String::from)
        .to_vec();
    t.resend_cooldown_secs = 0;
    t.workflows.insert(
        "flow".into(),
        WorkflowConfig {
            steps: vec![
                StepConfig {
                    channel: "sms".into(),
                    timeout_secs: Some(60),
                },
                StepConfig {
                    channel: "whatsapp".into(),
                    timeout_secs: None,
                },
            ],
        },
    );
    let mut other = c.tenants["demo"].clone();
    other.api_keys = vec![hash_api_key("otpgw_other_tenant_key_for_the_lookup_tests")];
    c.tenants.insert("other".into(), other);
    let hook = webhook::Config {
        url: sms.url(),
        timeout_ms: 500,
        ..Default::default()
    };
    c.providers
        .insert("hook".into(), ProviderConfig::Webhook(hook));
    c.routing.default = vec!["hook".into()];
}

async fn lookup_as(app: &TestApp, key: Option<&str>, body: Value) -> Resp {
    let mut req = app.http.post(app.url("/v1/admin/lookup")).json(&body);
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    app.send(req).await
}

async fn lookup(app: &TestApp, tenant: &str, to: &str) -> Resp {
    lookup_as(app, Some(ADMIN_KEY), json!({"tenant": tenant, "to": to})).await
}

fn items(r: &Resp) -> Vec<Value> {
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["verifications"].as_array().unwrap().clone()
}

/// Polls the verification until `ok` holds on it; its resource.
async fn wait_for(app: &TestApp, id: &str, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let t = Instant::now();
    loop {
        let r = app.fetch(id).await;
        if ok(&r.body) {
            return r.body;
        }
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "not {what}: {}",
            r.text
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn started(app: &TestApp, body: Value) -> String {
    let r = app.post("/v1/verifications", body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["id"].as_str().unwrap().to_string()
}

fn redis_urls(b: Backend) -> Vec<String> {
    match b {
        Backend::Redis => vec![support::redis::shared_redis().url()],
        Backend::Cluster => support::redis::shared_cluster().urls(),
        Backend::Memory => Vec::new(),
    }
}

async fn a_destinations_verifications_are_found_and_nothing_names_it_at_rest(b: Backend) {
    let sink = Sink::start(Behaviour::Status(400)).await;
    let app = spawn_app(b, |c| setup(c, &sink)).await;
    let to = number();
    // 1. An SMS the provider refuses for good: its delivery fails.
    let failed = started(&app, json!({"to": to, "channel": "sms"})).await;
    wait_for(&app, &failed, "failed", |v| {
        v["delivery"]["status"] == "failed"
    })
    .await;
    // a failed send leaves the code pending (a resend may still reach): cancel it
    assert_eq!(app.cancel(&failed).await.status, 200);
    // 2. A workflow: the SMS step fails, WhatsApp delivers, the code is approved.
    let flow = started(&app, json!({"to": to, "workflow": "flow"})).await;
    wait_for(&app, &flow, "on step 1", |v| {
        v["workflow"]["current_step"] == 1
    })
    .await;
    let code = app.code_for(&to).await;
    assert_eq!(app.check(&to, &code).await.body["status"], "approved");
    // 3. A voice call, one wrong code checked.
    let voice = started(&app, json!({"to": to, "channel": "voice"})).await;
    // the workflow's code, used up, is wrong for the call's (but one in a million)
    let r = app.check(&to, &wrong(&code)).await;
    assert_eq!(r.body["valid"], false, "{}", r.text);
    // 4. A delivery-only send of the caller's own code.
    let r = app
        .post("/v1/deliveries", json!({"to": to, "code": "482913"}))
        .await;
    assert!(r.status == 201 || r.status == 202, "{}", r.text);
    let dlv = r.body["id"].as_str().unwrap().to_string();
    // 5. An email to an address, looked up by the address.
    let mail = started(&app, json!({"to": ADDRESS, "channel": "email"})).await;

    let r = lookup(&app, "demo", &to).await;
    assert_eq!(
        r.body["to"],
        json!(otpgw::domain::PhoneNumber::parse(&to).unwrap().masked())
    );
    assert!(
        !r.text.contains(&to[1..]),
        "the answer names the number: {}",
        r.text
    );
    let found = items(&r);
    let ids: Vec<&str> = found.iter().map(|i| i["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [&dlv, &voice, &flow, &failed], "newest first");
    assert_eq!(
        (&found[0]["kind"], &found[0]["channel"]),
        (&json!("delivery"), &json!("sms"))
    );
    let (v, w, f) = (&found[1], &found[2], &found[3]);
    assert!(found[1..]
        .iter()
        .all(|i| i["record"] == "found" && i["kind"] == "verification"));
    assert_eq!(
        (&v["channel"], &v["status"]),
        (&json!("voice"), &json!("pending"))
    );
    assert_eq!(v["channels"], json!(["voice"]));
    assert_eq!(
        (&v["check_attempts_used"], &v["send_count"]),
        (&json!(1), &json!(1))
    );
    assert_eq!(w["status"], "approved");
    assert_eq!(w["channels"], json!(["sms", "whatsapp"]));
    assert_eq!(w["workflow"]["name"], "flow");
    let steps = w["workflow"]["steps"].as_array().unwrap();
    assert_eq!(
        (&steps[0]["status"], &steps[0]["provider"]),
        (&json!("failed"), &json!("hook"))
    );
    assert_eq!(w["check_attempts_used"], 0);
    assert_eq!(
        (&f["channel"], &f["status"]),
        (&json!("sms"), &json!("canceled"))
    );
    assert_eq!(f["delivery"]["status"], "failed");
    assert_eq!(f["delivery"]["provider"], "hook");
    assert!(
        f["delivery"]["reason"]
            .as_str()
            .is_some_and(|r| !r.is_empty()),
        "{f}"
    );

    let by_address = items(&lookup(&app, "demo", ADDRESS).await);
    assert_eq!(by_address.len(), 1);
    assert_eq!(
        (&by_address[0]["id"], &by_address[0]["channel"]),
        (&json!(mail), &json!("email"))
    );

    let urls = redis_urls(b);
    if urls.is_empty() {
        return;
    }
    let all = scan_all(&urls, &app.prefix);
    assert!(
        all.iter().any(|s| s.key.contains(":lk:")),
        "the lookup index is in Redis"
    );
    for s in &all {
        let value = String::from_utf8_lossy(&s.value);
        for secret in [&to[1..], ADDRESS] {
            assert!(!s.key.contains(secret), "{secret} in key {}", s.key);
            assert!(
                !value.contains(secret),
                "{secret} in the value of {}",
                s.key
            );
        }
    }
}

async fn a_number_in_bad_format_is_400(b: Backend) {
    let sink = Sink::start(Behaviour::Ok).await;
    let app = spawn_app(b, |c| setup(c, &sink)).await;
    for (to, code) in [
        ("12345", "invalid_phone_number"),
        ("+1415555", "invalid_phone_number"),
        ("not an address@", "invalid_email"),
    ] {
        let r = lookup(&app, "demo", to).await;
        assert_eq!((r.status, r.code()), (400, code), "{to}: {}", r.text);
        assert!(!r.body["detail"].as_str().unwrap_or("").is_empty());
    }
    let r = lookup_as(&app, Some(ADMIN_KEY), json!({"tenant": "demo"})).await;
    assert_eq!((r.status, r.code()), (400, "invalid_request"), "{}", r.text);
}

async fn another_tenants_number_finds_nothing_and_an_unknown_tenant_is_404(b: Backend) {
    let sink = Sink::start(Behaviour::Ok).await;
    let app = spawn_app(b, |c| setup(c, &sink)).await;
    let to = number();
    started(&app, json!({"to": to})).await;
    assert_eq!(items(&lookup(&app, "demo", &to).await).len(), 1);
    assert!(items(&lookup(&app, "other", &to).await).is_empty());
    let r = lookup(&app, "nobody", &to).await;
    assert_eq!((r.status, r.code()), (404, "not_found"), "{}", r.text);
}

async fn lookup_retention_is_respected(b: Backend) {
    let sink = Sink::start(Behaviour::Ok).await;
    let app = spawn_app(b, |c| {
        setup(c, &sink);
        c.tenants.get_mut("demo").unwrap().lookup_retention_secs = 1;
    })
    .await;
    let to = number();
    let id = started(&app, json!({"to": to})).await;
    let found = items(&lookup(&app, "demo", &to).await);
    assert_eq!(found[0]["id"], json!(id));
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let r = lookup(&app, "demo", &to).await;
    assert!(items(&r).is_empty(), "past the retention: {}", r.text);
    assert_eq!(r.body["retention_secs"], 1);
    if let Some(urls) = Some(redis_urls(b)).filter(|u| !u.is_empty()) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let left = scan_all(&urls, &app.prefix);
        assert!(
            !left.iter().any(|s| s.key.contains(":lk:")),
            "the index expired"
        );
    }
}

async fn a_record_gone_from_the_store_shows_what_the_index_knows(b: Backend) {
    let sink = Sink::start(Behaviour::Ok).await;
    let app = spawn_app(b, |c| {
        setup(c, &sink);
        let t = c.tenants.get_mut("demo").unwrap();
        t.ttl_secs = 1;
        t.retention_secs = 0;
    })
    .await;
    let to = number();
    let id = started(&app, json!({"to": to})).await;
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert_eq!(app.fetch(&id).await.status, 404, "the record is gone");
    let found = items(&lookup(&app, "demo", &to).await);
    assert_eq!(found.len(), 1);
    let keys: Vec<&String> = found[0].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["created_at", "id", "kind", "record"]);
    assert_eq!(
        (&found[0]["id"], &found[0]["record"]),
        (&json!(id), &json!("expired"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_admin_key_from_a_non_loopback_caller_it_is_401_or_403() {
    let app = spawn_app(Backend::Memory, |c| {
        c.admin.api_keys = vec![hash_api_key(ADMIN_KEY)];
        // Behind a trusted proxy on this host nothing is local.
        c.server.trusted_proxies =
            otpgw::config::TrustedProxies(vec!["127.0.0.1".parse().unwrap()]);
    })
    .await;
    let to = number();
    started(&app, json!({"to": to})).await;
    let body = json!({"tenant": "demo", "to": to});
    let send = |key: Option<&'static str>, tenant_key: bool| {
        let mut req = app
            .http
            .post(app.url("/v1/admin/lookup"))
            .header("x-forwarded-for", "203.0.113.9")
            .json(&body);
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        if tenant_key {
            req = req.bearer_auth(&app.key);
        }
        app.send(req)
    };
    let r = send(None, false).await;
    assert_eq!((r.status, r.code()), (401, "unauthorized"), "{}", r.text);
    let r = send(None, true).await;
    assert_eq!((r.status, r.code()), (403, "forbidden"), "{}", r.text);
    let r = send(Some(ADMIN_KEY), false).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(items(&r).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loopback_caller_in_dev_mode_needs_no_key() {
    let app = spawn_app(Backend::Memory, |_| {}).await;
    let to = number();
    started(&app, json!({"to": to})).await;
    let r = lookup_as(&app, None, json!({"tenant": "demo", "to": to})).await;
    assert_eq!(items(&r).len(), 1);
}

/// The index itself, on the store alone: bounded to the newest [`LOOKUP_MAX`] ids, and
/// not written when the tenant keeps none.
mod index {
    use super::support;
    use otpgw::domain::{now_millis, VerificationId};
    use otpgw::store::{StartOutcome, LOOKUP_MAX};

    support::store::on_every_backend!(
        the_index_keeps_the_newest_ids_only,
        a_tenant_without_retention_keeps_no_index,
    );

    async fn the_index_keeps_the_newest_ids_only(kind: &str) {
        let (store, _queue) = support::store::backend(kind).await;
        let n = support::store::number();
        let t0 = now_millis();
        let mut ids = Vec::new();
        for i in 0..LOOKUP_MAX as i64 + 5 {
            // each start 61 s after the last, when the last (pending a minute) is over
            let now = t0 + i * 61_000;
            let mut s = support::store::start_spec(&n, 0);
            s.fresh.id = VerificationId::generate(n.shard).unwrap();
            s.fresh.created_at = now;
            s.fresh.expires_at = now + 60_000;
            s.lookup_ms = 86_400_000;
            s.number_send_limit = 1_000;
            ids.push(s.fresh.id.clone());
            let out = store.start(s, now).await.unwrap();
            assert!(matches!(out, StartOutcome::Created(_)), "{out:?}");
        }
        let found = store.lookup(&n, 0).await.unwrap();
        let newest: Vec<_> = ids.iter().rev().take(LOOKUP_MAX).cloned().collect();
        let got: Vec<_> = found.iter().map(|e| e.id.clone()).collect();
        assert_eq!(got, newest, "the newest {LOOKUP_MAX}, newest first");
        assert!(found.windows(2).all(|w| w[0].created_at > w[1].created_at));
        // `since` cuts the older ones
        let since = found[9].created_at;
        assert_eq!(store.lookup(&n, since).await.unwrap().len(), 10);
    }

    async fn a_tenant_without_retention_keeps_no_index(kind: &str) {
        let (store, _queue) = support::store::backend(kind).await;
        let n = support::store::number();
        let s = support::store::start_spec(&n, 0);
        let now = s.fresh.created_at;
        store.start(s, now).await.unwrap();
        assert!(store.lookup(&n, 0).await.unwrap().is_empty());
    }
}
