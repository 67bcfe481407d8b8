//! Telnyx: `POST /v2/messages` with a bearer key and a JSON body; `data.id` back; errors
//! as `errors[].code`; delivery webhooks signed with Ed25519 over `<timestamp>|<body>`.

use crate::checks::shared::Vendor;
use crate::checks::{check_errors, headers, now, receipt, Case};
use crate::server::{message, Canned, MockProvider};
use base64::Engine as _;
use ed25519_dalek::{Signer, SigningKey};
use otpgw::domain::DeliveryStatus;
use otpgw::providers::telnyx::{self, TelnyxProvider};
use otpgw::providers::{ErrorKind::*, ProviderConfig, Receipt, ReceiptError, SmsProvider};
use std::time::Duration;

const KEY: &str = "KEY0123456789ABCDEF_test";
const RECEIPT_URL: &str = "https://otp.example/v1/receipts/telnyx";

/// The documented success answer of `POST /v2/messages` (API reference example).
const SENT: &str = r#"{"data":{"record_type":"message","direction":"outbound","id":"40385f64-5717-4562-b3fc-2c963f66afa6","type":"SMS","messaging_profile_id":"4000eba1-a0c0-4563-9925-b25e842a7cb6","organization_id":"b448f9cc-a842-4784-98e9-03c1a5872950","from":{"phone_number":"+18445550001","carrier":"TELNYX LLC","line_type":"VoIP"},"to":[{"phone_number":"+14155550123","status":"queued","carrier":"T-MOBILE USA, INC.","line_type":"Wireless"}],"cc":[],"text":"Your code is 123456","media":[],"webhook_url":"https://otp.example/v1/receipts/telnyx","webhook_failover_url":null,"encoding":"GSM-7","parts":1,"tags":[],"cost":{"amount":"0.0051","currency":"USD"},"received_at":"2019-01-23T18:10:02.574Z","sent_at":null,"completed_at":null,"valid_until":null,"errors":[]}}"#;

fn config(base: &str) -> telnyx::Config {
    telnyx::Config {
        base_url: base.into(),
        api_key: KEY.into(),
        from: Some("+18445550001".into()),
        webhook_url: Some(RECEIPT_URL.into()),
        timeout_ms: 2_000,
        ..Default::default()
    }
}

fn provider(base: &str) -> TelnyxProvider {
    TelnyxProvider::new(&config(base)).unwrap()
}

