//! `POST /v1/hooks/supabase/send-sms/{tenant}`: Supabase Auth's Send SMS hook.
//!
//! Supabase Auth calls it instead of its own SMS provider with
//! `{"user": {"phone": …, …}, "sms": {"otp": …}}`, signed with Standard Webhooks
//! (`webhook-id`, `webhook-timestamp`, `webhook-signature`; secrets `v1,whsec_…`).
//! Contract: <https://supabase.com/docs/guides/auth/auth-hooks/send-sms-hook> and
//! <https://supabase.com/docs/guides/auth/auth-hooks> (HTTP hooks: `200`/`202`/`204` is
//! success and a JSON body's `{"error": {"http_code", "message"}}` is the error Supabase
//! shows its user; `429`/`503` with `Retry-After` are retried, under a new
//! `webhook-id`; `400` and `401` become its own `500`). Supabase Auth's source agrees:
//! `internal/hooks/v0hooks/v0http` reads a body only from `200`/`202`/`204` and retries
//! `429`/`503` with `Retry-After`; `SendSMSOutput` is an error when its
//! `error.message` is set, answered with `error.http_code`.
//!
//! So: success is `200 {}`; a refusal of the send itself (limits, the pumping guard,
//! geo, a number we cannot send to) is `200` with the error object carrying our status
//! and message, for Supabase to show; a store outage is `503` with `Retry-After`
//! (retried); and calls that are not Supabase's (no or wrong signature, stale or future
//! timestamp, a replayed `webhook-id`, a wrong content type, an oversized body, a tenant
//! without the hook) are refused with their own status and the same error object,
//! before anything is sent. The phone number arrives without `+` (Supabase stores
//! E.164 digits); it is read as E.164 either way.
//!
//! Checked in this order, cheapest first, nothing read before it is needed: the tenant
//! has the hook (`404`), `Content-Type: application/json` (`415`), the body within the
//! hook's limit (`413`), the signature and timestamp (`401`), the id not seen before
//! (`409`; kept in the store for twice the tolerance), the payload (`400`), then the
//! send.

use super::extract::read_limited;
use super::AppState;
use crate::crypto::webhook_sig::{self, SignedCall};
use crate::domain::{now_millis, OtpCode, PhoneNumber};
use crate::error::Error;
use crate::service::{DeliverInput, DeliverySource, Tenant};
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

/// The part of Supabase's payload the send needs; everything else is ignored.
#[derive(Deserialize)]
struct Payload {
    user: User,
    sms: Sms,
}

#[derive(Deserialize)]
struct User {
    phone: String,
}

#[derive(Deserialize)]
struct Sms {
    otp: String,
}

/// An answer in Supabase's hook shape: `status`, `{"error": {"http_code", "message"}}`.
fn hook_error(status: u16, http_code: u16, message: &str) -> Response {
    let body = json!({ "error": { "http_code": http_code, "message": message } });
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, axum::Json(body)).into_response()
}

/// A refusal before the call is trusted: the status is also the `http_code`.
fn refused(state: &AppState, outcome: &str, status: u16, message: &str) -> Response {
    state
        .metrics
        .hook_calls
        .with_label_values(&["supabase", outcome])
        .inc();
    hook_error(status, status, message)
}

/// A refusal of the send by our policy or state, as Supabase takes it.
fn send_error(e: &Error) -> Response {
    let status = e.http_status();
    if status == 503 {
        let mut r = hook_error(503, 503, &e.to_string());
        let secs = e.retry_after().map_or(1, crate::error::retry_after_secs);
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return r;
    }
    if status == 500 {
        return hook_error(500, 500, "internal error");
    }
    hook_error(200, status, &e.to_string())
}

