//! Sinch SMS REST API errors mapped to [`ErrorKind`] and retryability.
//!
//! "HTTP codes 400 and 403 are subdivided into codes": the body is
//! `{"code": "syntax_invalid_parameter_format", "text": "The format of parameter 'to[0]'
//! is invalid; value '+1' is not a valid MSISDN or group ID."}`. Other statuses carry no
//! code we rely on: 401 is a refused token, 404 an unknown service plan, 429 "the
//! throughput will be lowered" (back off, honouring `Retry-After`), 5xx "typically
//! indicate an error on our end". Sinch's `text` is left out of our detail: it can quote
//! the destination number.

use crate::providers::http::status_kind;
use crate::providers::{ErrorKind, ProviderError};
use serde::Deserialize;
use std::time::Duration;

#[derive(Deserialize)]
struct Body {
    code: Option<String>,
    text: Option<String>,
}

/// The kind, retryability and a short description of a Sinch answer.
pub(crate) fn classify(
    status: u16,
    code: Option<&str>,
    text: Option<&str>,
) -> (ErrorKind, bool, &'static str) {
    use ErrorKind::*;
    match (status, code) {
        // 400 "syntax_invalid_parameter_format: The format of a field value is invalid.
        // For example, if a MSISDN (phone number) is not correctly formatted." The text
        // names the field ("parameter 'to[0]'"): a bad recipient is the destination's
        // fault, any other field is ours.
        (400, Some("syntax_invalid_parameter_format"))
            if text.is_some_and(|t| t.contains("'to")) =>
        {
            (InvalidDestination, false, "invalid recipient number")
        }
        (400, Some("syntax_invalid_parameter_format")) => {
            (RejectedContent, false, "invalid parameter format")
        }
        // 400 "syntax_invalid_json: The JSON in the request is invalid or doesn't conform
        // to the API specification."
        (400, Some("syntax_invalid_json")) => (RejectedContent, false, "invalid JSON"),
        // 400 "syntax_constraint_violation: The request body doesn't fulfil all of the
        // constraints set by the API."
        (400, Some("syntax_constraint_violation")) => {
            (RejectedContent, false, "constraint violation")
        }
        // 403 "blocked_account: Indicates that your account has been blocked."
        (403, Some("blocked_account")) => (Auth, false, "account blocked"),
        // 403 "illegal_number_type: Illegal phone number type of MSISDN for a chosen region
        // was used. Send to a different MSISDN."
        (403, Some("illegal_number_type")) => {
            (InvalidDestination, false, "number type not allowed")
        }
        // 403 "missing_callback_url: Requesting delivery report without any callback URL."
        (403, Some("missing_callback_url")) => (
            RejectedContent,
            false,
            "delivery report without a callback URL",
        ),
        // 401: the API token was refused; 403 with another code: not allowed for this
        // service plan; 404: no such service plan.
        (401 | 403 | 404, _) => (Auth, false, "token or service plan refused"),
        // 429: throttled; 5xx: Sinch-side failure.
        _ => {
            let kind = status_kind(status);
            (kind, ProviderError::new(kind, "").retryable, "HTTP error")
        }
    }
}

/// The error for a non-2xx answer.
pub(crate) fn from_response(
    status: u16,
    body: &[u8],
    retry_after: Option<Duration>,
) -> ProviderError {
    let parsed = serde_json::from_slice::<Body>(body).ok();
    let code = parsed.as_ref().and_then(|b| b.code.as_deref());
    let text = parsed.as_ref().and_then(|b| b.text.as_deref());
    let (kind, retryable, what) = classify(status, code, text);
    let code_text = code.map(|c| format!(" {c}")).unwrap_or_default();
    let mut e = ProviderError::new(kind, format!("sinch answered {status}{code_text}: {what}"));
    e.retryable = retryable;
    e.retry_after = retry_after;
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejections_are_permanent_and_outages_are_not() {
        let to = Some("The format of parameter 'to[0]' is invalid; value '+1' is not a valid MSISDN or group ID.");
        assert_eq!(
            classify(400, Some("syntax_invalid_parameter_format"), to),
            (
                ErrorKind::InvalidDestination,
                false,
                "invalid recipient number"
            )
        );
        assert!(!classify(403, Some("illegal_number_type"), None).1);
        assert!(!classify(401, None, None).1);
        assert!(classify(429, None, None).1);
        assert!(classify(500, None, None).1);
        assert_eq!(classify(503, None, None).0, ErrorKind::Unavailable);
    }
}
