//! The Voice API's refusals of a call (`POST /v1/calls`) mapped to [`ErrorKind`] and
//! retryability.
//!
//! Vonage APIs answer an error "in RFC 7807 format": `{"type":
//! "https://developer.nexmo.com/api-errors#<code>", "title", "detail", "instance"}`,
//! with `invalid_parameters` (`[{"name", "reason"}]`) on a validation error. The HTTP
//! status decides first for 429 and 5xx ([`Answer::error`]); otherwise the code after
//! the `#` of `type`, from Vonage's list of generic API errors; otherwise the status
//! (401/403 `Auth`, other 4xx `RejectedContent`). Vonage's `title` and `detail` are
//! left out of our detail: they may repeat the number.

use crate::providers::http::{code, Answer};
use crate::providers::{ErrorKind, ProviderError};
use serde_json::Value;

use ErrorKind::*;

/// Kind and retryability of a Vonage error code (the fragment of `type`), given
/// whether its `invalid_parameters` name the destination (`to`).
pub fn classify(code: &str, names_to: bool) -> Option<(ErrorKind, bool)> {
    Some(match code {
        // "unauthorized: You did not provide correct credentials"; "jwt-expired: The
        // JWT provided has expired"; "jwt-revoked"; "invalid-api-key"; "unprovisioned:
        // The credentials provided do not have access to the requested product";
        // "account-suspended"; "forbidden: Your account does not have permission to
        // perform this action"; "not-found: The requested resource does not exist, or
        // you do not have access to it" (a wrong application). This account cannot
        // call, whatever the number: fail over.
        "unauthorized" | "jwt-expired" | "jwt-revoked" | "invalid-api-key" | "unprovisioned"
        | "account-suspended" | "forbidden" | "not-found" => (Auth, false),
        // "low-balance: This request could not be performed due to your account balance
        // being low": another provider can still call.
        "low-balance" => (Auth, false),
        // "invalid-params: The value of one or more parameters is invalid"; a bad
        // request or validation error: the number's fault when it names `to`.
        "invalid-params" | "bad-request" | "validation" if names_to => (InvalidDestination, false),
        "invalid-params" | "bad-request" | "validation" | "invalid-json" => {
            (RejectedContent, false)
        }
        _ => return None,
    })
}

/// The code of a Vonage problem body (after the `#` of `type`, or its last path
/// segment) and whether its `invalid_parameters` name `to`.
pub fn problem(body: &str) -> Option<(String, bool)> {
    let v: Value = serde_json::from_str(body).ok()?;
    let t = v.get("type")?.as_str()?;
    let code = t.rsplit(['#', '/']).next()?.trim().to_ascii_lowercase();
    let names_to = v
        .get("invalid_parameters")
        .and_then(Value::as_array)
        .is_some_and(|ps| {
            ps.iter().any(|p| {
                p.get("name")
                    .and_then(Value::as_str)
                    .is_some_and(|n| n == "to" || n.starts_with("to[") || n.starts_with("to."))
            })
        });
    Some((code, names_to))
}

/// The error for a non-2xx answer to a call.
pub fn from_answer(a: &Answer) -> ProviderError {
    let p = problem(&a.body);
    let detail = match &p {
        Some((c, _)) => format!("vonage voice answered {}: {}", a.status, code(c)),
        None => format!("vonage voice answered {}", a.status),
    };
    a.error(p.and_then(|(c, to)| classify(&c, to)), detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(status: u16, body: &str) -> (ErrorKind, bool) {
        let e = from_answer(&Answer {
            status,
            retry_after: None,
            body: body.into(),
        });
        (e.kind, e.retryable)
    }

    #[test]
    fn problem_types_decide_before_the_status() {
        let t = |c: &str| {
            format!(r#"{{"type":"https://developer.nexmo.com/api-errors#{c}","title":"x"}}"#)
        };
        assert_eq!(kind(401, &t("unauthorized")), (Auth, false));
        assert_eq!(kind(403, &t("low-balance")), (Auth, false));
        assert_eq!(kind(400, &t("invalid-json")), (RejectedContent, false));
        let to = r#"{"type":"https://developer.nexmo.com/api-errors#invalid-params","invalid_parameters":[{"name":"to[0].number","reason":"bad"}]}"#;
        assert_eq!(kind(400, to), (InvalidDestination, false));
        assert_eq!(kind(429, &t("unauthorized")), (RateLimited, true));
        assert_eq!(kind(503, "<html>"), (Unavailable, true));
        assert_eq!(kind(400, "{}"), (RejectedContent, false));
    }
}
