//! Events to tenants through the whole gateway, on the memory store, one Redis and a
//! Redis Cluster: a tenant with an `[events]` section, the real HTTP API, the durable
//! queue and its worker, and a receiver that checks every call with the Standard
//! Webhooks reference library (`support/webhook_rx.rs`).
//!
//! Start and check give `delivery.sent` then `verification.approved`; a cancel, the
//! last wrong check and a passed TTL give theirs (and a verification that ended
//! otherwise never expires); a receiver down for a while gets every event once back, in
//! order per verification; a receiver answering 500 dead-letters them, and the list
//! `GET /v1/admin/events/dead` shows why; a send the pumping guard refuses is
//! `fraud.blocked`. The queue's own contract is `tests/events_queue.rs`.

mod support;

use serde_json::{json, Value};
use std::time::{Duration, Instant};
use support::app::{number, wrong};
use support::webhook_rx::{secret, Receiver};
use support::{spawn_app, Backend, TestApp};

const ADMIN_KEY: &str = "otpgw_admin_key_for_events_tests_only";

support::on_every_backend_kind!(
    start_and_check_send_delivery_sent_then_approved,
    cancel_last_wrong_check_and_expiry_are_sent_once,
    a_receiver_down_for_a_while_gets_every_event_in_order,
    a_failing_receiver_dead_letters_and_the_admin_list_shows_why,
    the_dead_letter_list_refuses_bad_calls,
    a_send_the_pumping_guard_refuses_is_sent_as_fraud_blocked,
    a_section_wanting_only_expiry_hears_nothing_of_an_approved_code,
    a_delivery_only_send_is_sent_then_approved_when_confirmed,
);

/// A gateway whose `demo` tenant sends its events to `url`, retried for `retry_secs`.
async fn gateway(backend: Backend, url: String, retry_secs: u64, ttl_secs: u64) -> TestApp {
    spawn_app(backend, |c| {
        c.admin.api_keys = vec![otpgw::crypto::hash_api_key(ADMIN_KEY)];
        c.metrics.refresh_interval_ms = 100;
        let t = c.tenants.get_mut("demo").unwrap();
        t.ttl_secs = ttl_secs;
        t.max_check_attempts = 2;
        t.events = Some(otpgw::config::EventsConfig {
            url,
            secret: secret(1).into(),
            retry_secs,
            timeout_ms: 1000,
            ..Default::default()
        });
    })
    .await
}

