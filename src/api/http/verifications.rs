//! `/v1/verifications` handlers: framing only; parsing, idempotency and the view are in
//! [`crate::api::common`], shared with gRPC.

use super::extract::{Auth, JsonBody, RequestId};
use super::AppState;
use crate::api::common::{self, RawCheck, RawStart, VerificationView};
use crate::error::{Error, Result};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

fn json(status: StatusCode, view: &VerificationView) -> Result<Response> {
    let body = serde_json::to_string(view).map_err(|e| Error::Internal(e.to_string()))?;
    let mut r = (status, body).into_response();
    r.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(r)
}

/// `POST /v1/verifications`: start, or resend the pending verification.
pub async fn start(
    State(state): State<AppState>,
    Auth(tenant): Auth,
    RequestId(request_id): RequestId,
    headers: HeaderMap,
    JsonBody(body, _): JsonBody<RawStart>,
) -> Result<Response> {
    let key = common::idempotency_key(headers.get("idempotency-key").map(|v| v.as_bytes()))?;
    let r = common::start(&state.service, &tenant, body, key, Some(request_id)).await?;
    let status = if r.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut resp = json(status, &r.view)?;
    if r.replayed {
        resp.headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(resp)
}

/// `POST /v1/verifications/check`.
pub async fn check(
    State(state): State<AppState>,
    Auth(tenant): Auth,
    JsonBody(body, _): JsonBody<RawCheck>,
) -> Result<Response> {
    json(
        StatusCode::OK,
        &common::check(&state.service, &tenant, body).await?,
    )
}

/// The `{id}` of the path; one that does not even decode (bad UTF-8) cannot exist either.
fn path_id(id: &Result<Path<String>, PathRejection>) -> &str {
    id.as_ref().map(|Path(s)| s.as_str()).unwrap_or("")
}

/// `GET /v1/verifications/{id}`.
pub async fn get(
    State(state): State<AppState>,
    Auth(tenant): Auth,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response> {
    json(
        StatusCode::OK,
        &common::get(&state.service, &tenant, path_id(&id)).await?,
    )
}

/// `POST /v1/verifications/{id}/cancel`.
pub async fn cancel(
    State(state): State<AppState>,
    Auth(tenant): Auth,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response> {
    json(
        StatusCode::OK,
        &common::cancel(&state.service, &tenant, path_id(&id)).await?,
    )
}
