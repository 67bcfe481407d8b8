//! `/v1/deliveries`: delivery-only sends of codes made elsewhere (HTTP only), framing
//! and parsing; the policy is the service's ([`crate::service::DeliverInput`]).
//!
//! `code` is 4..10 ASCII digits and nothing else: this is no free-text SMS relay, the
//! text is always the tenant's template around the code. An `Idempotency-Key` works as
//! for a start: the first answer is kept without `to` and `metadata` (a keyed
//! fingerprint of the request, never the code), and a replay fills them in from the
//! live record.

use super::extract::{Auth, JsonBody, OptionalJsonBody, RequestId};
use super::AppState;
use crate::api::common::{self, RawRisk, MAX_METADATA_BYTES};
use crate::domain::{now_millis, DeliveryId, Locale, OtpCode, PhoneNumber};
use crate::error::{Error, Result};
use crate::service::{
    DeliverInput, DeliveryRecordView, DeliverySource, IdempotencyBegin, Service, Tenant,
};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A delivery request as received. Unknown fields are refused.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDelivery {
    /// Destination, E.164.
    pub to: String,
    /// The code to deliver: a string of 4..10 digits.
    pub code: Value,
    /// BCP 47 locale of the template.
    pub locale: Option<String>,
    /// Named template.
    pub template: Option<String>,
    /// Caller metadata (an object).
    pub metadata: Option<Value>,
    /// What the caller knows of the end user, for the pumping guard.
    pub risk_context: Option<Value>,
}

/// A `code` made elsewhere: a string of 4..10 ASCII digits, nothing else.
pub fn parse_code(v: &Value) -> Result<OtpCode> {
    match v {
        Value::String(s) => OtpCode::parse(s),
        _ => Err(Error::InvalidCodeFormat(
            "`code` must be a string of 4 to 10 digits".into(),
        )),
    }
}

/// `metadata`: absent, `null` or an object of at most [`MAX_METADATA_BYTES`].
pub fn parse_metadata(v: Option<&Value>) -> Result<Option<String>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => {
            let text = serde_json::to_string(m).map_err(|e| Error::Internal(e.to_string()))?;
            if text.len() > MAX_METADATA_BYTES {
                return Err(Error::InvalidRequest(format!(
                    "`metadata` is larger than {MAX_METADATA_BYTES} bytes"
                )));
            }
            Ok(Some(text))
        }
        Some(_) => Err(Error::InvalidRequest(
            "`metadata` must be a JSON object".into(),
        )),
    }
}

/// `template`: 1..64 of `[A-Za-z0-9_-]`.
pub fn parse_template(t: Option<String>) -> Result<Option<String>> {
    match t {
        Some(t)
            if t.is_empty()
                || t.len() > 64
                || !t
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-') =>
        {
            Err(Error::InvalidRequest(
                "`template` must be 1..64 of [A-Za-z0-9_-]".into(),
            ))
        }
        t => Ok(t),
    }
}

impl RawDelivery {
    /// Parses into the service's input; the code's format is checked first.
    pub fn parse(self, request_id: Option<String>) -> Result<DeliverInput> {
        Ok(DeliverInput {
            code: parse_code(&self.code)?,
            to: PhoneNumber::parse(&self.to)?,
            locale: self.locale.as_deref().map(Locale::parse).transpose()?,
            template: parse_template(self.template)?,
            risk: RawRisk::read(self.risk_context.as_ref())?,
            metadata: parse_metadata(self.metadata.as_ref())?,
            request_id: request_id.filter(|s| !s.is_empty()),
            source: DeliverySource::Api,
        })
    }
}

fn json(status: StatusCode, view: &DeliveryRecordView) -> Result<Response> {
    let body = serde_json::to_string(view).map_err(|e| Error::Internal(e.to_string()))?;
    let mut r = (status, body).into_response();
    r.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(r)
}

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
        let mut canonical = b"delivery:".to_vec();
        canonical.extend(serde_json::to_vec(&body).unwrap_or_default());
        let input = body.parse(Some(request_id))?;
        let (view, replayed, rate) =
            deliver(&state.service, &tenant, input, &canonical, key).await?;
        let mut resp = json(StatusCode::CREATED, &view)?;
        if replayed {
            resp.headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
        }
        Ok::<_, Error>((resp, rate))
    }
    .await;
    super::verifications::rated(&tenant, r)
}

