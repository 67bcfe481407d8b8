//! Delivery receipts end to end: a message sent through the Twilio adapter to a stand-in
//! of Twilio's API, then status callbacks to `/v1/receipts/<name>`: a signed one moves
//! `delivery.status`; unsigned, forged, malformed ones and unknown message ids are refused
//! and change nothing; a replayed one is answered `200` and changes nothing, and a final
//! status never moves (memory and Redis); a delivery-only send is moved the same way.

mod support;

use serde_json::json;
use std::time::{Duration, Instant};
use support::app::number;
use support::{spawn_app, Backend, TestApp};

const SID: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "twilio-auth-token-for-tests";

/// Twilio's Messages resource, answering the documented 201 with a fixed sid.
async fn twilio_stand_in() -> String {
    support::twilio::messages_stand_in("SM00000000000000000000000000000001").await
}

/// What Twilio puts in `X-Twilio-Signature` under this file's token.
fn twilio_signature(url: &str, params: &[(&str, &str)]) -> String {
    support::twilio::signature(TOKEN, url, params)
}

async fn gateway() -> TestApp {
    gateway_on(Backend::Memory).await
}

async fn gateway_on(backend: Backend) -> TestApp {
    gateway_with(backend, |_| {}).await
}

/// A gateway sending SMS through `tw` (the Twilio stand-in), then `tweak`ed.
async fn gateway_with(backend: Backend, tweak: impl FnOnce(&mut otpgw::Config)) -> TestApp {
    let base = twilio_stand_in().await;
    spawn_app(backend, move |c| {
        support::twilio::send_through(c, support::twilio::config(base, SID, TOKEN));
        tweak(c);
    })
    .await
}

