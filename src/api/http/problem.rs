//! Rendering of [`Error`] as `application/problem+json` (RFC 9457).

use crate::error::{retry_after_secs, Error};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let detail = match &self {
            Error::Internal(inner) => {
                tracing::error!(error = %inner, "internal error");
                "internal error".to_string()
            }
            other => other.to_string(),
        };
        let mut body = json!({
            "type": "about:blank",
            "title": status.canonical_reason().unwrap_or("Error"),
            "status": status.as_u16(),
            "code": self.code(),
            "detail": detail,
        });
        if let Some(r) = self.reason() {
            body["reason"] = json!(r);
        }
        let retry = self.retry_after().map(retry_after_secs);
        if let Some(secs) = retry {
            body["retry_after"] = json!(secs);
        }
        let mut resp = (status, body.to_string()).into_response();
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(secs) = retry {
            h.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if status == StatusCode::UNAUTHORIZED {
            h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp
    }
}
