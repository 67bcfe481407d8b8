//! `/v1/verifications` handlers: framing only; parsing, idempotency and the view are in
//! [`crate::api::common`], shared with gRPC.

use super::extract::{Auth, JsonBody, RequestId};
use super::AppState;
use crate::api::common::{self, RawCheck, RawStart};
use crate::error::{Error, Result};
use crate::service::RateInfo;
use crate::service::Tenant;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// A JSON answer with `status` (shared by the `/v1` resources: verifications, deliveries).
pub(super) fn json<T: serde::Serialize>(status: StatusCode, view: &T) -> Result<Response> {
    let body = serde_json::to_string(view).map_err(|e| Error::Internal(e.to_string()))?;
    let mut r = (status, body).into_response();
    r.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(r)
}

/// Adds the `RateLimit-Policy` and `RateLimit` fields for the limits that applied.
fn rate_headers(resp: &mut Response, info: &RateInfo) {
    let h = resp.headers_mut();
    if let Some(v) = info.policy().and_then(|p| HeaderValue::from_str(&p).ok()) {
        h.insert("ratelimit-policy", v);
    }
    if let Some(v) = info.current().and_then(|p| HeaderValue::from_str(&p).ok()) {
        h.insert("ratelimit", v);
    }
}

/// A response with the rate-limit fields, for success and error alike.
pub(super) fn rated(tenant: &Tenant, r: Result<(Response, RateInfo)>) -> Response {
    match r {
        Ok((mut resp, info)) => {
            rate_headers(&mut resp, &info);
            resp
        }
        Err(e) => {
            let info = common::error_rate(tenant, &e);
            let mut resp = e.into_response();
            rate_headers(&mut resp, &info);
            resp
        }
    }
}

/// `POST /v1/verifications`: start, or resend the pending verification.
pub async fn start(
    State(state): State<AppState>,
    Auth(tenant): Auth,
    RequestId(request_id): RequestId,
    headers: HeaderMap,
    JsonBody(body, _): JsonBody<RawStart>,
) -> Response {
    let r = async {
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
        Ok::<_, Error>((resp, r.rate))
    }
    .await;
    rated(&tenant, r)
}

/// `POST /v1/verifications/check`.
pub async fn check(
    State(state): State<AppState>,
    Auth(tenant): Auth,
    JsonBody(body, _): JsonBody<RawCheck>,
) -> Response {
    let r = async {
        let (view, rate) = common::check_rated(&state.service, &tenant, body).await?;
        Ok::<_, Error>((json(StatusCode::OK, &view)?, rate))
    }
    .await;
    rated(&tenant, r)
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

/// `POST /v1/verifications/{id}/next`: a workflow's next step now.
pub async fn next_step(
    State(state): State<AppState>,
    Auth(tenant): Auth,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response> {
    json(
        StatusCode::OK,
        &common::next_step(&state.service, &tenant, path_id(&id)).await?,
    )
}
