//! The one mapping from [`Error`] to Twilio's error document (`code`, `message`,
//! `more_info`, `status`), each code cited to Twilio's error reference
//! (`https://www.twilio.com/docs/errors/<code>`), so the SDKs raise their usual exception
//! (`TwilioRestException` in Python, `RestException` in Node) with the code and status a
//! Twilio Verify caller already handles.
//!
//! | our error | Twilio | HTTP | reference |
//! |---|---|---|---|
//! | invalid parameter, number, channel, code; a form Twilio would not read | 60200 Invalid parameter | 400 | errors/60200: "The response message contains the name of the invalid parameter" |
//! | missing or wrong credentials | 20003 Authenticate | 401 | errors/20003 |
//! | unknown SID, other tenant's Service, finished verification, unknown route | 20404 Not Found | 404 | errors/20404: approved or expired Verifications are "soft deleted" and answer 20404 |
//! | method not allowed | 20004 Method not allowed | 405 | errors/20004 |
//! | body over the limit | 20413 Request Entity Too Large | 413 | errors/20413 |
//! | `Idempotency-Key` reused with another form, or in progress | 20409 Conflict | 409 | errors/20409 |
//! | `max_sends_reached` | 60203 Max send attempts reached | 429 | errors/60203 |
//! | `max_attempts_reached`, failed-check limits | 60202 Max check attempts reached | 429 | errors/60202 |
//! | `resend_cooldown` | 60212 Too many concurrent requests for phone number | 429 | errors/60212 |
//! | any other limit | 20429 Too Many Requests | 429 | errors/20429 ("Exceeding Verify Service Rate Limits") |
//! | country not allowed | 60605 Verification delivery attempt blocked (Geo-Permissions) | 403 | errors/60605 |
//! | number type not allowed | 60205 SMS is not supported by landline phone number | 403 | errors/60205 |
//! | pumping guard block or challenge | 60410 Verification delivery attempt blocked (Fraud Guard) | 403 | errors/60410 |
//! | store unavailable, overloaded | 20503 Service Unavailable | 503 | errors/20503 |
//! | internal | 20500 Internal Server Error | 500 | errors/20500 |
//!
//! Internal detail stays in the log, as for `/v1`.

use crate::error::{retry_after_secs, Error};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error on a `/v2` route, with the request path (Twilio names it in a 20404).
#[derive(Debug)]
pub struct TwilioError {
    /// What went wrong.
    pub err: Error,
    /// The request path, without the query.
    pub path: String,
}

impl TwilioError {
    /// `err` on `path`.
    pub fn new(err: Error, path: &str) -> Self {
        TwilioError {
            err,
            path: path.to_string(),
        }
    }
}

/// A `60200 Invalid parameter` naming `name`, Twilio's wording.
pub fn invalid(name: &str) -> Error {
    Error::InvalidRequest(format!("Invalid parameter: {name}"))
}

