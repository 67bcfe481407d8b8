//! Meta's error answers mapped to [`ErrorKind`] and retryability.
//!
//! The Cloud API is built on the Graph API and answers a refused request with
//! `{"error": {"message": "(#131026) Message Undeliverable.", "type": "OAuthException",
//! "code": 131026, "error_subcode": 2494010, "error_data": {"messaging_product":
//! "whatsapp", "details": "…"}, "fbtrace_id": "…"}}`. Meta: "build your app's error
//! handling logic around `code` values and `details` payload properties", not the
//! titles. So the documented `code` decides first (whatever the HTTP status: Meta sends
//! a permissions problem, code 3, as a 500, and its throughput limits as 400s), then the
//! HTTP status ([`status_kind`]: 5xx unavailable, 429 rate limited, other 4xx refused).
//!
//! Codes and quoted descriptions are from Meta's "WhatsApp error codes" reference
//! (developers.facebook.com/documentation/business-messaging/whatsapp/support/error-codes,
//! the Cloud API's authorization, throttling, integrity, template and other errors),
//! checked against the examples of Meta's OpenAPI document for v23.0 (`code: 100`
//! "Phone number not found", `code: 132000` "Template not found", `code: 80007` with
//! `is_transient: true` "Business request limit reached"). A permanent rejection
//! (`retryable: false`, not `Auth`) moves a workflow to its next step; `Auth` fails
//! over to the next provider (the account or number cannot send, whatever the message).
//!
//! Meta's `message` and `details` are kept out of our detail for known codes (`details`
//! may name the recipient) and scrubbed of digit runs for unknown ones.

use crate::providers::http::{scrub, status_kind, Answer};
use crate::providers::{ErrorKind, ProviderError};
use serde::Deserialize;

use ErrorKind::*;

/// Kind, retryability and a short description of a documented Meta error code.
pub fn classify(code: u64) -> Option<(ErrorKind, bool, &'static str)> {
    Some(match code {
        // Authorization errors. 0 "AuthException: We were unable to authenticate the app
        // user"; 190 "Access token has expired"; 3 "API Method: Capability or
        // permissions issue"; 10 "Permission Denied"; 200-299 "API Permission";
        // 131005 "Access denied: Permission is either not granted or has been removed".
        0 | 190 => (Auth, false, "access token refused or expired"),
        3 | 10 | 200..=299 | 131005 => (Auth, false, "permission missing for this token"),
        // Throttling errors, all "try again later": 4 "API Too Many Calls"; 80007 "Rate
        // limit issues: The WhatsApp Business Account has reached its rate limit";
        // 130429 "Rate limit hit: Cloud API message throughput has been reached";
        // 131048 "Spam rate limit hit: … restrictions on how many messages can be sent
        // from this phone number"; 131056 "(Business Account, Consumer Account) pair
        // rate limit hit: Too many messages sent from the sender phone number to the same
        // recipient phone number in a short period of time".
        4 | 80007 | 130429 => (RateLimited, true, "throughput limit reached"),
        131048 => (RateLimited, true, "spam rate limit on this sender"),
        131056 => (RateLimited, true, "too many messages to this recipient"),
        // Our account or number cannot send, whatever the message (fail over):
        // 33 "Parameter value is not valid: The business phone number has been deleted";
        // 368 "Temporarily blocked for policies violations"; 130497 "Business account is
        // restricted from messaging users in this country"; 131031 "Account has been
        // locked"; 131037 "WhatsApp provided number needs display name approval before
        // message can be sent"; 131042 "Business eligibility payment issue"; 131045
        // "Incorrect certificate" (a phone number registration error); 133010 "Phone
        // number Not Registered" on the WhatsApp Business Platform.
        33 | 131045 | 133010 => (Auth, false, "business phone number not usable"),
        368 | 130497 | 131031 | 131037 | 131042 => (Auth, false, "business account restricted"),
        // The recipient cannot get it: 131026 "Message Undeliverable" (not a WhatsApp
        // number, terms not accepted, an old WhatsApp version, …); 131021 "Recipient
        // cannot be sender"; 131030 "Recipient phone number not in allowed list" (a test
        // number's recipients).
        131026 => (
            InvalidDestination,
            false,
            "message undeliverable to this recipient",
        ),
        131021 => (InvalidDestination, false, "recipient cannot be the sender"),
        131030 => (
            InvalidDestination,
            false,
            "recipient not in the test allowed list",
        ),
        // Template errors (the template as configured cannot be sent; permanent):
        // 132000 "Template Param Count Mismatch"; 132001 "Template does not exist" ("in
        // the specified language or the template has not been approved"); 132005
        // "Template Hydrated Text Too Long"; 132007 "Template Format Character Policy
        // Violated"; 132012 "Template Parameter Format Mismatch"; 132015 "Template is
        // Paused" (low quality); 132016 "Template is Disabled".
        132000 => (RejectedContent, false, "template parameter count mismatch"),
        132001 => (
            RejectedContent,
            false,
            "template missing in this language or not approved",
        ),
        132005 => (RejectedContent, false, "template text too long"),
        132007 => (
            RejectedContent,
            false,
            "template violates a WhatsApp policy",
        ),
        132012 => (RejectedContent, false, "template parameter format mismatch"),
        132015 => (RejectedContent, false, "template paused for low quality"),
        132016 => (RejectedContent, false, "template disabled"),
        // The request itself: 100 "Invalid parameter"; 131008 "Required parameter is
        // missing"; 131009 "Parameter value is not valid"; 131047 "Re-engagement
        // message" (a free-form message outside the 24-hour window: never a template);
        // 131051 "Unsupported message type".
        100 | 131008 | 131009 => (RejectedContent, false, "invalid request parameter"),
        131047 => (
            RejectedContent,
            false,
            "outside the customer service window",
        ),
        131051 => (RejectedContent, false, "unsupported message type"),
        // Meta's side: 2 "API Service: Temporary due to downtime or due to being
        // overloaded"; 131000 "Something went wrong"; 131016 "Service unavailable";
        // 131057 "Account in maintenance mode"; 133004 "Server Temporarily Unavailable".
        2 | 131000 | 131016 | 131057 | 133004 => (Unavailable, true, "Meta service unavailable"),
        _ => return None,
    })
}

