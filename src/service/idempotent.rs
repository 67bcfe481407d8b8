//! The start both transports call, with its idempotency.
//!
//! The store keeps, under a keyed hash of the client's key, a keyed fingerprint of the
//! request and the first answer *without* its personal data (`to` and `metadata`
//! blanked), until the verification's retention ends (its `expires_at` plus the
//! tenant's `retention_secs`; the reservation before it, for the code's TTL plus the
//! retention). A replay fills them back in from the live verification, so it answers
//! exactly what the first request answered; once the verification is gone (approved or
//! canceled and past retention) there is nothing to answer with and the replay is
//! `409 idempotency_conflict`.

use super::view::{metadata_view, StartResult, VerificationView};
use super::{Service, StartInput, Started, Tenant};
use crate::domain::*;
use crate::error::{Error, Result};
use crate::ratelimit::headers::RateInfo;
use crate::store::IdempotencyBegin;
use serde_json::Value;

impl Service {
    /// Starts a verification, honouring an idempotency key if given; `canonical` is the
    /// request's canonical form (the fingerprint's input).
    pub async fn start_idempotent(
        &self,
        tenant: &Tenant,
        input: StartInput,
        canonical: &[u8],
        idempotency_key: Option<String>,
    ) -> Result<StartResult> {
        start(self, tenant, input, canonical, idempotency_key).await
    }
}

async fn start(
    svc: &Service,
    tenant: &Tenant,
    input: StartInput,
    canonical: &[u8],
    idempotency_key: Option<String>,
) -> Result<StartResult> {
    let Some(key) = idempotency_key else {
        return run_start(svc, tenant, input).await.map(|(r, _)| r);
    };
    let (key, fp) = svc.idempotency_names(tenant, &key, canonical);
    match svc.idempotency_begin(tenant, &key, &fp).await? {
        IdempotencyBegin::Reserved => {}
        IdempotencyBegin::Replay(status, body) => return replay(svc, tenant, status, &body).await,
        IdempotencyBegin::Mismatch => {
            return Err(Error::IdempotencyConflict(
                "this Idempotency-Key was used with a different request".into(),
            ))
        }
        IdempotencyBegin::InProgress => {
            return Err(Error::IdempotencyConflict(
                "a request with this Idempotency-Key is still being processed".into(),
            ))
        }
        IdempotencyBegin::StoreFull(ms) => {
            return Err(Error::store_full(std::time::Duration::from_millis(
                ms.max(0) as u64,
            )))
        }
    }
    match run_start(svc, tenant, input).await {
        Ok((r, v)) => {
            let mut kept = r.view.clone();
            kept.to = String::new();
            kept.metadata = Value::Null;
            let body = serde_json::to_string(&kept).map_err(|e| Error::Internal(e.to_string()))?;
            let status = if r.created { 201 } else { 200 };
            svc.idempotency_finish(tenant, &key, &fp, (status, &body), &v)
                .await;
            Ok(r)
        }
        Err(e) => {
            svc.idempotency_abort(tenant, &key).await;
            Err(e)
        }
    }
}

/// The first answer again: the stored part, with the number and metadata read back
/// from the live verification.
async fn replay(svc: &Service, tenant: &Tenant, status: u16, body: &str) -> Result<StartResult> {
    let mut view: VerificationView = serde_json::from_str(body)
        .map_err(|e| Error::Internal(format!("stored idempotent response: {e}")))?;
    let id = VerificationId::parse(&view.id)
        .map_err(|_| Error::Internal("stored idempotent response without an id".into()))?;
    let v = match svc.get(tenant, &id).await {
        Ok(v) => v,
        Err(Error::NotFound(_)) => {
            return Err(Error::IdempotencyConflict(
                "the verification this Idempotency-Key started is no longer kept; \
                 use a new key to start another"
                    .into(),
            ))
        }
        Err(e) => return Err(e),
    };
    view.to = v.to.as_str().to_string();
    view.metadata = metadata_view(&v);
    Ok(StartResult {
        created: status == 201,
        view,
        replayed: true,
        rate: RateInfo::default(),
    })
}

async fn run_start(
    svc: &Service,
    tenant: &Tenant,
    input: StartInput,
) -> Result<(StartResult, Verification)> {
    let now = now_millis();
    let (started, rate) = svc.start_rated(tenant, input).await?;
    let (created, v) = match started {
        Started::Created(v) => (true, v),
        Started::Resent(v) => (false, v),
    };
    let result = StartResult {
        created,
        view: VerificationView::new(&v, now, None),
        replayed: false,
        rate,
    };
    Ok((result, v))
}
