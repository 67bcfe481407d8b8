//! Sinch SMS REST API: the exact JSON batch, the documented error codes, Prism on the
//! batches document, and token-authenticated delivery reports.

use crate::checks::shared::Vendor;
use crate::checks::*;
use crate::prism::{PrismProxy, Spec};
use crate::server::{message, Canned, MockProvider};
use otpgw::domain::DeliveryStatus;
use otpgw::providers::sinch::{Config, SinchProvider};
use otpgw::providers::{ErrorKind, Receipt, ReceiptError, SmsProvider};
use serde_json::json;

const PLAN: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90";
const API_TOKEN: &str = "0f9e8d7c6b5a49382716051423324150";
const FROM: &str = "+15551231234";
const TO: &str = "+14155550123";
const TEXT: &str = "Your code is 123456 — don't share it";
const CALLBACK: &str = "https://gw.example.com/v1/receipts/sn";
const RECEIPT_TOKEN: &str = "rcpt-fedcba9876543210";

/// The `201` answer of Sinch's "Send" reference.
const CREATED: &str = r#"{"id":"01FC66621XXXXX119Z8PMV1QPQ","to":["15551234567"],"from":"15551231234","canceled":false,"body":"Hi ${name}! How are you?","type":"mt_text","created_at":"2019-08-24T14:15:22Z","modified_at":"2019-08-24T14:15:22Z","delivery_report":"none","send_at":"2019-08-24T14:15:22Z","expire_at":"2019-08-24T14:15:22Z","flash_message":true}"#;
const BATCH_ID: &str = "01FC66621XXXXX119Z8PMV1QPQ";

fn config(base_url: &str) -> Config {
    Config {
        base_url: Some(base_url.into()),
        service_plan_id: PLAN.into(),
        api_token: API_TOKEN.into(),
        from: Some(FROM.into()),
        callback_url: Some(CALLBACK.into()),
        receipt_token: Some(RECEIPT_TOKEN.into()),
        ..Config::default()
    }
}

fn provider(cfg: &Config) -> SinchProvider {
    SinchProvider::new(cfg).expect("a valid config")
}

/// Sinch for the cases every adapter shares (`checks::shared`).
pub fn vendor() -> Vendor {
    Vendor {
        kind: "sinch",
        build: |base, timeout_ms| {
            Box::new(provider(&Config {
                timeout_ms,
                ..config(base)
            }))
        },
        to: TO,
        text: TEXT,
        accepted: Canned::json(201, CREATED),
        without_id: vec![
            Canned::json(
                201,
                r#"{"to":["15551234567"],"canceled":false,"type":"mt_text"}"#,
            ),
            Canned::json(201, r#"{"id":"","canceled":false}"#),
        ],
    }
}

fn error_body(code: &str, text: &str) -> String {
    json!({ "code": code, "text": text }).to_string()
}

#[tokio::test]
async fn sinch_sends_the_documented_json_batch() {
    let server = MockProvider::start(vec![Canned::json(201, CREATED)]).await;
    let id = provider(&config(&server.base_url()))
        .send(&message(TO, TEXT))
        .await
        .expect("sent");
    assert_eq!(id, BATCH_ID);

    let r = server.single();
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, format!("/xms/v1/{PLAN}/batches"));
    assert_eq!(r.query, None);
    assert_eq!(
        r.header("authorization"),
        Some(format!("Bearer {API_TOKEN}"))
    );
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/json")
    );
    assert_eq!(
        r.json(),
        json!({
            "from": FROM,
            "to": [TO],
            "body": TEXT,
            "delivery_report": "per_recipient",
            "callback_url": format!("{CALLBACK}?token={RECEIPT_TOKEN}"),
        }),
        "exactly these fields; E.164 with '+'; UTF-8 text as is"
    );
}

#[tokio::test]
async fn sinch_asks_for_no_report_without_receipts_and_no_sender_when_unset() {
    let server = MockProvider::start(vec![Canned::json(201, CREATED)]).await;
    let cfg = Config {
        from: None,
        callback_url: None,
        receipt_token: None,
        ..config(&server.base_url())
    };
    provider(&cfg)
        .send(&message(TO, "Code 654321"))
        .await
        .unwrap();
    assert_eq!(
        server.single().json(),
        json!({ "to": [TO], "body": "Code 654321" })
    );

    // A token alone (callback URL set in the Sinch dashboard) still asks for reports.
    let server = MockProvider::start(vec![Canned::json(201, CREATED)]).await;
    let cfg = Config {
        callback_url: None,
        ..config(&server.base_url())
    };
    provider(&cfg)
        .send(&message(TO, "Code 654321"))
        .await
        .unwrap();
    let sent = server.single().json();
    assert_eq!(sent["delivery_report"], "per_recipient");
    assert!(sent.get("callback_url").is_none());
}

