//! What HTTP (`/v1/deliveries`) and gRPC (`Deliver`, `GetDelivery`, `ConfirmDelivery`)
//! share for delivery-only sends of codes made elsewhere: the raw request and its parsing
//! into the service's input, the create with its idempotency, the read and the
//! confirmation, each answering the delivery's view. The policy is the service's
//! ([`crate::service::DeliverInput`]).
//!
//! `code` is 4..10 ASCII digits and nothing else: this is no free-text SMS relay, the
//! text is always the tenant's template around the code. An idempotency key works as
//! for a start: the first answer is kept without `to` and `metadata` (a keyed
//! fingerprint of the request, never the code), and a replay fills them in from the
//! live record.

use super::common::{RawRisk, MAX_METADATA_BYTES};
use crate::domain::{now_millis, DeliveryId, Locale, OtpCode, PhoneNumber};
use crate::error::{Error, Result};
use crate::service::{
    DeliverInput, DeliveryRecordView, DeliverySource, IdempotencyBegin, RateInfo, Service, Tenant,
};
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

/// A create's answer: the view, whether it replays a first answer, the limits' state.
pub struct Delivered {
    /// The delivery.
    pub view: DeliveryRecordView,
    /// Answered from an earlier request with the same idempotency key.
    pub replayed: bool,
    /// The limits' state, for the rate-limit headers or metadata.
    pub rate: RateInfo,
}

/// Delivers a code made elsewhere, honouring an idempotency key if given.
pub async fn create(
    svc: &Service,
    tenant: &Tenant,
    raw: RawDelivery,
    key: Option<String>,
    request_id: Option<String>,
) -> Result<Delivered> {
    let mut canonical = b"delivery:".to_vec();
    canonical.extend(serde_json::to_vec(&raw).unwrap_or_default());
    let input = raw.parse(request_id)?;
    let done = |v: &crate::domain::Verification, rate| Delivered {
        view: DeliveryRecordView::new(v, now_millis()),
        replayed: false,
        rate,
    };
    let Some(key) = key else {
        let (v, rate) = svc.deliver(tenant, input).await?;
        return Ok(done(&v, rate));
    };
    let (key, fp) = svc.idempotency_names(tenant, &key, &canonical);
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
            let out = done(&v, rate);
            let mut kept = out.view.clone();
            kept.to = String::new();
            kept.metadata = Value::Null;
            let body = serde_json::to_string(&kept).map_err(|e| Error::Internal(e.to_string()))?;
            svc.idempotency_finish(tenant, &key, &fp, (201, &body), &v)
                .await;
            Ok(out)
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
    Ok(Delivered {
        view,
        replayed: true,
        rate: Default::default(),
    })
}

/// Reads a delivery (`id` as received).
pub async fn get(svc: &Service, tenant: &Tenant, id: &str) -> Result<DeliveryRecordView> {
    let v = svc.delivery(tenant, &DeliveryId::parse(id)?).await?;
    Ok(DeliveryRecordView::new(&v, now_millis()))
}

/// Confirms a delivery (`id` as received): an approval for the pumping guard, counted
/// once, for the number's levels and the sources `risk_context` names.
pub async fn confirm(
    svc: &Service,
    tenant: &Tenant,
    id: &str,
    risk_context: Option<&Value>,
) -> Result<DeliveryRecordView> {
    let id = DeliveryId::parse(id)?;
    let risk = RawRisk::read(risk_context)?;
    let (v, _) = svc.confirm_delivery(tenant, &id, risk).await?;
    Ok(DeliveryRecordView::new(&v, now_millis()))
}