/// Telnyx for the cases every adapter shares (`checks::shared`).
pub fn vendor() -> Vendor {
    Vendor {
        kind: "telnyx",
        build: |base, timeout_ms| {
            Box::new(
                TelnyxProvider::new(&telnyx::Config {
                    timeout_ms,
                    ..config(base)
                })
                .unwrap(),
            )
        },
        to: "+14155550123",
        text: "Your code is 123456",
        accepted: Canned::json(200, SENT),
        without_id: vec![
            Canned::json(
                200,
                r#"{"data":{"record_type":"message","to":[{"status":"queued"}]}}"#,
            ),
            Canned::json(200, r#"{"data":{"id":null}}"#),
            Canned::json(200, r#"{"data":{"id":""}}"#),
            Canned::json(200, r#"{"errors":[]}"#),
        ],
    }
}

#[tokio::test]
async fn telnyx_sends_the_documented_request_and_returns_data_id() {
    let mock = MockProvider::start(vec![Canned::json(200, SENT)]).await;
    let id = provider(&mock.base_url())
        .send(&message("+14155550123", "Your code is 123456"))
        .await
        .unwrap();
    assert_eq!(id, "40385f64-5717-4562-b3fc-2c963f66afa6");
    let r = mock.single();
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/v2/messages");
    assert_eq!(r.query, None);
    assert_eq!(r.header("authorization").unwrap(), format!("Bearer {KEY}"));
    assert_eq!(r.header("content-type").unwrap(), "application/json");
    assert_eq!(
        r.json(),
        serde_json::json!({
            "from": "+18445550001",
            "to": "+14155550123",
            "text": "Your code is 123456",
            "webhook_url": RECEIPT_URL,
        })
    );
}

#[tokio::test]
async fn telnyx_sends_unicode_text_as_utf8_and_profile_instead_of_sender() {
    let mock = MockProvider::start(vec![Canned::json(200, SENT)]).await;
    let cfg = telnyx::Config {
        from: None,
        webhook_url: None,
        messaging_profile_id: Some("4000eba1-a0c0-4563-9925-b25e842a7cb6".into()),
        ..config(&mock.base_url())
    };
    let text = "Código: 123456 ✓";
    TelnyxProvider::new(&cfg)
        .unwrap()
        .send(&message("+447700900123", text))
        .await
        .unwrap();
    let r = mock.single();
    assert!(
        r.text().contains("Código: 123456 ✓"),
        "raw UTF-8, not escaped: {}",
        r.text()
    );
    assert_eq!(
        r.json(),
        serde_json::json!({
            "messaging_profile_id": "4000eba1-a0c0-4563-9925-b25e842a7cb6",
            "to": "+447700900123",
            "text": text,
        })
    );
}

fn err(status: u16, code: &str, title: &str) -> Canned {
    Canned::json(
        status,
        format!(
            r#"{{"errors":[{{"code":"{code}","title":"{title}","detail":"Messages cannot be sent from '+18445550001' to '+14155550123' due to an existing block rule.","meta":{{"url":"https://developers.telnyx.com/docs/overview/errors/{code}"}}}}]}}"#
        ),
    )
}

#[tokio::test]
async fn telnyx_maps_documented_errors() {
    let cases = vec![
        Case::new(
            "40300 opted out (409)",
            err(409, "40300", "Blocked due to STOP message"),
            InvalidDestination,
            false,
        ),
        Case::new(
            "40310 invalid to",
            err(400, "40310", "Invalid 'to' address"),
            InvalidDestination,
            false,
        ),
        Case::new(
            "10016 not E.164",
            err(422, "10016", "Phone number must be in +E.164 format"),
            InvalidDestination,
            false,
        ),
        Case::new(
            "40001 not routable",
            err(400, "40001", "Not routable"),
            InvalidDestination,
            false,
        ),
        Case::new(
            "40322 blocked content",
            err(400, "40322", "Blocked due to content"),
            RejectedContent,
            false,
        ),
        Case::new(
            "40002 spam, temporary",
            err(400, "40002", "Blocked as spam - temporary"),
            RejectedContent,
            true,
        ),
        Case::new(
            "10004 missing parameter",
            err(422, "10004", "Missing required parameter"),
            RejectedContent,
            false,
        ),
        Case::new(
            "10009 authentication failed",
            err(401, "10009", "Authentication failed"),
            Auth,
            false,
        ),
        Case::new(
            "10010 authorization failed",
            err(403, "10010", "Authorization failed"),
            Auth,
            false,
        ),
        Case::new(
            "40305 invalid from",
            err(400, "40305", "Invalid 'from' address"),
            Auth,
            false,
        ),
        Case::new(
            "20100 insufficient funds",
            err(403, "20100", "Insufficient funds"),
            Auth,
            false,
        ),
        Case::new(
            "40318 queue full",
            err(400, "40318", "Message queue full"),
            RateLimited,
            true,
        ),
        Case::new(
            "10011 too many requests",
            err(429, "10011", "Too many requests").header("retry-after", "7"),
            RateLimited,
            true,
        )
        .retry_after(Duration::from_secs(7)),
        Case::new(
            "429 without a body",
            Canned::json(429, ""),
            RateLimited,
            true,
        ),
        Case::new(
            "10007 unexpected error (500)",
            err(500, "10007", "Unexpected error"),
            Unavailable,
            true,
        ),
        Case::new(
            "503 with Retry-After",
            Canned::json(503, "<html>down</html>").header("retry-after", "30"),
            Unavailable,
            true,
        )
        .retry_after(Duration::from_secs(30)),
        Case::new(
            "numeric code",
            Canned::json(
                400,
                r#"{"errors":[{"code":40310,"title":"Invalid 'to' address"}]}"#,
            ),
            InvalidDestination,
            false,
        ),
        Case::new(
            "unknown code falls back on the status",
            err(404, "99999", "Something new"),
            RejectedContent,
            false,
        ),
    ];
    check_errors(cases, provider, "+14155550123", "Your code is 123456").await;
}

#[test]
fn telnyx_config_parses_with_defaults_and_reports_problems() {
    let c: ProviderConfig =
        toml::from_str("kind = \"telnyx\"\napi_key = \"k\"\nfrom = \"+18445550001\"").unwrap();
    let ProviderConfig::Telnyx(t) = &c else {
        panic!("{c:?}")
    };
    assert_eq!(t.base_url, "https://api.telnyx.com");
    assert_eq!(
        (t.timeout_ms, t.signature_tolerance_s, t.max_tps),
        (5_000, 300, None)
    );
    assert!(c.problems().is_empty(), "{:?}", c.problems());
    assert!(
        !format!("{c:?}").contains("\"k\""),
        "Debug shows the key: {c:?}"
    );
    assert!(toml::from_str::<ProviderConfig>(
        "kind = \"telnyx\"\napi_key = \"k\"\nfrom = \"x\"\nfrm = \"y\""
    )
    .is_err());
    let bad: ProviderConfig =
        toml::from_str("kind = \"telnyx\"\nwebhook_url = \"https://x/r\"\npublic_key = \"nope\"")
            .unwrap();
    let p = bad.problems().join("\n");
    for needle in ["api_key", "messaging_profile_id", "public_key"] {
        assert!(p.contains(needle), "{needle} missing from: {p}");
    }
    assert!(
        bad.build("tx", &otpgw::providers::ReceiptSink::default())
            .is_err(),
        "an unreadable public key must stop the build"
    );
}

// ---- receipts ----

/// A fresh key pair (from the OS RNG, outside the adapter).
fn key_pair() -> (SigningKey, String) {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).unwrap();
    let sk = SigningKey::from_bytes(&seed);
    let pk = base64::engine::general_purpose::STANDARD.encode(sk.verifying_key().as_bytes());
    (sk, pk)
}

fn sign(sk: &SigningKey, ts: i64, body: &str) -> String {
    let signed = format!("{ts}|{body}");
    base64::engine::general_purpose::STANDARD.encode(sk.sign(signed.as_bytes()).to_bytes())
}

fn webhook(event: &str, status: &str, errors: &str) -> String {
    format!(
        r#"{{"data":{{"event_type":"{event}","id":"86f58db9-0fe3-4adc-9d1f-46e66e6e9323","occurred_at":"2019-01-23T18:10:02.574Z","payload":{{"record_type":"message","direction":"outbound","id":"40385f64-5717-4562-b3fc-2c963f66afa6","type":"SMS","from":{{"phone_number":"+18445550001"}},"to":[{{"phone_number":"+14155550123","status":"{status}","carrier":"T-MOBILE USA, INC.","line_type":"Wireless"}}],"text":"Your code is 123456","errors":{errors}}},"record_type":"event"}},"meta":{{"attempt":1,"delivered_to":"{RECEIPT_URL}"}}}}"#
    )
}

fn receiver(pk: &str) -> TelnyxProvider {
    TelnyxProvider::new(&telnyx::Config {
        public_key: Some(pk.into()),
        ..config("http://unused")
    })
    .unwrap()
}

fn parse(
    p: &TelnyxProvider,
    h: &http::HeaderMap,
    body: &str,
) -> Result<Vec<Receipt>, ReceiptError> {
    p.parse_receipt(&receipt("POST", RECEIPT_URL, h, body.as_bytes()))
}

fn one(status: DeliveryStatus, detail: Option<&str>) -> Vec<Receipt> {
    vec![Receipt {
        message_id: "40385f64-5717-4562-b3fc-2c963f66afa6".into(),
        status,
        detail: detail.map(str::to_string),
    }]
}

#[test]
fn telnyx_signed_receipts_parse_into_delivery_updates() {
    let (sk, pk) = key_pair();
    let p = receiver(&pk);
    let t = now();
    for (event, status, errors, want) in [
        (
            "message.sent",
            "sent",
            "[]",
            one(DeliveryStatus::Sent, None),
        ),
        (
            "message.finalized",
            "delivered",
            "[]",
            one(DeliveryStatus::Delivered, None),
        ),
        (
            "message.finalized",
            "delivery_failed",
            r#"[{"code":"40001","title":"Not routable","detail":"+14155550123 is a landline"}]"#,
            one(DeliveryStatus::Undelivered, Some("40001 Not routable")),
        ),
        (
            "message.finalized",
            "sending_failed",
            "[]",
            one(DeliveryStatus::Failed, None),
        ),
        (
            "message.finalized",
            "expired",
            "[]",
            one(DeliveryStatus::Undelivered, None),
        ),
        (
            "message.finalized",
            "delivery_unconfirmed",
            "[]",
            one(DeliveryStatus::Sent, None),
        ),
        ("message.sent", "queued", "[]", vec![]),
        ("message.received", "delivered", "[]", vec![]),
    ] {
        let body = webhook(event, status, errors);
        let h = headers(&[
            ("telnyx-signature-ed25519", &sign(&sk, t, &body)),
            ("telnyx-timestamp", &t.to_string()),
        ]);
        assert_eq!(parse(&p, &h, &body).unwrap(), want, "{event} {status}");
    }
}

#[test]
fn telnyx_refuses_unsigned_forged_stale_and_malformed_receipts() {
    let (sk, pk) = key_pair();
    let (other, _) = key_pair();
    let p = receiver(&pk);
    let t = now();
    let body = webhook("message.finalized", "delivered", "[]");
    let signed = |sk: &SigningKey, ts: i64, b: &str| {
        headers(&[
            ("telnyx-signature-ed25519", &sign(sk, ts, b)),
            ("telnyx-timestamp", &ts.to_string()),
        ])
    };
    // Unsigned: no headers, or only one of the two.
    assert_eq!(parse(&p, &headers(&[]), &body), Err(ReceiptError::Unsigned));
    assert_eq!(
        parse(&p, &headers(&[("telnyx-timestamp", &t.to_string())]), &body),
        Err(ReceiptError::Unsigned)
    );
    let only_sig = headers(&[("telnyx-signature-ed25519", &sign(&sk, t, &body))]);
    assert_eq!(parse(&p, &only_sig, &body), Err(ReceiptError::Unsigned));
    // Forged: another key, a changed body, a changed timestamp, garbage.
    assert_eq!(
        parse(&p, &signed(&other, t, &body), &body),
        Err(ReceiptError::Forged)
    );
    let tampered = body.replace("delivered", "delivery_failed");
    assert_eq!(
        parse(&p, &signed(&sk, t, &body), &tampered),
        Err(ReceiptError::Forged)
    );
    let moved = headers(&[
        ("telnyx-signature-ed25519", &sign(&sk, t, &body)),
        ("telnyx-timestamp", &(t - 1).to_string()),
    ]);
    assert_eq!(parse(&p, &moved, &body), Err(ReceiptError::Forged));
    let garbage = headers(&[
        ("telnyx-signature-ed25519", "bm90IGEgc2lnbmF0dXJl"),
        ("telnyx-timestamp", &t.to_string()),
    ]);
    assert_eq!(parse(&p, &garbage, &body), Err(ReceiptError::Forged));
    // Stale or from the future beyond the 300 s tolerance, even when correctly signed.
    assert_eq!(
        parse(&p, &signed(&sk, t - 301, &body), &body),
        Err(ReceiptError::Forged)
    );
    assert_eq!(
        parse(&p, &signed(&sk, t + 301, &body), &body),
        Err(ReceiptError::Forged)
    );
    assert!(
        parse(&p, &signed(&sk, t - 250, &body), &body).is_ok(),
        "inside the tolerance"
    );
    // A shorter configured tolerance applies.
    let strict = TelnyxProvider::new(&telnyx::Config {
        public_key: Some(pk.clone()),
        signature_tolerance_s: 10,
        ..config("http://unused")
    })
    .unwrap();
    assert_eq!(
        parse(&strict, &signed(&sk, t - 60, &body), &body),
        Err(ReceiptError::Forged)
    );
    // Malformed: correctly signed, but not a message webhook.
    for bad in [
        "not json",
        r#"{"data":{}}"#,
        r#"{"data":{"event_type":"message.sent","payload":{"to":[]}}}"#,
    ] {
        assert!(
            matches!(
                parse(&p, &signed(&sk, t, bad), bad),
                Err(ReceiptError::Malformed(_))
            ),
            "{bad}"
        );
    }
    // Without a public key, this instance takes no receipts.
    assert_eq!(
        parse(&provider("http://unused"), &signed(&sk, t, &body), &body),
        Err(ReceiptError::NotSupported)
    );
}

/// A known-answer vector made outside this code base (a different Ed25519
/// implementation), with the RFC 8032 test-1 key pair: checks the signed-string layout
/// `<timestamp>|<body>` and the key encodings (raw base64 and SPKI base64).
#[test]
fn telnyx_signature_known_answer() {
    let body = br#"{"data":{"event_type":"message.finalized","id":"86f58db9-0fe3-4adc-9d1f-46e66e6e9323","occurred_at":"2023-11-14T22:13:20.000+00:00","payload":{"id":"40385f64-5717-4562-b3fc-2c963f66afa6","to":[{"phone_number":"+18665550001","status":"delivered"}],"errors":[]},"record_type":"event"},"meta":{"attempt":1,"delivered_to":"https://otp.example/v1/receipts/telnyx"}}"#;
    let sig =
        "6YCfrC8tmoKyQGZJCyiif1S9w/gZDhOWidGAZqi+1c3quHp5190voOz7OFO6SlU+LGVaIcaZglJdQx7yOsW3CA==";
    let h = headers(&[
        ("telnyx-signature-ed25519", sig),
        ("telnyx-timestamp", "1700000000"),
    ]);
    for pk in [
        "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
        "MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
    ] {
        let key = telnyx::public_key(pk).expect(pk);
        assert_eq!(
            telnyx::verify_signature(&key, &h, body, 1_700_000_100, 300),
            Ok(()),
            "{pk}"
        );
        assert_eq!(
            telnyx::verify_signature(&key, &h, body, 1_700_000_301, 300),
            Err(ReceiptError::Forged)
        );
        let mut other = body.to_vec();
        other[40] ^= 1;
        assert_eq!(
            telnyx::verify_signature(&key, &h, &other, 1_700_000_100, 300),
            Err(ReceiptError::Forged)
        );
    }
    assert_eq!(
        telnyx::receipts(body).unwrap(),
        one(DeliveryStatus::Delivered, None)
    );
}