/// The events the receiver verified, as `(verification, seq, type)`, in arrival order.
fn seen(rx: &Receiver) -> Vec<(String, u64, String)> {
    rx.seen()
        .iter()
        .map(|s| {
            assert_eq!(s["ok"], true, "every call verifies: {s}");
            let d = &s["event"]["data"];
            (
                d["id"].as_str().unwrap().to_string(),
                d["seq"].as_u64().unwrap(),
                s["event"]["type"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Waits until `rx` saw `n` events about `id`; those, in arrival order.
async fn wait_for(rx: &Receiver, id: &str, n: usize) -> Vec<(u64, String)> {
    let t = Instant::now();
    loop {
        let got: Vec<(u64, String)> = seen(rx)
            .into_iter()
            .filter(|(v, _, _)| v == id)
            .map(|(_, s, k)| (s, k))
            .collect();
        if got.len() >= n {
            return got;
        }
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "{id}: {n} events expected, saw {got:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn start(app: &TestApp, to: &str) -> String {
    let r = app.start(to).await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["id"].as_str().unwrap().to_string()
}

fn kinds(got: &[(u64, String)]) -> Vec<&str> {
    got.iter().map(|(_, k)| k.as_str()).collect()
}

fn in_seq(got: &[(u64, String)]) {
    let seqs: Vec<u64> = got.iter().map(|(s, _)| *s).collect();
    let want: Vec<u64> = (1..=got.len() as u64).collect();
    assert_eq!(seqs, want, "each once, in order: {got:?}");
}

async fn start_and_check_send_delivery_sent_then_approved(backend: Backend) {
    let rx = Receiver::start(&secret(1), 0);
    let app = gateway(backend, rx.url("/ok"), 60, 600).await;
    let to = number();
    let id = start(&app, &to).await;
    let code = app.code_for(&to).await;
    assert_eq!(kinds(&wait_for(&rx, &id, 1).await), ["delivery.sent"]);
    let r = app.check(&to, &code).await;
    assert_eq!(r.body["status"], "approved", "{}", r.text);
    let got = wait_for(&rx, &id, 2).await;
    assert_eq!(kinds(&got), ["delivery.sent", "verification.approved"]);
    in_seq(&got);
    for s in rx.seen() {
        let body = s["body"].as_str().unwrap();
        assert!(!body.contains(&to[1..]) && !body.contains(&code), "{body}");
        assert!(s["event"]["data"]["to_masked"]
            .as_str()
            .unwrap()
            .contains('*'));
        assert_eq!(s["event"]["data"]["tenant"], "demo");
    }
    assert_eq!(
        rx.seen()[0]["event"]["data"]["delivery"]["provider"],
        "console"
    );
    app.stop().await;
}

async fn cancel_last_wrong_check_and_expiry_are_sent_once(backend: Backend) {
    let rx = Receiver::start(&secret(1), 0);
    let app = gateway(backend, rx.url("/ok"), 60, 2).await;
    let (a, b, c) = (number(), number(), number());
    let (ia, ib, ic) = (
        start(&app, &a).await,
        start(&app, &b).await,
        start(&app, &c).await,
    );
    let code = app.code_for(&b).await;
    // each delivery.sent first, so the order below is the one asserted
    for id in [&ia, &ib, &ic] {
        assert_eq!(kinds(&wait_for(&rx, id, 1).await), ["delivery.sent"]);
    }
    assert_eq!(app.cancel(&ia).await.status, 200);
    assert_eq!(app.check(&b, &wrong(&code)).await.status, 200);
    let r = app.check(&b, &wrong(&code)).await;
    assert_eq!(r.body["status"], "max_attempts_reached", "{}", r.text);
    let ga = wait_for(&rx, &ia, 2).await;
    let gb = wait_for(&rx, &ib, 2).await;
    let gc = wait_for(&rx, &ic, 2).await;
    assert_eq!(kinds(&ga), ["delivery.sent", "verification.canceled"]);
    assert_eq!(kinds(&gb), ["delivery.sent", "verification.max_attempts"]);
    assert_eq!(kinds(&gc), ["delivery.sent", "verification.expired"]);
    for g in [&ga, &gb, &gc] {
        in_seq(g);
    }
    let expired = rx
        .seen()
        .into_iter()
        .find(|s| s["event"]["type"] == "verification.expired")
        .unwrap();
    assert_eq!(expired["event"]["data"]["status"], "expired");
    // the canceled and the exhausted verifications never expire, and nothing repeats
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(seen(&rx).len(), 6, "{:?}", seen(&rx));
    app.stop().await;
}

async fn a_receiver_down_for_a_while_gets_every_event_in_order(backend: Backend) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = gateway(backend, format!("http://127.0.0.1:{port}/ok"), 120, 600).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let to = number();
        let id = start(&app, &to).await;
        app.code_for(&to).await;
        assert_eq!(app.cancel(&id).await.status, 200);
        ids.push(id);
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let rx = Receiver::start(&secret(1), port);
    for id in &ids {
        let got = wait_for(&rx, id, 2).await;
        // arrival order is seq order; which came first is the race of the worker's
        // delivery.sent and the cancel
        let mut k = kinds(&got);
        k.sort();
        assert_eq!(k, ["delivery.sent", "verification.canceled"], "{id}");
        in_seq(&got);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let all = rx.seen();
    assert_eq!(all.len(), 6, "every event once: {all:?}");
    let mut webhook_ids: Vec<&str> = all.iter().map(|s| s["id"].as_str().unwrap()).collect();
    webhook_ids.sort();
    webhook_ids.dedup();
    assert_eq!(webhook_ids.len(), 6);
    app.stop().await;
}

async fn dead_list(app: &TestApp, query: &str, key: Option<&str>) -> (u16, Value) {
    let mut req = app
        .http
        .get(app.url(&format!("/v1/admin/events/dead{query}")));
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    let r = app.send(req).await;
    (r.status, r.body)
}

async fn a_failing_receiver_dead_letters_and_the_admin_list_shows_why(backend: Backend) {
    let rx = Receiver::start(&secret(1), 0);
    let app = gateway(backend, rx.url("/500"), 4, 600).await;
    let to = number();
    let id = start(&app, &to).await;
    app.code_for(&to).await;
    assert_eq!(app.cancel(&id).await.status, 200);
    let t = Instant::now();
    let dead = loop {
        let (status, body) = dead_list(&app, "?limit=10", Some(ADMIN_KEY)).await;
        assert_eq!(status, 200, "{body}");
        let mine: Vec<Value> = body["dead"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["verification"] == id.as_str())
            .cloned()
            .collect();
        if mine.len() == 2 {
            break mine;
        }
        assert!(t.elapsed() < Duration::from_secs(20), "{body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let first = dead.iter().find(|d| d["seq"] == 1).expect("seq 1");
    let second = dead.iter().find(|d| d["seq"] == 2).expect("seq 2");
    // the cancel may be queued before the worker's delivery.sent: either order
    let mut types = [first["type"].as_str(), second["type"].as_str()];
    types.sort();
    assert_eq!(
        types,
        [Some("delivery.sent"), Some("verification.canceled")]
    );
    assert_eq!(first["tenant"], "demo");
    let attempts = first["attempts"].as_u64().unwrap();
    assert!(attempts >= 2, "retried first: {first}");
    assert_eq!(
        first["reason"],
        format!("answered 500 (after {attempts} attempts)")
    );
    assert!(first["id"].as_str().unwrap().starts_with("evt_"));
    assert!(first["dead_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(second["attempts"], 0);
    let reason = second["reason"].as_str().unwrap();
    assert!(
        reason.contains(first["id"].as_str().unwrap()) && reason.contains("(seq 1)"),
        "{reason}"
    );
    assert!(seen(&rx).is_empty(), "a 500 is never a delivery");
    // the gauge counts them
    let t = Instant::now();
    loop {
        let text = app.send(app.http.get(app.url("/metrics"))).await.text;
        let dead = text
            .lines()
            .find_map(|l| l.strip_prefix("otpgw_events_dead_letters "))
            .and_then(|v| v.trim().parse::<u64>().ok());
        if dead.is_some_and(|n| n >= 2) {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(10), "{dead:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // the console lists them with their reason, and never an event's body
    let r = app
        .send(app.http.get(app.url("/ops")).bearer_auth(ADMIN_KEY))
        .await;
    assert_eq!(r.status, 200);
    let page = &r.text;
    let at = page
        .find("<table id=\"events-dead-letters\">")
        .expect("the console's dead letters");
    let table = &page[at..at + page[at..].find("</table>").unwrap()];
    for d in [first, second] {
        let row = format!("data-key=\"{}\"", d["id"].as_str().unwrap());
        assert!(table.contains(&row), "{table}");
    }
    assert!(table.contains("answered 500 (after"), "{table}");
    assert!(!page.contains(&to), "no number on the console");
    app.stop().await;
}

async fn the_dead_letter_list_refuses_bad_calls(backend: Backend) {
    let app = gateway(backend, "http://127.0.0.1:9/ok".into(), 60, 600).await;
    assert_eq!(dead_list(&app, "", None).await.0, 401);
    let from_afar = app
        .http
        .get(app.url("/v1/admin/events/dead"))
        .header("x-forwarded-for", "203.0.113.9");
    assert_eq!(app.send(from_afar).await.status, 401);
    let tenant_key = app.key.clone();
    assert_eq!(dead_list(&app, "", Some(&tenant_key)).await.0, 403);
    for q in [
        "?limit=0",
        "?limit=501",
        "?limit=-1",
        "?limit=abc",
        "?limit=1e3",
        "?limit=99999999999999999999999",
        "?limit=%00",
        "?limit=5&limit=6",
        "?other=1",
        &format!("?limit={}", "9".repeat(10_000)),
    ] {
        let (status, body) = dead_list(&app, q, Some(ADMIN_KEY)).await;
        assert_eq!(status, 400, "{q}: {body}");
        assert_eq!(body["code"], "invalid_request", "{q}: {body}");
    }
    let (status, body) = dead_list(&app, "?limit=500", Some(ADMIN_KEY)).await;
    assert_eq!(
        (status, body["dead"].as_array().map(Vec::len)),
        (200, Some(0))
    );
    app.stop().await;
}

async fn a_send_the_pumping_guard_refuses_is_sent_as_fraud_blocked(backend: Backend) {
    let rx = Receiver::start(&secret(1), 0);
    let app = spawn_app(backend, |c| {
        let t = c.tenants.get_mut("demo").unwrap();
        t.pumping.mode = otpgw::config::PumpingMode::Enforce;
        t.pumping.levels.prefix.budget = 1.0;
        t.pumping.block_secs = 600;
        t.events = Some(otpgw::config::EventsConfig {
            url: rx.url("/ok"),
            secret: secret(1).into(),
            types: vec!["fraud.blocked".into()],
            ..Default::default()
        });
    })
    .await;
    let n = number();
    let block = &n[..n.len() - 3];
    let mut refused = None;
    for i in 0..60u32 {
        let to = format!("{block}{:03}", i * 7 % 1000);
        let r = app.start(&to).await;
        if r.status != 201 {
            assert_eq!(r.body["reason"], "prefix_blocked", "{}", r.text);
            refused = Some(to);
            break;
        }
    }
    let to = refused.expect("the guard refused a send");
    let t = Instant::now();
    let ev = loop {
        if let Some(s) = rx.seen().into_iter().next() {
            break s;
        }
        assert!(t.elapsed() < Duration::from_secs(20), "no fraud.blocked");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(ev["ok"], true, "{ev}");
    let d = &ev["event"]["data"];
    assert_eq!(ev["event"]["type"], "fraud.blocked");
    assert_eq!(
        (&d["status"], &d["reason"], &d["seq"]),
        (&"blocked".into(), &"prefix_blocked".into(), &1.into())
    );
    assert!(d["id"].as_str().unwrap().starts_with("vrf_"));
    assert!(!ev["body"].as_str().unwrap().contains(&to[1..]));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        seen(&rx).iter().all(|(_, _, k)| k == "fraud.blocked"),
        "only the types the section names: {:?}",
        seen(&rx)
    );
    app.stop().await;
}

async fn a_section_wanting_only_expiry_hears_nothing_of_an_approved_code(backend: Backend) {
    let rx = Receiver::start(&secret(1), 0);
    let app = spawn_app(backend, |c| {
        let t = c.tenants.get_mut("demo").unwrap();
        t.ttl_secs = 2;
        t.events = Some(otpgw::config::EventsConfig {
            url: rx.url("/ok"),
            secret: secret(1).into(),
            types: vec!["verification.expired".into()],
            ..Default::default()
        });
    })
    .await;
    let (a, b) = (number(), number());
    let (ia, ib) = (start(&app, &a).await, start(&app, &b).await);
    let code = app.code_for(&a).await;
    assert_eq!(app.check(&a, &code).await.body["status"], "approved");
    let got = wait_for(&rx, &ib, 1).await;
    assert_eq!(kinds(&got), ["verification.expired"]);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let all = seen(&rx);
    assert_eq!(all.len(), 1, "the approved one never expires: {all:?}");
    assert!(all.iter().all(|(v, _, _)| *v != ia));
    app.stop().await;
}

async fn a_delivery_only_send_is_sent_then_approved_when_confirmed(backend: Backend) {
    let rx = Receiver::start(&secret(1), 0);
    let app = gateway(backend, rx.url("/ok"), 60, 600).await;
    let to = number();
    let r = app
        .post("/v1/deliveries", json!({"to": to, "code": "482913"}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("dlv_"), "{id}");
    assert_eq!(kinds(&wait_for(&rx, &id, 1).await), ["delivery.sent"]);
    let r = app
        .post(&format!("/v1/deliveries/{id}/confirm"), json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let got = wait_for(&rx, &id, 2).await;
    assert_eq!(kinds(&got), ["delivery.sent", "verification.approved"]);
    in_seq(&got);
    // confirming again emits nothing more
    let r = app
        .post(&format!("/v1/deliveries/{id}/confirm"), json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(wait_for(&rx, &id, 2).await.len(), 2);
    app.stop().await;
}
