//! Meta's webhooks on `/v1/receipts/<name>`: the subscription handshake, the payload
//! signature, and the message statuses read as receipts.
//!
//! **Handshake.** When the callback URL is saved in the app's settings, Meta sends
//! `GET <url>?hub.mode=subscribe&hub.challenge=<n>&hub.verify_token=<token>` and expects
//! the challenge back with `200` when the token is the one typed there (else `403`).
//! The token is compared in constant time before the challenge is looked at.
//!
//! **Signature.** "We sign all Event Notification payloads with a SHA256 signature and
//! include the signature in the request's `X-Hub-Signature-256` header, preceded with
//! `sha256=`": the hex HMAC-SHA256 of the raw body keyed with the app secret, checked
//! in constant time. No header: `Unsigned`; anything else that does not verify: `Forged`.
//!
//! **Statuses.** `{"object": "whatsapp_business_account", "entry": [{"id", "changes":
//! [{"field": "messages", "value": {"messaging_product", "metadata", "statuses": [{"id":
//! "wamid…", "status", "timestamp", "recipient_id", "errors": [{"code", "title"}]}]}}]}]}`
//! (Meta's document: `StatusMessageValue`, `Statuses` with `status` one of `sent`,
//! `delivered`, `read`, `failed`). `sent` is `Sent`, `delivered` and `read` are
//! `Delivered`, `failed` is `Failed` with the first error's code and title as detail;
//! other values are skipped. Inbound messages (`value.messages`) and other fields carry
//! no status: they yield no receipt and no error, since Meta retries a webhook that is
//! not answered `2xx` for days. `recipient_id` (the phone number) is never read.

use crate::domain::DeliveryStatus;
use crate::providers::callback::{ct_eq, non_empty, query_params};
use crate::providers::http::{self, scrub};
use crate::providers::{Receipt, ReceiptError, ReceiptRequest};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;

/// Header that carries the payload signature.
pub const SIGNATURE_HEADER: &str = "x-hub-signature-256";
/// Longest challenge echoed back (Meta sends an integer).
const MAX_CHALLENGE: usize = 256;

