//! Meta end to end through the gateway: a verification on the `whatsapp` channel sent
//! through the `meta_whatsapp` adapter to a stand-in of the Cloud API, then Meta's
//! signed status updates to `/v1/receipts/meta` moving its `delivery.status`; refused
//! webhooks (unsigned 401, forged 403, malformed 400, oversized 413, an unknown wamid
//! 404) changing nothing; inbound messages answered 200; the subscription handshake;
//! and a template Meta rejects moving a workflow to its next step.

use crate::meta_whatsapp::{self as meta, APP_SECRET, VERIFY_TOKEN, WAMID};
use crate::server::{Canned, MockProvider};
use crate::support::app::number;
use crate::support::{spawn_app, Backend, TestApp};
use otpgw::config::{RouteTable, StepConfig, WorkflowConfig};
use otpgw::providers::ProviderConfig;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// A gateway whose `whatsapp` channel goes through `meta`, and the Cloud API stand-in.
async fn gateway() -> (TestApp, MockProvider) {
    gateway_answering(Canned::json(200, meta::ACCEPTED)).await
}

/// The same with the stand-in answering `answer`, and the demo tenant's workflow
/// `wa_first`: WhatsApp, then SMS (through the console).
async fn gateway_answering(answer: Canned) -> (TestApp, MockProvider) {
    let cloud = MockProvider::start(vec![answer]).await;
    let base = cloud.base_url();
    let app = spawn_app(Backend::Memory, move |c| {
        let step = |channel: &str, timeout_secs| StepConfig {
            channel: channel.into(),
            timeout_secs,
        };
        let steps = vec![step("whatsapp", Some(60)), step("sms", None)];
        let demo = c.tenants.get_mut("demo").expect("the demo tenant");
        demo.workflows
            .insert("wa_first".into(), WorkflowConfig { steps });
        c.providers.insert(
            "meta".into(),
            ProviderConfig::MetaWhatsapp(meta::config(&base)),
        );
        let table = RouteTable {
            default: vec!["meta".into()],
            ..RouteTable::default()
        };
        c.routing.channels.insert("whatsapp".into(), table);
        c.receipts.public_base_url = Some("https://otp.example.com".into());
    })
    .await;
    (app, cloud)
}

async fn status(app: &TestApp, id: &str) -> Value {
    app.fetch(id).await.body["delivery"].clone()
}

