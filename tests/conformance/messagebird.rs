//! MessageBird: `POST /messages` with `AccessKey` auth and a JSON body; `id` back; errors
//! as `errors[].code`; status reports signed with `MessageBird-Signature-JWT`.

use crate::checks::shared::Vendor;
use crate::checks::{check_errors, headers, now, receipt, Case};
use crate::server::{message, Canned, MockProvider};
use base64::Engine as _;
use hmac::{KeyInit, Mac};
use otpgw::domain::DeliveryStatus;
use otpgw::providers::messagebird::{self, MessageBirdProvider};
use otpgw::providers::{ErrorKind::*, ProviderConfig, Receipt, ReceiptError, SmsProvider};
use sha2::Digest;
use std::time::Duration;

const ACCESS_KEY: &str = "live_0123456789abcdefghijklm";
const SIGNING_KEY: &str = "PlsK3y-for-signing-0123456789";
const RECEIPT_URL: &str = "https://otp.example/v1/receipts/messagebird";
/// The documented answer of "send a message" (HTTP 201).
const CREATED: &str = r#"{"id":"e8077d803532c0b5937c639b60216938","href":"https://rest.messagebird.com/messages/e8077d803532c0b5937c639b60216938","direction":"mt","type":"sms","originator":"OTPGW","body":"Your code is 123456","reference":"vrf_00aa0123456789abcdef01234567","validity":null,"gateway":10,"typeDetails":{},"datacoding":"plain","mclass":1,"scheduledDatetime":null,"createdDatetime":"2016-05-03T14:26:57+00:00","recipients":{"totalCount":1,"totalSentCount":1,"totalDeliveredCount":0,"totalDeliveryFailedCount":0,"items":[{"recipient":14155550123,"status":"sent","statusDatetime":"2016-05-03T14:26:57+00:00"}]}}"#;

fn config(base: &str) -> messagebird::Config {
    messagebird::Config {
        base_url: base.into(),
        access_key: ACCESS_KEY.into(),
        originator: "OTPGW".into(),
        report_url: Some(RECEIPT_URL.into()),
        signing_key: Some(SIGNING_KEY.into()),
        timeout_ms: 2_000,
        ..Default::default()
    }
}

fn provider(base: &str) -> MessageBirdProvider {
    MessageBirdProvider::new(&config(base)).unwrap()
}