type Delivered = (DeliveryRecordView, bool, crate::service::RateInfo);

async fn deliver(
    svc: &Service,
    tenant: &Tenant,
    input: DeliverInput,
    canonical: &[u8],
    key: Option<String>,
) -> Result<Delivered> {
    let Some(key) = key else {
        let (v, rate) = svc.deliver(tenant, input).await?;
        return Ok((DeliveryRecordView::new(&v, now_millis()), false, rate));
    };
    let (key, fp) = svc.idempotency_names(tenant, &key, canonical);
    let conflict = |m: &str| Err(Error::IdempotencyConflict(m.into()));
    match svc.idempotency_begin(tenant, &key, &fp).await? {
        IdempotencyBegin::Reserved => {}
        IdempotencyBegin::Replay(_, body) => return replay(svc, tenant, &body).await,
        IdempotencyBegin::Mismatch => {
            return conflict("this Idempotency-Key was used with a different request")
        }
        IdempotencyBegin::InProgress => {
            return conflict("a request with this Idempotency-Key is still being processed")
        }
        IdempotencyBegin::StoreFull(ms) => {
            return Err(Error::store_full(std::time::Duration::from_millis(
                ms.max(0) as u64,
            )))
        }
    }
    match svc.deliver(tenant, input).await {
        Ok((v, rate)) => {
            let view = DeliveryRecordView::new(&v, now_millis());
            let mut kept = view.clone();
            kept.to = String::new();
            kept.metadata = Value::Null;
            let body = serde_json::to_string(&kept).map_err(|e| Error::Internal(e.to_string()))?;
            svc.idempotency_finish(tenant, &key, &fp, (201, &body), &v)
                .await;
            Ok((view, false, rate))
        }
        Err(e) => {
            svc.idempotency_abort(tenant, &key).await;
            Err(e)
        }
    }
}

async fn replay(svc: &Service, tenant: &Tenant, body: &str) -> Result<Delivered> {
    let mut view: DeliveryRecordView = serde_json::from_str(body)
        .map_err(|e| Error::Internal(format!("stored idempotent response: {e}")))?;
    let id = DeliveryId::parse(&view.id)
        .map_err(|_| Error::Internal("stored idempotent response without an id".into()))?;
    let v = match svc.delivery(tenant, &id).await {
        Ok(v) => v,
        Err(Error::DeliveryNotFound(_)) => {
            return Err(Error::IdempotencyConflict(
                "the delivery this Idempotency-Key made is no longer kept; \
                 use a new key to send another"
                    .into(),
            ))
        }
        Err(e) => return Err(e),
    };
    view.to = v.to.as_str().to_string();
    view.metadata = DeliveryRecordView::new(&v, now_millis()).metadata;
    Ok((view, true, Default::default()))
}

fn path_id(id: &Result<Path<String>, PathRejection>) -> Result<DeliveryId> {
    DeliveryId::parse(id.as_ref().map(|Path(s)| s.as_str()).unwrap_or(""))
}

/// `GET /v1/deliveries/{id}`: where the message is.
pub async fn get(
    State(state): State<AppState>,
    Auth(tenant): Auth,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response> {
    let v = state.service.delivery(&tenant, &path_id(&id)?).await?;
    json(StatusCode::OK, &DeliveryRecordView::new(&v, now_millis()))
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
    let id = path_id(&id)?;
    let risk = RawRisk::read(body.unwrap_or_default().risk_context.as_ref())?;
    let (v, _) = state.service.confirm_delivery(&tenant, &id, risk).await?;
    json(StatusCode::OK, &DeliveryRecordView::new(&v, now_millis()))
}
