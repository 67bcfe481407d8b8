//! Plivo: `POST /v1/Account/{auth_id}/Message/` with Basic auth and a JSON body;
//! `message_uuid[0]` back; status callbacks signed with `X-Plivo-Signature-V3`.

use crate::checks::shared::Vendor;
use crate::checks::{check_errors, headers, receipt, Case};
use crate::server::{message, Canned, MockProvider};
use base64::Engine as _;
use hmac::{KeyInit, Mac};
use otpgw::domain::DeliveryStatus;
use otpgw::providers::plivo::{self, PlivoProvider};
use otpgw::providers::{ErrorKind::*, ProviderConfig, Receipt, ReceiptError, SmsProvider};
use std::time::Duration;

const AUTH_ID: &str = "MAXXXXXXXXXXXXXXXXXX";
const TOKEN: &str = "MjAxNi0wOC0zMFQxNTo0MzoxOVo5ZDk3NzU";
const RECEIPT_URL: &str = "https://otp.example/v1/receipts/plivo";
/// The documented answer of Send a Message (HTTP 202).
const QUEUED: &str = r#"{"api_id":"db342550-7f1d-11e1-8ea7-1231380bc196","message":"message(s) queued","message_uuid":["db3ce55a-7f1d-11e1-8ea7-1231380bc196"]}"#;

fn config(base: &str) -> plivo::Config {
    plivo::Config {
        base_url: base.into(),
        auth_id: AUTH_ID.into(),
        auth_token: TOKEN.into(),
        src: Some("+18445550001".into()),
        status_url: Some(RECEIPT_URL.into()),
        timeout_ms: 2_000,
        ..Default::default()
    }
}

fn provider(base: &str) -> PlivoProvider {
    PlivoProvider::new(&config(base)).unwrap()
}

/// Plivo for the cases every adapter shares (`checks::shared`).
pub fn vendor() -> Vendor {
    Vendor {
        kind: "plivo",
        build: |base, timeout_ms| {
            Box::new(
                PlivoProvider::new(&plivo::Config {
                    timeout_ms,
                    ..config(base)
                })
                .unwrap(),
            )
        },
        to: "+14155550123",
        text: "Your code is 123456",
        accepted: Canned::json(202, QUEUED),
        without_id: vec![
            Canned::json(
                202,
                r#"{"api_id":"db342550-7f1d-11e1-8ea7-1231380bc196","message":"message(s) queued"}"#,
            ),
            Canned::json(202, r#"{"message":"message(s) queued","message_uuid":[]}"#),
            Canned::json(
                202,
                r#"{"message_uuid":"db3ce55a-7f1d-11e1-8ea7-1231380bc196"}"#,
            ),
        ],
    }
}

#[tokio::test]
async fn plivo_sends_the_documented_request_and_returns_the_first_uuid() {
    let mock = MockProvider::start(vec![Canned::json(202, QUEUED)]).await;
    let id = provider(&mock.base_url())
        .send(&message("+14155550123", "Your code is 123456"))
        .await
        .unwrap();
    assert_eq!(id, "db3ce55a-7f1d-11e1-8ea7-1231380bc196");
    let r = mock.single();
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, format!("/v1/Account/{AUTH_ID}/Message/"));
    let auth = r.header("authorization").unwrap();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(auth.strip_prefix("Basic ").expect("Basic auth"))
        .unwrap();
    assert_eq!(
        String::from_utf8(decoded).unwrap(),
        format!("{AUTH_ID}:{TOKEN}")
    );
    assert_eq!(r.header("content-type").unwrap(), "application/json");
    assert_eq!(
        r.json(),
        serde_json::json!({
            "src": "18445550001",
            "dst": "14155550123",
            "text": "Your code is 123456",
            "url": RECEIPT_URL,
            "method": "POST",
            "log": false,
        })
    );
}

