//! Vonage call events (the Voice API's event webhook, `POST /v1/receipts/<name>`) as
//! receipts, after their signature is checked.
//!
//! **Which requests.** Call events and SMS delivery receipts share the instance's
//! receipts URL. A request is a call event when it carries `Authorization: Bearer …`
//! or its JSON body has `conversation_uuid` (every call event has it; an SMS receipt
//! never carries either); everything else is read as an SMS receipt.
//!
//! **Signature.** "Webhooks will include a JWT in the Authorization header": HS256
//! keyed with the account's signature secret (`voice.signature_secret`). Vonage's
//! guide for the Voice API: verify the token, then compare "a SHA-256 hash of the
//! payload to the `payload_hash` field found in the JWT claims", the payload being the
//! body as a JSON string with "no whitespace surrounding the properties". We take
//! the hex hash of the raw body, or of the body with the whitespace between JSON
//! tokens removed (the same JSON in the same order), and require it: a token without
//! `payload_hash` binds no body and is refused. When the claims name an
//! `application_id` it must be ours; an `exp` must not have passed and an `iat` must
//! not be more than [`LEEWAY_S`] ahead (with that leeway). No secret configured, no
//! header, or a scheme other than Bearer: `Unsigned`; anything that fails: `Forged`.
//! The token's age is not limited otherwise: a replayed event can only repeat a status
//! Vonage reported, and each is applied once.
//!
//! **Statuses** (`status`, the call `uuid`, or `call_uuid` in `human`/`machine`):
//!
//! | `status` | receipt |
//! |---|---|
//! | `completed` with a `duration` above 0 (the call was answered and spoken) | `Delivered` |
//! | `completed` without one ("always received at the end of a call", answered or not) | ignored: the status before it said why the call failed |
//! | `busy`, `timeout`, `failed`, `rejected`, `unanswered`, `cancelled` | `Undelivered`, the status (and Vonage's `detail`) as the reason: a workflow moves on at once |
//! | `machine` (machine detection on: voicemail answered) | `Undelivered` |
//! | `started`, `ringing`, `answered` | `Sent`: the call is under way (as for Twilio, they move nothing once the call was accepted) |
//! | `human`, `input`, `transfer`, others | ignored |

use crate::domain::DeliveryStatus;
use crate::providers::callback::is_json;
use crate::providers::http;
use crate::providers::{Receipt, ReceiptError, ReceiptRequest};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Clock leeway for `exp` and a future `iat`, in seconds.
pub const LEEWAY_S: i64 = 300;