#[derive(Deserialize)]
struct Body {
    error: GraphError,
}

#[derive(Deserialize)]
struct GraphError {
    code: Option<u64>,
    error_subcode: Option<u64>,
    #[serde(default)]
    message: String,
}

/// The error for a non-2xx answer.
pub fn from_answer(a: &Answer) -> ProviderError {
    let body = serde_json::from_str::<Body>(&a.body).ok().map(|b| b.error);
    let code = body.as_ref().and_then(|e| e.code);
    let sub = body
        .as_ref()
        .and_then(|e| e.error_subcode)
        .map(|s| format!("/{s}"))
        .unwrap_or_default();
    let (kind, retryable, what) = match code.and_then(classify) {
        Some((k, r, w)) => (k, r, w.to_string()),
        None => {
            let k = status_kind(a.status);
            let what = body.map(|e| scrub(&e.message)).unwrap_or_default();
            (k, ProviderError::new(k, "").retryable, what)
        }
    };
    let code = code.map(|c| format!(" code {c}{sub}")).unwrap_or_default();
    let mut e = ProviderError::new(kind, format!("meta answered {}{code}: {what}", a.status));
    e.retryable = retryable;
    e.retry_after = a.retry_after;
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> Answer {
        Answer {
            status,
            retry_after: None,
            body: body.into(),
        }
    }

    #[test]
    fn the_code_decides_before_the_status() {
        let e = from_answer(&answer(500, r#"{"error":{"code":3,"message":"(#3) x"}}"#));
        assert_eq!((e.kind, e.retryable), (Auth, false));
        let e = from_answer(&answer(404, r#"{"error":{"code":132001}}"#));
        assert_eq!((e.kind, e.retryable), (RejectedContent, false));
        let e = from_answer(&answer(
            400,
            r#"{"error":{"code":80007,"error_subcode":2446079}}"#,
        ));
        assert_eq!((e.kind, e.retryable), (RateLimited, true));
        assert!(e.detail.contains("code 80007/2446079"), "{}", e.detail);
    }

    #[test]
    fn unknown_codes_and_bodies_fall_back_to_the_status() {
        let e = from_answer(&answer(503, "<html>"));
        assert_eq!((e.kind, e.retryable), (Unavailable, true));
        let e = from_answer(&answer(
            400,
            r#"{"error":{"code":999999,"message":"to +14155550123"}}"#,
        ));
        assert_eq!((e.kind, e.retryable), (RejectedContent, false));
        assert!(!e.detail.contains("4155550123"), "{}", e.detail);
        let e = from_answer(&answer(401, "{}"));
        assert_eq!(e.kind, Auth);
    }
}
