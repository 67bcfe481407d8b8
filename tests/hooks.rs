//! Supabase Auth's Send SMS hook (`/v1/hooks/supabase/send-sms/{tenant}`), called as
//! Supabase calls it: real payloads signed by the Standard Webhooks reference library
//! (PyPI `standardwebhooks`, in a virtualenv), and forged, stale, future, replayed,
//! mistyped, header-less and oversized calls, which are refused and send nothing.

mod support;

use base64::Engine;
use serde_json::{json, Value};
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;
use support::app::{number, Resp, TestApp};
use support::{spawn_app, Backend};

support::on_every_backend_kind!(
    a_signed_call_delivers_its_otp_with_the_hook_template,
    every_configured_secret_is_accepted_for_rotation,
    forged_stale_future_and_replayed_calls_send_nothing,
    wrong_content_types_missing_headers_and_big_bodies_are_refused,
    refused_sends_answer_in_the_hook_contract,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hook_call_leaves_no_number_code_or_call_id_in_redis() {
    let app = spawn_app(Backend::Redis, with_hook(vec![secret(1)])).await;
    let to = number();
    let body = payload(&to, "7340981");
    let (id, ts) = (msg_id(), now());
    let sig = sign_all(&[(secret(1), id.clone(), ts, body.clone())]).remove(0);
    let r = call(&app, &id, ts, &sig, &body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(app.code_for(&to).await, "7340981");
    let all = support::scan::scan_all(&[support::redis::shared_redis().url()], &app.prefix);
    assert!(
        all.iter().any(|s| s.key.contains(":v:dlv_")),
        "the record was read"
    );
    assert!(
        all.iter().any(|s| s.key.contains(":{i")),
        "the call id was kept"
    );
    for s in &all {
        let value = String::from_utf8_lossy(&s.value);
        for secret in [&to[1..], "7340981", id.as_str()] {
            assert!(!s.key.contains(secret), "{secret} in key {}", s.key);
            assert!(
                !value.contains(secret),
                "{secret} in the value of {}",
                s.key
            );
        }
    }
}

const PATH: &str = "/v1/hooks/supabase/send-sms/demo";
const PIN: &str = "standardwebhooks==1.3.0";

fn secret(seed: u8) -> String {
    let key = [seed; 32];
    format!(
        "v1,whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(key)
    )
}

/// Signs each `(secret, id, timestamp, body)` with the reference library; the
/// `webhook-signature` values, in order.
fn sign_all(calls: &[(String, String, i64, String)]) -> Vec<String> {
    // One venv for the whole binary: the tests run in threads of one process, and the
    // venv is built under a per-process temporary name.
    static VENV: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    let py = VENV.get_or_init(|| {
        support::pyvenv::python("standardwebhooks-1.3.0", PIN).expect("a Python venv")
    });
    let script = r#"
import json, sys
from datetime import datetime, timezone
from standardwebhooks.webhooks import Webhook
out = []
for secret, msg_id, ts, body in json.load(sys.stdin):
    wh = Webhook(secret.removeprefix("v1,"))
    out.append(wh.sign(msg_id, datetime.fromtimestamp(ts, tz=timezone.utc), body))
print(json.dumps(out))
"#;
    let mut child = Command::new(py)
        .arg("-c")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let input = serde_json::to_vec(calls).unwrap();
    child.stdin.take().unwrap().write_all(&input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "the signer failed");
    serde_json::from_slice(&out.stdout).unwrap()
}

fn now() -> i64 {
    otpgw::domain::now_millis() / 1000
}

/// Supabase's payload for `phone` (E.164 digits without `+`, as Supabase keeps them).
fn payload(phone: &str, otp: &str) -> String {
    json!({
        "user": {
            "id": "6481a5c1-3d37-4a56-9f6a-bee08c554965",
            "aud": "authenticated",
            "role": "authenticated",
            "email": "",
            "phone": phone.trim_start_matches('+'),
            "app_metadata": {"provider": "phone", "providers": ["phone"]},
            "user_metadata": {},
            "identities": [],
            "created_at": "2024-05-13T11:52:48.157306Z",
            "is_anonymous": false
        },
        "sms": {"otp": otp}
    })
    .to_string()
}

fn msg_id() -> String {
    format!("msg_{}", hex::encode(otpgw::crypto::random_bytes::<8>()))
}

async fn call(app: &TestApp, id: &str, ts: i64, sig: &str, body: &str) -> Resp {
    let req = app
        .http
        .post(app.url(PATH))
        .header("content-type", "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", ts.to_string())
        .header("webhook-signature", sig)
        .body(body.to_string());
    app.send(req).await
}

/// Signs `body` under `secret` now and calls the hook.
async fn signed(app: &TestApp, secret: &str, body: &str) -> Resp {
    let (id, ts) = (msg_id(), now());
    let sig = sign_all(&[(secret.into(), id.clone(), ts, body.into())]).remove(0);
    call(app, &id, ts, &sig, body).await
}

fn with_hook(secrets: Vec<String>) -> impl FnOnce(&mut otpgw::Config) {
    move |c| {
        let t = c.tenants.get_mut("demo").unwrap();
        t.hooks.supabase = Some(otpgw::config::SupabaseHookConfig {
            secrets: secrets.into_iter().map(otpgw::config::Secret).collect(),
            template: Some("supabase".into()),
            ..Default::default()
        });
        let text = "{brand} login code {code}. Never share it.";
        t.templates
            .insert("supabase".into(), [("en".into(), text.into())].into());
    }
}

fn error_of(r: &Resp) -> (u64, String) {
    let e = &r.body["error"];
    (
        e["http_code"].as_u64().unwrap_or(0),
        e["message"].as_str().unwrap_or("").to_string(),
    )
}

async fn a_signed_call_delivers_its_otp_with_the_hook_template(b: Backend) {
    let app = spawn_app(b, with_hook(vec![secret(1)])).await;
    let to = number();
    let r = signed(&app, &secret(1), &payload(&to, "314159")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body, json!({}));
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/json")
    );
    assert_eq!(app.code_for(&to).await, "314159");
    let msgs = app.messages_to(&to).await;
    assert!(
        msgs[0].contains("login code 314159. Never share it."),
        "{}",
        msgs[0]
    );
    // the `+` form is read the same
    let to2 = number();
    let body = payload(&to2, "271828").replace(&to2[1..], &to2);
    let r = signed(&app, &secret(1), &body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(app.code_for(&to2).await, "271828");
}

async fn every_configured_secret_is_accepted_for_rotation(b: Backend) {
    let app = spawn_app(b, with_hook(vec![secret(1), secret(2)])).await;
    for (s, want) in [(secret(1), 200), (secret(2), 200), (secret(3), 401)] {
        let to = number();
        let r = signed(&app, &s, &payload(&to, "112233")).await;
        assert_eq!(r.status, want, "{}", r.text);
    }
    // Supabase sends one entry per secret, joined by ", "
    let (id, ts, to) = (msg_id(), now(), number());
    let body = payload(&to, "445566");
    let sigs = sign_all(&[
        (secret(3), id.clone(), ts, body.clone()),
        (secret(2), id.clone(), ts, body.clone()),
    ]);
    let r = call(&app, &id, ts, &sigs.join(", "), &body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(app.code_for(&to).await, "445566");
}

async fn forged_stale_future_and_replayed_calls_send_nothing(b: Backend) {
    let app = spawn_app(b, with_hook(vec![secret(1)])).await;
    let to = number();
    let body = payload(&to, "600613");
    let t = now();
    let ids: Vec<String> = (0..4).map(|_| msg_id()).collect();
    let sigs = sign_all(&[
        (secret(9), ids[0].clone(), t, body.clone()),
        (secret(1), ids[1].clone(), t - 330, body.clone()),
        (secret(1), ids[2].clone(), t + 330, body.clone()),
        (secret(1), ids[3].clone(), t, body.clone()),
    ]);
    let forged = call(&app, &ids[0], t, &sigs[0], &body).await;
    assert_eq!(
        (forged.status, error_of(&forged).0),
        (401, 401),
        "{}",
        forged.text
    );
    let stale = call(&app, &ids[1], t - 330, &sigs[1], &body).await;
    assert_eq!(stale.status, 401, "{}", stale.text);
    assert!(error_of(&stale).1.contains("too far"), "{}", stale.text);
    let future = call(&app, &ids[2], t + 330, &sigs[2], &body).await;
    assert_eq!(future.status, 401, "{}", future.text);
    let tampered = body.replace("600613", "600614");
    let r = call(&app, &ids[3], t, &sigs[3], &tampered).await;
    assert_eq!(r.status, 401, "a changed body: {}", r.text);
    let r = call(&app, &ids[3], t + 1, &sigs[3], &body).await;
    assert_eq!(r.status, 401, "a changed timestamp: {}", r.text);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(app.messages_to(&to).await.is_empty(), "nothing sent yet");
    let first = call(&app, &ids[3], t, &sigs[3], &body).await;
    assert_eq!(first.status, 200, "{}", first.text);
    app.code_for(&to).await;
    let replay = call(&app, &ids[3], t, &sigs[3], &body).await;
    assert_eq!(replay.status, 409, "{}", replay.text);
    assert_eq!(error_of(&replay).0, 409);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        app.messages_to(&to).await.len(),
        1,
        "the replay sent nothing"
    );
}

async fn wrong_content_types_missing_headers_and_big_bodies_are_refused(b: Backend) {
    let app = spawn_app(b, with_hook(vec![secret(1)])).await;
    let to = number();
    let body = payload(&to, "909090");
    let (id, ts) = (msg_id(), now());
    let sig = sign_all(&[(secret(1), id.clone(), ts, body.clone())]).remove(0);
    let base = || {
        app.http
            .post(app.url(PATH))
            .header("webhook-id", &id)
            .header("webhook-timestamp", ts.to_string())
            .header("webhook-signature", &sig)
            .body(body.clone())
    };
    for ct in ["text/plain", "application/x-www-form-urlencoded", ""] {
        let r = app.send(base().header("content-type", ct)).await;
        assert_eq!(r.status, 415, "{ct}: {}", r.text);
        assert_eq!(error_of(&r).0, 415);
    }
    let r = app.send(base()).await;
    assert_eq!(r.status, 415, "no content type: {}", r.text);
    for missing in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        let mut req = app
            .http
            .post(app.url(PATH))
            .header("content-type", "application/json")
            .body(body.clone());
        for (h, v) in [
            ("webhook-id", id.clone()),
            ("webhook-timestamp", ts.to_string()),
            ("webhook-signature", sig.clone()),
        ] {
            if h != missing {
                req = req.header(h, v);
            }
        }
        let r = app.send(req).await;
        assert_eq!(r.status, 401, "without {missing}: {}", r.text);
        assert!(error_of(&r).1.contains(missing), "{}", r.text);
    }
    // Over the limit: refused before it is read, and the connection closed; a client
    // of its own keeps the broken connection out of the shared pool.
    let big = format!("{{\"pad\":\"{}\"}}", "x".repeat(70 * 1024));
    let own = reqwest::Client::new();
    let req = own
        .post(app.url(PATH))
        .header("content-type", "application/json")
        .header("webhook-id", &id)
        .header("webhook-timestamp", ts.to_string())
        .header("webhook-signature", &sig)
        .body(big);
    let r = app.send(req).await;
    assert_eq!(r.status, 413, "{}", r.text);
    for path in [
        "/v1/hooks/supabase/send-sms/nobody",
        "/v1/hooks/supabase/send-sms/other",
    ] {
        let r = app
            .send(
                app.http
                    .post(app.url(path))
                    .header("content-type", "application/json"),
            )
            .await;
        assert_eq!(r.status, 404, "{path}: {}", r.text);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(app.messages_to(&to).await.is_empty(), "nothing sent");
    // the same signed call, framed right, still goes through once
    let r = app
        .send(base().header("content-type", "application/json"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

async fn refused_sends_answer_in_the_hook_contract(b: Backend) {
    let app = spawn_app(b, |c| {
        with_hook(vec![secret(1)])(c);
        c.tenants.get_mut("demo").unwrap().number_sends_per_hour = 1;
    })
    .await;
    let to = number();
    let r = signed(&app, &secret(1), &payload(&to, "123123")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = signed(&app, &secret(1), &payload(&to, "456456")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let (code, message) = error_of(&r);
    assert_eq!(code, 429, "{}", r.text);
    assert!(message.contains("try again"), "{message}");
    let r = signed(&app, &secret(1), &payload("+1555", "123123")).await;
    assert_eq!((r.status, error_of(&r).0), (200, 400), "{}", r.text);
    let r = signed(&app, &secret(1), &payload(&number(), "12ab")).await;
    assert_eq!((r.status, error_of(&r).0), (200, 400), "{}", r.text);
    let r = signed(&app, &secret(1), r#"{"user":{}}"#).await;
    assert_eq!((r.status, error_of(&r).0), (400, 400), "{}", r.text);
    let msgs: Vec<Value> = app.outbox().await;
    assert_eq!(
        msgs.iter().filter(|m| m["to"] == to.as_str()).count(),
        1,
        "the refused send went nowhere"
    );
}