#[tokio::test]
async fn sinch_error_answers_map_to_kinds() {
    use ErrorKind::*;
    let bad_to =
        "The format of parameter 'to[0]' is invalid; value '+1' is not a valid MSISDN or group ID.";
    let cases: Vec<(Canned, ErrorKind, bool)> = vec![
        (
            Canned::json(400, error_body("syntax_invalid_parameter_format", bad_to)),
            InvalidDestination,
            false,
        ),
        (
            Canned::json(
                400,
                error_body(
                    "syntax_invalid_parameter_format",
                    "The format of parameter 'expire_at' is invalid.",
                ),
            ),
            RejectedContent,
            false,
        ),
        (
            Canned::json(400, error_body("syntax_invalid_json", "Invalid JSON.")),
            RejectedContent,
            false,
        ),
        (
            Canned::json(
                400,
                error_body("syntax_constraint_violation", "'body' must not be empty."),
            ),
            RejectedContent,
            false,
        ),
        (
            Canned::json(
                403,
                error_body("illegal_number_type", "Illegal number type."),
            ),
            InvalidDestination,
            false,
        ),
        (
            Canned::json(
                403,
                error_body(
                    "missing_callback_url",
                    "Requesting delivery report without any callback URL.",
                ),
            ),
            RejectedContent,
            false,
        ),
        (
            Canned::json(403, error_body("blocked_account", "Account blocked.")),
            Auth,
            false,
        ),
        (Canned::json(401, ""), Auth, false),
        (Canned::json(404, ""), Auth, false),
        (Canned::json(500, "{}"), Unavailable, true),
        (Canned::json(503, "<html></html>"), Unavailable, true),
    ];
    let cases = cases
        .into_iter()
        .map(|(answer, kind, retryable)| {
            let name = format!("{} {}", answer.status, answer.body);
            Case::new(name, answer, kind, retryable)
        })
        .collect();
    check_errors(cases, |b| provider(&config(b)), TO, TEXT).await;
}

#[tokio::test]
async fn sinch_requests_conform_to_the_batches_openapi_document() {
    let prism = PrismProxy::start(Spec::Sinch).await;
    let with_reports = provider(&config(&prism.base_url()));
    // The document has no example answer: Prism builds one from the schema ("string").
    assert_eq!(
        with_reports
            .send(&message(TO, TEXT))
            .await
            .expect("Prism accepts it"),
        "string"
    );
    let plain = provider(&Config {
        from: None,
        callback_url: None,
        receipt_token: None,
        ..config(&prism.base_url())
    });
    assert_eq!(
        plain
            .send(&message(TO, "Код 123456"))
            .await
            .expect("Prism accepts it"),
        "string"
    );
    prism.assert_all_accepted();
    assert_eq!(prism.exchanges().len(), 2);
}

#[tokio::test]
async fn sinch_prism_refuses_what_the_document_forbids() {
    let prism = PrismProxy::start(Spec::Sinch).await;
    let url = format!("{}/xms/v1/{PLAN}/batches", prism.base_url());
    let client = reqwest::Client::new();
    let no_auth = client.post(&url).json(&json!({ "to": [TO], "body": "x" }));
    assert_eq!(no_auth.send().await.unwrap().status(), 401);
    // The document answers a request that breaks it with its own 400 example.
    let bad = client
        .post(&url)
        .bearer_auth(API_TOKEN)
        .json(&json!({ "to": TO, "body": "x", "delivery_report": "always" }));
    assert_eq!(bad.send().await.unwrap().status(), 400);
    let refused: Vec<u16> = prism.refused().iter().map(|x| x.status).collect();
    assert_eq!(refused, [401, 400]);
}

// ---- delivery reports ------------------------------------------------------------------

fn report_url(token: &str) -> String {
    format!("{CALLBACK}?token={token}")
}

