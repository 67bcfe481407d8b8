//! MessageBird answers to [`ProviderError`]s.
//!
//! MessageBird answers an error with `{"errors": [{"code": 9, "description": "no
//! (correct) recipients found", "parameter": "recipients"}]}` and these codes: "2
//! Request not allowed (incorrect access_key)", "9 Missing params", "10 Invalid
//! params", "20 Not found", "21 Bad request", "25 Not enough balance", "98 API not
//! found", "99 Internal error"; HTTP statuses 401 (unauthorized), 404, 405, 408, 422
//! (unprocessable), 5xx. The HTTP status decides first for 429 and 5xx; otherwise the
//! first code below decides (for 9 and 10, the `parameter` it names); otherwise the
//! status. The description is kept only scrubbed of numbers.

use crate::providers::http::{code, scrub, Answer};
use crate::providers::{ErrorKind, ProviderError};

use ErrorKind::*;

/// Kind and retryability of a documented MessageBird error code and the parameter it
/// names.
pub fn classify(code: u64, parameter: &str) -> Option<(ErrorKind, bool)> {
    Some(match code {
        // "2 Request not allowed (incorrect access_key)".
        2 => (Auth, false),
        // "9 Missing params" / "10 Invalid params": which one decides who is at fault.
        // "no (correct) recipients found" names `recipients`; "originator is invalid"
        // names `originator` (our sender setup).
        9 | 10 if parameter == "recipients" || parameter == "recipient" => {
            (InvalidDestination, false)
        }
        9 | 10 if parameter == "originator" => (Auth, false),
        9 | 10 => (RejectedContent, false),
        // "20 Not found"; "21 Bad request"; "98 API not found": our request is wrong.
        20 | 21 | 98 => (RejectedContent, false),
        // "25 Not enough balance": the account cannot pay.
        25 => (Auth, false),
        // "99 Internal error".
        99 => (Unavailable, true),
        _ => return None,
    })
}

/// The first error in a MessageBird error body: code, parameter, description.
pub fn first_error(body: &str) -> Option<(u64, String, String)> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    let e = v.get("errors")?.as_array()?.first()?;
    let code = match e.get("code")? {
        serde_json::Value::Number(n) => n.as_u64()?,
        serde_json::Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    let text = |k: &str| e.get(k).and_then(|x| x.as_str()).unwrap_or("").to_string();
    Some((code, text("parameter"), text("description")))
}

/// The error for a non-2xx MessageBird answer.
pub fn from_answer(a: &Answer) -> ProviderError {
    let first = first_error(&a.body);
    let detail = match &first {
        Some((c, p, d)) => format!(
            "messagebird answered {}: {c} {} ({})",
            a.status,
            scrub(d),
            code(p)
        ),
        None => format!("messagebird answered {}", a.status),
    };
    a.error(first.and_then(|(c, p, _)| classify(c, &p)), detail)
}
