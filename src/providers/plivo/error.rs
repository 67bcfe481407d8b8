//! Plivo answers to [`ProviderError`]s.
//!
//! Plivo documents HTTP statuses for its API ("400 A parameter is missing or is
//! invalid", "401 Authentication failed", "404 Resource cannot be found", "405 HTTP
//! method not allowed", "429 Too many requests, rate limited", "500 Server error") and
//! an error body `{"api_id": "…", "error": "<text>"}` with no error code. So the status
//! decides, and for a 400 the text names the parameter: one naming `dst` or the
//! destination is an invalid destination, one naming `src`, the sender, the powerpack
//! or the account's credit is our account's setup (`Auth`), anything else a rejected
//! request. The text itself is kept only scrubbed of numbers.

use crate::providers::http::{scrub, Answer};
use crate::providers::{ErrorKind, ProviderError};

use ErrorKind::*;

/// Kind and retryability for a documented Plivo status (other than 429 and 5xx, which
/// mean the same for every vendor) and its error text.
pub fn classify(status: u16, error: &str) -> Option<(ErrorKind, bool)> {
    let e = error.to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| e.contains(w));
    Some(match status {
        // "401 Authentication failed"; a 404 on the Message resource means the account in
        // the path (auth_id) does not exist.
        401 | 403 | 404 => (Auth, false),
        // "400 A parameter is missing or is invalid".
        400 if has(&["dst", "destination"]) => (InvalidDestination, false),
        400 if has(&["src", "sender", "powerpack", "credit", "balance", "fund"]) => (Auth, false),
        400 => (RejectedContent, false),
        // "405 HTTP method not allowed" and anything else: by status.
        _ => return None,
    })
}

/// The error for a non-2xx Plivo answer ("429 Too many requests, rate limited" and
/// "500 Server error" as for every vendor).
pub fn from_answer(a: &Answer) -> ProviderError {
    let error = serde_json::from_str::<serde_json::Value>(&a.body)
        .ok()
        .and_then(|v| v.get("error").cloned())
        .map(|e| match e {
            serde_json::Value::String(s) => s,
            other => other.to_string(),
        })
        .unwrap_or_default();
    let detail = if error.is_empty() {
        format!("plivo answered {}", a.status)
    } else {
        format!("plivo answered {}: {}", a.status, scrub(&error))
    };
    a.error(classify(a.status, &error), detail)
}
