//! Meta WhatsApp Cloud API: the exact template request, the language mapping, Meta's
//! documented error answers, Prism on Meta's own OpenAPI document, and the webhooks as
//! the adapter reads them (signature, statuses, the subscription handshake).

use crate::checks::shared::Vendor;
use crate::checks::*;
use crate::prism::{PrismProxy, Spec};
use crate::server::{message, Canned, MockProvider};
use hmac::{Hmac, KeyInit, Mac};
use otpgw::domain::{Channel, DeliveryStatus};
use otpgw::providers::meta::{Config, MetaWhatsappProvider};
use otpgw::providers::{ErrorKind, OutboundMessage, Receipt, ReceiptError, SmsProvider};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

pub const PHONE_NUMBER_ID: &str = "106540352242922";
pub const TOKEN: &str = "EAAJB0123456789abcdefToken";
pub const TEMPLATE: &str = "otp_code";
pub const APP_SECRET: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";
pub const VERIFY_TOKEN: &str = "verify-me-0123";
pub const TO: &str = "+14155550123";
const CODE: &str = "004217";
const TEXT: &str = "Your Acme code is 004217.";
/// The `200` answer of Meta's document ("Example response"), as the Cloud API sends it
/// for an authentication template (with `message_status`).
pub const ACCEPTED: &str = r#"{"messaging_product":"whatsapp","contacts":[{"input":"+14155550123","wa_id":"14155550123"}],"messages":[{"id":"wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJCOTY3NDc0NDFDRUI3NTA0Q0UA","message_status":"accepted"}]}"#;
pub const WAMID: &str = "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJCOTY3NDc0NDFDRUI3NTA0Q0UA";
/// The `Prism` answer: the document's example.
const PRISM_WAMID: &str = "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJCOTY3NDc0NDFDRUI3NTA0Q0UA";

/// The adapter's settings against `base_url`.
pub fn config(base_url: &str) -> Config {
    Config {
        base_url: base_url.into(),
        phone_number_id: PHONE_NUMBER_ID.into(),
        access_token: TOKEN.into(),
        template_name: TEMPLATE.into(),
        languages: BTreeMap::from([
            ("en".into(), "en_US".into()),
            ("pt-BR".into(), "pt_BR".into()),
            ("pt".into(), "pt_PT".into()),
            ("fr".into(), "fr".into()),
        ]),
        default_language: "es".into(),
        app_secret: Some(APP_SECRET.into()),
        verify_token: Some(VERIFY_TOKEN.into()),
        ..Config::default()
    }
}

fn provider(cfg: &Config) -> MetaWhatsappProvider {
    MetaWhatsappProvider::new(cfg).expect("a valid config")
}

/// A WhatsApp message with the code `CODE` in `locale`.
fn whatsapp(locale: &str) -> OutboundMessage {
    let mut m = message(TO, TEXT);
    m.channel = Channel::Whatsapp;
    m.code = CODE.into();
    m.locale = locale.into();
    m
}

