//! `GET|POST /v1/receipts/{provider}`: delivery receipts from providers.
//!
//! Framing only: the named provider instance's adapter verifies the vendor's signature and
//! parses the body; this handler maps its verdict to an answer and applies the updates.
//!
//! The endpoint is open to anyone until a signature is checked, so it spends as little
//! as it can on strangers, in this order: the provider name is looked up first (an
//! unknown one is `404` before any byte of the body is read); then the body is read up
//! to `receipts.body_limit_bytes` ([`read_limited`]: a larger declared `Content-Length`
//! is `413` at once, a chunked body is cut at the limit); only then does the adapter
//! see it. A `GET` may be a vendor's subscription handshake (Meta's `hub.challenge`),
//! which the adapter answers ([`crate::providers::SmsProvider::handshake`]) before
//! anything is parsed as a receipt.
//!
//! Signatures cover the URL the vendor called, so the gateway must know its public base
//! URL (`receipts.public_base_url`); without it the URL is rebuilt as `http://<Host>`,
//! which is only right when nothing terminates TLS or rewrites the request on the way in
//! (`config::receipts` warns about that at startup).
//!
//! What a receipt does is the service's and delivery's ([`crate::delivery::receipts`]):
//! each is applied once per (provider, message id, status), a vendor's retry or a replay
//! is answered `200` and changes nothing, and a final status never moves.

use super::extract::read_limited;
use super::AppState;
use crate::error::Error;
use crate::service::ReceiptRequest;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// Handles one receipt callback.
pub async fn receive(
    State(state): State<AppState>,
    provider: Result<Path<String>, PathRejection>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Error> {
    // A name that does not even decode cannot be a provider's.
    let provider = provider.map(|Path(p)| p).unwrap_or_default();
    if !state.service.takes_receipts(&provider) {
        return Err(Error::RouteNotFound(
            "no provider of that name takes receipts here".into(),
        ));
    }
    let body = read_limited(&headers, body, state.receipt_body_limit).await?;
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
    // A vendor's subscription handshake (Meta's `GET ?hub.mode=subscribe&…`) is answered
    // with the challenge as text, before anything is parsed as a receipt.
    if method == Method::GET {
        if let Some(challenge) = state.service.receipt_handshake(&provider, &req)? {
            let text = [(
                axum::http::header::CONTENT_TYPE,
                "text/plain; charset=utf-8",
            )];
            return Ok((text, challenge).into_response());
        }
    }
    let updated = state.service.receipt(&provider, &req).await?;
    Ok(Json(json!({ "updated": updated })).into_response())
}
