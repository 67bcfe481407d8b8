//! Twilio's error answers mapped to [`ErrorKind`] and retryability.
//!
//! Twilio answers a refused request with an HTTP status and a JSON body
//! `{"code": 21211, "message": "...", "more_info": "https://www.twilio.com/docs/errors/21211",
//! "status": 400}`. The `code` decides when we know it; otherwise the HTTP status does
//! ([`status_kind`]). Twilio's `message` is left out of our detail: for number errors it
//! repeats the full destination number.

use crate::providers::http::status_kind;
use crate::providers::{ErrorKind, ProviderError};
use serde::Deserialize;
use std::time::Duration;

#[derive(Deserialize)]
struct Body {
    code: Option<u32>,
}

/// The kind, retryability and a short description of a Twilio error code, when known.
pub(crate) fn classify_code(code: u32) -> Option<(ErrorKind, bool, &'static str)> {
    use ErrorKind::*;
    Some(match code {
        // "20003: Authenticate" (permission denied: wrong account SID, token or key).
        20003 => (Auth, false, "authentication failed"),
        // "20404: The requested resource was not found" (unknown account SID).
        20404 => (Auth, false, "account or resource not found"),
        // "20429: Too many requests ... Requests that receive 429 responses aren't
        // processed and are safe to retry after backing off."
        20429 => (RateLimited, true, "too many concurrent requests"),
        // "20500: Internal Server Error", "20503: Service unavailable".
        20500 | 20503 => (Unavailable, true, "Twilio server error"),
        // "21211: Invalid 'To' Phone Number".
        21211 => (InvalidDestination, false, "invalid 'To' number"),
        // "21408: Permission to send an SMS has not been enabled for the region indicated
        // by the 'To' number" (geographic permissions).
        21408 => (InvalidDestination, false, "destination region not enabled"),
        // "21608: The 'to' phone number provided is not yet verified for this account"
        // (trial accounts).
        21608 => (
            InvalidDestination,
            false,
            "unverified 'To' number (trial account)",
        ),
        // "21610: Attempt to send to unsubscribed recipient" (the recipient replied STOP).
        21610 => (InvalidDestination, false, "recipient unsubscribed (STOP)"),
        // "21612: The 'To' phone number is not currently reachable via SMS".
        21612 => (
            InvalidDestination,
            false,
            "'To' number not reachable via SMS",
        ),
        // "21614: 'To' number is not a valid mobile number".
        21614 => (
            InvalidDestination,
            false,
            "'To' number is not a mobile number",
        ),
        // "21635: 'To' number cannot be a landline".
        21635 => (InvalidDestination, false, "'To' number is a landline"),
        // "21212: Invalid 'From' Phone Number".
        21212 => (RejectedContent, false, "invalid 'From' number"),
        // "21606: The 'From' phone number provided is not a valid, message-capable
        // Twilio phone number for this destination".
        21606 => (
            RejectedContent,
            false,
            "'From' number cannot message this destination",
        ),
        // "21602: Message body is required".
        21602 => (RejectedContent, false, "message body required"),
        // "21617: The concatenated message body exceeds the 1600 character limit".
        21617 => (RejectedContent, false, "message body over 1600 characters"),
        // "21655: The ContentSid is Invalid" (deleted, another account's, or a typo);
        // "21656: The ContentVariables Parameter is invalid" (not a JSON string, or a
        // variable null or empty). A WhatsApp send's template as configured.
        21655 => (RejectedContent, false, "invalid ContentSid"),
        21656 => (RejectedContent, false, "invalid ContentVariables"),
        // "21611: This 'From' number has exceeded the maximum number of queued messages"
        // (more than 10 hours of messages queued on the sender): back off.
        21611 => (RateLimited, true, "sender queue full"),
        _ => return None,
    })
}

/// The error for a non-2xx answer.
pub(crate) fn from_response(
    status: u16,
    body: &[u8],
    retry_after: Option<Duration>,
) -> ProviderError {
    from_response_by(classify_code, status, body, retry_after)
}

/// The error for a non-2xx answer, its code looked up with `classify` (the Messages
/// table above, or the Calls table of `voice_error`).
pub(crate) fn from_response_by(
    classify: fn(u32) -> Option<(ErrorKind, bool, &'static str)>,
    status: u16,
    body: &[u8],
    retry_after: Option<Duration>,
) -> ProviderError {
    let code = serde_json::from_slice::<Body>(body)
        .ok()
        .and_then(|b| b.code);
    let (kind, retryable, what) = match code.and_then(classify) {
        Some(known) => known,
        None => {
            let kind = status_kind(status);
            let retryable = ProviderError::new(kind, "").retryable;
            (kind, retryable, "unlisted error")
        }
    };
    let code_text = code.map(|c| format!(" code {c}")).unwrap_or_default();
    let mut e = ProviderError::new(kind, format!("twilio answered {status}{code_text}: {what}"));
    e.retryable = retryable;
    e.retry_after = retry_after;
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permanent_rejections_are_not_retryable() {
        for code in [
            21211, 21408, 21608, 21610, 21612, 21614, 21635, 21212, 21606, 20003,
        ] {
            let e = from_response(400, format!(r#"{{"code":{code}}}"#).as_bytes(), None);
            assert!(!e.retryable, "{code}");
        }
    }

    #[test]
    fn unknown_codes_fall_back_to_the_http_status() {
        let e = from_response(503, b"{}", None);
        assert_eq!((e.kind, e.retryable), (ErrorKind::Unavailable, true));
        let e = from_response(400, br#"{"code":99999}"#, None);
        assert_eq!((e.kind, e.retryable), (ErrorKind::RejectedContent, false));
        let e = from_response(502, b"<html>", None);
        assert_eq!((e.kind, e.retryable), (ErrorKind::Unavailable, true));
    }
}
