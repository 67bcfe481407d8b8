//! `/v1/deliveries`: delivery-only sends of codes made elsewhere, framing only; the
//! request, its parsing, idempotency and the view are shared with gRPC in
//! [`crate::api::deliveries`].

use super::extract::{Auth, JsonBody, OptionalJsonBody, RequestId};
use super::verifications::json;
use super::AppState;
use crate::api::common;
use crate::api::deliveries::{self, RawDelivery};
use crate::error::{Error, Result};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::Value;

/// `POST /v1/deliveries`: deliver a code made elsewhere (`201`).
pub async fn create(
    State(state): State<AppState>,
    Auth(tenant): Auth,
    RequestId(request_id): RequestId,
    headers: HeaderMap,
    JsonBody(body, _): JsonBody<RawDelivery>,
) -> Response {
    let r = async {
        let key = common::idempotency_key(headers.get("idempotency-key").map(|v| v.as_bytes()))?;
        let d = deliveries::create(&state.service, &tenant, body, key, Some(request_id)).await?;
        let mut resp = json(StatusCode::CREATED, &d.view)?;
        if d.replayed {
            resp.headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
        }
        Ok::<_, Error>((resp, d.rate))
    }
    .await;
    super::verifications::rated(&tenant, r)
}

fn path_id(id: &Result<Path<String>, PathRejection>) -> &str {
    id.as_ref().map(|Path(s)| s.as_str()).unwrap_or("")
}

/// `GET /v1/deliveries/{id}`: where the message is.
pub async fn get(
    State(state): State<AppState>,
    Auth(tenant): Auth,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response> {
    let view = deliveries::get(&state.service, &tenant, path_id(&id)).await?;
    json(StatusCode::OK, &view)
}

/// The optional body of a confirmation. Unknown fields are refused.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfirm {
    /// What the caller knows of the end user: the sources it names get the approval's
    /// credit with the pumping guard, as on a check.
    pub risk_context: Option<Value>,
}

/// `POST /v1/deliveries/{id}/confirm`: the user typed the code right (an approval for
/// the pumping guard, counted once; repeating it answers the same). The body is
/// optional: `{"risk_context": {…}}` names the sources the approval counts for.
pub async fn confirm(
    State(state): State<AppState>,
    Auth(tenant): Auth,
    id: Result<Path<String>, PathRejection>,
    OptionalJsonBody(body): OptionalJsonBody<RawConfirm>,
) -> Result<Response> {
    let risk = body.unwrap_or_default().risk_context;
    let view = deliveries::confirm(&state.service, &tenant, path_id(&id), risk.as_ref()).await?;
    json(StatusCode::OK, &view)
}
