//! Twilio's answers to a refused call (`POST …/Calls.json`) mapped to [`ErrorKind`] and
//! retryability.
//!
//! The body has the same shape as for messages (`{"code", "message", "more_info",
//! "status"}`), so the same reading applies ([`super::error::from_response_by`]): the
//! documented `code` decides when we know it, otherwise the HTTP status. The codes
//! below are the ones Twilio's error dictionary gives for creating a call; account,
//! rate and server codes (20003, 20404, 20429, 20500, 20503) and 21211 are the
//! Messages table's ([`super::error::classify_code`]). The caller id is this instance's
//! setting, not the message's: a refused `From` is an account problem (kind `Auth`),
//! so the router fails over to the next provider instead of failing the send, and a
//! workflow is not moved on for it.

use crate::providers::{ErrorKind, ProviderError};
use std::time::Duration;

/// The kind, retryability and a short description of a Twilio call error code.
pub(crate) fn classify_call_code(code: u32) -> Option<(ErrorKind, bool, &'static str)> {
    use ErrorKind::*;
    Some(match code {
        // "21214: 'To' phone number cannot be reached".
        21214 => (InvalidDestination, false, "'To' number cannot be reached"),
        // "21215: Geo Permission configuration is not permitting call", and the same
        // refusal reported as "13227" (voice dialing geographic permissions).
        21215 | 13227 => (
            InvalidDestination,
            false,
            "destination not enabled in voice geo permissions",
        ),
        // "21216: Call blocked by Twilio blocklist" (high-risk or regulated numbers).
        21216 => (InvalidDestination, false, "number blocked by Twilio"),
        // "21219: 'To' phone number not verified" (trial accounts call verified
        // numbers only).
        21219 => (
            InvalidDestination,
            false,
            "unverified 'To' number (trial account)",
        ),
        // "13223: Dial: Invalid phone number format".
        13223 => (InvalidDestination, false, "invalid phone number format"),
        // "13224: Dial: Twilio does not support calling this number or the number is
        // invalid".
        13224 => (InvalidDestination, false, "number invalid or not callable"),
        // "21210: 'From' phone number not verified": the caller id is neither a Twilio
        // number of the account nor a verified outgoing caller id.
        21210 => (Auth, false, "caller id not verified for this account"),
        // "21212: Invalid 'From' Phone Number".
        21212 => (Auth, false, "invalid caller id"),
        // "13214: Dial: Invalid callerId value" ("The provided caller identifier is
        // invalid").
        13214 => (Auth, false, "invalid caller id"),
        other => return super::error::classify_code(other),
    })
}

/// The error for a non-2xx answer to a call.
pub(crate) fn from_response(
    status: u16,
    body: &[u8],
    retry_after: Option<Duration>,
) -> ProviderError {
    super::error::from_response_by(classify_call_code, status, body, retry_after)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_codes_and_shared_codes_map_to_kinds() {
        let kind = |code: u32, status: u16| {
            let e = from_response(status, format!(r#"{{"code":{code}}}"#).as_bytes(), None);
            (e.kind, e.retryable)
        };
        for code in [21211, 21214, 21215, 21216, 21219, 13223, 13224, 13227] {
            assert_eq!(
                kind(code, 400),
                (ErrorKind::InvalidDestination, false),
                "{code}"
            );
        }
        for code in [21210, 21212, 13214, 20003] {
            assert_eq!(kind(code, 400), (ErrorKind::Auth, false), "{code}");
        }
        assert_eq!(kind(20429, 429), (ErrorKind::RateLimited, true));
        assert_eq!(kind(20500, 500), (ErrorKind::Unavailable, true));
        assert_eq!(kind(99999, 502), (ErrorKind::Unavailable, true));
    }
}
