//! Vonage SMS API: the exact form request (E.164 without '+', the unicode switch), the
//! per-message statuses of the answer body, Prism on Vonage's OpenAPI document, and
//! delivery receipts, signed or token-authenticated.

use crate::checks::shared::Vendor;
use crate::checks::*;
use crate::prism::{PrismProxy, Spec};
use crate::server::{message, Canned, MockProvider};
use hmac::{Hmac, KeyInit, Mac};
use md5::Digest;
use otpgw::domain::DeliveryStatus;
use otpgw::providers::vonage::{Config, SignatureMethod, VonageProvider};
use otpgw::providers::{ErrorKind, Receipt, ReceiptError, SmsProvider};

const API_KEY: &str = "abcd1234";
const API_SECRET: &str = "abcdef0123456789";
const FROM: &str = "AcmeInc";
const TO: &str = "+447700900000";
const TO_DIGITS: &str = "447700900000";
const TEXT: &str = "Your code is 123456 [valid 10 min] {don't share}";
const CALLBACK: &str = "https://gw.example.com/v1/receipts/vg";
const RECEIPT_TOKEN: &str = "rcpt-0123456789abcdef";

/// The success answer shown in Vonage's "Troubleshooting SMS" guide.
const ACCEPTED: &str = r#"{"message-count":"1","messages":[{"to":"447700900000","message-id":"0C000000217B7F02","status":"0","remaining-balance":"15.53590000","message-price":"0.03330000","network":"23410"}]}"#;
const MESSAGE_ID: &str = "0C000000217B7F02";

fn config(base_url: &str) -> Config {
    Config {
        base_url: base_url.into(),
        api_key: API_KEY.into(),
        api_secret: API_SECRET.into(),
        from: FROM.into(),
        callback_url: Some(CALLBACK.into()),
        receipt_token: Some(RECEIPT_TOKEN.into()),
        ..Config::default()
    }
}

fn provider(cfg: &Config) -> VonageProvider {
    VonageProvider::new(cfg).expect("a valid config")
}

