//! Request extractors: API-key auth (and the bearer key it reads), request id, strict
//! JSON bodies (and optional ones), and the bounded body read they and the receipts endpoint share
//! ([`read_limited`]).

use super::AppState;
use crate::error::Error;
use crate::service::Tenant;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{header, request::Parts, HeaderMap};
use serde::de::DeserializeOwned;
use std::sync::Arc;

/// The tenant whose API key authenticated the request.
pub struct Auth(pub Arc<Tenant>);

/// Longest `Authorization` value looked at.
const MAX_AUTH_LEN: usize = 512;

impl FromRequestParts<AppState> for Auth {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        let key = bearer(&parts.headers)?.ok_or_else(|| {
            Error::Unauthorized("missing `Authorization: Bearer <api key>`".into())
        })?;
        state
            .service
            .tenants()
            .authenticate(key)
            .map(Auth)
            .ok_or_else(|| Error::Unauthorized("invalid API key".into()))
    }
}

/// The key of an `Authorization: Bearer <key>` header; `None` when there is no header.
pub fn bearer(headers: &HeaderMap) -> Result<Option<&str>, Error> {
    let Some(raw) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = raw
        .to_str()
        .ok()
        .filter(|v| v.len() <= MAX_AUTH_LEN)
        .ok_or_else(|| Error::Unauthorized("malformed Authorization header".into()))?;
    value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(Some)
        .ok_or_else(|| Error::Unauthorized("Authorization must be `Bearer <api key>`".into()))
}

/// The request id (`x-request-id`), taken from the caller when well-formed, else made.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<RequestId>()
            .cloned()
            .unwrap_or_else(|| RequestId(String::new())))
    }
}

/// The body, at most `limit` bytes, else `413 payload_too_large`: a declared
/// `Content-Length` over the limit is refused before a byte is read, and a body without
/// one (chunked) is cut off as soon as it passes the limit, so no more than `limit`
/// bytes are ever held. A body whose stream breaks is refused the same way.
pub async fn read_limited(
    headers: &axum::http::HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Bytes, Error> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(Error::PayloadTooLarge(limit));
    }
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| Error::PayloadTooLarge(limit))
}

/// A JSON body parsed strictly into `T`, with the raw bytes kept (idempotency).
pub struct JsonBody<T>(pub T, pub Bytes);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = Error;

    async fn from_request(req: Request<Body>, state: &AppState) -> Result<Self, Error> {
        let limit = state.body_limit;
        let ct = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let mime = ct.split(';').next().unwrap_or("").trim();
        if !mime.eq_ignore_ascii_case("application/json") {
            return Err(Error::UnsupportedMediaType(
                "Content-Type must be application/json".into(),
            ));
        }
        let (parts, body) = req.into_parts();
        let bytes = read_limited(&parts.headers, body, limit).await?;
        if bytes.is_empty() {
            return Err(Error::InvalidRequest(
                "request body is empty; send a JSON object".into(),
            ));
        }
        // Serde also reads a struct from a JSON array of its fields in order; only an
        // object is a request body.
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(Error::InvalidRequest(
                "request body must be a JSON object".into(),
            ));
        }
        let value = serde_json::from_slice::<T>(&bytes)
            .map_err(|e| Error::InvalidRequest(format!("invalid JSON body: {e}")))?;
        Ok(JsonBody(value, bytes))
    }
}

/// A JSON body that may be left out: no body (or only whitespace) is `None`; a body
/// sent is read as strictly as [`JsonBody`] (content type, size, an object, no unknown
/// field).
pub struct OptionalJsonBody<T>(pub Option<T>);

impl<T: DeserializeOwned> FromRequest<AppState> for OptionalJsonBody<T> {
    type Rejection = Error;

    async fn from_request(req: Request<Body>, state: &AppState) -> Result<Self, Error> {
        let (parts, body) = req.into_parts();
        let bytes = read_limited(&parts.headers, body, state.body_limit).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJsonBody(None));
        }
        let req = Request::from_parts(parts, Body::from(bytes));
        let JsonBody(v, _) = JsonBody::<T>::from_request(req, state).await?;
        Ok(OptionalJsonBody(Some(v)))
    }
}
