//! `GET|POST /v1/receipts/{provider}`: delivery receipts from providers.
//!
//! Framing only: the named provider instance's adapter verifies the vendor's signature and
//! parses the body; this handler maps its verdict to an answer and applies the updates.
//! Signatures cover the URL the vendor called, so the gateway must know its public base
//! URL (`receipts.public_base_url`); without it the `Host` header is used, which is only
//! right when nothing rewrites the request on the way in.

use super::AppState;
use crate::domain::now_millis;
use crate::error::Error;
use crate::providers::{ReceiptError, ReceiptRequest};
use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// Handles one receipt callback.
pub async fn receive(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Error> {
    let slot = state.router.slot(&provider).ok_or_else(|| {
        Error::RouteNotFound(format!(
            "no provider named `{provider}` takes receipts here"
        ))
    })?;
    let base = match &state.public_base_url {
        Some(b) => b.trim_end_matches('/').to_string(),
        None => {
            let host = headers
                .get("host")
                .and_then(|h| h.to_str().ok())
                .unwrap_or("localhost");
            format!("http://{host}")
        }
    };
    let url = format!(
        "{base}{}",
        uri.path_and_query().map(|p| p.as_str()).unwrap_or("/")
    );
    let req = ReceiptRequest {
        method: method.as_str(),
        url: &url,
        headers: &headers,
        body: &body,
    };
    let receipts = slot.provider.parse_receipt(&req).map_err(|e| {
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
    let store = state.service.store();
    let unavailable = |e: crate::store::StoreError| {
        tracing::warn!(error = %e, "store call failed");
        Error::store_unavailable("the verification store is unavailable; try again shortly")
    };
    let mut updated = 0;
    for r in &receipts {
        let Some(id) = store
            .find_provider_message(&provider, &r.message_id)
            .await
            .map_err(unavailable)?
        else {
            tracing::info!(provider = %provider, "receipt for a message id this gateway does not know");
            continue;
        };
        let reason = r
            .detail
            .as_deref()
            .map(|d| format!("reported by {provider}: {d}"));
        store
            .set_delivery(
                &id,
                r.status,
                Some(&provider),
                reason.as_deref(),
                now_millis(),
            )
            .await
            .map_err(unavailable)?;
        tracing::info!(id = id.as_str(), provider = %provider, status = r.status.as_str(), detail = r.detail.as_deref().unwrap_or(""), "delivery receipt");
        updated += 1;
    }
    if updated == 0 && !receipts.is_empty() {
        return Err(Error::NotFound(
            "no message of this gateway matches the receipt".into(),
        ));
    }
    Ok(Json(json!({ "updated": updated })).into_response())
}