/// Starts a WhatsApp verification to a fresh number and waits until Meta accepted it;
/// the verification id and the number.
async fn start_and_wait_sent(app: &TestApp) -> (String, String) {
    let to = number();
    let r = app
        .post(
            "/v1/verifications",
            json!({"to": to, "channel": "whatsapp"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_string();
    let t = Instant::now();
    while status(app, &id).await["status"] != "sent" {
        assert!(t.elapsed() < Duration::from_secs(5), "never sent");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (id, to)
}

/// POSTs `body` to `/v1/receipts/meta` with `signature` (none: no header).
async fn webhook(app: &TestApp, body: &str, signature: Option<String>) -> (u16, Value) {
    let mut req = app
        .http
        .post(app.url("/v1/receipts/meta"))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(s) = signature {
        req = req.header("x-hub-signature-256", s);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or_default())
}

async fn signed(app: &TestApp, body: &str) -> (u16, Value) {
    webhook(
        app,
        body,
        Some(meta::meta_sign(APP_SECRET, body.as_bytes())),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn meta_sends_the_verifications_code_and_signed_statuses_move_its_delivery() {
    let (app, cloud) = gateway().await;
    let (id, to) = start_and_wait_sent(&app).await;
    // The code the gateway made is the template's parameter, in both places.
    let code = app.code_for(&to).await;
    let sent = cloud.single().json();
    let params = &sent["template"]["components"];
    assert_eq!(params[0]["parameters"][0]["text"], code.as_str(), "{sent}");
    assert_eq!(params[1]["parameters"][0]["text"], code.as_str(), "{sent}");
    assert_eq!(sent["to"], to.trim_start_matches('+'));
    assert_eq!(status(&app, &id).await["provider"], "meta");

    let sent_again = meta::status_webhook(WAMID, "sent", None);
    // A `sent` the gateway already knew: 200, the status stays.
    assert_eq!(signed(&app, &sent_again).await.0, 200);
    assert_eq!(status(&app, &id).await["status"], "sent");
    let delivered = meta::status_webhook(WAMID, "delivered", None);
    assert_eq!(signed(&app, &delivered).await, (200, json!({"updated": 1})));
    assert_eq!(status(&app, &id).await["status"], "delivered");
    let read = meta::status_webhook(WAMID, "read", None);
    assert_eq!(signed(&app, &read).await.0, 200);
    assert_eq!(
        status(&app, &id).await["status"],
        "delivered",
        "read is delivered"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn meta_read_is_delivered_and_failed_gives_its_error_as_the_reason() {
    let (app, _cloud) = gateway().await;
    let (id, _) = start_and_wait_sent(&app).await;
    let read = meta::status_webhook(WAMID, "read", None);
    assert_eq!(signed(&app, &read).await, (200, json!({"updated": 1})));
    assert_eq!(status(&app, &id).await["status"], "delivered");

    let (app, _cloud) = gateway().await;
    let (id, _) = start_and_wait_sent(&app).await;
    let failed = meta::status_webhook(WAMID, "failed", Some((131026, "Message undeliverable")));
    assert_eq!(signed(&app, &failed).await, (200, json!({"updated": 1})));
    let d = status(&app, &id).await;
    assert_eq!(d["status"], "failed", "{d}");
    assert_eq!(
        d["reason"], "reported by meta: 131026 Message undeliverable",
        "{d}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn meta_refused_webhooks_change_nothing_and_inbound_messages_are_acknowledged() {
    let (app, _cloud) = gateway().await;
    let (id, _) = start_and_wait_sent(&app).await;
    let delivered = meta::status_webhook(WAMID, "delivered", None);

    assert_eq!(webhook(&app, &delivered, None).await.0, 401, "unsigned");
    let forged = meta::meta_sign("not-the-app-secret", delivered.as_bytes());
    assert_eq!(
        webhook(&app, &delivered, Some(forged)).await.0,
        403,
        "forged"
    );
    let bad = "sha256=zz".to_string();
    assert_eq!(webhook(&app, &delivered, Some(bad)).await.0, 403, "not hex");
    assert_eq!(signed(&app, "{\"entry\": [").await.0, 400, "malformed JSON");
    let big = format!("{{\"entry\":[],\"pad\":\"{}\"}}", "x".repeat(9_000));
    assert_eq!(
        signed(&app, &big).await.0,
        413,
        "over receipts.body_limit_bytes"
    );
    let unknown = meta::status_webhook("wamid.UNKNOWN", "delivered", None);
    assert_eq!(signed(&app, &unknown).await.0, 404, "an unknown wamid");
    assert_eq!(status(&app, &id).await["status"], "sent", "nothing changed");

    // Inbound messages carry no status: 200 with nothing updated (Meta retries others).
    let inbound = meta::inbound_webhook();
    assert_eq!(signed(&app, &inbound).await, (200, json!({"updated": 0})));
    assert_eq!(status(&app, &id).await["status"], "sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn meta_subscription_handshake_through_the_gateway() {
    let (app, _cloud) = gateway().await;
    let get = |q: String| {
        let http = app.http.clone();
        let url = app.url(&format!("/v1/receipts/meta?{q}"));
        async move { http.get(url).send().await.unwrap() }
    };
    let r = get(format!(
        "hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token={VERIFY_TOKEN}"
    ))
    .await;
    assert_eq!(r.status(), 200);
    let ct = r.headers()["content-type"].to_str().unwrap().to_string();
    assert!(ct.starts_with("text/plain"), "{ct}");
    assert_eq!(r.text().await.unwrap(), "1158201444");

    let wrong =
        get("hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=guess".into()).await;
    assert_eq!(wrong.status(), 403);
    assert!(!wrong.text().await.unwrap().contains("1158201444"));
    let missing = get("hub.mode=subscribe&hub.challenge=1158201444".into()).await;
    assert_eq!(missing.status(), 403);
    // A GET that is no handshake is a receipt, and unsigned.
    assert_eq!(get("x=1".into()).await.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn meta_a_rejected_template_moves_a_workflow_to_its_next_step() {
    // Meta's answer for a template not approved in the language (permanent).
    let rejected = json!({"error": {
        "message": "(#132001) Template name does not exist in the translation",
        "type": "OAuthException", "code": 132001,
        "error_data": {"messaging_product": "whatsapp",
            "details": "template name (otp_code) does not exist in en_US"},
        "fbtrace_id": "AbCdEf"}});
    let (app, cloud) = gateway_answering(Canned::json(404, rejected.to_string())).await;
    let to = number();
    let r = app
        .post(
            "/v1/verifications",
            json!({"to": to, "workflow": "wa_first"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_string();
    let t = Instant::now();
    let workflow = loop {
        let w = app.fetch(&id).await.body["workflow"].clone();
        if w["steps"][1]["status"] == "sent" {
            break w;
        }
        assert!(t.elapsed() < Duration::from_secs(10), "never moved on: {w}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(workflow["steps"][0]["channel"], "whatsapp", "{workflow}");
    assert_eq!(workflow["steps"][0]["status"], "failed", "{workflow}");
    assert_eq!(workflow["steps"][0]["next_because"], "failed", "{workflow}");
    assert_eq!(workflow["steps"][1]["channel"], "sms", "{workflow}");
    assert_eq!(workflow["steps"][1]["provider"], "console", "{workflow}");
    assert_eq!(
        cloud.requests().len(),
        1,
        "a permanent rejection is not retried"
    );
}