/// A per-recipient delivery report as Sinch documents it.
fn recipient_report(status: &str, code: u32) -> Vec<u8> {
    json!({
        "at": "2022-08-30T08:16:08.930Z",
        "batch_id": BATCH_ID,
        "client_reference": "a client reference",
        "code": code,
        "operator_status_at": "2022-08-30T08:16:00Z",
        "recipient": "14155550123",
        "status": status,
        "type": "recipient_delivery_report_sms"
    })
    .to_string()
    .into_bytes()
}

#[test]
fn sinch_reports_with_the_token_become_receipts() {
    let p = provider(&config("http://127.0.0.1:1"));
    let receipt = |status, detail: Option<&str>| {
        vec![Receipt {
            message_id: BATCH_ID.into(),
            status,
            detail: detail.map(str::to_string),
        }]
    };
    let cases = [
        ("Delivered", 0, receipt(DeliveryStatus::Delivered, None)),
        (
            "Dispatched",
            401,
            receipt(DeliveryStatus::Sent, Some("401")),
        ),
        (
            "Failed",
            402,
            receipt(DeliveryStatus::Undelivered, Some("402")),
        ),
        (
            "Expired",
            406,
            receipt(DeliveryStatus::Undelivered, Some("406")),
        ),
        (
            "Rejected",
            408,
            receipt(DeliveryStatus::Failed, Some("408")),
        ),
        ("Aborted", 412, receipt(DeliveryStatus::Failed, Some("412"))),
        (
            "Cancelled",
            407,
            receipt(DeliveryStatus::Failed, Some("407")),
        ),
        ("Deleted", 418, receipt(DeliveryStatus::Failed, Some("418"))),
        ("Queued", 400, vec![]),
        ("Unknown", 0, vec![]),
    ];
    for (status, code, expected) in cases {
        let cb = Callback::post_json(&report_url(RECEIPT_TOKEN), recipient_report(status, code));
        assert_eq!(cb.parse(&p), Ok(expected), "{status}");
    }
    // A batch report (summary or full) is read as well.
    let batch = json!({
        "batch_id": BATCH_ID,
        "statuses": [{ "code": 0, "count": 1, "recipients": [TO], "status": "Delivered" }],
        "total_message_count": 1,
        "type": "delivery_report_sms"
    });
    let cb = Callback::post_json(&report_url(RECEIPT_TOKEN), batch.to_string());
    assert_eq!(cb.parse(&p), Ok(receipt(DeliveryStatus::Delivered, None)));
}

#[test]
fn sinch_reports_without_the_token_or_malformed_are_refused() {
    let p = provider(&config("http://127.0.0.1:1"));
    let body = recipient_report("Delivered", 0);
    assert_eq!(
        Callback::post_json(CALLBACK, body.clone()).parse(&p),
        Err(ReceiptError::Unsigned)
    );
    let wrong = report_url("rcpt-fedcba987654321X");
    assert_eq!(
        Callback::post_json(&wrong, body.clone()).parse(&p),
        Err(ReceiptError::Forged)
    );
    let short = report_url("rcpt");
    assert_eq!(
        Callback::post_json(&short, body).parse(&p),
        Err(ReceiptError::Forged)
    );

    let url = report_url(RECEIPT_TOKEN);
    let malformed: [Vec<u8>; 4] = [
        b"{\"batch_id\":".to_vec(),
        json!({ "type": "recipient_delivery_report_sms", "status": "Delivered" })
            .to_string()
            .into(),
        json!({ "type": "recipient_delivery_report_sms", "batch_id": BATCH_ID })
            .to_string()
            .into(),
        json!({ "type": "mo_text", "batch_id": BATCH_ID, "body": "hi" })
            .to_string()
            .into(),
    ];
    for body in malformed {
        let text = String::from_utf8_lossy(&body).into_owned();
        let r = Callback::post_json(&url, body).parse(&p);
        assert!(
            matches!(r, Err(ReceiptError::Malformed(_))),
            "{text}: {r:?}"
        );
    }
    // No token configured: receipts are off, never accepted.
    let open = provider(&Config {
        callback_url: None,
        receipt_token: None,
        ..config("http://127.0.0.1:1")
    });
    let cb = Callback::post_json(&url, recipient_report("Delivered", 0));
    assert_eq!(cb.parse(&open), Err(ReceiptError::NotSupported));
}
