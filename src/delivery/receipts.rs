//! Delivery receipts, transport-free: the named provider instance's adapter verifies
//! the vendor's signature and parses the body; each update it reports is matched to our
//! message and applied once per (provider, message id, status)
//! ([`crate::store::progress`]): a vendor's retry or a replay changes nothing, and a
//! final status never moves. The HTTP endpoint (`api/http/receipts.rs`) only frames it.

use super::Router;
use crate::domain::now_millis;
use crate::error::{Error, Result};
use crate::providers::{ReceiptError, ReceiptRequest};
use crate::store::{receipt_mark, ReceiptApplied, Store, StoreError};

/// Whether `provider` names a provider instance of this gateway (the endpoint answers
/// `404` before reading a body otherwise).
pub fn knows(router: &Router, provider: &str) -> bool {
    router.slot(provider).is_some()
}

fn unavailable(e: StoreError) -> Error {
    tracing::warn!(error = %e, "store call failed");
    Error::store_unavailable("the verification store is unavailable; try again shortly")
}

/// Verifies, parses and applies one receipt callback; the number of statuses it moved.
/// A receipt none of whose updates matches a message of this gateway is `404`.
pub async fn apply(
    router: &Router,
    store: &dyn Store,
    provider: &str,
    req: &ReceiptRequest<'_>,
) -> Result<u32> {
    let slot = router.slot(provider).ok_or_else(|| {
        Error::RouteNotFound("no provider of that name takes receipts here".into())
    })?;
    let receipts = slot.provider.parse_receipt(req).map_err(|e| {
        tracing::warn!(provider = %provider, error = %e, "receipt refused");
        match e {
            ReceiptError::NotSupported => {
                Error::RouteNotFound(format!("provider `{provider}` sends no delivery receipts"))
            }
            ReceiptError::Unsigned => Error::Unauthorized(e.to_string()),
            ReceiptError::Forged => Error::Forbidden(e.to_string()),
            ReceiptError::Malformed(m) => Error::InvalidRequest(format!("malformed receipt: {m}")),
        }
    })?;
    let (mut matched, mut updated) = (0, 0);
    for r in &receipts {
        let Some(id) = store
            .find_provider_message(provider, &r.message_id)
            .await
            .map_err(unavailable)?
        else {
            tracing::info!(provider = %provider, "receipt for a message id this gateway does not know");
            continue;
        };
        matched += 1;
        let reason = r
            .detail
            .as_deref()
            .map(|d| format!("reported by {provider}: {d}"));
        let mark = receipt_mark(provider, &r.message_id, r.status);
        let applied = store
            .apply_receipt(
                &id,
                &mark,
                r.status,
                provider,
                reason.as_deref(),
                now_millis(),
            )
            .await
            .map_err(unavailable)?;
        let outcome = match applied {
            ReceiptApplied::Moved => {
                updated += 1;
                "applied"
            }
            ReceiptApplied::Unchanged => "no change",
            ReceiptApplied::Replayed => "replay ignored",
        };
        tracing::info!(id = id.as_str(), provider = %provider, status = r.status.as_str(), detail = r.detail.as_deref().unwrap_or(""), outcome, "delivery receipt");
    }
    if matched == 0 && !receipts.is_empty() {
        return Err(Error::NotFound(
            "no message of this gateway matches the receipt".into(),
        ));
    }
    Ok(updated)
}
