//! Vonage call event webhooks (HS256 JWT with `payload_hash`): as the adapter reads
//! them (every status, the compacted-JSON hash, forged, missing and malformed tokens,
//! SMS receipts still on their own path) and end to end through a running gateway.

use crate::checks::*;
use crate::voice_support::*;
use crate::vonage_voice::{config, now, provider, voice, APP_ID, EVENT_URL, SECRET, UUID};
use axum::routing::post;
use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use otpgw::domain::DeliveryStatus;
use otpgw::providers::vonage::{Config, VoiceConfig};
use otpgw::providers::{ProviderConfig, Receipt, ReceiptError};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

/// Vonage's event JWT, written apart from the adapter: HS256 over the claims Vonage
/// documents, `payload_hash` the hex SHA-256 of the body.
fn vonage_jwt(secret: &str, alg: &str, claims: &Value) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(json!({"alg": alg, "typ": "JWT"}).to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(input.as_bytes());
    format!(
        "{input}.{}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    )
}

fn claims_for(body: &[u8]) -> Value {
    json!({
        "iat": now(),
        "jti": "9a6b2b5c-7d1e-4f3a-8b2c-1d2e3f4a5b6c",
        "iss": "Vonage",
        "payload_hash": hex::encode(Sha256::digest(body)),
        "api_key": "abcd1234",
        "application_id": APP_ID,
    })
}

/// A call event body as Vonage posts it.
fn event(uuid: &str, status: &str, extra: Value) -> Vec<u8> {
    let mut e = json!({
        "from": "447700900001",
        "to": "14155550123",
        "uuid": uuid,
        "conversation_uuid": "CON-f972836a-550f-45fa-956c-12a2ab5b7d22",
        "status": status,
        "direction": "outbound",
        "timestamp": "2026-12-06T12:00:00.000Z",
    });
    for (k, v) in extra.as_object().unwrap() {
        e[k] = v.clone();
    }
    serde_json::to_vec(&e).unwrap()
}

fn signed_event(body: Vec<u8>) -> Callback {
    let token = vonage_jwt(SECRET, "HS256", &claims_for(&body));
    Callback::post_json(EVENT_URL, body).header("authorization", &format!("Bearer {token}"))
}

#[test]
fn vonage_voice_signed_events_become_receipts() {
    let p = provider(&config("http://127.0.0.1:1"));
    let receipt = |status, detail: Option<&str>| {
        Ok(vec![Receipt {
            message_id: UUID.into(),
            status,
            detail: detail.map(str::to_string),
        }])
    };
    let completed =
        json!({"duration": "5", "start_time": "2026-12-06T12:00:00.000Z", "price": "0.00015000"});
    assert_eq!(
        signed_event(event(UUID, "completed", completed)).parse(&p),
        receipt(DeliveryStatus::Delivered, None)
    );
    assert_eq!(
        signed_event(event(UUID, "completed", json!({"duration": "0"}))).parse(&p),
        Ok(vec![])
    );
    for s in [
        "unanswered",
        "busy",
        "timeout",
        "failed",
        "rejected",
        "cancelled",
    ] {
        assert_eq!(
            signed_event(event(UUID, s, json!({}))).parse(&p),
            receipt(DeliveryStatus::Undelivered, Some(s)),
            "{s}"
        );
    }
    for s in ["started", "ringing", "answered"] {
        assert_eq!(
            signed_event(event(UUID, s, json!({}))).parse(&p),
            receipt(DeliveryStatus::Sent, None),
            "{s}"
        );
    }
    let machine = json!({"call_uuid": UUID, "status": "machine", "conversation_uuid": "CON-1"});
    let body = serde_json::to_vec(&machine).unwrap();
    assert_eq!(
        signed_event(body).parse(&p),
        receipt(DeliveryStatus::Undelivered, Some("machine"))
    );
    // The hash of the compacted JSON is taken as Vonage's guide computes it.
    let pretty = serde_json::to_vec_pretty(
        &serde_json::from_slice::<Value>(&event(UUID, "busy", json!({}))).unwrap(),
    )
    .unwrap();
    let mut claims = claims_for(&pretty);
    claims["payload_hash"] = json!(hex::encode(Sha256::digest(
        otpgw::providers::vonage::voice_events::compact_json(&pretty)
    )));
    let token = vonage_jwt(SECRET, "HS256", &claims);
    let cb =
        Callback::post_json(EVENT_URL, pretty).header("authorization", &format!("Bearer {token}"));
    assert_eq!(
        cb.parse(&p),
        receipt(DeliveryStatus::Undelivered, Some("busy"))
    );
}

#[test]
fn vonage_voice_forged_missing_and_malformed_events_are_refused() {
    let p = provider(&config("http://127.0.0.1:1"));
    let body = event(UUID, "completed", json!({"duration": "5"}));
    let with_token = |token: &str, body: Vec<u8>| {
        Callback::post_json(EVENT_URL, body)
            .header("authorization", &format!("Bearer {token}"))
            .parse(&p)
    };
    // Missing: no header, or a scheme other than Bearer.
    assert_eq!(
        Callback::post_json(EVENT_URL, body.clone()).parse(&p),
        Err(ReceiptError::Unsigned)
    );
    let basic = Callback::post_json(EVENT_URL, body.clone()).header("authorization", "Basic YTpi");
    assert_eq!(basic.parse(&p), Err(ReceiptError::Unsigned));
    // Forged: another secret, another body, alg none, another application, expired.
    let claims = claims_for(&body);
    assert_eq!(
        with_token(
            &vonage_jwt("another-secret", "HS256", &claims),
            body.clone()
        ),
        Err(ReceiptError::Forged)
    );
    let other_body = event(UUID, "unanswered", json!({}));
    assert_eq!(
        with_token(&vonage_jwt(SECRET, "HS256", &claims), other_body),
        Err(ReceiptError::Forged)
    );
    let none = format!(
        "{}.",
        vonage_jwt(SECRET, "none", &claims)
            .rsplit_once('.')
            .unwrap()
            .0
    );
    assert_eq!(with_token(&none, body.clone()), Err(ReceiptError::Forged));
    let mut other_app = claims.clone();
    other_app["application_id"] = json!("bbbbbbbb-bbbb-cccc-dddd-0123456789ab");
    assert_eq!(
        with_token(&vonage_jwt(SECRET, "HS256", &other_app), body.clone()),
        Err(ReceiptError::Forged)
    );
    let mut expired = claims.clone();
    expired["exp"] = json!(now() - 3600);
    assert_eq!(
        with_token(&vonage_jwt(SECRET, "HS256", &expired), body.clone()),
        Err(ReceiptError::Forged)
    );
    let mut no_hash = claims.clone();
    no_hash.as_object_mut().unwrap().remove("payload_hash");
    assert_eq!(
        with_token(&vonage_jwt(SECRET, "HS256", &no_hash), body.clone()),
        Err(ReceiptError::Forged)
    );
    // Malformed tokens are forged too; a signed body that is not an event is malformed.
    for token in ["abc", "a.b.c", "e30.e30.", "ey!.ey!.ey!"] {
        assert_eq!(
            with_token(token, body.clone()),
            Err(ReceiptError::Forged),
            "{token}"
        );
    }
    let not_json = b"status=completed".to_vec();
    assert!(matches!(
        signed_event(not_json).parse(&p),
        Err(ReceiptError::Malformed(_))
    ));
    let no_uuid =
        serde_json::to_vec(&json!({"status": "completed", "conversation_uuid": "CON-1"})).unwrap();
    assert!(matches!(
        signed_event(no_uuid).parse(&p),
        Err(ReceiptError::Malformed(_))
    ));
    // Without a signature secret nothing is accepted.
    let unsigned_cfg = Config {
        voice: Some(VoiceConfig {
            event_url: None,
            signature_secret: None,
            ..config("http://127.0.0.1:1").voice.unwrap()
        }),
        ..Config::default()
    };
    assert_eq!(
        signed_event(body).parse(&provider(&unsigned_cfg)),
        Err(ReceiptError::Unsigned)
    );
}

#[test]
fn vonage_voice_sms_receipts_still_take_the_sms_path() {
    let token = "0123456789abcdef-token";
    let both = Config {
        api_key: "abcd1234".into(),
        api_secret: "abcdef0123456789".into(),
        from: "Acme".into(),
        callback_url: Some("https://gw.example.com/v1/receipts/vg".into()),
        receipt_token: Some(token.into()),
        ..config("http://127.0.0.1:1")
    };
    let p = provider(&both);
    let dlr = Callback::get(&format!("https://gw.example.com/v1/receipts/vg?token={token}&messageId=0A0000000123ABCD1&status=delivered&err-code=0"));
    assert_eq!(
        dlr.parse(&p),
        Ok(vec![Receipt {
            message_id: "0A0000000123ABCD1".into(),
            status: DeliveryStatus::Delivered,
            detail: None,
        }])
    );
    assert_eq!(
        signed_event(event(UUID, "ringing", json!({})))
            .parse(&p)
            .unwrap()[0]
            .status,
        DeliveryStatus::Sent
    );
}

// ---- end to end ----------------------------------------------------------------------

/// The Voice API's calls resource, answering `201` with a new call uuid each time.
async fn calls_stand_in() -> String {
    let n = Arc::new(AtomicU32::new(0));
    let app = Router::new().route(
        "/v1/calls",
        post(move || {
            let i = n.fetch_add(1, Ordering::SeqCst) + 1;
            async move {
                let uuid = call_uuid(i);
                (axum::http::StatusCode::CREATED, axum::Json(json!({"uuid": uuid, "status": "started", "direction": "outbound", "conversation_uuid": "CON-1"})))
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    format!("http://{addr}")
}

fn call_uuid(i: u32) -> String {
    format!("00000000-0000-4000-8000-{i:012x}")
}

async fn post_event(
    app: &crate::support::TestApp,
    body: Vec<u8>,
    authorization: Option<String>,
) -> u16 {
    let headers: Vec<(&str, String)> = authorization
        .map(|a| ("authorization", a))
        .into_iter()
        .collect();
    post_receipt(app, "vg", "application/json", &headers, body)
        .await
        .0
}

fn bearer_for(body: &[u8]) -> Option<String> {
    Some(format!(
        "Bearer {}",
        vonage_jwt(SECRET, "HS256", &claims_for(body))
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vonage_voice_event_webhooks_move_calls_end_to_end() {
    let base = calls_stand_in().await;
    let vg = Config {
        voice: Some(VoiceConfig {
            base_url: base,
            event_url: Some("https://otp.example.com/v1/receipts/vg".into()),
            ..voice()
        }),
        ..Config::default()
    };
    let app = voice_gateway("vg", ProviderConfig::Vonage(vg), |_| {}).await;
    let first = start_call(&app, &crate::support::app::number()).await;
    let completed = event(&call_uuid(1), "completed", json!({"duration": "14"}));

    assert_eq!(
        post_event(&app, completed.clone(), None).await,
        401,
        "missing"
    );
    let forged = format!(
        "Bearer {}",
        vonage_jwt("not-the-secret", "HS256", &claims_for(&completed))
    );
    assert_eq!(
        post_event(&app, completed.clone(), Some(forged)).await,
        403,
        "forged"
    );
    assert_eq!(
        post_event(&app, completed.clone(), Some("Bearer not.a.jwt".into())).await,
        403,
        "malformed token"
    );
    let not_an_event = br#"{"conversation_uuid":"CON-1"}"#.to_vec();
    assert_eq!(
        post_event(&app, not_an_event.clone(), bearer_for(&not_an_event)).await,
        400,
        "signed, malformed"
    );
    assert_eq!(delivery_status(&app, &first).await, "sent", "nothing moved");
    assert_eq!(
        post_event(&app, completed.clone(), bearer_for(&completed)).await,
        200
    );
    assert_eq!(delivery_status(&app, &first).await, "delivered");

    let second = start_call(&app, &crate::support::app::number()).await;
    let unanswered = event(&call_uuid(2), "unanswered", json!({}));
    assert_eq!(
        post_event(&app, unanswered.clone(), bearer_for(&unanswered)).await,
        200
    );
    let v = app.fetch(&second).await.body;
    assert_eq!(v["delivery"]["status"], "undelivered", "{v}");
    assert!(
        v["delivery"]["reason"]
            .as_str()
            .unwrap()
            .contains("unanswered"),
        "{v}"
    );
    // The `completed` that always ends a call changes nothing after `unanswered`.
    let after = event(&call_uuid(2), "completed", json!({"duration": "0"}));
    assert_eq!(
        post_event(&app, after.clone(), bearer_for(&after)).await,
        200
    );
    assert_eq!(delivery_status(&app, &second).await, "undelivered");
}