async fn status(app: &TestApp, id: &str) -> String {
    app.fetch(id).await.body["delivery"]["status"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Starts a verification and waits until the provider accepted its message.
async fn start_and_wait_sent(app: &TestApp) -> String {
    let id = app.start(&number()).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let t = Instant::now();
    while status(app, &id).await != "sent" {
        assert!(t.elapsed() < Duration::from_secs(5), "never sent");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    id
}

async fn callback(app: &TestApp, params: &[(&str, &str)], signature: Option<String>) -> u16 {
    callback_answer(app, params, signature).await.0
}

/// The status and JSON body of a receipt callback.
async fn callback_answer(
    app: &TestApp,
    params: &[(&str, &str)],
    signature: Option<String>,
) -> (u16, serde_json::Value) {
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    let mut req = app
        .http
        .post(app.url("/v1/receipts/tw"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body);
    if let Some(s) = signature {
        req = req.header("x-twilio-signature", s);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_receipt_moves_the_delivery_status_and_bad_ones_change_nothing() {
    let app = gateway().await;
    let id = start_and_wait_sent(&app).await;
    let url = "https://otp.example.com/v1/receipts/tw";
    let sid = "SM00000000000000000000000000000001";
    let delivered = [
        ("MessageSid", sid),
        ("MessageStatus", "delivered"),
        ("AccountSid", SID),
    ];

    assert_eq!(callback(&app, &delivered, None).await, 401, "unsigned");
    assert_eq!(
        callback(
            &app,
            &delivered,
            Some("AAAAAAAAAAAAAAAAAAAAAAAAAAA=".into())
        )
        .await,
        403,
        "forged"
    );
    let signed_other_url = twilio_signature("https://evil.example/v1/receipts/tw", &delivered);
    assert_eq!(
        callback(&app, &delivered, Some(signed_other_url)).await,
        403,
        "signed for another URL"
    );
    let unknown = [
        ("MessageSid", "SM99999999999999999999999999999999"),
        ("MessageStatus", "delivered"),
    ];
    assert_eq!(
        callback(&app, &unknown, Some(twilio_signature(url, &unknown))).await,
        404,
        "unknown message id"
    );
    let malformed = [("MessageStatus", "delivered")];
    assert_eq!(
        callback(&app, &malformed, Some(twilio_signature(url, &malformed))).await,
        400,
        "no MessageSid"
    );
    assert_eq!(status(&app, &id).await, "sent", "nothing changed");

    assert_eq!(
        callback(&app, &delivered, Some(twilio_signature(url, &delivered))).await,
        200
    );
    let v = app.fetch(&id).await.body;
    assert_eq!(v["delivery"]["status"], "delivered");
    assert_eq!(v["delivery"]["provider"], "tw");

    let late_sent = [("MessageSid", sid), ("MessageStatus", "sent")];
    assert_eq!(
        callback(&app, &late_sent, Some(twilio_signature(url, &late_sent))).await,
        200
    );
    assert_eq!(
        status(&app, &id).await,
        "delivered",
        "a late `sent` does not move it back"
    );

    let r = app
        .http
        .post(app.url("/v1/receipts/console"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "providers without receipts refuse them");
    let r = app
        .http
        .post(app.url("/v1/receipts/nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undelivered_receipt_gives_its_error_as_the_reason() {
    let app = gateway().await;
    let id = start_and_wait_sent(&app).await;
    let sent = app.fetch(&id).await.body;
    assert!(sent["delivery"].get("reason").is_none(), "{sent}");
    let url = "https://otp.example.com/v1/receipts/tw";
    let undelivered = [
        ("MessageSid", "SM00000000000000000000000000000001"),
        ("MessageStatus", "undelivered"),
        ("ErrorCode", "30003"),
    ];
    let signature = twilio_signature(url, &undelivered);
    assert_eq!(callback(&app, &undelivered, Some(signature)).await, 200);
    let v = app.fetch(&id).await.body;
    assert_eq!(v["delivery"]["status"], "undelivered");
    assert_eq!(v["delivery"]["reason"], "reported by tw: 30003", "{v}");
}

async fn a_replayed_receipt_changes_nothing_and_final_statuses_do_not_move(backend: Backend) {
    let app = gateway_on(backend).await;
    let id = start_and_wait_sent(&app).await;
    let url = "https://otp.example.com/v1/receipts/tw";
    let sid = "SM00000000000000000000000000000001";
    let signed = |p: &[(&str, &str)]| Some(twilio_signature(url, p));
    let delivered = [("MessageSid", sid), ("MessageStatus", "delivered")];
    let undelivered = [
        ("MessageSid", sid),
        ("MessageStatus", "undelivered"),
        ("ErrorCode", "30003"),
    ];

    let first = callback_answer(&app, &delivered, signed(&delivered)).await;
    assert_eq!(first, (200, json!({"updated": 1})));
    let after_first = app.fetch(&id).await.body["delivery"].clone();
    assert_eq!(after_first["status"], "delivered");

    // The vendor retries, or someone replays the signed receipt: 200, nothing moves.
    let replay = callback_answer(&app, &delivered, signed(&delivered)).await;
    assert_eq!(replay, (200, json!({"updated": 0})));
    assert_eq!(app.fetch(&id).await.body["delivery"], after_first);

    // A signed `undelivered` for the same message cannot flip a final status.
    let flip = callback_answer(&app, &undelivered, signed(&undelivered)).await;
    assert_eq!(flip, (200, json!({"updated": 0})));
    assert_eq!(app.fetch(&id).await.body["delivery"], after_first);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_receipt_changes_nothing_on_memory() {
    a_replayed_receipt_changes_nothing_and_final_statuses_do_not_move(Backend::Memory).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_receipt_changes_nothing_on_redis() {
    a_replayed_receipt_changes_nothing_and_final_statuses_do_not_move(Backend::Redis).await;
}

/// A delivery-only send (`/v1/deliveries`) is linked and moved by its receipts as a
/// verification's send is.
async fn a_receipt_moves_a_delivery_only_send(backend: Backend) {
    let app = gateway_on(backend).await;
    let r = app
        .post("/v1/deliveries", json!({"to": number(), "code": "5511"}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_string();
    let path = format!("/v1/deliveries/{id}");
    let t = Instant::now();
    while app.get(&path).await.body["delivery"]["status"] != "sent" {
        assert!(t.elapsed() < Duration::from_secs(5), "never sent");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let url = "https://otp.example.com/v1/receipts/tw";
    let delivered = [
        ("MessageSid", "SM00000000000000000000000000000001"),
        ("MessageStatus", "delivered"),
        ("AccountSid", SID),
    ];
    let signature = Some(twilio_signature(url, &delivered));
    assert_eq!(callback(&app, &delivered, signature).await, 200);
    let v = app.get(&path).await.body;
    assert_eq!(v["delivery"]["status"], "delivered", "{v}");
    assert_eq!(v["delivery"]["provider"], "tw");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receipt_moves_a_delivery_only_send_on_memory() {
    a_receipt_moves_a_delivery_only_send(Backend::Memory).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receipt_moves_a_delivery_only_send_on_redis() {
    a_receipt_moves_a_delivery_only_send(Backend::Redis).await
}

/// A gateway whose demo tenant has the workflow `flow`: SMS through `tw` for
/// `sms_timeout` seconds, then a call (console).
async fn workflow_gateway(sms_timeout: u64) -> TestApp {
    gateway_with(Backend::Memory, move |c| {
        let flow = format!(
            "steps = [{{channel = \"sms\", timeout_secs = {sms_timeout}}}, {{channel = \"voice\"}}]"
        );
        let t = c.tenants.get_mut("demo").unwrap();
        t.workflows
            .insert("flow".into(), toml::from_str(&flow).unwrap());
    })
    .await
}

/// Starts the workflow `flow` and waits until its SMS was accepted.
async fn start_flow_sent(app: &TestApp) -> String {
    let r = app
        .post(
            "/v1/verifications",
            json!({"to": number(), "workflow": "flow"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_string();
    let t = Instant::now();
    while status(app, &id).await != "sent" {
        assert!(t.elapsed() < Duration::from_secs(5), "never sent");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    id
}

fn receipt(status: &str) -> Vec<(&'static str, String)> {
    vec![
        ("MessageSid", "SM00000000000000000000000000000001".into()),
        ("MessageStatus", status.into()),
        ("AccountSid", SID.into()),
    ]
}

async fn signed_receipt(app: &TestApp, status: &str) -> u16 {
    let params = receipt(status);
    let p: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let sig = twilio_signature("https://otp.example.com/v1/receipts/tw", &p);
    callback(app, &p, Some(sig)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undelivered_receipt_moves_a_workflow_to_its_next_step_at_once() {
    let app = workflow_gateway(600).await;
    let id = start_flow_sent(&app).await;
    assert_eq!(signed_receipt(&app, "undelivered").await, 200);
    let t = Instant::now();
    let v = loop {
        let v = app.fetch(&id).await.body;
        if v["workflow"]["current_step"] == 1 {
            break v;
        }
        assert!(t.elapsed() < Duration::from_secs(5), "did not move on: {v}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(v["channel"], "voice");
    let past = &v["workflow"]["steps"][0];
    assert_eq!(past["status"], "undelivered");
    assert_eq!(past["provider"], "tw");
    assert_eq!(past["next_because"], "undelivered");
    // the same receipt again (a vendor's retry) moves nothing further
    assert_eq!(signed_receipt(&app, "undelivered").await, 200);
    assert_eq!(app.fetch(&id).await.body["workflow"]["current_step"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivered_step_stays_the_last_one_past_its_timeout() {
    let app = workflow_gateway(1).await;
    let id = start_flow_sent(&app).await;
    assert_eq!(signed_receipt(&app, "delivered").await, 200);
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let v = app.fetch(&id).await.body;
    assert_eq!(v["workflow"]["current_step"], 0, "{v}");
    assert_eq!(v["delivery"]["status"], "delivered");
    assert_eq!(v["send_count"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_receipt_of_an_earlier_step_leaves_the_current_step_alone() {
    let app = workflow_gateway(1).await;
    let id = start_flow_sent(&app).await;
    // The SMS step times out without a receipt; the call step is sent.
    let t = Instant::now();
    let v = loop {
        let v = app.fetch(&id).await.body;
        if v["workflow"]["current_step"] == 1 && v["delivery"]["status"] == "sent" {
            break v;
        }
        assert!(t.elapsed() < Duration::from_secs(6), "no call step: {v}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(v["channel"], "voice");
    // Then the SMS's own receipt arrives: it is matched, and moves nothing.
    assert_eq!(signed_receipt(&app, "undelivered").await, 200);
    let after = app.fetch(&id).await.body;
    assert_eq!(after["workflow"]["current_step"], 1, "{after}");
    assert_eq!(after["delivery"]["status"], "sent", "{after}");
    assert_eq!(after["delivery"]["provider"], v["delivery"]["provider"]);
    assert_eq!(after["workflow"]["steps"], v["workflow"]["steps"]);
}
