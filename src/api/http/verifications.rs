//! `/v1/verifications` handlers: parse into domain types, call the service, render JSON.

use super::extract::{Auth, JsonBody, RequestId};
use super::AppState;
use crate::domain::*;
use crate::error::{Error, Result};
use crate::service::{CheckBy, StartInput, Started};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Largest `metadata` object, serialized.
pub const MAX_METADATA_BYTES: usize = 1024;
/// How long an idempotency key is remembered.
pub const IDEMPOTENCY_TTL_MS: i64 = 24 * 3600 * 1000;

/// `POST /v1/verifications` body. Unknown fields are rejected (`400 invalid_request`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartBody {
    to: String,
    channel: Option<String>,
    locale: Option<String>,
    code_length: Option<i64>,
    template: Option<String>,
    app_hash: Option<String>,
    client_ip: Option<String>,
    metadata: Option<Value>,
}

/// `POST /v1/verifications/check` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckBody {
    to: Option<String>,
    id: Option<String>,
    code: Option<Value>,
}

/// The verification resource as the API shows it.
#[derive(Debug, Serialize, Deserialize)]
pub struct VerificationView {
    id: String,
    to: String,
    channel: String,
    status: String,
    created_at: String,
    expires_at: String,
    send_count: u32,
    sends_remaining: u32,
    next_resend_at: String,
    check_attempts_remaining: u32,
    delivery: DeliveryView,
    metadata: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    locale: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    valid: Option<bool>,
}

/// `delivery` of the resource.
#[derive(Debug, Serialize, Deserialize)]
pub struct DeliveryView {
    status: String,
    provider: Option<String>,
    updated_at: String,
}

impl VerificationView {
    /// Renders a record as seen at `now`.
    pub fn new(v: &Verification, now: Millis, valid: Option<bool>) -> Self {
        VerificationView {
            id: v.id.as_str().to_string(),
            to: v.to.clone(),
            channel: v.channel.as_str().to_string(),
            status: v.status_at(now).as_str().to_string(),
            created_at: rfc3339(v.created_at),
            expires_at: rfc3339(v.expires_at),
            send_count: v.send_count,
            sends_remaining: v.sends_remaining(),
            next_resend_at: rfc3339(v.next_resend_at),
            check_attempts_remaining: v.attempts_left,
            delivery: DeliveryView {
                status: v.delivery_status_at(now).as_str().to_string(),
                provider: v.delivery.provider.clone(),
                updated_at: rfc3339(v.delivery.updated_at),
            },
            metadata: v
                .metadata
                .as_deref()
                .and_then(|m| serde_json::from_str(m).ok())
                .unwrap_or_else(|| Value::Object(Default::default())),
            locale: v.locale.clone(),
            valid,
        }
    }
}

fn json(status: StatusCode, body: String) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

fn parse_start(b: StartBody, request_id: String) -> Result<StartInput> {
    let metadata = match b.metadata {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) => {
            let text = serde_json::to_string(&m).map_err(|e| Error::Internal(e.to_string()))?;
            if text.len() > MAX_METADATA_BYTES {
                return Err(Error::InvalidRequest(format!(
                    "`metadata` is larger than {MAX_METADATA_BYTES} bytes"
                )));
            }
            Some(text)
        }
        Some(_) => {
            return Err(Error::InvalidRequest(
                "`metadata` must be a JSON object".into(),
            ))
        }
    };
    let template = match b.template {
        Some(t)
            if t.is_empty()
                || t.len() > 64
                || !t
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-') =>
        {
            return Err(Error::InvalidRequest(
                "`template` must be 1..64 of [A-Za-z0-9_-]".into(),
            ))
        }
        t => t,
    };
    Ok(StartInput {
        to: PhoneNumber::parse(&b.to)?,
        channel: Channel::parse(b.channel.as_deref().unwrap_or("sms"))?,
        locale: b.locale.as_deref().map(Locale::parse).transpose()?,
        code_length: b.code_length.map(CodeLength::new).transpose()?,
        template,
        app_hash: b.app_hash.as_deref().map(AppHash::parse).transpose()?,
        client_ip: b
            .client_ip
            .as_deref()
            .map(|s| {
                s.parse().map_err(|_| {
                    Error::InvalidRequest("`client_ip` must be an IPv4 or IPv6 address".into())
                })
            })
            .transpose()?,
        metadata,
        request_id: Some(request_id).filter(|s| !s.is_empty()),
    })
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>> {
    let Some(v) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let s = v
        .to_str()
        .ok()
        .filter(|s| (1..=255).contains(&s.len()) && s.bytes().all(|b| (0x21..=0x7e).contains(&b)))
        .ok_or_else(|| {
            Error::InvalidRequest("Idempotency-Key must be 1..255 visible ASCII characters".into())
        })?;
    Ok(Some(crate::crypto::sha256_hex(s.as_bytes())))
}

