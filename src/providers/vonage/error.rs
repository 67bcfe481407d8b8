//! Vonage SMS API statuses mapped to [`ErrorKind`] and retryability.
//!
//! The SMS API answers `200` for refused messages too: the outcome is the per-message
//! `status` in the body, where "A status of zero indicates success; a non-zero value
//! means something went wrong". The codes below are Vonage's published list (SMS API
//! reference, "errors"). A non-200 HTTP answer is mapped by its status
//! ([`status_kind`]). Vonage's `error-text` is left out of our detail.

use crate::providers::http::status_kind;
use crate::providers::{ErrorKind, ProviderError};
use std::time::Duration;

/// The kind, retryability and a short description of a non-zero Vonage `status`.
pub(crate) fn classify_status(code: &str) -> (ErrorKind, bool, &'static str) {
    use ErrorKind::*;
    match code {
        // "1 Throttled. You are sending SMS faster than the account limit."
        "1" => (RateLimited, true, "throttled"),
        // "2 Missing Parameters. Your request is missing one of the required parameters
        // from, to, api_key, api_secret or text."
        "2" => (RejectedContent, false, "missing parameters"),
        // "3 Invalid Parameters. The value of one or more parameters is invalid."
        "3" => (RejectedContent, false, "invalid parameters"),
        // "4 Invalid Credentials. Your API key and/or secret are incorrect, invalid or
        // disabled."
        "4" => (Auth, false, "invalid credentials"),
        // "5 Internal Error. An error has occurred in the platform whilst processing this
        // message."
        "5" => (Unavailable, true, "Vonage internal error"),
        // "6 Invalid Message. The platform was unable to process this message, for
        // example, an un-recognized number prefix."
        "6" => (
            InvalidDestination,
            false,
            "invalid message (unrecognised number prefix)",
        ),
        // "7 Number Barred. The number you are trying to send messages to is blacklisted
        // and may not receive them."
        "7" => (InvalidDestination, false, "number barred"),
        // "8 Partner Account Barred. Your Vonage account has been suspended."
        "8" => (Auth, false, "account suspended"),
        // "9 Partner Quota Violation. You do not have sufficient credit to send the
        // message. Top-up and retry." Another provider (or this one after a top-up) can
        // still send it.
        "9" => (Unavailable, true, "insufficient credit"),
        // "10 Too Many Existing Binds. ... Back-off and retry."
        "10" => (RateLimited, true, "too many existing binds"),
        // "11 Account Not Enabled For HTTP. This account is not provisioned for the SMS
        // API."
        "11" => (Auth, false, "account not enabled for the SMS API"),
        // "12 Message Too Long. The message length exceeds the maximum allowed."
        "12" => (RejectedContent, false, "message too long"),
        // "14 Invalid Signature. The signature supplied could not be verified."
        "14" => (Auth, false, "invalid signature"),
        // "15 Invalid Sender Address. You are using a non-authorized sender ID in the
        // from field."
        "15" => (RejectedContent, false, "sender address not authorised"),
        // "22 Invalid Network Code. The network code supplied was either not recognized,
        // or does not match the country of the destination address."
        "22" => (RejectedContent, false, "invalid network code"),
        // "23 Invalid Callback Url. The callback URL supplied was either too long or
        // contained illegal characters."
        "23" => (RejectedContent, false, "invalid callback URL"),
        // "29 Non-Whitelisted Destination. Your Vonage account is still in demo mode.
        // While in demo mode you must add target numbers to your whitelisted destination
        // list."
        "29" => (
            InvalidDestination,
            false,
            "destination not whitelisted (demo account)",
        ),
        // "32 Signature And API Secret Disallowed. A signed request may not also present
        // an api_secret."
        "32" => (Auth, false, "signature and API secret together"),
        // "33 Number De-activated. The number you are trying to send messages to is
        // de-activated and may not receive them."
        "33" => (InvalidDestination, false, "number de-activated"),
        // Not in the published list: treated as transient, so the code still has a chance
        // to go out (elsewhere, or later) rather than being dropped on an unknown answer.
        _ => (Unavailable, true, "unlisted status"),
    }
}

/// The error for a non-zero per-message `status`.
pub(crate) fn from_status(code: &str) -> ProviderError {
    let (kind, retryable, what) = classify_status(code);
    let mut e = ProviderError::new(kind, format!("vonage status {code}: {what}"));
    e.retryable = retryable;
    e
}

/// The error for a non-2xx HTTP answer.
pub(crate) fn from_http(status: u16, retry_after: Option<Duration>) -> ProviderError {
    let mut e = ProviderError::new(
        status_kind(status),
        format!("vonage answered HTTP {status}"),
    );
    e.retry_after = retry_after;
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permanent_rejections_are_not_retryable() {
        for code in [
            "2", "3", "4", "6", "7", "8", "11", "12", "14", "15", "29", "33",
        ] {
            assert!(!from_status(code).retryable, "{code}");
        }
        for code in ["1", "5", "9", "10", "999"] {
            assert!(from_status(code).retryable, "{code}");
        }
    }
}