fn text<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// `POST /v1/hooks/supabase/send-sms/{tenant}`.
pub async fn supabase_send_sms(
    State(state): State<AppState>,
    tenant: Result<Path<String>, PathRejection>,
    req: Request<Body>,
) -> Response {
    let id = tenant.as_ref().map(|Path(s)| s.as_str()).unwrap_or("");
    let found = state.service.tenants().get(id);
    let Some((tenant, hook)) = found.and_then(|t| {
        let h = t.cfg.hooks.supabase.clone()?;
        Some((t, h))
    }) else {
        return refused(&state, "not_found", 404, "no Supabase hook here");
    };
    let (parts, body) = req.into_parts();
    let ct = text(&parts.headers, "content-type").unwrap_or("");
    let mime = ct.split(';').next().unwrap_or("").trim();
    if !mime.eq_ignore_ascii_case("application/json") {
        let m = "Content-Type must be application/json";
        return refused(&state, "invalid", 415, m);
    }
    let limit = hook.body_limit();
    let Ok(bytes) = read_limited(&parts.headers, body, limit).await else {
        let m = format!("the body is larger than {limit} bytes");
        return refused(&state, "invalid", 413, &m);
    };
    let call = SignedCall {
        id: text(&parts.headers, "webhook-id"),
        timestamp: text(&parts.headers, "webhook-timestamp"),
        signature: text(&parts.headers, "webhook-signature"),
    };
    let tolerance = hook.tolerance();
    let now_secs = now_millis() / 1000;
    let call_id = match webhook_sig::verify(&hook.keys(), call, &bytes, now_secs, tolerance) {
        Ok(id) => id,
        Err(e) => {
            let m = match e {
                webhook_sig::SigError::MissingHeader(h) => format!("missing `{h}`"),
                webhook_sig::SigError::BadTimestamp => "`webhook-timestamp` is not a number".into(),
                webhook_sig::SigError::OutOfTolerance => {
                    "`webhook-timestamp` is too far from now".into()
                }
                webhook_sig::SigError::NoMatch => "no signature matches".into(),
            };
            return refused(&state, e.as_str(), 401, &m);
        }
    };
    let svc = &state.service;
    let ttl_ms = tolerance * 2 * 1000 + 1000;
    let reserved = match svc
        .hook_call_begin(&tenant, "supabase", call_id, ttl_ms)
        .await
    {
        Ok(Some(c)) => c,
        Ok(None) => {
            let m = "this webhook-id was seen before; a replay sends nothing";
            return refused(&state, "replayed", 409, m);
        }
        Err(e) => return send_error(&e),
    };
    let r = handle(&tenant, hook.template.clone(), &bytes, svc).await;
    let retry = matches!(&r, Err(e) if e.http_status() == 503);
    svc.hook_call_end(&tenant, reserved, !retry).await;
    let outcome = match &r {
        Ok(()) => "accepted",
        Err(Error::InvalidRequest(_)) => "invalid",
        Err(_) => "refused",
    };
    state
        .metrics
        .hook_calls
        .with_label_values(&["supabase", outcome])
        .inc();
    match r {
        Ok(()) => (StatusCode::OK, axum::Json(json!({}))).into_response(),
        Err(e @ Error::InvalidRequest(_)) => hook_error(400, 400, &e.to_string()),
        Err(e) => send_error(&e),
    }
}

/// A verified call: its payload read and its code delivered.
async fn handle(
    tenant: &Tenant,
    template: Option<String>,
    body: &[u8],
    svc: &crate::service::Service,
) -> Result<(), Error> {
    let p: Payload = serde_json::from_slice(body).map_err(|_| {
        Error::InvalidRequest("the payload must be {user: {phone}, sms: {otp}}".into())
    })?;
    let phone = p.user.phone.trim();
    let e164 = if phone.starts_with('+') {
        phone.to_string()
    } else {
        format!("+{phone}")
    };
    let input = DeliverInput {
        to: PhoneNumber::parse(&e164)?,
        code: OtpCode::parse(p.sms.otp.trim())?,
        locale: None,
        template,
        risk: None,
        metadata: None,
        request_id: None,
        source: DeliverySource::Supabase,
    };
    svc.deliver(tenant, input).await.map(|_| ())
}