/// The bearer token of the request, if it has one.
fn bearer<'a>(req: &'a ReceiptRequest<'_>) -> Option<&'a str> {
    let v = http::header(req.headers, "authorization")?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Whether `req` is a call event rather than an SMS delivery receipt.
pub fn is_call_event(req: &ReceiptRequest<'_>) -> bool {
    if bearer(req).is_some() {
        return true;
    }
    is_json(req.headers)
        && serde_json::from_slice::<Value>(req.body)
            .is_ok_and(|v| v.get("conversation_uuid").is_some())
}

/// `body` with the whitespace outside JSON strings removed.
pub fn compact_json(body: &[u8]) -> Vec<u8> {
    let (mut out, mut in_string, mut escaped) = (Vec::with_capacity(body.len()), false, false);
    for &b in body {
        if in_string {
            out.push(b);
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
        } else if !b.is_ascii_whitespace() {
            in_string = b == b'"';
            out.push(b);
        }
    }
    out
}

/// Whether the hex `claim` is the SHA-256 of the body as sent or compacted.
fn payload_matches(claim: &str, body: &[u8]) -> bool {
    let Ok(given) = hex::decode(claim.trim()) else {
        return false;
    };
    let raw = Sha256::digest(body);
    let compact = Sha256::digest(compact_json(body));
    crate::crypto::ct_eq(&given, &raw) | crate::crypto::ct_eq(&given, &compact)
}

/// Verifies a call event for the application `application_id` under `secret` (none:
/// `Unsigned`) at `now`, and reads its receipt.
pub fn parse(
    secret: Option<&[u8]>,
    application_id: &str,
    req: &ReceiptRequest<'_>,
    now: i64,
) -> Result<Vec<Receipt>, ReceiptError> {
    let secret = secret.ok_or(ReceiptError::Unsigned)?;
    let token = bearer(req).ok_or(ReceiptError::Unsigned)?;
    let claims = super::jwt::verify_hs256(secret, token)?;
    let int = |k: &str| claims.get(k).and_then(Value::as_i64);
    let text = |k: &str| claims.get(k).and_then(Value::as_str);
    let app_ok =
        claims.get("application_id").is_none() || text("application_id") == Some(application_id);
    let exp_ok = claims.get("exp").is_none() || int("exp").is_some_and(|e| now < e + LEEWAY_S);
    let iat_ok = claims.get("iat").is_none() || int("iat").is_some_and(|i| i <= now + LEEWAY_S);
    let body_ok = text("payload_hash").is_some_and(|h| payload_matches(h, req.body));
    if !(app_ok && exp_ok && iat_ok && body_ok) {
        return Err(ReceiptError::Forged);
    }
    if !req.method.eq_ignore_ascii_case("POST") {
        return Err(ReceiptError::Malformed(
            "call events are read as JSON POSTs (event_method POST)".into(),
        ));
    }
    let event: Value = serde_json::from_slice(req.body)
        .map_err(|_| ReceiptError::Malformed("call event body is not JSON".into()))?;
    receipts(&event)
}

/// Our status for a call event `status` (with its `duration`); `None`: ignored.
fn delivery_status(status: &str, duration: Option<f64>) -> Option<DeliveryStatus> {
    Some(match status {
        "completed" if duration.is_some_and(|d| d > 0.0) => DeliveryStatus::Delivered,
        "busy" | "timeout" | "failed" | "rejected" | "unanswered" | "cancelled" | "machine" => {
            DeliveryStatus::Undelivered
        }
        "started" | "ringing" | "answered" => DeliveryStatus::Sent,
        _ => return None,
    })
}

/// The receipt in a (verified) call event.
pub fn receipts(event: &Value) -> Result<Vec<Receipt>, ReceiptError> {
    let field = |k: &str| {
        event
            .get(k)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };
    let id = field("uuid")
        .or_else(|| field("call_uuid"))
        .ok_or_else(|| ReceiptError::Malformed("no uuid".into()))?;
    let status = field("status").ok_or_else(|| ReceiptError::Malformed("no status".into()))?;
    let duration = match event.get("duration") {
        Some(Value::String(s)) => s.trim().parse().ok(),
        Some(Value::Number(n)) => n.as_f64(),
        _ => None,
    };
    let Some(delivery) = delivery_status(status, duration) else {
        return Ok(Vec::new());
    };
    let detail = (delivery == DeliveryStatus::Undelivered).then(|| match field("detail") {
        Some(d) => format!("{} ({})", http::code(status), http::code(d)),
        None => http::code(status),
    });
    Ok(vec![Receipt {
        message_id: id.to_string(),
        status: delivery,
        detail,
    }])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn compacting_keeps_strings_and_order() {
        let body = br#"{ "b" : "x y\" z" ,
            "a": [1, 2] }"#;
        assert_eq!(compact_json(body), br#"{"b":"x y\" z","a":[1,2]}"#.to_vec());
    }

    #[test]
    fn events_map_to_receipts() {
        let status = |e: Value| receipts(&e).unwrap().first().map(|r| r.status);
        let uuid = "aaaaaaaa-bbbb-cccc-dddd-0123456789ab";
        assert_eq!(
            status(json!({"uuid": uuid, "status": "completed", "duration": "2"})),
            Some(DeliveryStatus::Delivered)
        );
        assert_eq!(
            status(json!({"uuid": uuid, "status": "completed", "duration": "0"})),
            None
        );
        assert_eq!(status(json!({"uuid": uuid, "status": "completed"})), None);
        for s in [
            "busy",
            "timeout",
            "failed",
            "rejected",
            "unanswered",
            "cancelled",
        ] {
            assert_eq!(
                status(json!({"uuid": uuid, "status": s})),
                Some(DeliveryStatus::Undelivered),
                "{s}"
            );
        }
        assert_eq!(
            status(json!({"call_uuid": uuid, "status": "machine"})),
            Some(DeliveryStatus::Undelivered)
        );
        for s in ["started", "ringing", "answered"] {
            assert_eq!(
                status(json!({"uuid": uuid, "status": s})),
                Some(DeliveryStatus::Sent)
            );
        }
        assert_eq!(status(json!({"call_uuid": uuid, "status": "human"})), None);
        let r = receipts(&json!({"uuid": uuid, "status": "failed", "detail": "cannot_route"}));
        assert_eq!(
            r.unwrap()[0].detail.as_deref(),
            Some("failed (cannot_route)")
        );
        assert!(matches!(
            receipts(&json!({"status": "busy"})),
            Err(ReceiptError::Malformed(_))
        ));
        assert!(matches!(
            receipts(&json!({"uuid": uuid})),
            Err(ReceiptError::Malformed(_))
        ));
    }
}