/// Vonage for the cases every adapter shares (`checks::shared`).
pub fn vendor() -> Vendor {
    Vendor {
        kind: "vonage",
        build: |base, timeout_ms| {
            Box::new(provider(&Config {
                timeout_ms,
                ..config(base)
            }))
        },
        to: TO,
        text: TEXT,
        accepted: Canned::json(200, ACCEPTED),
        // A status of zero (or none) is no rejection: without an id it is still a send.
        without_id: vec![
            Canned::json(200, r#"{"message-count":"1","messages":[{"status":"0"}]}"#),
            Canned::json(
                200,
                r#"{"message-count":"1","messages":[{"message-id":"","status":"0"}]}"#,
            ),
            Canned::json(
                200,
                r#"{"message-count":"1","messages":[{"network":"23410"}]}"#,
            ),
            Canned::json(200, r#"{"message-count":"1"}"#),
        ],
    }
}

/// Vonage's answer for a refused message with a non-zero `status`.
fn refused(status: &str) -> String {
    format!(
        r#"{{"message-count":"1","messages":[{{"status":"{status}","error-text":"refused for {TO_DIGITS}"}}]}}"#
    )
}

#[tokio::test]
async fn vonage_sends_the_documented_form_request() {
    let server = MockProvider::start(vec![Canned::json(200, ACCEPTED)]).await;
    let id = provider(&config(&server.base_url()))
        .send(&message(TO, TEXT))
        .await
        .expect("sent");
    assert_eq!(id, MESSAGE_ID);

    let r = server.single();
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/sms/json");
    assert_eq!(r.query, None);
    assert_eq!(
        r.header("authorization"),
        None,
        "credentials travel in the form"
    );
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    let mut fields = r.form();
    fields.sort();
    let callback = format!("{CALLBACK}?token={RECEIPT_TOKEN}");
    assert_eq!(
        fields,
        pairs(&[
            ("api_key", API_KEY),
            ("api_secret", API_SECRET),
            ("callback", &callback),
            ("from", FROM),
            ("text", TEXT),
            ("to", TO_DIGITS),
        ]),
        "exactly these fields; GSM-7 text (extension characters included) sends no type"
    );
    assert!(
        r.text().contains("to=447700900000&"),
        "E.164 without '+': {}",
        r.text()
    );
}

#[tokio::test]
async fn vonage_switches_to_unicode_for_text_outside_gsm7() {
    let server = MockProvider::start(vec![Canned::json(200, ACCEPTED)]).await;
    let cfg = Config {
        from: "+447700900001".into(),
        callback_url: None,
        receipt_token: None,
        ..config(&server.base_url())
    };
    let p = provider(&cfg);
    for text in ["Ваш код: 123456", "Code 123456 ✅", "验证码 123456"] {
        p.send(&message(TO, text)).await.unwrap();
    }
    p.send(&message(
        TO,
        "Votre code: 123456 (é, è, ñ, ü, à, € are GSM-7)",
    ))
    .await
    .unwrap();
    let seen = server.requests();
    for r in &seen[..3] {
        assert_eq!(r.field("type").as_deref(), Some("unicode"), "{}", r.text());
    }
    assert_eq!(seen[3].field("type"), None, "{}", seen[3].text());
    assert_eq!(seen[0].field("text").as_deref(), Some("Ваш код: 123456"));
    for r in &seen {
        assert_eq!(
            r.field("from").as_deref(),
            Some("447700900001"),
            "numeric sender without '+'"
        );
        assert_eq!(r.field("callback"), None);
    }
}

#[tokio::test]
async fn vonage_body_statuses_and_http_errors_map_to_kinds() {
    use ErrorKind::*;
    // Every status Vonage documents for the SMS API, answered with HTTP 200: a non-zero
    // status is a rejection, whatever the rest of the body says.
    let statuses = [
        ("1", RateLimited, true),
        ("2", RejectedContent, false),
        ("3", RejectedContent, false),
        ("4", Auth, false),
        ("5", Unavailable, true),
        ("6", InvalidDestination, false),
        ("7", InvalidDestination, false),
        ("8", Auth, false),
        ("9", Unavailable, true),
        ("10", RateLimited, true),
        ("11", Auth, false),
        ("12", RejectedContent, false),
        ("14", Auth, false),
        ("15", RejectedContent, false),
        ("22", RejectedContent, false),
        ("23", RejectedContent, false),
        ("29", InvalidDestination, false),
        ("32", Auth, false),
        ("33", InvalidDestination, false),
        ("99", Unavailable, true),
    ];
    let mut cases: Vec<Case> = statuses
        .into_iter()
        .map(|(status, kind, retryable)| {
            Case::new(
                format!("status {status}"),
                Canned::json(200, refused(status)),
                kind,
                retryable,
            )
            .detail_has(format!("status {status}"))
        })
        .collect();
    // A numeric status, and a rejected part that carries an id, are rejections too.
    cases.push(
        Case::new(
            "numeric status 6",
            Canned::json(200, r#"{"message-count":"1","messages":[{"status":6}]}"#),
            InvalidDestination,
            false,
        )
        .detail_has("status 6"),
    );
    cases.push(Case::new(
        "status 7 with an id",
        Canned::json(
            200,
            r#"{"message-count":"1","messages":[{"message-id":"0C000000217B7F02","status":"7"}]}"#,
        ),
        InvalidDestination,
        false,
    ));
    cases.push(Case::new(
        "401",
        Canned::json(
            401,
            r#"{"type":"https://developer.nexmo.com/api-errors#unauthorized","title":"Unauthorized"}"#,
        ),
        Auth,
        false,
    ));
    check_errors(cases, |b| provider(&config(b)), TO, TEXT).await;
}

#[tokio::test]
async fn vonage_requests_conform_to_vonages_openapi_document() {
    let prism = PrismProxy::start(Spec::Vonage).await;
    let p = provider(&config(&prism.base_url()));
    // The document's example message id.
    assert_eq!(
        p.send(&message(TO, TEXT)).await.expect("Prism accepts it"),
        "0A0000000123ABCD1"
    );
    assert_eq!(
        p.send(&message(TO, "Ваш код: 123456"))
            .await
            .expect("Prism accepts it"),
        "0A0000000123ABCD1"
    );
    prism.assert_all_accepted();
    assert_eq!(prism.exchanges().len(), 2);
    assert!(prism.exchanges().iter().all(|x| x.path == "/sms/json"));
}

#[tokio::test]
async fn vonage_prism_refuses_what_the_document_forbids() {
    let prism = PrismProxy::start(Spec::Vonage).await;
    let url = format!("{}/sms/json", prism.base_url());
    let client = reqwest::Client::new();
    let base = [
        ("api_key", API_KEY),
        ("api_secret", API_SECRET),
        ("from", FROM),
        ("text", "x"),
    ];
    let no_to = client.post(&url).form(&base);
    assert_eq!(no_to.send().await.unwrap().status(), 422);
    let mut bad_type = base.to_vec();
    bad_type.extend([("to", TO_DIGITS), ("type", "emoji")]);
    assert_eq!(
        client
            .post(&url)
            .form(&bad_type)
            .send()
            .await
            .unwrap()
            .status(),
        422
    );
    let as_json = client
        .post(&url)
        .json(&serde_json::json!({"api_key": API_KEY, "to": TO_DIGITS}));
    assert_eq!(as_json.send().await.unwrap().status(), 415);
    let refused: Vec<u16> = prism.refused().iter().map(|x| x.status).collect();
    assert_eq!(refused, [422, 422, 415]);
}

// ---- delivery receipts -----------------------------------------------------------------

const SIG_SECRET: &str = "5ig-secret-from-dashboard";

/// Vonage's "Signing Messages" algorithm, written here apart from the adapter: every
/// parameter but `sig`, sorted by name, `&` and `=` in values turned into `_`, joined as
/// `&name=value…`; MD5 of that plus the secret, or an HMAC of it keyed with the secret;
/// hex. (HMAC methods come upper-case from Vonage's libraries: use that here.)
fn vonage_sign(method: SignatureMethod, secret: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<_> = params.iter().filter(|(k, _)| k != "sig").cloned().collect();
    sorted.sort();
    let data: String = sorted
        .iter()
        .map(|(k, v)| format!("&{k}={}", v.replace(['&', '='], "_")))
        .collect();
    fn mac<M: Mac + KeyInit>(key: &str, data: &str) -> String {
        let mut m = <M as KeyInit>::new_from_slice(key.as_bytes()).unwrap();
        m.update(data.as_bytes());
        hex::encode_upper(m.finalize().into_bytes())
    }
    match method {
        SignatureMethod::Md5hash => {
            hex::encode(md5::Md5::digest(format!("{data}{secret}").as_bytes()))
        }
        SignatureMethod::Md5 => mac::<Hmac<md5::Md5>>(secret, &data),
        SignatureMethod::Sha1 => mac::<Hmac<sha1::Sha1>>(secret, &data),
        SignatureMethod::Sha256 => mac::<Hmac<sha2::Sha256>>(secret, &data),
        SignatureMethod::Sha512 => mac::<Hmac<sha2::Sha512>>(secret, &data),
    }
}

/// A delivery receipt as Vonage documents it, signed fields included.
fn dlr(status: &str, err_code: &str) -> Vec<(String, String)> {
    pairs(&[
        ("msisdn", TO_DIGITS),
        ("to", FROM),
        ("network-code", "23410"),
        ("messageId", MESSAGE_ID),
        ("price", "0.03330000"),
        ("status", status),
        ("scts", "2001011400"),
        ("err-code", err_code),
        ("api-key", API_KEY),
        ("message-timestamp", "2020-01-01 12:00:00"),
        ("timestamp", "1582650446"),
        ("nonce", "ec11dd3e-1e7f-4db5-9467-82b02cd223b9"),
    ])
}

fn with_sig(mut p: Vec<(String, String)>, sig: String) -> Vec<(String, String)> {
    p.push(("sig".into(), sig));
    p
}

fn query(base: &str, p: &[(String, String)]) -> String {
    let q = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(p)
        .finish();
    format!("{base}?{q}")
}

fn signed_provider(method: SignatureMethod, secret: &str) -> VonageProvider {
    provider(&Config {
        callback_url: Some(CALLBACK.into()),
        receipt_token: None,
        signature_secret: Some(secret.into()),
        signature_method: method,
        ..config("http://127.0.0.1:1")
    })
}

fn delivered() -> Vec<Receipt> {
    vec![Receipt {
        message_id: MESSAGE_ID.into(),
        status: DeliveryStatus::Delivered,
        detail: None,
    }]
}

#[test]
fn vonage_signed_receipts_parse_in_every_method_and_transport() {
    use SignatureMethod::*;
    for method in [Md5hash, Md5, Sha1, Sha256, Sha512] {
        let p = signed_provider(method, SIG_SECRET);
        let params = dlr("delivered", "0");
        let sig = vonage_sign(method, SIG_SECRET, &params);
        let signed = with_sig(params.clone(), sig.clone());
        // GET with a query string (spaces as '+'), form POST, JSON POST; hex in either case.
        assert_eq!(
            Callback::get(&query(CALLBACK, &signed)).parse(&p),
            Ok(delivered()),
            "{method:?} GET"
        );
        assert_eq!(
            Callback::post_form(CALLBACK, &signed).parse(&p),
            Ok(delivered()),
            "{method:?} form"
        );
        let json: serde_json::Map<String, serde_json::Value> = signed
            .iter()
            .map(|(k, v)| (k.clone(), v.clone().into()))
            .collect();
        let body = serde_json::to_vec(&json).unwrap();
        assert_eq!(
            Callback::post_json(CALLBACK, body).parse(&p),
            Ok(delivered()),
            "{method:?} JSON"
        );
        let lower = with_sig(params, sig.to_lowercase());
        assert_eq!(
            Callback::post_form(CALLBACK, &lower).parse(&p),
            Ok(delivered()),
            "{method:?} lower"
        );
    }
}

#[test]
fn vonage_signatures_match_vonages_own_vectors() {
    // Vectors from Vonage's PHP client library tests: an inbound-message webhook signed
    // with "my_secret_key_for_testing". They carry no `status`, so once the signature
    // verifies the adapter calls them malformed: not unsigned, not forged.
    let params = pairs(&[
        ("message-timestamp", "2013-11-21 15:27:30"),
        ("messageId", "020000001B0FE827"),
        ("msisdn", "14843472194"),
        ("text", "Test again"),
        ("timestamp", "1385047698"),
        ("to", "13239877404"),
        ("type", "text"),
    ]);
    let secret = "my_secret_key_for_testing";
    let vectors = [
        (SignatureMethod::Md5hash, "d2e7b1dc968737c5998ad624e02f90b7"),
        (SignatureMethod::Md5, "DDEBD46008C2D4E93CCE578A332A52D5"),
        (SignatureMethod::Sha1, "27D0D05C2876C7CB1720DBCDBA4D492E1E55C09A"),
        (SignatureMethod::Sha256, "DDB8397C2B90AAC7F3882D306475C9A5058C92322EEF43C92B298B6E0FC0D330"),
        (
            SignatureMethod::Sha512,
            "E0D3C650F8C9D1A5C174D10DDDBFB003E561F59B265616208B0487C5D819481CD3C311D59CF6165ECD1139622D5BA3A256C0D763AC4A9AD9144B5A426B94FE82",
        ),
    ];
    for (method, sig) in vectors {
        assert_eq!(
            vonage_sign(method, secret, &params),
            sig,
            "test signer, {method:?}"
        );
        let cb = Callback::post_form(CALLBACK, &with_sig(params.clone(), sig.into()));
        let r = cb.parse(&signed_provider(method, secret));
        assert!(
            matches!(r, Err(ReceiptError::Malformed(_))),
            "{method:?}: {r:?}"
        );
    }
    // '&' and '=' inside a value become '_' before signing.
    let amp = pairs(&[
        ("keyword", "TEST"),
        ("message-timestamp", "2017-04-04 22:57:47"),
        ("messageId", "0B00000042AC53BD"),
        ("msisdn", "14843472194"),
        ("nonce", "929d6744-bd28-42c8-b6cf-31d5b4f43732"),
        ("text", "Test with & and ="),
        ("timestamp", "1491346667"),
        ("to", "12192259404"),
        ("type", "text"),
        ("sig", "e06d9763e3fd0b9c31beb5fc2fcb011c"),
    ]);
    assert_eq!(
        vonage_sign(SignatureMethod::Md5hash, secret, &amp),
        "e06d9763e3fd0b9c31beb5fc2fcb011c"
    );
    let r = Callback::get(&query(CALLBACK, &amp))
        .parse(&signed_provider(SignatureMethod::Md5hash, secret));
    assert!(matches!(r, Err(ReceiptError::Malformed(_))), "{r:?}");
}

#[test]
fn vonage_unsigned_forged_and_malformed_signed_receipts_are_refused() {
    let method = SignatureMethod::Sha256;
    let p = signed_provider(method, SIG_SECRET);
    let params = dlr("delivered", "0");
    let good = vonage_sign(method, SIG_SECRET, &params);

    assert_eq!(
        Callback::post_form(CALLBACK, &params).parse(&p),
        Err(ReceiptError::Unsigned)
    );
    let empty = with_sig(params.clone(), String::new());
    assert_eq!(
        Callback::post_form(CALLBACK, &empty).parse(&p),
        Err(ReceiptError::Unsigned)
    );

    let mut tampered = with_sig(params.clone(), good.clone());
    tampered.iter_mut().find(|(k, _)| k == "status").unwrap().1 = "failed".into();
    assert_eq!(
        Callback::post_form(CALLBACK, &tampered).parse(&p),
        Err(ReceiptError::Forged)
    );

    let wrong_secret = with_sig(
        params.clone(),
        vonage_sign(method, "another-secret", &params),
    );
    assert_eq!(
        Callback::post_form(CALLBACK, &wrong_secret).parse(&p),
        Err(ReceiptError::Forged)
    );

    let wrong_method = with_sig(
        params.clone(),
        vonage_sign(SignatureMethod::Md5hash, SIG_SECRET, &params),
    );
    assert_eq!(
        Callback::post_form(CALLBACK, &wrong_method).parse(&p),
        Err(ReceiptError::Forged)
    );

    let not_hex = with_sig(params.clone(), "zz-not-hex".into());
    assert_eq!(
        Callback::post_form(CALLBACK, &not_hex).parse(&p),
        Err(ReceiptError::Forged)
    );

    // Signed, but no messageId; a JSON body that is not JSON.
    let no_id: Vec<_> = params
        .iter()
        .filter(|(k, _)| k != "messageId")
        .cloned()
        .collect();
    let no_id = with_sig(no_id.clone(), vonage_sign(method, SIG_SECRET, &no_id));
    assert!(matches!(
        Callback::post_form(CALLBACK, &no_id).parse(&p),
        Err(ReceiptError::Malformed(_))
    ));
    let broken = Callback::post_json(CALLBACK, "{\"messageId\": ");
    assert!(matches!(broken.parse(&p), Err(ReceiptError::Malformed(_))));
}

#[test]
fn vonage_token_receipts_map_every_status() {
    let p = provider(&config("http://127.0.0.1:1"));
    let url = format!("{CALLBACK}?token={RECEIPT_TOKEN}");
    let receipt = |status, detail: Option<&str>| {
        vec![Receipt {
            message_id: MESSAGE_ID.into(),
            status,
            detail: detail.map(str::to_string),
        }]
    };
    let cases = [
        ("delivered", "0", receipt(DeliveryStatus::Delivered, None)),
        ("accepted", "0", receipt(DeliveryStatus::Sent, None)),
        ("buffered", "0", receipt(DeliveryStatus::Sent, None)),
        (
            "expired",
            "5",
            receipt(DeliveryStatus::Undelivered, Some("5")),
        ),
        (
            "failed",
            "3",
            receipt(DeliveryStatus::Undelivered, Some("3")),
        ),
        ("rejected", "6", receipt(DeliveryStatus::Failed, Some("6"))),
        ("unknown", "1", vec![]),
    ];
    for (status, err, expected) in cases {
        // As a GET (token and DLR in one query string) and as a JSON POST.
        let mut q = dlr(status, err);
        q.push(("token".into(), RECEIPT_TOKEN.into()));
        assert_eq!(
            Callback::get(&query(CALLBACK, &q)).parse(&p),
            Ok(expected.clone()),
            "GET {status}"
        );
        let json: serde_json::Map<String, serde_json::Value> = dlr(status, err)
            .into_iter()
            .map(|(k, v)| (k, v.into()))
            .collect();
        let post = Callback::post_json(&url, serde_json::to_vec(&json).unwrap());
        assert_eq!(post.parse(&p), Ok(expected), "POST {status}");
    }
}

/// The DLR's documented `price` ("0.03330000") is the message's reported price, as a
/// GET and as a JSON POST; a DLR without a price, or with one that is no number, has none.
#[test]
fn vonage_receipts_carry_the_documented_price() {
    let p = provider(&config("http://127.0.0.1:1"));
    let url = format!("{CALLBACK}?token={RECEIPT_TOKEN}");
    let mut q = dlr("delivered", "0");
    q.push(("token".into(), RECEIPT_TOKEN.into()));
    let got = Callback::get(&query(CALLBACK, &q)).prices(&p);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, MESSAGE_ID);
    assert!((got[0].1.amount - 0.0333).abs() < 1e-12, "{got:?}");
    let json: serde_json::Map<String, serde_json::Value> = dlr("delivered", "0")
        .into_iter()
        .map(|(k, v)| (k, v.into()))
        .collect();
    let post = Callback::post_json(&url, serde_json::to_vec(&json).unwrap());
    assert_eq!(post.prices(&p).len(), 1);
    for price in [None, Some("free"), Some("-1"), Some("NaN")] {
        let mut body: Vec<_> = dlr("delivered", "0")
            .into_iter()
            .filter(|(k, _)| k != "price")
            .collect();
        if let Some(v) = price {
            body.push(("price".into(), v.into()));
        }
        assert!(
            Callback::post_form(&url, &body).prices(&p).is_empty(),
            "{price:?}"
        );
    }
}

#[test]
fn vonage_token_receipts_without_or_with_a_wrong_token_are_refused() {
    let p = provider(&config("http://127.0.0.1:1"));
    let body = dlr("delivered", "0");
    assert_eq!(
        Callback::post_form(CALLBACK, &body).parse(&p),
        Err(ReceiptError::Unsigned)
    );
    let wrong = format!("{CALLBACK}?token=rcpt-0123456789abcdeX");
    assert_eq!(
        Callback::post_form(&wrong, &body).parse(&p),
        Err(ReceiptError::Forged)
    );
    let right = format!("{CALLBACK}?token={RECEIPT_TOKEN}");
    let no_status: Vec<_> = body
        .iter()
        .filter(|(k, _)| k != "status")
        .cloned()
        .collect();
    assert!(matches!(
        Callback::post_form(&right, &no_status).parse(&p),
        Err(ReceiptError::Malformed(_))
    ));
    // Neither a signature secret nor a token: receipts are off, never accepted.
    let open = provider(&Config {
        callback_url: None,
        receipt_token: None,
        ..config("http://127.0.0.1:1")
    });
    assert_eq!(
        Callback::post_form(&right, &body).parse(&open),
        Err(ReceiptError::NotSupported)
    );
}