/// The value of `X-Hub-Signature-256` for `body` signed with `app_secret`.
pub fn signature(app_secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(app_secret).expect("any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Checks the payload signature of a webhook.
pub fn verify(
    app_secret: &[u8],
    headers: &::http::HeaderMap,
    body: &[u8],
) -> Result<(), ReceiptError> {
    let given = http::header(headers, SIGNATURE_HEADER).ok_or(ReceiptError::Unsigned)?;
    let digest = given
        .strip_prefix("sha256=")
        .and_then(|h| hex::decode(h).ok())
        .ok_or(ReceiptError::Forged)?;
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(app_secret).expect("any key length");
    mac.update(body);
    mac.verify_slice(&digest).map_err(|_| ReceiptError::Forged)
}

/// The subscription handshake, when `req` is one: the challenge to echo, or why not.
/// `verify_token` unset: the handshake is refused as `NotSupported`.
pub fn handshake(
    verify_token: Option<&str>,
    req: &ReceiptRequest<'_>,
) -> Option<Result<String, ReceiptError>> {
    if !req.method.eq_ignore_ascii_case("GET") {
        return None;
    }
    let params = query_params(req.url);
    let mode = non_empty(&params, "hub.mode")?;
    Some((|| {
        let expected = verify_token.ok_or(ReceiptError::NotSupported)?;
        let given = non_empty(&params, "hub.verify_token").unwrap_or("");
        if !ct_eq(given.as_bytes(), expected.as_bytes()) {
            return Err(ReceiptError::Forged);
        }
        if mode != "subscribe" {
            return Err(ReceiptError::Malformed("hub.mode is not subscribe".into()));
        }
        let challenge = non_empty(&params, "hub.challenge")
            .filter(|c| c.len() <= MAX_CHALLENGE && c.bytes().all(|b| b.is_ascii_graphic()))
            .ok_or_else(|| ReceiptError::Malformed("no usable hub.challenge".into()))?;
        Ok(challenge.to_string())
    })())
}

/// Our status for a Meta message status; `None` for the ones we skip.
fn delivery_status(s: &str) -> Option<DeliveryStatus> {
    Some(match s {
        "sent" => DeliveryStatus::Sent,
        "delivered" | "read" => DeliveryStatus::Delivered,
        "failed" => DeliveryStatus::Failed,
        _ => return None,
    })
}

/// The first error of a status, as `<code> <title>` (scrubbed).
fn error_detail(status: &Value) -> Option<String> {
    let e = status.get("errors")?.as_array()?.first()?;
    let code = match e.get("code") {
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) => http::code(s),
        _ => String::new(),
    };
    let title = e
        .get("title")
        .and_then(Value::as_str)
        .map(scrub)
        .unwrap_or_default();
    Some(format!("{code} {title}").trim().to_string()).filter(|d| !d.is_empty())
}

/// The receipts in a (verified) webhook body.
pub fn receipts(body: &[u8]) -> Result<Vec<Receipt>, ReceiptError> {
    let malformed = |what: &str| ReceiptError::Malformed(what.to_string());
    let v: Value = serde_json::from_slice(body).map_err(|_| malformed("body is not JSON"))?;
    let entries = v
        .get("entry")
        .and_then(Value::as_array)
        .ok_or_else(|| malformed("no entry list"))?;
    let mut out = Vec::new();
    let changes = entries
        .iter()
        .filter_map(|e| e.get("changes").and_then(Value::as_array))
        .flatten();
    let statuses = changes
        .filter_map(|c| c.get("value")?.get("statuses")?.as_array())
        .flatten();
    for s in statuses {
        let id = s
            .get("id")
            .and_then(Value::as_str)
            .filter(|i| !i.trim().is_empty())
            .ok_or_else(|| malformed("a status has no id"))?;
        let status = s
            .get("status")
            .and_then(Value::as_str)
            .ok_or_else(|| malformed("a status has no status"))?;
        let Some(status) = delivery_status(status) else {
            continue;
        };
        let detail = match status {
            DeliveryStatus::Failed => error_detail(s),
            _ => None,
        };
        out.push(Receipt {
            message_id: id.to_string(),
            status,
            detail,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_the_hex_hmac_sha256_of_the_body() {
        // HMAC-SHA256("secret", "test"), as Meta's guides and SDKs compute it.
        assert_eq!(
            signature(b"secret", b"test"),
            "sha256=0329a06b62cd16b33eb6792be8c60b158d89a2ee3a876fce9a881ebb488c0914"
        );
        let mut h = ::http::HeaderMap::new();
        assert_eq!(verify(b"secret", &h, b"test"), Err(ReceiptError::Unsigned));
        h.insert(
            SIGNATURE_HEADER,
            signature(b"secret", b"test").parse().unwrap(),
        );
        assert_eq!(verify(b"secret", &h, b"test"), Ok(()));
        assert_eq!(verify(b"secret", &h, b"test "), Err(ReceiptError::Forged));
        assert_eq!(verify(b"other", &h, b"test"), Err(ReceiptError::Forged));
        h.insert(
            SIGNATURE_HEADER,
            "0329a06b62cd16b33eb6792be8c60b158d89a2ee3a876fce9a881ebb488c0914"
                .parse()
                .unwrap(),
        );
        assert_eq!(
            verify(b"secret", &h, b"test"),
            Err(ReceiptError::Forged),
            "no sha256= prefix"
        );
    }

    #[test]
    fn statuses_map_and_other_changes_are_skipped() {
        let body = br#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[
            {"field":"messages","value":{"statuses":[
              {"id":"wamid.A","status":"read","timestamp":"1","recipient_id":"16505551234"},
              {"id":"wamid.B","status":"failed","timestamp":"1","recipient_id":"16505551234",
               "errors":[{"code":131026,"title":"Message undeliverable to 16505551234"}]},
              {"id":"wamid.C","status":"deleted","timestamp":"1","recipient_id":"1"}]}},
            {"field":"messages","value":{"messages":[{"from":"16505551234","id":"wamid.in","type":"text"}]}}]}]}"#;
        let r = receipts(body).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(
            (r[0].message_id.as_str(), r[0].status),
            ("wamid.A", DeliveryStatus::Delivered)
        );
        assert_eq!(r[1].status, DeliveryStatus::Failed);
        assert_eq!(
            r[1].detail.as_deref(),
            Some("131026 Message undeliverable to #")
        );
        assert_eq!(receipts(br#"{"entry":[]}"#), Ok(vec![]));
        assert!(receipts(b"[]").is_err());
        assert!(receipts(
            br#"{"entry":[{"changes":[{"value":{"statuses":[{"status":"sent"}]}}]}]}"#
        )
        .is_err());
    }
}
