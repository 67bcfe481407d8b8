//! Twilio Programmable Messaging: the exact request, the documented answers, Prism on
//! Twilio's OpenAPI document, and signed status callbacks.

use crate::checks::shared::Vendor;
use crate::checks::*;
use crate::prism::{PrismProxy, Spec};
use crate::server::{message, Canned, MockProvider};
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use otpgw::domain::DeliveryStatus;
use otpgw::providers::twilio::{Config, TwilioProvider};
use otpgw::providers::{ErrorKind, Receipt, ReceiptError, SmsProvider};
use std::time::Duration;

pub(crate) const ACCOUNT: &str = "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
pub(crate) const TOKEN: &str = "9d6c2b1e0f4a4b5c8d7e6f5a4b3c2d1e";
pub(crate) const FROM: &str = "+15005550006";
const SERVICE: &str = "MGbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const KEY_SID: &str = "SKcccccccccccccccccccccccccccccccc";
const KEY_SECRET: &str = "key-secret-0123456789";
pub(crate) const CALLBACK: &str = "https://gw.example.com/v1/receipts/tw?tenant=acme";
pub(crate) const TO: &str = "+14155550123";
const TEXT: &str = "Your code is 123456. Ne le partagez pas: ça reste entre nous & vous.";

/// The `201` answer of Twilio's API reference ("Send a message", example `create`).
pub(crate) const CREATED: &str = r#"{"account_sid":"ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","api_version":"2010-04-01","body":"Hello! 👍","date_created":"Thu, 24 Aug 2023 05:01:45 +0000","date_sent":"Thu, 24 Aug 2023 05:01:45 +0000","date_updated":"Thu, 24 Aug 2023 05:01:45 +0000","direction":"outbound-api","error_code":null,"error_message":null,"from":"+14155552345","num_media":"0","num_segments":"1","price":null,"price_unit":null,"messaging_service_sid":"MGaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","sid":"SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","status":"queued","subresource_uris":{"media":"/2010-04-01/Accounts/ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Messages/SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Media.json"},"to":"+14155552345","uri":"/2010-04-01/Accounts/ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Messages/SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.json"}"#;
pub(crate) const SID: &str = "SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

pub(crate) fn config(base_url: &str) -> Config {
    Config {
        base_url: base_url.into(),
        account_sid: ACCOUNT.into(),
        auth_token: Some(TOKEN.into()),
        from: Some(FROM.into()),
        status_callback_url: Some(CALLBACK.into()),
        ..Config::default()
    }
}

pub(crate) fn provider(cfg: &Config) -> TwilioProvider {
    TwilioProvider::new(cfg).expect("a valid config")
}