/// Meta for the cases every adapter shares (`checks::shared`).
pub fn vendor() -> Vendor {
    Vendor {
        kind: "meta_whatsapp",
        build: |base, timeout_ms| {
            Box::new(provider(&Config {
                timeout_ms,
                ..config(base)
            }))
        },
        to: TO,
        text: TEXT,
        accepted: Canned::json(200, ACCEPTED),
        without_id: vec![
            Canned::json(200, r#"{"messaging_product":"whatsapp","messages":[]}"#),
            Canned::json(200, r#"{"messages":[{"message_status":"accepted"}]}"#),
            Canned::json(200, r#"{"messages":[{"id":""}]}"#),
        ],
    }
}

/// The body Meta documents for an authentication template, with `code` in both places.
fn expected_body(language: &str, code: &str) -> serde_json::Value {
    json!({
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "14155550123",
        "type": "template",
        "template": {
            "name": TEMPLATE,
            "language": {"policy": "deterministic", "code": language},
            "components": [
                {"type": "body", "parameters": [{"type": "text", "text": code}]},
                {"type": "button", "sub_type": "url", "index": "0",
                 "parameters": [{"type": "text", "text": code}]}
            ]
        }
    })
}

#[tokio::test]
async fn meta_sends_the_authentication_template_as_documented() {
    let server = MockProvider::start(vec![Canned::json(200, ACCEPTED)]).await;
    let p = provider(&config(&server.base_url()));
    assert_eq!(p.channels(), [Channel::Whatsapp]);
    let id = p.send(&whatsapp("en")).await.expect("sent");
    assert_eq!(id, WAMID);

    let r = server.single();
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, format!("/v23.0/{PHONE_NUMBER_ID}/messages"));
    assert_eq!(r.query, None);
    assert_eq!(r.header("authorization"), Some(format!("Bearer {TOKEN}")));
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/json")
    );
    assert_eq!(r.json(), expected_body("en_US", CODE), "{}", r.text());
    // The code in both places, leading zeros kept; the rendered text is not sent.
    assert_eq!(r.text().matches(CODE).count(), 2, "{}", r.text());
    assert!(!r.text().contains("Acme"), "{}", r.text());
    assert!(!r.text().contains(TO), "no '+' in `to`: {}", r.text());
}

#[tokio::test]
async fn meta_picks_the_template_language_from_the_locale() {
    // (message locale, Meta language): the tag, its language, then default_language.
    let cases = [
        ("en", "en_US"),
        ("en-GB", "en_US"),
        ("pt-BR", "pt_BR"),
        ("pt-br", "pt_BR"),
        ("pt-AO", "pt_PT"),
        ("fr-CA", "fr"),
        ("de", "es"),
    ];
    for (locale, language) in cases {
        let server = MockProvider::start(vec![Canned::json(200, ACCEPTED)]).await;
        provider(&config(&server.base_url()))
            .send(&whatsapp(locale))
            .await
            .expect("sent");
        let body = server.single().json();
        assert_eq!(
            body["template"]["language"]["code"], language,
            "{locale}: {body}"
        );
        assert_eq!(body, expected_body(language, CODE), "{locale}");
    }
}

/// Meta's Graph API error body for `code`, as its error reference shows it (the
/// details naming the recipient, as some do).
fn error_body(code: u32, title: &str) -> String {
    json!({"error": {
        "message": format!("(#{code}) {title}"),
        "type": "OAuthException",
        "code": code,
        "error_data": {"messaging_product": "whatsapp", "details": format!("{title} for {TO}")},
        "fbtrace_id": "Az8or2yhqkZfEZ-_4Qn_Bam"
    }})
    .to_string()
}

#[tokio::test]
async fn meta_error_answers_map_to_kinds() {
    use ErrorKind::*;
    // (HTTP status, Meta code, title, kind, retryable), per Meta's error reference.
    let coded = [
        (
            400,
            132000,
            "Template Param Count Mismatch",
            RejectedContent,
            false,
        ),
        (
            404,
            132001,
            "Template does not exist",
            RejectedContent,
            false,
        ),
        (
            400,
            132005,
            "Template Hydrated Text Too Long",
            RejectedContent,
            false,
        ),
        (
            400,
            132007,
            "Template Format Character Policy Violated",
            RejectedContent,
            false,
        ),
        (
            400,
            132012,
            "Template Parameter Format Mismatch",
            RejectedContent,
            false,
        ),
        (400, 132015, "Template is Paused", RejectedContent, false),
        (400, 132016, "Template is Disabled", RejectedContent, false),
        (400, 100, "Invalid parameter", RejectedContent, false),
        (400, 131047, "Re-engagement message", RejectedContent, false),
        (
            400,
            131051,
            "Unsupported message type",
            RejectedContent,
            false,
        ),
        (
            400,
            131026,
            "Message Undeliverable",
            InvalidDestination,
            false,
        ),
        (
            400,
            131030,
            "Recipient phone number not in allowed list",
            InvalidDestination,
            false,
        ),
        (400, 130429, "Rate limit hit", RateLimited, true),
        (
            400,
            131056,
            "(Business Account, Consumer Account) pair rate limit hit",
            RateLimited,
            true,
        ),
        (400, 80007, "Rate limit issues", RateLimited, true),
        (400, 131048, "Spam rate limit hit", RateLimited, true),
        (400, 4, "API Too Many Calls", RateLimited, true),
        (401, 190, "Access token has expired", Auth, false),
        (401, 0, "AuthException", Auth, false),
        (403, 10, "Permission Denied", Auth, false),
        (500, 3, "API Method", Auth, false),
        (
            403,
            368,
            "Temporarily blocked for policies violations",
            Auth,
            false,
        ),
        (400, 133010, "Phone number Not Registered", Auth, false),
        (500, 131000, "Something went wrong", Unavailable, true),
        (503, 131016, "Service unavailable", Unavailable, true),
        (400, 135000, "Generic user error", RejectedContent, false),
    ];
    let mut cases: Vec<Case> = coded
        .into_iter()
        .map(|(status, code, title, kind, retryable)| {
            let answer = Canned::json(status, error_body(code, title));
            Case::new(format!("{status} code {code}"), answer, kind, retryable)
                .detail_has(format!("code {code}"))
        })
        .collect();
    cases.push(Case::new(
        "500 without a body",
        Canned::json(500, ""),
        Unavailable,
        true,
    ));
    cases.push(Case::new(
        "502 page",
        Canned::json(502, "<html>bad gateway</html>"),
        Unavailable,
        true,
    ));
    cases.push(
        Case::new(
            "429 with Retry-After",
            Canned::json(429, error_body(130429, "Rate limit hit")).header("retry-after", "7"),
            RateLimited,
            true,
        )
        .retry_after(Duration::from_secs(7)),
    );
    let m = whatsapp("en");
    check_errors(cases, |b| provider(&config(b)), TO, &m.body).await;
}

#[tokio::test]
async fn meta_a_hanging_server_is_a_timeout() {
    let server = MockProvider::start(vec![
        Canned::json(200, ACCEPTED).after(Duration::from_secs(10))
    ])
    .await;
    let p = provider(&Config {
        timeout_ms: 300,
        ..config(&server.base_url())
    });
    let t = Instant::now();
    let e = p
        .send(&whatsapp("en"))
        .await
        .expect_err("no answer in time");
    assert_eq!((e.kind, e.retryable), (ErrorKind::Timeout, true), "{e:?}");
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    assert_eq!(server.requests().len(), 1, "one request, no hidden retry");
}

#[tokio::test]
async fn meta_requests_conform_to_metas_openapi_document() {
    let prism = PrismProxy::start(Spec::Whatsapp).await;
    let p = provider(&config(&prism.base_url()));
    for locale in ["en", "pt-BR", "de"] {
        let id = p.send(&whatsapp(locale)).await;
        assert_eq!(
            id.ok().as_deref(),
            Some(PRISM_WAMID),
            "{:?}",
            prism.exchanges()
        );
    }
    prism.assert_all_accepted();
    let x = prism.exchanges();
    assert_eq!(x.len(), 3);
    // Prism refused index "0" (the document's flaw) and nothing else.
    assert!(x.iter().all(|x| x.around_flaw), "{x:?}");
}

#[tokio::test]
async fn meta_prism_refuses_what_the_document_forbids() {
    // The check above can fail: a body the document forbids stays refused, even with
    // the known flaw worked around.
    let prism = PrismProxy::start(Spec::Whatsapp).await;
    let url = format!("{}/v23.0/{PHONE_NUMBER_ID}/messages", prism.base_url());
    let client = reqwest::Client::new();
    let mut no_to = expected_body("en_US", CODE);
    no_to.as_object_mut().unwrap().remove("to");
    let r = client
        .post(&url)
        .bearer_auth(TOKEN)
        .json(&no_to)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let mut no_policy = expected_body("en_US", CODE);
    no_policy["template"]["language"]
        .as_object_mut()
        .unwrap()
        .remove("policy");
    let r = client
        .post(&url)
        .bearer_auth(TOKEN)
        .json(&no_policy)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let refused: Vec<(u16, bool)> = prism
        .refused()
        .iter()
        .map(|x| (x.status, x.around_flaw))
        .collect();
    assert_eq!(refused, [(422, true), (422, true)]);
}

// ---- webhooks ----------------------------------------------------------------------

const RECEIPT_URL: &str = "https://gw.example.com/v1/receipts/meta";

/// `X-Hub-Signature-256` as Meta computes it, written here apart from the adapter.
pub fn meta_sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// A status webhook as Meta sends it (Meta's document, `StatusMessageValue`).
pub fn status_webhook(wamid: &str, status: &str, error: Option<(u32, &str)>) -> String {
    let mut s = json!({
        "id": wamid, "status": status, "timestamp": "1750263773",
        "recipient_id": "14155550123",
        "pricing": {"billable": true, "pricing_model": "PMP", "category": "authentication"}
    });
    if let Some((code, title)) = error {
        s["errors"] = json!([{"code": code, "title": title, "message": title,
            "error_data": {"details": format!("{title}: 14155550123")}}]);
    }
    json!({"object": "whatsapp_business_account", "entry": [{"id": "102290129340398",
        "changes": [{"field": "messages", "value": {"messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_NUMBER_ID},
            "statuses": [s]}}]}]})
    .to_string()
}

/// An inbound text message webhook (no status in it).
pub fn inbound_webhook() -> String {
    json!({"object": "whatsapp_business_account", "entry": [{"id": "102290129340398",
        "changes": [{"field": "messages", "value": {"messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_NUMBER_ID},
            "contacts": [{"profile": {"name": "Sheena Nelson"}, "wa_id": "14155550123"}],
            "messages": [{"from": "14155550123", "id": "wamid.IN", "timestamp": "1744344496",
                "type": "text", "text": {"body": "hello"}}]}}]}]})
    .to_string()
}

fn signed(body: &str) -> Callback {
    Callback::post_json(RECEIPT_URL, body.as_bytes().to_vec()).header(
        "x-hub-signature-256",
        &meta_sign(APP_SECRET, body.as_bytes()),
    )
}

#[test]
fn meta_signed_statuses_become_receipts() {
    let p = provider(&config("http://127.0.0.1:1"));
    let receipt = |status, detail: Option<&str>| {
        Ok(vec![Receipt {
            message_id: WAMID.into(),
            status,
            detail: detail.map(str::to_string),
        }])
    };
    let parse = |status: &str, error| signed(&status_webhook(WAMID, status, error)).parse(&p);
    assert_eq!(parse("sent", None), receipt(DeliveryStatus::Sent, None));
    assert_eq!(
        parse("delivered", None),
        receipt(DeliveryStatus::Delivered, None)
    );
    assert_eq!(
        parse("read", None),
        receipt(DeliveryStatus::Delivered, None)
    );
    assert_eq!(
        parse("failed", Some((131026, "Message undeliverable"))),
        receipt(DeliveryStatus::Failed, Some("131026 Message undeliverable"))
    );
    assert_eq!(signed(&inbound_webhook()).parse(&p), Ok(vec![]));
}

#[test]
fn meta_unsigned_forged_and_malformed_webhooks_are_refused() {
    let p = provider(&config("http://127.0.0.1:1"));
    let body = status_webhook(WAMID, "delivered", None);
    let unsigned = Callback::post_json(RECEIPT_URL, body.clone());
    assert_eq!(unsigned.parse(&p), Err(ReceiptError::Unsigned));
    let other_key = Callback::post_json(RECEIPT_URL, body.clone()).header(
        "x-hub-signature-256",
        &meta_sign("another-secret", body.as_bytes()),
    );
    assert_eq!(other_key.parse(&p), Err(ReceiptError::Forged));
    let tampered = body.replace("delivered", "failed");
    let tampered = Callback::post_json(RECEIPT_URL, tampered).header(
        "x-hub-signature-256",
        &meta_sign(APP_SECRET, body.as_bytes()),
    );
    assert_eq!(tampered.parse(&p), Err(ReceiptError::Forged));
    let bare_hex = meta_sign(APP_SECRET, body.as_bytes()).replace("sha256=", "");
    let no_prefix =
        Callback::post_json(RECEIPT_URL, body.clone()).header("x-hub-signature-256", &bare_hex);
    assert_eq!(no_prefix.parse(&p), Err(ReceiptError::Forged));
    assert!(matches!(
        signed("{not json").parse(&p),
        Err(ReceiptError::Malformed(_))
    ));
    assert!(matches!(
        signed(r#"{"object":"x"}"#).parse(&p),
        Err(ReceiptError::Malformed(_))
    ));
    let no_secret = provider(&Config {
        app_secret: None,
        verify_token: None,
        ..config("http://127.0.0.1:1")
    });
    assert_eq!(
        signed(&body).parse(&no_secret),
        Err(ReceiptError::NotSupported)
    );
}

#[test]
fn meta_subscription_handshake_echoes_the_challenge_for_the_right_token() {
    let p = provider(&config("http://127.0.0.1:1"));
    let get = |q: &str| Callback::get(&format!("{RECEIPT_URL}?{q}"));
    let shake = |q: &str| {
        let c = get(q);
        p.handshake(&otpgw::providers::ReceiptRequest {
            method: c.method,
            url: &c.url,
            headers: &c.headers,
            body: &c.body,
        })
    };
    let right =
        format!("hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token={VERIFY_TOKEN}");
    assert_eq!(shake(&right), Some(Ok("1158201444".into())));
    let wrong = "hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=guess";
    assert_eq!(shake(wrong), Some(Err(ReceiptError::Forged)));
    let missing = "hub.mode=subscribe&hub.challenge=1158201444";
    assert_eq!(shake(missing), Some(Err(ReceiptError::Forged)));
    let no_challenge = format!("hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}");
    assert!(matches!(
        shake(&no_challenge),
        Some(Err(ReceiptError::Malformed(_)))
    ));
    assert_eq!(shake("x=1"), None, "not a handshake: a receipt");
    let off = provider(&Config {
        verify_token: None,
        ..config("http://127.0.0.1:1")
    });
    let c = get(&right);
    let req = otpgw::providers::ReceiptRequest {
        method: c.method,
        url: &c.url,
        headers: &c.headers,
        body: &c.body,
    };
    assert_eq!(off.handshake(&req), Some(Err(ReceiptError::NotSupported)));
}