/// Twilio's `(code, HTTP status, message)` for an error on `path`.
pub fn twilio_code(e: &Error, path: &str) -> (u32, u16, String) {
    let path = path.strip_prefix("/v2").unwrap_or(path);
    match e {
        // errors/60200: Invalid parameter, 400, the message names the parameter.
        Error::InvalidRequest(m) if m.starts_with("Invalid parameter") => (60200, 400, m.clone()),
        Error::InvalidRequest(_) | Error::UnsupportedMediaType(_) => {
            (60200, 400, "Invalid parameter".into())
        }
        Error::InvalidPhoneNumber(_) | Error::InvalidEmail(_) => {
            (60200, 400, "Invalid parameter: To".into())
        }
        Error::UnsupportedChannel(_) => (60200, 400, "Invalid parameter: Channel".into()),
        // A channel the tenant has not enabled: Twilio's answer for a channel the
        // service cannot use is the parameter's.
        Error::ChannelNotEnabled { .. } => (60200, 400, "Invalid parameter: Channel".into()),
        Error::InvalidCodeFormat(_) => (60200, 400, "Invalid parameter: Code".into()),
        // errors/20003: Authenticate, 401.
        Error::Unauthorized(_) | Error::Forbidden(_) => (20003, 401, "Authenticate".into()),
        // errors/20404: Not Found, 404.
        Error::NotFound(_) | Error::DeliveryNotFound(_) | Error::RouteNotFound(_) => (
            20404,
            404,
            format!("The requested resource {path} was not found"),
        ),
        // errors/20004: Method not allowed, 405.
        Error::MethodNotAllowed => (20004, 405, "Method not allowed".into()),
        // errors/20413: Request Entity Too Large.
        Error::PayloadTooLarge(_) => (20413, 413, "Request Entity Too Large".into()),
        // errors/60203: Max send attempts reached, 429.
        Error::MaxSendsReached { .. } => (60203, 429, "Max send attempts reached".into()),
        // errors/60202: Max check attempts reached, 429.
        Error::MaxAttemptsReached { .. } => (60202, 429, "Max check attempts reached".into()),
        Error::RateLimited { reason, .. } => match *reason {
            "number_check_limit" | "client_check_limit" => {
                (60202, 429, "Max check attempts reached".into())
            }
            // errors/60212: Too many concurrent requests for phone number, 429.
            "resend_cooldown" => (
                60212,
                429,
                "Too many concurrent requests for phone number".into(),
            ),
            // errors/20429: Too Many Requests, 429 (Verify Service Rate Limits).
            _ => (20429, 429, "Too many requests".into()),
        },
        Error::DestinationBlocked { reason } => match reason.as_str() {
            // errors/60605: blocked by Verify Geo-Permissions, 403.
            "country_not_allowed" => (60605, 403, "Verification delivery attempt blocked".into()),
            // errors/60205: SMS is not supported by landline phone number, 403.
            "number_type_not_allowed" => (
                60205,
                403,
                "SMS is not supported by landline phone number".into(),
            ),
            // errors/60410: blocked by Fraud Guard (our pumping guard), 403.
            _ => (60410, 403, "Verification delivery attempt blocked".into()),
        },
        Error::ChallengeRequired { .. } => {
            (60410, 403, "Verification delivery attempt blocked".into())
        }
        // errors/20409: Conflict, 409 (an Idempotency-Key reused with another form, or
        // still in progress).
        Error::IdempotencyConflict(_) | Error::NoNextStep(_) => (20409, 409, "Conflict".into()),
        // errors/20503: Service Unavailable.
        Error::StoreUnavailable { .. } => (20503, 503, "Service Unavailable".into()),
        // errors/20500: Internal Server Error.
        Error::Internal(inner) => {
            tracing::error!(error = %inner, "internal error");
            (20500, 500, "Internal Server Error".into())
        }
    }
}

impl IntoResponse for TwilioError {
    fn into_response(self) -> Response {
        let (code, status, message) = twilio_code(&self.err, &self.path);
        let body = json!({
            "code": code,
            "message": message,
            "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
            "status": status,
        });
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut resp = (status, body.to_string()).into_response();
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(d) = self.err.retry_after() {
            h.insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs(d)));
        }
        if status == StatusCode::UNAUTHORIZED {
            h.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"Twilio API\""),
            );
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn every_error_has_its_twilio_code_and_status() {
        let d = Duration::from_secs(1);
        let limited = |reason| Error::RateLimited {
            reason,
            detail: String::new(),
            retry_after: d,
        };
        let blocked = |r: &str| Error::DestinationBlocked { reason: r.into() };
        let cases = [
            (invalid("To"), 60200, 400),
            (Error::InvalidPhoneNumber(String::new()), 60200, 400),
            (Error::UnsupportedChannel("call".into()), 60200, 400),
            (Error::InvalidCodeFormat(String::new()), 60200, 400),
            (Error::Unauthorized(String::new()), 20003, 401),
            (Error::NotFound(String::new()), 20404, 404),
            (Error::RouteNotFound(String::new()), 20404, 404),
            (Error::DeliveryNotFound(String::new()), 20404, 404),
            (Error::MethodNotAllowed, 20004, 405),
            (Error::IdempotencyConflict(String::new()), 20409, 409),
            (Error::PayloadTooLarge(1), 20413, 413),
            (Error::MaxSendsReached { retry_after: d }, 60203, 429),
            (Error::MaxAttemptsReached { retry_after: d }, 60202, 429),
            (limited("number_check_limit"), 60202, 429),
            (limited("client_check_limit"), 60202, 429),
            (limited("resend_cooldown"), 60212, 429),
            (limited("number_per_hour"), 20429, 429),
            (blocked("country_not_allowed"), 60605, 403),
            (blocked("number_type_not_allowed"), 60205, 403),
            (blocked("prefix"), 60410, 403),
            (
                Error::ChallengeRequired {
                    reason: "country".into(),
                },
                60410,
                403,
            ),
            (Error::store_unavailable("down"), 20503, 503),
            (Error::Internal("bug".into()), 20500, 500),
        ];
        for (e, code, status) in cases {
            let (c, s, m) = twilio_code(&e, "/v2/Services/VA1/Verifications/VE1");
            assert_eq!((c, s), (code, status), "{e:?}");
            assert!(!m.is_empty());
            if c == 20404 {
                assert_eq!(
                    m,
                    "The requested resource /Services/VA1/Verifications/VE1 was not found"
                );
            }
        }
    }
}
