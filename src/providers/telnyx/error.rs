//! Telnyx answers to [`ProviderError`]s.
//!
//! Telnyx answers an error with a JSON body
//! `{"errors": [{"code": "40300", "title": "Blocked due to STOP message", "detail": "…"}]}`
//! (the code is a string in the reference, a number in some examples: both are read).
//! The HTTP status decides first for 429 (rate limited, `Retry-After` kept) and 5xx
//! (unavailable); otherwise the first code listed below decides; otherwise the status
//! (`http::status_kind`). Codes and titles are quoted from Telnyx's API error list
//! (1xxxx request, 2xxxx account) and its messaging error code reference (4xxxx).
//!
//! The `detail` text is not kept: it names the sender and the destination.

use crate::providers::http::{scrub, Answer};
use crate::providers::{ErrorKind, ProviderError};

use ErrorKind::*;

/// Kind and retryability of a documented Telnyx error code.
pub fn classify(code: u32) -> Option<(ErrorKind, bool)> {
    Some(match code {
        // 40300 "Blocked due to STOP message" (HTTP 409): the recipient opted out.
        40300 => (InvalidDestination, false),
        // 10001 "Inactive phone number"; 10002 "Invalid phone number";
        // 10016 "Phone number must be in +E.164 format".
        10001 | 10002 | 10016 => (InvalidDestination, false),
        // 40001 "Not routable" (landline or non-routable number); 40008 "Undeliverable";
        // 40012 "Invalid messaging destination number".
        40001 | 40008 | 40012 => (InvalidDestination, false),
        // 40301 "Unsupported message type for the 'to' address"; 40309 "Invalid
        // destination region" (not whitelisted); 40310 "Invalid 'to' address";
        // 40319 "Incompatible message type for the 'to' address".
        40301 | 40309 | 40310 | 40319 => (InvalidDestination, false),
        // 40003 "Blocked as spam - permanent"; 40009 "Invalid message body";
        // 40015 "Blocked as spam - internal"; 40302 "Message too large";
        // 40304 "Invalid combination of message content arguments"; 40316 "No content
        // provided for message"; 40322 "Blocked due to content"; 40328 "SMS exceeds
        // recommended size".
        40003 | 40009 | 40015 | 40302 | 40304 | 40316 | 40322 | 40328 => (RejectedContent, false),
        // 40002 "Blocked as spam - temporary": "This is a temporary condition."
        40002 => (RejectedContent, true),
        // 10003 "Invalid URL" (our webhook_url); 10004 "Missing required parameter";
        // 10005 "Resource not found"; 10006 "Invalid ID"; 10015 "Bad Request";
        // 10023 "Invalid JSON". Our request is wrong: the same request fails again.
        10003 | 10004 | 10005 | 10006 | 10015 | 10023 => (RejectedContent, false),
        // 10009 "Authentication failed"; 10010 "Authorization failed";
        // 20002 "API Key revoked"; 20006 "Expired access token".
        10009 | 10010 | 20002 | 20006 => (Auth, false),
        // Our account or sender cannot send (retrying here cannot help):
        // 20012 "Account inactive"; 20013 "Account blocked"; 20014 "Account unverified";
        // 20015 "Feature not enabled"; 20100 "Insufficient funds"; 40010 "Unregistered
        // 10DLC message"; 40013 "Invalid messaging source number"; 40100 "Number not
        // messaging enabled"; 40305 "Invalid 'from' address"; 40306 "Alpha sender not
        // configured"; 40308 "Invalid 'from' address for MMS"; 40311 "Invalid messaging
        // profile secret"; 40312 "Messaging profile is disabled"; 40313 "Missing
        // messaging profile secret"; 40314 "Messaging disabled on account"; 40315
        // "Unhealthy 'from' address"; 40321 "No usable numbers on messaging profile";
        // 40329 "Toll-free number not yet verified".
        20012 | 20013 | 20014 | 20015 | 20100 | 40010 | 40013 | 40100 | 40305 | 40306 | 40308
        | 40311 | 40312 | 40313 | 40314 | 40315 | 40321 | 40329 => (Auth, false),
        // 10011 "Too many requests"; 40011 "Too many requests" (upstream rate limit);
        // 40016 / 40018 10DLC carrier sending limits reached; 40318 "Message queue full".
        10011 | 40011 | 40016 | 40018 | 40318 => (RateLimited, true),
        // 40320 "Temporarily unusable 'from' address" (purchase pending).
        40320 => (Unavailable, true),
        // 10007 "Unexpected error"; 40004 "Rejected by destination" ("Retry after
        // delay"); 40005 "Message expired during transmission"; 40006 "Recipient server
        // unavailable"; 40014 "Message expired in queue".
        10007 | 40004 | 40005 | 40006 | 40014 => (Unavailable, true),
        // 10008 "Request timeout".
        10008 => (Timeout, true),
        _ => return None,
    })
}

/// The first error code in a Telnyx error body, with its title.
pub fn first_error(body: &str) -> Option<(u32, String)> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    let errors = v.get("errors")?.as_array()?;
    errors.iter().find_map(|e| {
        let code = match e.get("code")? {
            serde_json::Value::String(s) => s.trim().parse().ok()?,
            serde_json::Value::Number(n) => u32::try_from(n.as_u64()?).ok()?,
            _ => return None,
        };
        let title = e.get("title").and_then(|t| t.as_str()).unwrap_or("");
        Some((code, title.to_string()))
    })
}

/// The error for a non-2xx Telnyx answer.
pub fn from_answer(a: &Answer) -> ProviderError {
    let first = first_error(&a.body);
    let detail = match &first {
        Some((code, title)) => format!("telnyx answered {}: {code} {}", a.status, scrub(title)),
        None => format!("telnyx answered {}", a.status),
    };
    a.error(first.and_then(|(c, _)| classify(c)), detail)
}
