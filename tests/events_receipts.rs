//! `delivery.delivered` from a provider's receipt, through the gateway on every backend:
//! a send through a Twilio stand-in, its signed `delivered` callback sent twice, and
//! the tenant's receiver (`support/webhook_rx.rs`) gets `delivery.sent` then
//! `delivery.delivered` once, with the provider and its message id; an `undelivered`
//! callback for another send is its `delivery.failed`, with the reason.

mod support;

use std::time::{Duration, Instant};
use support::webhook_rx::{secret, Receiver};
use support::{spawn_app, Backend, TestApp};

const SID: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "twilio-auth-token-for-events-tests";
const MESSAGE: &str = "SM00000000000000000000000000000077";

support::on_every_backend_kind!(receipts_are_sent_as_delivery_delivered_once_and_delivery_failed);

/// Twilio's Messages resource, answering the documented 201 with a fixed sid.
async fn twilio_stand_in() -> String {
    support::twilio::messages_stand_in(MESSAGE).await
}

/// A status callback signed as Twilio signs it.
async fn twilio_receipt(app: &TestApp, params: &[(&str, &str)]) -> u16 {
    support::twilio::receipt(app, "https://otp.example.com", "tw", TOKEN, params).await
}

/// The events about `id` the receiver verified, once there are `n` (types, data).
async fn wait_for(rx: &Receiver, id: &str, n: usize) -> Vec<(String, serde_json::Value)> {
    let t = Instant::now();
    loop {
        let got: Vec<_> = rx
            .seen()
            .into_iter()
            .filter(|s| s["ok"] == true && s["event"]["data"]["id"] == id)
            .map(|s| {
                let kind = s["event"]["type"].as_str().unwrap().to_string();
                (kind, s["event"]["data"].clone())
            })
            .collect();
        if got.len() >= n {
            return got;
        }
        assert!(t.elapsed() < Duration::from_secs(20), "{:?}", rx.seen());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn receipts_are_sent_as_delivery_delivered_once_and_delivery_failed(backend: Backend) {
    let rx = Receiver::start(&secret(1), 0);
    let base = twilio_stand_in().await;
    let url = rx.url("/ok");
    let app = spawn_app(backend, move |c| {
        support::twilio::send_through(c, support::twilio::config(base, SID, TOKEN));
        c.tenants.get_mut("demo").unwrap().events = Some(otpgw::config::EventsConfig {
            url,
            secret: secret(1).into(),
            ..Default::default()
        });
    })
    .await;
    let id = app.start(&support::app::number()).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let sent = wait_for(&rx, &id, 1).await;
    assert_eq!(sent[0].0, "delivery.sent");
    assert_eq!(sent[0].1["delivery"]["message_id"], MESSAGE);
    let delivered = [("MessageSid", MESSAGE), ("MessageStatus", "delivered")];
    assert_eq!(twilio_receipt(&app, &delivered).await, 200);
    assert_eq!(twilio_receipt(&app, &delivered).await, 200, "a replay");
    let got = wait_for(&rx, &id, 2).await;
    assert_eq!(got[1].0, "delivery.delivered");
    let d = &got[1].1;
    assert_eq!(
        (
            &d["seq"],
            &d["delivery"]["provider"],
            &d["delivery"]["status"]
        ),
        (&2.into(), &"tw".into(), &"delivered".into())
    );
    assert_eq!(d["delivery"]["message_id"], MESSAGE);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        wait_for(&rx, &id, 2).await.len(),
        2,
        "the replay sent nothing"
    );

    // the stand-in's sid now names a second send, which did not arrive
    let other = app.start(&support::app::number()).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(wait_for(&rx, &other, 1).await[0].0, "delivery.sent");
    let undelivered = [
        ("MessageSid", MESSAGE),
        ("MessageStatus", "undelivered"),
        ("ErrorCode", "30003"),
    ];
    assert_eq!(twilio_receipt(&app, &undelivered).await, 200);
    let got = wait_for(&rx, &other, 2).await;
    assert_eq!(got[1].0, "delivery.failed");
    assert_eq!(got[1].1["delivery"]["status"], "undelivered");
    assert!(got[1].1["reason"].is_string(), "{}", got[1].1);
    app.stop().await;
}