#[tokio::test]
async fn plivo_powerpack_alphanumeric_and_unicode() {
    let mock = MockProvider::start(vec![Canned::json(202, QUEUED)]).await;
    let cfg = plivo::Config {
        src: None,
        powerpack_uuid: Some("d35f2e82-d387-427f-8594-6fa07703b6de".into()),
        status_url: None,
        log: true,
        ..config(&mock.base_url())
    };
    PlivoProvider::new(&cfg)
        .unwrap()
        .send(&message("+447700900123", "Código 123456 ✓"))
        .await
        .unwrap();
    assert_eq!(
        mock.single().json(),
        serde_json::json!({
            "powerpack_uuid": "d35f2e82-d387-427f-8594-6fa07703b6de",
            "dst": "447700900123",
            "text": "Código 123456 ✓",
            "log": true,
        })
    );
    assert_eq!(
        plivo::plivo_number("ACME"),
        "ACME",
        "an alphanumeric sender stays as it is"
    );
    assert_eq!(plivo::plivo_number("+1844"), "1844");
}

fn err(status: u16, error: &str) -> Canned {
    Canned::json(
        status,
        format!(r#"{{"api_id":"97ceeb52-58b6-11e1-86da-77300b68f8bb","error":"{error}"}}"#),
    )
}

#[tokio::test]
async fn plivo_maps_documented_statuses_and_errors() {
    let cases = vec![
        Case::new(
            "400 invalid dst",
            err(400, "invalid 'dst' parameter: +14155550123"),
            InvalidDestination,
            false,
        ),
        Case::new(
            "400 destination barred",
            err(400, "destination country barred"),
            InvalidDestination,
            false,
        ),
        Case::new(
            "400 bad src",
            err(400, "'src' parameter is invalid"),
            Auth,
            false,
        ),
        Case::new(
            "400 no credit",
            err(400, "Insufficient credit"),
            Auth,
            false,
        ),
        Case::new(
            "400 other",
            err(400, "text parameter not present"),
            RejectedContent,
            false,
        ),
        Case::new(
            "401 authentication failed",
            err(401, "Authentication failed"),
            Auth,
            false,
        ),
        Case::new("404 unknown account", err(404, "not found"), Auth, false),
        Case::new(
            "405 method",
            err(405, "method not allowed"),
            RejectedContent,
            false,
        ),
        Case::new(
            "429 rate limited",
            err(429, "too many requests").header("retry-after", "2"),
            RateLimited,
            true,
        )
        .retry_after(Duration::from_secs(2)),
        Case::new(
            "500 server error",
            err(500, "server error"),
            Unavailable,
            true,
        ),
        Case::new(
            "502 without a body",
            Canned::json(502, ""),
            Unavailable,
            true,
        ),
    ];
    check_errors(cases, provider, "+14155550123", "Your code is 123456").await;
}

#[test]
fn plivo_config_parses_with_defaults_and_reports_problems() {
    let c: ProviderConfig = toml::from_str(
        "kind = \"plivo\"\nauth_id = \"MA1\"\nauth_token = \"t0k\"\nsrc = \"+18445550001\"",
    )
    .unwrap();
    let ProviderConfig::Plivo(p) = &c else {
        panic!("{c:?}")
    };
    assert_eq!(p.base_url, "https://api.plivo.com");
    assert_eq!(
        (p.timeout_ms, p.log, p.accept_v2_signatures),
        (5_000, false, false)
    );
    assert!(c.problems().is_empty(), "{:?}", c.problems());
    assert!(
        !format!("{c:?}").contains("t0k"),
        "Debug shows the token: {c:?}"
    );
    let bad: ProviderConfig =
        toml::from_str("kind = \"plivo\"\nauth_id = \"MA/1\"\nsrc = \"x\"\npowerpack_uuid = \"y\"\nstatus_url = \"ftp://x\"").unwrap();
    let p = bad.problems().join("\n");
    for needle in ["auth_id", "auth_token", "not both", "status_url"] {
        assert!(p.contains(needle), "{needle} missing from: {p}");
    }
}

// ---- receipts ----

/// HMAC-SHA256, base64: computed here, not by the adapter.
fn hmac_b64(key: &str, data: &str) -> String {
    let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).unwrap();
    m.update(data.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(m.finalize().into_bytes())
}

fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

fn callback(status: &str, error_code: &str) -> Vec<(&'static str, String)> {
    vec![
        ("To", "14155550123".into()),
        ("From", "18445550001".into()),
        ("Status", status.into()),
        ("MessageUUID", "db3ce55a-7f1d-11e1-8ea7-1231380bc196".into()),
        ("ErrorCode", error_code.into()),
        ("Units", "1".into()),
        ("TotalRate", "0.0050".into()),
        ("Type", "sms".into()),
    ]
}

/// The V3 string for a POST to a URL without query, written out by hand: the URL, `?`,
/// the fields sorted by name as `namevalue`, `.`, the nonce.
fn signed_post(url: &str, fields: &[(&str, String)], nonce: &str) -> String {
    let mut sorted: Vec<_> = fields.iter().collect();
    sorted.sort();
    let joined: String = sorted.iter().map(|(k, v)| format!("{k}{v}")).collect();
    format!("{url}?{joined}.{nonce}")
}

fn one(status: DeliveryStatus, detail: Option<&str>) -> Vec<Receipt> {
    vec![Receipt {
        message_id: "db3ce55a-7f1d-11e1-8ea7-1231380bc196".into(),
        status,
        detail: detail.map(str::to_string),
    }]
}

#[test]
fn plivo_signed_callbacks_parse_into_delivery_updates() {
    let p = provider("http://unused");
    let nonce = "05429567804466091622";
    for (status, code, want) in [
        ("sent", "", one(DeliveryStatus::Sent, None)),
        ("delivered", "000", one(DeliveryStatus::Delivered, None)),
        (
            "undelivered",
            "50",
            one(DeliveryStatus::Undelivered, Some("error 50")),
        ),
        (
            "failed",
            "900",
            one(DeliveryStatus::Failed, Some("error 900")),
        ),
        ("queued", "", vec![]),
    ] {
        let fields = callback(status, code);
        let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let body = form(&pairs);
        let sig = hmac_b64(TOKEN, &signed_post(RECEIPT_URL, &fields, nonce));
        let h = headers(&[
            ("x-plivo-signature-v3", &sig),
            ("x-plivo-signature-v3-nonce", nonce),
        ]);
        assert_eq!(
            p.parse_receipt(&receipt("POST", RECEIPT_URL, &h, body.as_bytes()))
                .unwrap(),
            want,
            "{status}"
        );
    }
}

#[test]
fn plivo_refuses_unsigned_forged_and_malformed_callbacks() {
    let p = provider("http://unused");
    let nonce = "05429567804466091622";
    let fields = callback("delivered", "000");
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let body = form(&pairs);
    let good = hmac_b64(TOKEN, &signed_post(RECEIPT_URL, &fields, nonce));
    let parse = |h: &http::HeaderMap, url: &str, body: &str| {
        p.parse_receipt(&receipt("POST", url, h, body.as_bytes()))
    };
    let v3 = |sig: &str, nonce: &str| {
        headers(&[
            ("x-plivo-signature-v3", sig),
            ("x-plivo-signature-v3-nonce", nonce),
        ])
    };
    assert!(parse(&v3(&good, nonce), RECEIPT_URL, &body).is_ok());
    // Unsigned: nothing, or a signature without its nonce.
    assert_eq!(
        parse(&headers(&[]), RECEIPT_URL, &body),
        Err(ReceiptError::Unsigned)
    );
    assert_eq!(
        parse(
            &headers(&[("x-plivo-signature-v3", &good)]),
            RECEIPT_URL,
            &body
        ),
        Err(ReceiptError::Unsigned)
    );
    // Forged: another token, a changed field, another URL, another nonce.
    let other = hmac_b64("another-token", &signed_post(RECEIPT_URL, &fields, nonce));
    assert_eq!(
        parse(&v3(&other, nonce), RECEIPT_URL, &body),
        Err(ReceiptError::Forged)
    );
    let tampered = body.replace("delivered", "undelivered");
    assert_eq!(
        parse(&v3(&good, nonce), RECEIPT_URL, &tampered),
        Err(ReceiptError::Forged)
    );
    assert_eq!(
        parse(
            &v3(&good, nonce),
            "https://evil.example/v1/receipts/plivo",
            &body
        ),
        Err(ReceiptError::Forged)
    );
    assert_eq!(
        parse(&v3(&good, "1"), RECEIPT_URL, &body),
        Err(ReceiptError::Forged)
    );
    // Several signatures (one per active token), and the main-account header.
    let listed = format!("{other},{good}");
    assert!(parse(&v3(&listed, nonce), RECEIPT_URL, &body).is_ok());
    let ma = headers(&[
        ("x-plivo-signature-ma-v3", &good),
        ("x-plivo-signature-v3-nonce", nonce),
    ]);
    assert!(parse(&ma, RECEIPT_URL, &body).is_ok());
    // V2 (URL and nonce only) is refused unless enabled, and then checked.
    let v2 = hmac_b64(TOKEN, &format!("{RECEIPT_URL}{nonce}"));
    let v2h = headers(&[
        ("x-plivo-signature-v2", &v2),
        ("x-plivo-signature-v2-nonce", nonce),
    ]);
    assert_eq!(parse(&v2h, RECEIPT_URL, &body), Err(ReceiptError::Unsigned));
    let lenient = PlivoProvider::new(&plivo::Config {
        accept_v2_signatures: true,
        ..config("http://unused")
    })
    .unwrap();
    assert_eq!(
        lenient
            .parse_receipt(&receipt("POST", RECEIPT_URL, &v2h, body.as_bytes()))
            .unwrap(),
        one(DeliveryStatus::Delivered, None)
    );
    let bad_v2 = headers(&[
        ("x-plivo-signature-v2", &other),
        ("x-plivo-signature-v2-nonce", nonce),
    ]);
    assert_eq!(
        lenient.parse_receipt(&receipt("POST", RECEIPT_URL, &bad_v2, body.as_bytes())),
        Err(ReceiptError::Forged)
    );
    // Malformed: signed, but no MessageUUID.
    let partial: Vec<(&str, String)> = vec![("Status", "delivered".into())];
    let sig = hmac_b64(TOKEN, &signed_post(RECEIPT_URL, &partial, nonce));
    assert!(matches!(
        parse(&v3(&sig, nonce), RECEIPT_URL, "Status=delivered"),
        Err(ReceiptError::Malformed(_))
    ));
}

/// Known answers computed with Plivo's own SDK (`construct_post_url` /
/// `construct_get_url` and `get_signature_v3`), including a callback URL that carries a
/// query and a GET callback whose values need decoding.
#[test]
fn plivo_signature_known_answers() {
    let nonce = "05429567804466091622";
    let fields = callback("delivered", "000");
    let pairs: Vec<(String, String)> = fields
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    assert_eq!(
        plivo::signed_string_v3("POST", RECEIPT_URL, &pairs),
        "https://otp.example/v1/receipts/plivo?ErrorCode000From18445550001MessageUUIDdb3ce55a-7f1d-11e1-8ea7-1231380bc196StatusdeliveredTo14155550123TotalRate0.0050TypesmsUnits1"
    );
    let sdk: Vec<(String, String)> = pairs
        .iter()
        .filter(|(k, _)| k != "TotalRate")
        .cloned()
        .collect();
    assert_eq!(
        plivo::signature_v3(TOKEN, "POST", RECEIPT_URL, &sdk, nonce),
        "d8wWY0G4hXUhCZr5a8lqiPXcu2sYLFOgbCBFey/6Xvg="
    );
    assert_eq!(
        plivo::signature_v3(
            TOKEN,
            "POST",
            &format!("{RECEIPT_URL}?tenant=acme"),
            &sdk,
            nonce
        ),
        "fPT/wqOg87bEdo4lai6/nHm4ZRyKCwsfT2bb/QPtj0Y="
    );
    let get_url = "https://otp.example/v1/receipts/plivo?Status=undelivered&MessageUUID=db3ce55a-7f1d-11e1-8ea7-1231380bc196&ErrorCode=50&To=14155550123&Note=a+b%26c";
    assert_eq!(
        plivo::signature_v3(TOKEN, "GET", get_url, &[], nonce),
        "tA3GbylVCJr2iijMDX2nix8TcKJQSTnnKEDA36XMnQg="
    );
    // The same GET callback through the adapter.
    let h = headers(&[
        (
            "x-plivo-signature-v3",
            "tA3GbylVCJr2iijMDX2nix8TcKJQSTnnKEDA36XMnQg=",
        ),
        ("x-plivo-signature-v3-nonce", nonce),
    ]);
    assert_eq!(
        provider("http://unused")
            .parse_receipt(&receipt("GET", get_url, &h, b""))
            .unwrap(),
        one(DeliveryStatus::Undelivered, Some("error 50"))
    );
}