/// Twilio for the cases every adapter shares (`checks::shared`).
pub fn vendor() -> Vendor {
    Vendor {
        kind: "twilio",
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
            Canned::json(201, r#"{"status":"queued"}"#),
            Canned::json(201, r#"{"sid":null,"status":"queued"}"#),
            Canned::json(201, r#"{"sid":"","status":"queued"}"#),
        ],
    }
}

/// Twilio's error body for `code`.
fn error_body(code: u32, status: u16) -> String {
    format!(
        r#"{{"code":{code},"message":"The 'To' number {TO} is not valid.","more_info":"https://www.twilio.com/docs/errors/{code}","status":{status}}}"#
    )
}

#[tokio::test]
async fn twilio_sends_the_documented_form_request() {
    let server = MockProvider::start(vec![Canned::json(201, CREATED)]).await;
    let p = provider(&config(&server.base_url()));
    let id = p.send(&message(TO, TEXT)).await.expect("sent");
    assert_eq!(id, SID);

    let r = server.single();
    assert_eq!(r.method, "POST");
    assert_eq!(
        r.path,
        format!("/2010-04-01/Accounts/{ACCOUNT}/Messages.json")
    );
    assert_eq!(r.query, None);
    assert_eq!(
        basic_credentials(&r),
        (ACCOUNT.to_string(), TOKEN.to_string())
    );
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    let mut fields = r.form();
    fields.sort();
    assert_eq!(
        fields,
        pairs(&[
            ("Body", TEXT),
            ("From", FROM),
            ("StatusCallback", CALLBACK),
            ("To", TO)
        ]),
        "exactly these fields, decoded"
    );
    // E.164 with its '+', percent-encoded on the wire (a bare '+' would decode to a space).
    assert!(r.text().contains("To=%2B14155550123"), "{}", r.text());
    assert!(!r.text().contains("From=+"), "{}", r.text());
    assert!(
        r.text()
            .contains("StatusCallback=https%3A%2F%2Fgw.example.com"),
        "{}",
        r.text()
    );
}

#[tokio::test]
async fn twilio_uses_an_api_key_and_a_messaging_service_when_configured() {
    let server = MockProvider::start(vec![Canned::json(201, CREATED)]).await;
    let cfg = Config {
        auth_token: None,
        api_key_sid: Some(KEY_SID.into()),
        api_key_secret: Some(KEY_SECRET.into()),
        from: None,
        messaging_service_sid: Some(SERVICE.into()),
        status_callback_url: None,
        ..config(&server.base_url())
    };
    assert_eq!(
        provider(&cfg)
            .send(&message(TO, "Code 000111"))
            .await
            .unwrap(),
        SID
    );
    let r = server.single();
    assert_eq!(
        r.path,
        format!("/2010-04-01/Accounts/{ACCOUNT}/Messages.json")
    );
    assert_eq!(
        basic_credentials(&r),
        (KEY_SID.to_string(), KEY_SECRET.to_string())
    );
    let mut fields = r.form();
    fields.sort();
    assert_eq!(
        fields,
        pairs(&[
            ("Body", "Code 000111"),
            ("MessagingServiceSid", SERVICE),
            ("To", TO)
        ])
    );
}

#[tokio::test]
async fn twilio_error_answers_map_to_kinds() {
    use ErrorKind::*;
    // (HTTP status, Twilio code, kind, retryable), as Twilio documents each code.
    let coded = [
        (400, 21211, InvalidDestination, false),
        (400, 21408, InvalidDestination, false),
        (400, 21608, InvalidDestination, false),
        (400, 21610, InvalidDestination, false),
        (400, 21612, InvalidDestination, false),
        (400, 21614, InvalidDestination, false),
        (400, 21635, InvalidDestination, false),
        (400, 21212, RejectedContent, false),
        (400, 21606, RejectedContent, false),
        (400, 21602, RejectedContent, false),
        (400, 21617, RejectedContent, false),
        (400, 21611, RateLimited, true),
        (401, 20003, Auth, false),
        (404, 20404, Auth, false),
        (500, 20500, Unavailable, true),
        (503, 20503, Unavailable, true),
        (400, 29999, RejectedContent, false),
    ];
    let mut cases: Vec<Case> = coded
        .into_iter()
        .map(|(status, code, kind, retryable)| {
            let answer = Canned::json(status, error_body(code, status));
            Case::new(format!("{status} code {code}"), answer, kind, retryable)
        })
        .collect();
    cases.push(Case::new(
        "502 page",
        Canned::json(502, "<html>bad gateway</html>"),
        Unavailable,
        true,
    ));
    cases.push(
        Case::new(
            "429 code 20429 with Retry-After",
            Canned::json(429, error_body(20429, 429)).header("retry-after", "7"),
            RateLimited,
            true,
        )
        .retry_after(Duration::from_secs(7)),
    );
    check_errors(cases, |b| provider(&config(b)), TO, TEXT).await;
}

#[tokio::test]
async fn twilio_requests_conform_to_twilios_openapi_document() {
    let prism = PrismProxy::start(Spec::Twilio).await;
    let from_number = provider(&config(&prism.base_url()));
    assert_eq!(
        from_number
            .send(&message(TO, TEXT))
            .await
            .expect("Prism accepts it"),
        SID
    );
    // API key for sending, auth token kept for callback signatures, StatusCallback sent.
    let service = provider(&Config {
        api_key_sid: Some(KEY_SID.into()),
        api_key_secret: Some(KEY_SECRET.into()),
        from: None,
        messaging_service_sid: Some(SERVICE.into()),
        ..config(&prism.base_url())
    });
    assert_eq!(
        service
            .send(&message(TO, "Код: 123456"))
            .await
            .expect("Prism accepts it"),
        SID
    );
    prism.assert_all_accepted();
    assert_eq!(prism.exchanges().len(), 2);
}

/// The price read (`fetch_price`): `GET …/Messages/{Sid}.json` with the account's Basic
/// auth, accepted by Prism, whose answer (the document's `fetch` example) carries
/// `"price": "-0.00750"` in `USD`.
#[tokio::test]
async fn twilio_price_reads_conform_to_twilios_openapi_document() {
    let prism = PrismProxy::start(Spec::Twilio).await;
    let p = provider(&Config {
        fetch_price: true,
        ..config(&prism.base_url())
    });
    assert!(!p.price_reads().is_empty());
    let price = p.reported_price(SID).await.expect("Prism accepts it");
    prism.assert_all_accepted();
    let seen = prism.exchanges();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "GET");
    assert!(
        seen[0].path.ends_with(&format!(
            "/2010-04-01/Accounts/{ACCOUNT}/Messages/{SID}.json"
        )),
        "{}",
        seen[0].path
    );
    let price = price.expect("the example is priced");
    assert!((price.amount - 0.0075).abs() < 1e-12, "{price:?}");
    assert_eq!(price.unit.as_deref(), Some("USD"));
}

#[tokio::test]
async fn twilio_prism_refuses_what_the_document_forbids() {
    // The check above can fail: a request without auth or without `To` is refused.
    let prism = PrismProxy::start(Spec::Twilio).await;
    let url = format!(
        "{}/2010-04-01/Accounts/{ACCOUNT}/Messages.json",
        prism.base_url()
    );
    let client = reqwest::Client::new();
    let no_auth = client
        .post(&url)
        .form(&[("To", TO), ("Body", "x"), ("From", FROM)]);
    assert_eq!(no_auth.send().await.unwrap().status(), 401);
    let no_to = client
        .post(&url)
        .basic_auth(ACCOUNT, Some(TOKEN))
        .form(&[("Body", "x"), ("From", FROM)]);
    assert_eq!(no_to.send().await.unwrap().status(), 422);
    let refused: Vec<u16> = prism.refused().iter().map(|x| x.status).collect();
    assert_eq!(refused, [401, 422]);
}

// ---- status callbacks ----------------------------------------------------------------

const RECEIPT_URL: &str = "https://gw.example.com/v1/receipts/tw?tenant=acme";

/// Twilio's documented algorithm, written here apart from the adapter: HMAC-SHA1 keyed
/// with the auth token over the URL followed by each POST parameter's name and value,
/// sorted by name, Base64-encoded.
pub(crate) fn twilio_sign(token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted = params.to_vec();
    sorted.sort();
    let mut data = url.to_string();
    for (k, v) in &sorted {
        data.push_str(k);
        data.push_str(v);
    }
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(token.as_bytes()).unwrap();
    mac.update(data.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn status_callback(status: &str, error_code: Option<&str>) -> Vec<(String, String)> {
    let mut p = pairs(&[
        ("AccountSid", ACCOUNT),
        ("ApiVersion", "2010-04-01"),
        ("From", FROM),
        ("MessageSid", SID),
        ("MessageStatus", status),
        ("SmsSid", SID),
        ("SmsStatus", status),
        ("To", TO),
    ]);
    if let Some(c) = error_code {
        p.push(("ErrorCode".into(), c.into()));
    }
    // Twilio sends them in no particular order; the signature sorts them.
    p.reverse();
    p
}

fn signed(params: &[(String, String)]) -> Callback {
    Callback::post_form(RECEIPT_URL, params).header(
        "x-twilio-signature",
        &twilio_sign(TOKEN, RECEIPT_URL, params),
    )
}

#[test]
fn twilio_test_signer_reproduces_twilios_documented_example() {
    // The example of Twilio's webhook security guide: auth token 12345.
    let params = pairs(&[
        ("CallSid", "CA1234567890ABCDE"),
        ("Caller", "+12349013030"),
        ("Digits", "1234"),
        ("From", "+12349013030"),
        ("To", "+18005551212"),
    ]);
    let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
    assert_eq!(
        twilio_sign("12345", url, &params),
        "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    );
    // And the adapter accepts that very signature (the body is a voice webhook, so it is
    // then malformed as a message status: no MessageSid, but not unsigned or forged).
    let p = provider(&Config {
        auth_token: Some("12345".into()),
        ..config("http://127.0.0.1:1")
    });
    let cb = Callback::post_form(url, &params)
        .header("x-twilio-signature", "0/KCTR6DLpKmkAf8muzZqo1nDgQ=");
    assert!(
        matches!(cb.parse(&p), Err(ReceiptError::Malformed(_))),
        "{:?}",
        cb.parse(&p)
    );
}

#[test]
fn twilio_signed_status_callbacks_become_receipts() {
    let p = provider(&config("http://127.0.0.1:1"));
    let receipt = |status, detail: Option<&str>| Receipt {
        message_id: SID.into(),
        status,
        detail: detail.map(str::to_string),
    };
    assert_eq!(
        signed(&status_callback("delivered", None)).parse(&p),
        Ok(vec![receipt(DeliveryStatus::Delivered, None)])
    );
    assert_eq!(
        signed(&status_callback("undelivered", Some("30003"))).parse(&p),
        Ok(vec![receipt(DeliveryStatus::Undelivered, Some("30003"))])
    );
    assert_eq!(
        signed(&status_callback("failed", Some("30008"))).parse(&p),
        Ok(vec![receipt(DeliveryStatus::Failed, Some("30008"))])
    );
    assert_eq!(
        signed(&status_callback("sent", None)).parse(&p),
        Ok(vec![receipt(DeliveryStatus::Sent, None)])
    );
    for ignored in ["queued", "accepted", "sending", "scheduled"] {
        assert_eq!(
            signed(&status_callback(ignored, None)).parse(&p),
            Ok(vec![]),
            "{ignored}"
        );
    }
}

#[test]
fn twilio_unsigned_forged_and_malformed_callbacks_are_refused() {
    let p = provider(&config("http://127.0.0.1:1"));
    let params = status_callback("delivered", None);

    let unsigned = Callback::post_form(RECEIPT_URL, &params);
    assert_eq!(unsigned.parse(&p), Err(ReceiptError::Unsigned));

    // A parameter changed after signing.
    let mut tampered_params = params.clone();
    tampered_params
        .iter_mut()
        .find(|(k, _)| k == "MessageStatus")
        .unwrap()
        .1 = "failed".into();
    let tampered = Callback::post_form(RECEIPT_URL, &tampered_params).header(
        "x-twilio-signature",
        &twilio_sign(TOKEN, RECEIPT_URL, &params),
    );
    assert_eq!(tampered.parse(&p), Err(ReceiptError::Forged));

    // Signed with another account's token.
    let wrong_key = Callback::post_form(RECEIPT_URL, &params).header(
        "x-twilio-signature",
        &twilio_sign("another-token", RECEIPT_URL, &params),
    );
    assert_eq!(wrong_key.parse(&p), Err(ReceiptError::Forged));

    // Signed for another URL (another tenant's query), replayed here.
    let other_url = "https://gw.example.com/v1/receipts/tw?tenant=other";
    let wrong_url = Callback::post_form(RECEIPT_URL, &params).header(
        "x-twilio-signature",
        &twilio_sign(TOKEN, other_url, &params),
    );
    assert_eq!(wrong_url.parse(&p), Err(ReceiptError::Forged));

    // Correctly signed, but no MessageSid / no MessageStatus.
    let no_sid: Vec<_> = params
        .iter()
        .filter(|(k, _)| k != "MessageSid")
        .cloned()
        .collect();
    assert!(matches!(
        signed(&no_sid).parse(&p),
        Err(ReceiptError::Malformed(_))
    ));
    let no_status: Vec<_> = params
        .iter()
        .filter(|(k, _)| k != "MessageStatus")
        .cloned()
        .collect();
    assert!(matches!(
        signed(&no_status).parse(&p),
        Err(ReceiptError::Malformed(_))
    ));

    // Without the auth token there is nothing to verify against: receipts are off.
    let key_only = provider(&Config {
        auth_token: None,
        api_key_sid: Some(KEY_SID.into()),
        api_key_secret: Some(KEY_SECRET.into()),
        status_callback_url: None,
        ..config("http://127.0.0.1:1")
    });
    assert_eq!(
        signed(&params).parse(&key_only),
        Err(ReceiptError::NotSupported)
    );
}
