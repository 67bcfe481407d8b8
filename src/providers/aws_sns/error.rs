//! Amazon SNS answers to [`ProviderError`]s.
//!
//! The Query API answers an error with XML: `<ErrorResponse><Error><Type>Sender</Type>
//! <Code>InvalidParameter</Code><Message>…</Message></Error><RequestId>…</RequestId>
//! </ErrorResponse>`. The HTTP status decides first for 429 and 5xx; otherwise the
//! `Code` below decides (Publish's documented errors, then the errors common to all AWS
//! Query APIs); otherwise the status. The message is kept only scrubbed of numbers (it
//! can name the phone number).

use crate::providers::http::{code, scrub, Answer};
use crate::providers::{ErrorKind, ProviderError};

use ErrorKind::*;

/// Kind and retryability of an SNS error code (and its message, for the parameter).
pub fn classify(code: &str, message: &str) -> Option<(ErrorKind, bool)> {
    Some(match code {
        // OptedOut (400): "Indicates that the specified phone number opted out of
        // receiving SMS messages from your Amazon Web Services account. You can't send
        // SMS messages to phone numbers that opt out."
        "OptedOut" => (InvalidDestination, false),
        // EndpointDisabled (400): "Exception error indicating endpoint disabled."
        "EndpointDisabled" => (InvalidDestination, false),
        // InvalidParameter / InvalidParameterValue (400): "Indicates that a request
        // parameter does not comply with the associated constraints." The message names
        // the parameter ("Invalid parameter: PhoneNumber Reason: …").
        "InvalidParameter"
        | "InvalidParameterValue"
        | "ValidationError"
        | "ValidationException" => {
            if message.to_ascii_lowercase().contains("phonenumber")
                || message.to_ascii_lowercase().contains("phone number")
            {
                (InvalidDestination, false)
            } else {
                (RejectedContent, false)
            }
        }
        // NotFound (404): "Indicates that the requested resource does not exist."
        "NotFound" => (RejectedContent, false),
        // Throttled (429): "the rate at which requests have been submitted for this action
        // exceeds the limit for your Amazon Web Services account"; Throttling (400), the
        // common "The request was denied due to request throttling"; KMSThrottling.
        "Throttled"
        | "Throttling"
        | "ThrottlingException"
        | "TooManyRequestsException"
        | "RequestLimitExceeded"
        | "KMSThrottling" => (RateLimited, true),
        // InternalError (500): "Indicates an internal service error."; the common
        // InternalFailure (500) and ServiceUnavailable (503).
        "InternalError"
        | "InternalFailure"
        | "ServiceUnavailable"
        | "ServiceUnavailableException" => (Unavailable, true),
        // AuthorizationError (403): "Indicates that the user has been denied access to
        // the requested resource" (also: a number not verified in the SMS sandbox);
        // InvalidSecurity (403): "The credential signature isn't valid"; the common
        // InvalidClientTokenId (403), SignatureDoesNotMatch (403), IncompleteSignature
        // (400), MissingAuthenticationToken (403), ExpiredToken, AccessDenied, OptInRequired
        // (403), RequestExpired (400: our clock is off by more than 15 minutes); and the
        // KMS key of an encrypted topic being unusable.
        "AuthorizationError"
        | "InvalidSecurity"
        | "InvalidClientTokenId"
        | "SignatureDoesNotMatch"
        | "IncompleteSignature"
        | "MissingAuthenticationToken"
        | "ExpiredToken"
        | "ExpiredTokenException"
        | "AccessDenied"
        | "AccessDeniedException"
        | "UnrecognizedClientException"
        | "OptInRequired"
        | "RequestExpired"
        | "KMSAccessDenied"
        | "KMSDisabled"
        | "KMSInvalidState"
        | "KMSNotFound"
        | "KMSOptInRequired" => (Auth, false),
        _ => return None,
    })
}

/// The text of the first `<tag>…</tag>` in `xml`, entities decoded.
pub fn xml_text(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&format!("</{tag}>"))?;
    Some(
        xml[start..end]
            .trim()
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}

/// The error for a non-2xx SNS answer.
pub fn from_answer(a: &Answer) -> ProviderError {
    let err_code = xml_text(&a.body, "Code").unwrap_or_default();
    let message = xml_text(&a.body, "Message").unwrap_or_default();
    let detail = if err_code.is_empty() {
        format!("sns answered {}", a.status)
    } else {
        format!(
            "sns answered {}: {} {}",
            a.status,
            code(&err_code),
            scrub(&message)
        )
    };
    a.error(classify(&err_code, &message), detail)
}