/// `POST /v1/verifications`: start, or resend the pending verification.
pub async fn start(
    State(state): State<AppState>,
    Auth(tenant): Auth,
    RequestId(request_id): RequestId,
    headers: HeaderMap,
    JsonBody(body, raw): JsonBody<StartBody>,
) -> Result<Response> {
    let input = parse_start(body, request_id)?;
    let svc = &state.service;
    let Some(key) = idempotency_key(&headers)? else {
        let (status, body) = run_start(&state, &tenant, input).await?;
        return Ok(json(status, body));
    };
    let fp = crate::crypto::sha256_hex(&raw);
    match svc
        .idempotency_begin(&tenant, &key, &fp, IDEMPOTENCY_TTL_MS)
        .await?
    {
        crate::store::IdempotencyBegin::Reserved => {}
        crate::store::IdempotencyBegin::Replay(status, body) => {
            let mut r = json(StatusCode::from_u16(status).unwrap_or(StatusCode::OK), body);
            r.headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
            return Ok(r);
        }
        crate::store::IdempotencyBegin::Mismatch => {
            return Err(Error::IdempotencyConflict(
                "this Idempotency-Key was used with a different request body".into(),
            ))
        }
        crate::store::IdempotencyBegin::InProgress => {
            return Err(Error::IdempotencyConflict(
                "a request with this Idempotency-Key is still being processed".into(),
            ))
        }
    }
    match run_start(&state, &tenant, input).await {
        Ok((status, body)) => {
            svc.idempotency_finish(
                &tenant,
                &key,
                &fp,
                status.as_u16(),
                &body,
                IDEMPOTENCY_TTL_MS,
            )
            .await;
            Ok(json(status, body))
        }
        Err(e) => {
            svc.idempotency_abort(&tenant, &key).await;
            Err(e)
        }
    }
}

async fn run_start(
    state: &AppState,
    tenant: &crate::service::Tenant,
    input: StartInput,
) -> Result<(StatusCode, String)> {
    let now = now_millis();
    let (status, v) = match state.service.start(tenant, input).await? {
        Started::Created(v) => (StatusCode::CREATED, v),
        Started::Resent(v) => (StatusCode::OK, v),
    };
    let body = serde_json::to_string(&VerificationView::new(&v, now, None))
        .map_err(|e| Error::Internal(e.to_string()))?;
    Ok((status, body))
}

/// `POST /v1/verifications/check`.
pub async fn check(
    State(state): State<AppState>,
    Auth(tenant): Auth,
    JsonBody(body, _): JsonBody<CheckBody>,
) -> Result<Response> {
    let code = match &body.code {
        Some(Value::String(s)) => OtpCode::parse(s)?,
        Some(_) => {
            return Err(Error::InvalidCodeFormat(
                "`code` must be a string of 4 to 10 digits".into(),
            ))
        }
        None => return Err(Error::InvalidRequest("`code` is required".into())),
    };
    let by = match (body.to, body.id) {
        (Some(to), None) => CheckBy::To(PhoneNumber::parse(&to)?),
        (None, Some(id)) => CheckBy::Id(VerificationId::parse(&id)?),
        _ => {
            return Err(Error::InvalidRequest(
                "give exactly one of `to` and `id`".into(),
            ))
        }
    };
    let (v, valid) = state.service.check(&tenant, by, &code).await?;
    let body = serde_json::to_string(&VerificationView::new(&v, now_millis(), Some(valid)))
        .map_err(|e| Error::Internal(e.to_string()))?;
    Ok(json(StatusCode::OK, body))
}

/// The `{id}` of the path; one that does not even decode (bad UTF-8) cannot exist either.
fn path_id(id: Result<Path<String>, PathRejection>) -> Result<VerificationId> {
    VerificationId::parse(id.as_ref().map(|Path(s)| s.as_str()).unwrap_or(""))
}

/// `GET /v1/verifications/{id}`.
pub async fn get(
    State(state): State<AppState>,
    Auth(tenant): Auth,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response> {
    let id = path_id(id)?;
    let v = state.service.get(&tenant, &id).await?;
    let body = serde_json::to_string(&VerificationView::new(&v, now_millis(), None))
        .map_err(|e| Error::Internal(e.to_string()))?;
    Ok(json(StatusCode::OK, body))
}

/// `POST /v1/verifications/{id}/cancel`.
pub async fn cancel(
    State(state): State<AppState>,
    Auth(tenant): Auth,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response> {
    let id = path_id(id)?;
    let v = state.service.cancel(&tenant, &id).await?;
    let body = serde_json::to_string(&VerificationView::new(&v, now_millis(), None))
        .map_err(|e| Error::Internal(e.to_string()))?;
    Ok(json(StatusCode::OK, body))
}
