//! Twilio voice call status callbacks: signed `CallSid` callbacks as the adapter reads
//! them (mapped, unsigned, forged, malformed), and end to end through a running
//! gateway: a signed `completed` delivers, `no-answer` undelivers, forged and unsigned
//! ones change nothing, and an unanswered call moves a workflow to its SMS step.

use crate::checks::*;
use crate::twilio_voice::{config, provider, says, ACCOUNT, CALLBACK, CALLER_ID, SID, TO, TOKEN};
use crate::voice_support::*;
use axum::routing::post;
use axum::Router;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use otpgw::config::{StepConfig, WorkflowConfig};
use otpgw::domain::DeliveryStatus;
use otpgw::providers::twilio::Config;
use otpgw::providers::{ProviderConfig, Receipt, ReceiptError};
use serde_json::json;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Twilio's documented signature, written apart from the adapter.
fn twilio_sign(url: &str, params: &[(String, String)]) -> String {
    let mut sorted = params.to_vec();
    sorted.sort();
    let mut data = url.to_string();
    for (k, v) in &sorted {
        data.push_str(k);
        data.push_str(v);
    }
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(TOKEN.as_bytes()).unwrap();
    mac.update(data.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// A call status callback as Twilio posts it (`CallbackSource` call-progress-events).
fn call_callback(sid: &str, status: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut p = pairs(&[
        ("AccountSid", ACCOUNT),
        ("ApiVersion", "2010-04-01"),
        ("CallSid", sid),
        ("CallStatus", status),
        ("CallbackSource", "call-progress-events"),
        ("Called", TO),
        ("Caller", CALLER_ID),
        ("Direction", "outbound-api"),
        ("From", CALLER_ID),
        ("SequenceNumber", "3"),
        ("Timestamp", "Tue, 31 Aug 2010 20:36:44 +0000"),
        ("To", TO),
    ]);
    p.extend(pairs(extra));
    p
}

fn signed(params: &[(String, String)]) -> Callback {
    Callback::post_form(CALLBACK, params)
        .header("x-twilio-signature", &twilio_sign(CALLBACK, params))
}

#[test]
fn twilio_voice_signed_call_callbacks_become_receipts() {
    let p = provider(&config("http://127.0.0.1:1"));
    let receipt = |status, detail: Option<&str>| {
        Ok(vec![Receipt {
            message_id: SID.into(),
            status,
            detail: detail.map(str::to_string),
        }])
    };
    let parse =
        |status: &str, extra: &[(&str, &str)]| signed(&call_callback(SID, status, extra)).parse(&p);
    assert_eq!(
        parse("completed", &[("CallDuration", "9")]),
        receipt(DeliveryStatus::Delivered, None)
    );
    assert_eq!(
        parse("no-answer", &[]),
        receipt(DeliveryStatus::Undelivered, Some("no-answer"))
    );
    assert_eq!(
        parse("busy", &[("SipResponseCode", "486")]),
        receipt(DeliveryStatus::Undelivered, Some("busy, SIP 486"))
    );
    assert_eq!(
        parse("failed", &[]),
        receipt(DeliveryStatus::Undelivered, Some("failed"))
    );
    assert_eq!(
        parse("canceled", &[]),
        receipt(DeliveryStatus::Undelivered, Some("canceled"))
    );
    for s in ["initiated", "ringing", "in-progress"] {
        assert_eq!(parse(s, &[]), receipt(DeliveryStatus::Sent, None), "{s}");
    }
    assert_eq!(parse("queued", &[]), Ok(vec![]));

    let params = call_callback(SID, "completed", &[]);
    assert_eq!(
        Callback::post_form(CALLBACK, &params).parse(&p),
        Err(ReceiptError::Unsigned)
    );
    let mut tampered = params.clone();
    tampered
        .iter_mut()
        .find(|(k, _)| k == "CallStatus")
        .unwrap()
        .1 = "no-answer".into();
    let forged = Callback::post_form(CALLBACK, &tampered)
        .header("x-twilio-signature", &twilio_sign(CALLBACK, &params));
    assert_eq!(forged.parse(&p), Err(ReceiptError::Forged));
    let no_status: Vec<_> = params
        .into_iter()
        .filter(|(k, _)| k != "CallStatus")
        .collect();
    assert!(matches!(
        signed(&no_status).parse(&p),
        Err(ReceiptError::Malformed(_))
    ));
}

// ---- end to end ----------------------------------------------------------------------

/// Twilio's Calls resource, answering `201` with a new call sid each time and keeping
/// the TwiML of each call.
async fn calls_stand_in() -> (String, Arc<Mutex<Vec<String>>>) {
    let n = Arc::new(AtomicU32::new(0));
    let twimls = Arc::new(Mutex::new(Vec::new()));
    let seen = twimls.clone();
    let app = Router::new().route(
        "/2010-04-01/Accounts/{sid}/Calls.json",
        post(move |body: String| {
            let i = n.fetch_add(1, Ordering::SeqCst) + 1;
            let twiml = url::form_urlencoded::parse(body.as_bytes())
                .find(|(k, _)| k == "Twiml")
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            seen.lock().unwrap().push(twiml);
            async move {
                let sid = format!("CA{i:032x}");
                (
                    axum::http::StatusCode::CREATED,
                    axum::Json(json!({"sid": sid, "status": "queued"})),
                )
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (format!("http://{addr}"), twimls)
}

const GW_CALLBACK: &str = "https://otp.example.com/v1/receipts/tw";

async fn callback(
    app: &crate::support::TestApp,
    params: &[(String, String)],
    signature: Option<String>,
) -> u16 {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    let headers: Vec<(&str, String)> = signature
        .map(|s| ("x-twilio-signature", s))
        .into_iter()
        .collect();
    post_receipt(
        app,
        "tw",
        "application/x-www-form-urlencoded",
        &headers,
        body.into_bytes(),
    )
    .await
    .0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twilio_voice_status_callbacks_move_calls_end_to_end() {
    let (base, twimls) = calls_stand_in().await;
    let tw = Config {
        status_callback_url: Some(GW_CALLBACK.into()),
        ..config(&base)
    };
    let app = voice_gateway("tw", ProviderConfig::Twilio(tw), |_| {}).await;
    let first = start_call(&app, &crate::support::app::number()).await;
    let twiml = twimls.lock().unwrap()[0].clone();
    let say = says(&twiml);
    assert!(
        say.text().starts_with("Your ") && say.text().matches(", ").count() >= 5,
        "{twiml}"
    );
    let sid1 = format!("CA{:032x}", 1);

    let completed = call_callback(&sid1, "completed", &[("CallDuration", "12")]);
    assert_eq!(callback(&app, &completed, None).await, 401, "unsigned");
    let forged = twilio_sign("https://otp.example.com/v1/receipts/other", &completed);
    assert_eq!(
        callback(&app, &completed, Some(forged)).await,
        403,
        "forged"
    );
    assert_eq!(delivery_status(&app, &first).await, "sent", "nothing moved");
    let signature = twilio_sign(GW_CALLBACK, &completed);
    assert_eq!(callback(&app, &completed, Some(signature)).await, 200);
    assert_eq!(delivery_status(&app, &first).await, "delivered");

    let second = start_call(&app, &crate::support::app::number()).await;
    let sid2 = format!("CA{:032x}", 2);
    let no_answer = call_callback(&sid2, "no-answer", &[]);
    let signature = twilio_sign(GW_CALLBACK, &no_answer);
    assert_eq!(callback(&app, &no_answer, Some(signature)).await, 200);
    let v = app.fetch(&second).await.body;
    assert_eq!(v["delivery"]["status"], "undelivered", "{v}");
    assert!(
        v["delivery"]["reason"]
            .as_str()
            .unwrap()
            .contains("no-answer"),
        "{v}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twilio_voice_an_unanswered_call_moves_a_workflow_to_its_next_step() {
    let (base, _) = calls_stand_in().await;
    let tw = Config {
        status_callback_url: Some(GW_CALLBACK.into()),
        ..config(&base)
    };
    let app = voice_gateway("tw", ProviderConfig::Twilio(tw), |c| {
        let demo = c.tenants.get_mut("demo").unwrap();
        let step = |channel: &str, timeout_secs| StepConfig {
            channel: channel.into(),
            timeout_secs,
        };
        demo.workflows.insert(
            "call-first".into(),
            WorkflowConfig {
                steps: vec![step("voice", Some(600)), step("sms", None)],
            },
        );
    })
    .await;
    let to = crate::support::app::number();
    let r = app
        .post(
            "/v1/verifications",
            json!({"to": to, "workflow": "call-first"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_string();
    wait_status(&app, &id, "sent").await;
    let before = app.messages_to(&to).await;
    assert_eq!(before.len(), 1, "only the call so far: {before:?}");
    let busy = call_callback(&format!("CA{:032x}", 1), "busy", &[]);
    let signature = twilio_sign(GW_CALLBACK, &busy);
    assert_eq!(callback(&app, &busy, Some(signature)).await, 200);
    // The SMS step goes out through the console provider (the outbox) long before the
    // call step's 600 s timeout.
    let t = std::time::Instant::now();
    let sms = loop {
        let all = app.messages_to(&to).await;
        if all.len() > 1 {
            break all[0].clone();
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "the workflow never moved on"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // The call spelled the code out; the SMS carries it whole, the same code.
    let code = crate::support::app::extract_code(&sms);
    let spoken: String = before[0].chars().filter(char::is_ascii_digit).collect();
    assert_eq!(code, spoken, "{sms} / {}", before[0]);
}