/// MessageBird for the cases every adapter shares (`checks::shared`).
pub fn vendor() -> Vendor {
    Vendor {
        kind: "messagebird",
        build: |base, timeout_ms| {
            Box::new(
                MessageBirdProvider::new(&messagebird::Config {
                    timeout_ms,
                    ..config(base)
                })
                .unwrap(),
            )
        },
        to: "+14155550123",
        text: "Your code is 123456",
        accepted: Canned::json(201, CREATED),
        without_id: vec![
            Canned::json(
                201,
                r#"{"href":"https://rest.messagebird.com/messages","direction":"mt"}"#,
            ),
            Canned::json(201, r#"{"id":"","direction":"mt"}"#),
            Canned::json(201, r#"{"id":null}"#),
        ],
    }
}

#[tokio::test]
async fn messagebird_sends_the_documented_request_and_returns_id() {
    let mock = MockProvider::start(vec![Canned::json(201, CREATED)]).await;
    let id = provider(&mock.base_url())
        .send(&message("+14155550123", "Your code is 123456"))
        .await
        .unwrap();
    assert_eq!(id, "e8077d803532c0b5937c639b60216938");
    let r = mock.single();
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/messages");
    assert_eq!(
        r.header("authorization").unwrap(),
        format!("AccessKey {ACCESS_KEY}")
    );
    assert_eq!(r.header("content-type").unwrap(), "application/json");
    assert_eq!(
        r.json(),
        serde_json::json!({
            "originator": "OTPGW",
            "recipients": [14155550123u64],
            "body": "Your code is 123456",
            "datacoding": "auto",
            "reference": "vrf_00aa0123456789abcdef01234567",
            "reportUrl": RECEIPT_URL,
        })
    );
}

#[tokio::test]
async fn messagebird_without_report_url_and_with_unicode() {
    let mock = MockProvider::start(vec![Canned::json(201, CREATED)]).await;
    let cfg = messagebird::Config {
        report_url: None,
        originator: "+31612345678".into(),
        ..config(&mock.base_url())
    };
    MessageBirdProvider::new(&cfg)
        .unwrap()
        .send(&message("+447700900123", "Código 123456 ✓"))
        .await
        .unwrap();
    assert_eq!(
        mock.single().json(),
        serde_json::json!({
            "originator": "+31612345678",
            "recipients": [447700900123u64],
            "body": "Código 123456 ✓",
            "datacoding": "auto",
            "reference": "vrf_00aa0123456789abcdef01234567",
        })
    );
    // Something that is not E.164 is refused before any request.
    let e = MessageBirdProvider::new(&cfg)
        .unwrap()
        .send(&message("14155550123x", "x"))
        .await
        .unwrap_err();
    assert_eq!((e.kind, e.retryable), (InvalidDestination, false));
}

fn err(status: u16, code: u32, description: &str, parameter: &str) -> Canned {
    Canned::json(
        status,
        format!(
            r#"{{"errors":[{{"code":{code},"description":"{description}","parameter":"{parameter}"}}]}}"#
        ),
    )
}

#[tokio::test]
async fn messagebird_maps_documented_errors() {
    let cases = vec![
        Case::new(
            "2 incorrect access key",
            err(
                401,
                2,
                "Request not allowed (incorrect access_key)",
                "access_key",
            ),
            Auth,
            false,
        ),
        Case::new(
            "9 no recipients",
            err(422, 9, "no (correct) recipients found", "recipients"),
            InvalidDestination,
            false,
        ),
        Case::new(
            "10 invalid recipient",
            err(422, 10, "recipient 14155550123 is invalid", "recipients"),
            InvalidDestination,
            false,
        ),
        Case::new(
            "10 invalid originator",
            err(422, 10, "originator is invalid", "originator"),
            Auth,
            false,
        ),
        Case::new(
            "9 missing body",
            err(422, 9, "body is required", "body"),
            RejectedContent,
            false,
        ),
        Case::new(
            "20 not found",
            err(404, 20, "message not found", "id"),
            RejectedContent,
            false,
        ),
        Case::new(
            "21 bad request",
            err(400, 21, "Bad request", ""),
            RejectedContent,
            false,
        ),
        Case::new(
            "25 not enough balance",
            err(422, 25, "Not enough balance", ""),
            Auth,
            false,
        ),
        Case::new(
            "98 API not found",
            err(404, 98, "API not found", ""),
            RejectedContent,
            false,
        ),
        Case::new(
            "99 internal error",
            err(500, 99, "Internal error", ""),
            Unavailable,
            true,
        ),
        Case::new(
            "429 with Retry-After",
            Canned::json(429, "").header("retry-after", "4"),
            RateLimited,
            true,
        )
        .retry_after(Duration::from_secs(4)),
        Case::new(
            "503 gateway",
            Canned::json(503, "<html/>"),
            Unavailable,
            true,
        ),
        Case::new("405 method", Canned::json(405, ""), RejectedContent, false),
    ];
    check_errors(cases, provider, "+14155550123", "Your code is 123456").await;
}

#[test]
fn messagebird_config_parses_with_defaults_and_reports_problems() {
    let c: ProviderConfig = toml::from_str(
        "kind = \"messagebird\"\naccess_key = \"live_k\"\noriginator = \"OTPGW\"\nreport_url = \"https://x/r\"\nsigning_key = \"s1gn\"",
    )
    .unwrap();
    let ProviderConfig::Messagebird(m) = &c else {
        panic!("{c:?}")
    };
    assert_eq!(m.base_url, "https://rest.messagebird.com");
    assert_eq!(m.timeout_ms, 5_000);
    assert!(c.problems().is_empty(), "{:?}", c.problems());
    let dbg = format!("{c:?}");
    assert!(
        !dbg.contains("live_k") && !dbg.contains("s1gn"),
        "Debug shows a secret: {dbg}"
    );
    let bad: ProviderConfig =
        toml::from_str("kind = \"messagebird\"\noriginator = \"Far too long a sender\"\nreport_url = \"https://x/r\"").unwrap();
    let p = bad.problems().join("\n");
    for needle in ["access_key", "originator", "signing_key"] {
        assert!(p.contains(needle), "{needle} missing from: {p}");
    }
}

// ---- receipts ----

fn b64url(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

fn sha256_hex(b: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(b))
}

/// A MessageBird-style JWT, made here: HS256 over `header.claims`.
fn jwt(key: &str, claims: serde_json::Value) -> String {
    let head = b64url(br#"{"alg":"HS256","typ":"JWT"}"#);
    let body = b64url(claims.to_string().as_bytes());
    let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).unwrap();
    m.update(format!("{head}.{body}").as_bytes());
    format!("{head}.{body}.{}", b64url(&m.finalize().into_bytes()))
}

fn claims(url: &str, body: &[u8], t: i64) -> serde_json::Value {
    let mut c = serde_json::json!({
        "iss": "MessageBird",
        "nbf": t,
        "exp": t + 60,
        "jti": "59a244dc-e9ad-4e23-9778-371faa238f72",
        "url_hash": sha256_hex(url.as_bytes()),
    });
    if !body.is_empty() {
        c["payload_hash"] = sha256_hex(body).into();
    }
    c
}

fn report_url(status: &str) -> String {
    format!(
        "{RECEIPT_URL}?id=e8077d803532c0b5937c639b60216938&reference=vrf_00aa0123456789abcdef01234567&recipient=14155550123&status={status}&statusDatetime=2016-05-03T08%3A58%3A10%2B00%3A00&statusReason=successfully+delivered&statusErrorCode="
    )
}

fn one(status: DeliveryStatus, detail: Option<&str>) -> Vec<Receipt> {
    vec![Receipt {
        message_id: "e8077d803532c0b5937c639b60216938".into(),
        status,
        detail: detail.map(str::to_string),
    }]
}

#[test]
fn messagebird_signed_reports_parse_into_delivery_updates() {
    let p = provider("http://unused");
    let t = now();
    for (status, want) in [
        (
            "sent",
            one(DeliveryStatus::Sent, Some("successfully delivered")),
        ),
        (
            "buffered",
            one(DeliveryStatus::Sent, Some("successfully delivered")),
        ),
        (
            "delivered",
            one(DeliveryStatus::Delivered, Some("successfully delivered")),
        ),
        (
            "delivery_failed",
            one(DeliveryStatus::Undelivered, Some("successfully delivered")),
        ),
        (
            "expired",
            one(DeliveryStatus::Undelivered, Some("successfully delivered")),
        ),
        ("scheduled", vec![]),
    ] {
        let url = report_url(status);
        let h = headers(&[(
            "messagebird-signature-jwt",
            &jwt(SIGNING_KEY, claims(&url, b"", t)),
        )]);
        assert_eq!(
            p.parse_receipt(&receipt("GET", &url, &h, b"")).unwrap(),
            want,
            "{status}"
        );
    }
    // A POST with a JSON body, covered by payload_hash.
    let body = br#"{"id":"e8077d803532c0b5937c639b60216938","status":"delivery_failed","statusReason":"unknown subscriber","statusErrorCode":1,"recipient":14155550123}"#;
    let h = headers(&[(
        "messagebird-signature-jwt",
        &jwt(SIGNING_KEY, claims(RECEIPT_URL, body, t)),
    )]);
    assert_eq!(
        p.parse_receipt(&receipt("POST", RECEIPT_URL, &h, body))
            .unwrap(),
        one(
            DeliveryStatus::Undelivered,
            Some("unknown subscriber, error 1")
        )
    );
    // A POST with a form body.
    let form = b"id=e8077d803532c0b5937c639b60216938&status=delivered";
    let h = headers(&[(
        "messagebird-signature-jwt",
        &jwt(SIGNING_KEY, claims(RECEIPT_URL, form, t)),
    )]);
    assert_eq!(
        p.parse_receipt(&receipt("POST", RECEIPT_URL, &h, form))
            .unwrap(),
        one(DeliveryStatus::Delivered, None)
    );
}

#[test]
fn messagebird_refuses_unsigned_forged_stale_and_malformed_reports() {
    let p = provider("http://unused");
    let t = now();
    let url = report_url("delivered");
    let parse = |token: &str, url: &str, body: &[u8]| {
        let h = headers(&[("messagebird-signature-jwt", token)]);
        p.parse_receipt(&receipt(
            if body.is_empty() { "GET" } else { "POST" },
            url,
            &h,
            body,
        ))
    };
    assert!(parse(&jwt(SIGNING_KEY, claims(&url, b"", t)), &url, b"").is_ok());
    assert_eq!(
        p.parse_receipt(&receipt("GET", &url, &headers(&[]), b"")),
        Err(ReceiptError::Unsigned)
    );
    // Another key; a changed query (the status); a body that is not covered.
    assert_eq!(
        parse(&jwt("another-key", claims(&url, b"", t)), &url, b""),
        Err(ReceiptError::Forged)
    );
    let good = jwt(SIGNING_KEY, claims(&url, b"", t));
    assert_eq!(
        parse(&good, &report_url("delivery_failed"), b""),
        Err(ReceiptError::Forged)
    );
    assert_eq!(
        parse(&good, &url, b"id=x&status=delivered"),
        Err(ReceiptError::Forged)
    );
    let body = b"id=e8077d803532c0b5937c639b60216938&status=delivered";
    let with_body = jwt(SIGNING_KEY, claims(RECEIPT_URL, body, t));
    assert_eq!(
        parse(
            &with_body,
            RECEIPT_URL,
            b"id=e8077d803532c0b5937c639b60216938&status=expired"
        ),
        Err(ReceiptError::Forged)
    );
    // Expired, not yet valid, wrong issuer, no jti, alg none, garbage.
    assert_eq!(
        parse(&jwt(SIGNING_KEY, claims(&url, b"", t - 120)), &url, b""),
        Err(ReceiptError::Forged)
    );
    assert_eq!(
        parse(&jwt(SIGNING_KEY, claims(&url, b"", t + 120)), &url, b""),
        Err(ReceiptError::Forged)
    );
    let mut c = claims(&url, b"", t);
    c["iss"] = "Someone".into();
    assert_eq!(
        parse(&jwt(SIGNING_KEY, c), &url, b""),
        Err(ReceiptError::Forged)
    );
    let mut c = claims(&url, b"", t);
    c.as_object_mut().unwrap().remove("jti");
    assert_eq!(
        parse(&jwt(SIGNING_KEY, c), &url, b""),
        Err(ReceiptError::Forged)
    );
    let none = format!(
        "{}.{}.",
        b64url(br#"{"alg":"none","typ":"JWT"}"#),
        b64url(claims(&url, b"", t).to_string().as_bytes())
    );
    assert_eq!(parse(&none, &url, b""), Err(ReceiptError::Forged));
    assert_eq!(parse("not.a.jwt", &url, b""), Err(ReceiptError::Forged));
    assert_eq!(parse("garbage", &url, b""), Err(ReceiptError::Forged));
    // Malformed: correctly signed, but no id.
    let bare = format!("{RECEIPT_URL}?status=delivered");
    assert!(matches!(
        parse(&jwt(SIGNING_KEY, claims(&bare, b"", t)), &bare, b""),
        Err(ReceiptError::Malformed(_))
    ));
    // Without a signing key, this instance takes no reports.
    let off = MessageBirdProvider::new(&messagebird::Config {
        signing_key: None,
        ..config("http://unused")
    })
    .unwrap();
    let h = headers(&[("messagebird-signature-jwt", good.as_str())]);
    assert_eq!(
        off.parse_receipt(&receipt("GET", &url, &h, b"")),
        Err(ReceiptError::NotSupported)
    );
}

/// MessageBird's published webhook-signature reference vectors (the JSON its SDKs test
/// against): secret, URL, payload, token, verdict, at 2021-07-05T12:00:00+02:00.
#[test]
fn messagebird_signature_reference_vectors() {
    const SECRET: &[u8] = b"36efdd1aace2e26cd490f0d951138253bef2f7c6d34d18981da781555cc4cebb";
    const AT: i64 = 1_625_479_200;
    const ROOT: &str = "https://example.com/";
    const PATH: &str = "https://example.com/path?bar=1&foo=2";
    const HELLO: &[u8] = b"Hello, World!";
    const NO_PARAMS: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJNZXNzYWdlQmlyZCIsIm5iZiI6MTYyNTQ3OTIwMCwiZXhwIjoxNjI1NDc5MjYwLCJqdGkiOiI1OWEyNDRkYy1lOWFkLTRlMjMtOTc3OC0zNzFmYWEyMzhmNzIiLCJ1cmxfaGFzaCI6IjBmMTE1ZGIwNjJiN2MwZGQwMzBiMTY4NzhjOTlkZWE1YzM1NGI0OWRjMzdiMzhlYjg4NDYxNzljNzc4M2U5ZDcifQ.6Fp0rVOsRr1fj9S2GidXAfkmPVofKr8_RTffC6G6r2E";
    let cases: Vec<(&str, &str, &[u8], &str, bool)> = vec![
        ("no URL parameters or payload", ROOT, b"", NO_PARAMS, true),
        ("URL parameters, no payload", PATH, b"", "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJNZXNzYWdlQmlyZCIsIm5iZiI6MTYyNTQ3OTIwMCwiZXhwIjoxNjI1NDc5MjYwLCJqdGkiOiJjOTQ2YWY3Ny1lMTgyLTRlYWEtYjJmZi0xYTU0NWI1ZTk5MWEiLCJ1cmxfaGFzaCI6IjQxZjA1ZjBkZGQwYTIyYWIyMDlhYzQ2ZjQ3YzQ1NzJkOWNlZmEyNTdlZDc0YjI0MDA0YmFlNzUzZWNlNmMyNjAifQ.huo2ou6JDoDc7sV25d75UMWeYhBeavQlLsqIibSZuac", true),
        ("URL parameters and payload", PATH, HELLO, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJNZXNzYWdlQmlyZCIsIm5iZiI6MTYyNTQ3OTIwMCwiZXhwIjoxNjI1NDc5MjYwLCJqdGkiOiI5M2U1NTAwNi1hMGU4LTQ1MjYtYTE5MC1mYTVmZjAwZWExMTYiLCJ1cmxfaGFzaCI6IjQxZjA1ZjBkZGQwYTIyYWIyMDlhYzQ2ZjQ3YzQ1NzJkOWNlZmEyNTdlZDc0YjI0MDA0YmFlNzUzZWNlNmMyNjAiLCJwYXlsb2FkX2hhc2giOiJkZmZkNjAyMWJiMmJkNWIwYWY2NzYyOTA4MDllYzNhNTMxOTFkZDgxYzdmNzBhNGIyODY4OGEzNjIxODI5ODZmIn0._H--TOuYFLpeEH39-rg5E3IHVkjHozBcaKVWPRC5m9I", true),
        ("port in the URL", "https://example.com:8080/", b"", "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJNZXNzYWdlQmlyZCIsIm5iZiI6MTYyNTQ3OTIwMCwiZXhwIjoxNjI1NDc5MjYwLCJqdGkiOiI1OWEyNDRkYy1lOWFkLTRlMjMtOTc3OC0zNzFmYWEyMzhmNzIiLCJ1cmxfaGFzaCI6IjA3Zjc4NjFhNjliMTNjMjI5YzZhZTU5NmQxOThiMjc2M2IwNTRjZjVlMDAwZDczNmQxYzQ4MTAyZDc3MGNmZmMifQ.vcpa0IicGAbpo064dOjiA2VbVOR2S5uZBEaBOP16sS8", true),
        ("special characters in the URL", "https://example.com/?obj%5Bfield1%5D=val1&obj%5Bfield2%5D=val2&param=value+with+spaces", b"", "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJNZXNzYWdlQmlyZCIsIm5iZiI6MTYyNTQ3OTIwMCwiZXhwIjoxNjI1NDc5MjYwLCJqdGkiOiI1OWEyNDRkYy1lOWFkLTRlMjMtOTc3OC0zNzFmYWEyMzhmNzIiLCJ1cmxfaGFzaCI6IjhhZmYzNzQ4ZDc4OWM0MzMzNTczZTFjMzFmZTViMDA0OTQwY2I1ZmM0NzQ2MGVkM2QwZTY1NGY3ZmM0ZTVmYWUifQ.mJBCMfEjKmN3IMuzqPXPHktWETrcu0iNdF3agE8PDyI", true),
        ("special characters in the payload", ROOT, b"Some text containg & < >, & and \\u0026", "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJNZXNzYWdlQmlyZCIsIm5iZiI6MTYyNTQ3OTIwMCwiZXhwIjoxNjI1NDc5MjYwLCJqdGkiOiI1OWEyNDRkYy1lOWFkLTRlMjMtOTc3OC0zNzFmYWEyMzhmNzIiLCJ1cmxfaGFzaCI6IjBmMTE1ZGIwNjJiN2MwZGQwMzBiMTY4NzhjOTlkZWE1YzM1NGI0OWRjMzdiMzhlYjg4NDYxNzljNzc4M2U5ZDciLCJwYXlsb2FkX2hhc2giOiIyNDMxYmQ5Y2NiNDhlZDAxNmZhZDU2N2IwNzcxMjAzOGI1Y2RkOTQ5YWM5ZDQxZmU0NjkzZDVhMzg0NWNmN2U4In0.IQiKzeEPaO3A48lhKmBDSmxZyCESPCGxdSKFdi0dEJs", true),
        ("HS384", ROOT, b"", "eyJhbGciOiJIUzM4NCIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJNZXNzYWdlQmlyZCIsIm5iZiI6MTYyNTQ3OTIwMCwiZXhwIjoxNjI1NDc5MjYwLCJqdGkiOiI1OWEyNDRkYy1lOWFkLTRlMjMtOTc3OC0zNzFmYWEyMzhmNzIiLCJ1cmxfaGFzaCI6IjBmMTE1ZGIwNjJiN2MwZGQwMzBiMTY4NzhjOTlkZWE1YzM1NGI0OWRjMzdiMzhlYjg4NDYxNzljNzc4M2U5ZDcifQ.KNMW-29X77lZeuPmThmHWc_RUAvTkaDkpxIZK6mqE08v8mWKiU9Edh4QXwAJO2nv", true),
        ("HS512", ROOT, b"", "eyJhbGciOiJIUzUxMiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJNZXNzYWdlQmlyZCIsIm5iZiI6MTYyNTQ3OTIwMCwiZXhwIjoxNjI1NDc5MjYwLCJqdGkiOiI1OWEyNDRkYy1lOWFkLTRlMjMtOTc3OC0zNzFmYWEyMzhmNzIiLCJ1cmxfaGFzaCI6IjBmMTE1ZGIwNjJiN2MwZGQwMzBiMTY4NzhjOTlkZWE1YzM1NGI0OWRjMzdiMzhlYjg4NDYxNzljNzc4M2U5ZDcifQ.rd6r0iMyNGnVPCwurETphE3Y8rpAyvvnUK0S8WvGUkt2E1QSRAZ7NZJZBHw1Y_Wb5W-sK9HJr_PRL2vz4jRT3Q", true),
        ("received before it was issued", ROOT, b"", "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJNZXNzYWdlQmlyZCIsIm5iZiI6MTYyNTQ4MjgwMCwiZXhwIjoxNjI1NDgyODYwLCJqdGkiOiJmOWY4YzM4Mi0yNDQ5LTQzMTEtYjcyYi0xZGY3MTY4NzkzMWUiLCJ1cmxfaGFzaCI6IjBmMTE1ZGIwNjJiN2MwZGQwMzBiMTY4NzhjOTlkZWE1YzM1NGI0OWRjMzdiMzhlYjg4NDYxNzljNzc4M2U5ZDcifQ.ZELgDFNGhjZH9CffQKcq3sytBe2I0KciLxpBhcfstHQ", false),
        ("received after it expired", ROOT, b"", "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJNZXNzYWdlQmlyZCIsIm5iZiI6MTYyNTQ3NTYwMCwiZXhwIjoxNjI1NDc1NjYwLCJqdGkiOiI1ZjAyZjUyMi02MDMwLTQ2YzgtYjVhMy0wMTI0NjQ3OGQ4YmMiLCJ1cmxfaGFzaCI6IjBmMTE1ZGIwNjJiN2MwZGQwMzBiMTY4NzhjOTlkZWE1YzM1NGI0OWRjMzdiMzhlYjg4NDYxNzljNzc4M2U5ZDcifQ.45MSST3B_2PsjNUeiuW54_vUQgVw4rBXrdWrOUEz3lM", false),
        ("URL parameters reordered", "https://example.com/path?foo=1&bar=2", b"", "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJNZXNzYWdlQmlyZCIsIm5iZiI6MTYyNTQ3OTIwMCwiZXhwIjoxNjI1NDc5MjYwLCJqdGkiOiJhNzVjOTA5Ni1lODIzLTQ0MmItODVmMi03ZDNjOWQ5YjcyNmIiLCJ1cmxfaGFzaCI6IjZhMDIyZDgzNGMxODMzMGJhYWQ4YTJiZDYxMzUxNzNlZDIxNjEwYTQ1NDUxNmJlMGRmM2YxY2MwMTUxNjEwZWEifQ.z6Sw1XQIM0wuEQGBhXBdawDIIrtMg2XnmA_bpDq53pE", false),
        ("payload does not match", ROOT, HELLO, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJNZXNzYWdlQmlyZCIsIm5iZiI6MTYyNTQ3OTIwMCwiZXhwIjoxNjI1NDc5MjYwLCJqdGkiOiIxNDUwMTUzMi05NmYyLTQ2ODQtOTgzMi02OGYwOTUxYWUzNDIiLCJ1cmxfaGFzaCI6IjBmMTE1ZGIwNjJiN2MwZGQwMzBiMTY4NzhjOTlkZWE1YzM1NGI0OWRjMzdiMzhlYjg4NDYxNzljNzc4M2U5ZDciLCJwYXlsb2FkX2hhc2giOiJmYjYyZjAyYWNkYTdkNzQxNzdhNzAxYTFjZTAwNmU2YmFjZDkwYzdkNGQ3YWI0ODE2OTJjMWRhNDdjODEwNzZiIn0.m79RCwO6dGa9pvzsQypkVuXQ6eM0CkRl6_U7MfWg6TM", false),
        ("different secret", ROOT, b"", "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJNZXNzYWdlQmlyZCIsIm5iZiI6MTYyNTQ3OTIwMCwiZXhwIjoxNjI1NDc5MjYwLCJqdGkiOiIyNDNjMjdhZS0yZjAyLTQ2YTAtODg1Mi1jNjZmMzdlYTlmNDYiLCJ1cmxfaGFzaCI6IjBmMTE1ZGIwNjJiN2MwZGQwMzBiMTY4NzhjOTlkZWE1YzM1NGI0OWRjMzdiMzhlYjg4NDYxNzljNzc4M2U5ZDcifQ.JgSeYyOtlEKAXk8bz30iJI4tXgf4lxknoiezawuVhb4", false),
        ("payload removed in transit", ROOT, b"", "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJNZXNzYWdlQmlyZCIsIm5iZiI6MTYyNTQ3OTIwMCwiZXhwIjoxNjI1NDc5MjYwLCJqdGkiOiIxNDUwMTUzMi05NmYyLTQ2ODQtOTgzMi02OGYwOTUxYWUzNDIiLCJ1cmxfaGFzaCI6IjBmMTE1ZGIwNjJiN2MwZGQwMzBiMTY4NzhjOTlkZWE1YzM1NGI0OWRjMzdiMzhlYjg4NDYxNzljNzc4M2U5ZDciLCJwYXlsb2FkX2hhc2giOiJkZmZkNjAyMWJiMmJkNWIwYWY2NzYyOTA4MDllYzNhNTMxOTFkZDgxYzdmNzBhNGIyODY4OGEzNjIxODI5ODZmIn0.bHfsjj3tljfzTufoG3EU3p_yFrQh9CufyzRSaRMd4ss", false),
        ("payload added in transit", ROOT, HELLO, NO_PARAMS, false),
        ("alg none", ROOT, b"", "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJpc3MiOiJNZXNzYWdlQmlyZCIsImlhdCI6MTYyNTQ3OTIwMCwiZXhwIjoxNjI1NDc5MjYwLCJqdGkiOiI1OWEyNDRkYy1lOWFkLTRlMjMtOTc3OC0zNzFmYWEyMzhmNzIiLCJ1cmxfaGFzaCI6IjBmMTE1ZGIwNjJiN2MwZGQwMzBiMTY4NzhjOTlkZWE1YzM1NGI0OWRjMzdiMzhlYjg4NDYxNzljNzc4M2U5ZDcifQ.", false),
    ];
    for (name, url, payload, token, valid) in cases {
        let got = messagebird::verify_signature_jwt(SECRET, url, payload, token, AT);
        assert_eq!(got.is_ok(), valid, "{name}: {got:?}");
        if !valid {
            assert_eq!(got, Err(ReceiptError::Forged), "{name}");
        }
    }
    // The valid vectors stop being valid once they expire (exp = AT + 60, 5 s leeway).
    assert!(messagebird::verify_signature_jwt(SECRET, ROOT, b"", NO_PARAMS, AT + 64).is_ok());
    assert!(messagebird::verify_signature_jwt(SECRET, ROOT, b"", NO_PARAMS, AT + 65).is_err());
}
