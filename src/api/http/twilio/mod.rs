//! A Twilio Verify v2 compatible API on the HTTP port, `/v2/Services/{ServiceSid}/…`,
//! so code written against Twilio's SDKs moves here by changing its base URL and
//! credentials. It frames requests only: the same service as `/v1` does the work (codes,
//! limits, the pumping guard, routing, receipts, metrics).
//!
//! - `auth.rs`: Basic credentials onto a tenant and its Service SIDs;
//! - `form.rs`: form bodies parsed strictly into the domain types;
//! - `sid.rs`: `VE…` SIDs onto our verification ids and back;
//! - `render.rs`: Twilio's resources;
//! - `error.rs`: the one mapping of [`Error`] onto Twilio's error codes.
//!
//! Authentication is HTTP Basic (Account SID + Auth Token, or API key SID + secret,
//! `[tenants.<id>.twilio]`); a Service SID the credentials do not own answers `20404`
//! like any unknown resource, before anything is read. A verification shows while it is
//! live (pending, or out of attempts until it expires): Twilio "soft deletes" approved,
//! canceled and expired ones, and so answers `20404` for them, as this facade does.

mod auth;
mod error;
mod form;
mod render;
mod sid;

pub use error::{twilio_code, TwilioError};
pub use sid::{parse_ve, ve_sid};

use super::AppState;
use crate::domain::{now_millis, CheckClient, Status, Verification};
use crate::error::{Error, Result};
use crate::service::{CheckBy, StartInput, Started};
use auth::Caller;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::Router;
use form::Params;
use serde_json::Value;

fn twilio_405(m: MethodRouter<AppState>) -> MethodRouter<AppState> {
    m.fallback(|req: Request| async move {
        TwilioError::new(Error::MethodNotAllowed, req.uri().path()).into_response()
    })
}

/// The `/v2` routes; any other path under `/v2/Services` answers Twilio's `20404`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v2/Services/{service}", twilio_405(get(fetch_service)))
        .route(
            "/v2/Services/{service}/Verifications",
            twilio_405(post(create)),
        )
        .route(
            "/v2/Services/{service}/Verifications/{sid}",
            twilio_405(get(fetch).post(update)),
        )
        .route(
            "/v2/Services/{service}/VerificationCheck",
            twilio_405(post(check)),
        )
        .route(
            "/v2/Services/{service}/{*rest}",
            axum::routing::any(not_found),
        )
}

async fn not_found(req: Request) -> Response {
    TwilioError::new(Error::RouteNotFound(String::new()), req.uri().path()).into_response()
}

fn json(status: StatusCode, v: &Value) -> Response {
    let mut r = (status, v.to_string()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

fn done(c: &Caller, r: Result<Response>) -> Response {
    r.unwrap_or_else(|e| c.fail(e))
}

async fn params(state: &AppState, req: Request, allowed: &[&str]) -> Result<Params> {
    let (parts, body): (_, Body) = req.into_parts();
    Params::read(&parts.headers, body, state.body_limit, allowed).await
}

/// `GET /v2/Services/{ServiceSid}`.
async fn fetch_service(c: Caller) -> Response {
    json(StatusCode::OK, &render::service(&c.ctx()))
}

/// `POST /v2/Services/{ServiceSid}/Verifications`: start, or resend the pending one
/// (same SID, one more entry in `send_code_attempts`), `201` either way as Twilio does.
/// An `Idempotency-Key` header works as on `/v1` (Twilio has none): the same key and
/// form answer the first verification again, with `Idempotent-Replayed: true`.
async fn create(
    State(state): State<AppState>,
    c: Caller,
    super::RequestId(request_id): super::RequestId,
    req: Request,
) -> Response {
    let r = async {
        const ALLOWED: &[&str] = &[
            "To",
            "Channel",
            "Locale",
            "AppHash",
            "CustomFriendlyName",
            "RateLimits",
            "ChannelConfiguration",
            "DeviceIp",
            "RiskCheck",
        ];
        let key = crate::api::common::idempotency_key(
            req.headers().get("idempotency-key").map(|v| v.as_bytes()),
        )?;
        let p = params(&state, req, ALLOWED).await?;
        let to = form::to(p.need("To")?)?;
        let channel = form::channel(p.need("Channel")?)?;
        let to = form::to_for(channel, to)?;
        // The message names the tenant's brand; a per-request name is not offered.
        if p.get("CustomFriendlyName").is_some() {
            return Err(error::invalid("CustomFriendlyName"));
        }
        for name in ["RateLimits", "ChannelConfiguration"] {
            p.parse(name, |v| form::empty_object(name, v))?;
        }
        p.parse("RiskCheck", form::risk_check)?;
        let input = StartInput {
            to,
            channel: Some(channel),
            workflow: None,
            locale: p.parse("Locale", form::locale)?,
            code_length: None,
            template: None,
            app_hash: p.parse("AppHash", form::app_hash)?,
            client_ip: p.parse("DeviceIp", crate::domain::parse_client_ip)?,
            risk: None,
            metadata: None,
            request_id: Some(request_id),
        };
        let Some(key) = key else {
            let v = match state.service.start(&c.tenant, input).await? {
                Started::Created(v) | Started::Resent(v) => v,
            };
            let body = render::verification(&c.ctx(), &v, now_millis());
            return Ok(json(StatusCode::CREATED, &body));
        };
        let canonical = p.canonical();
        let started = state
            .service
            .start_idempotent(&c.tenant, input, &canonical, Some(key))
            .await?;
        // A replay is answered from the live record, as on `/v1`.
        let id = crate::domain::VerificationId::parse(&started.view.id)?;
        let v = state.service.get(&c.tenant, &id).await?;
        let body = render::verification(&c.ctx(), &v, now_millis());
        let mut resp = json(StatusCode::CREATED, &body);
        if started.replayed {
            resp.headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
        }
        Ok(resp)
    }
    .await;
    done(&c, r)
}

/// Whether Twilio still shows a verification: it "soft deletes" finished ones.
fn live(v: &Verification) -> bool {
    matches!(
        v.status_at(now_millis()),
        Status::Pending | Status::MaxAttemptsReached
    )
}

/// The verification a path's `{Sid}` names: a `VE…` SID, or the `To` number of the
/// pending one.
async fn find(state: &AppState, c: &Caller, sid: &str) -> Result<Verification> {
    let gone = || Error::NotFound("no such verification".into());
    let v = if sid.starts_with("VE") {
        let id = parse_ve(sid).ok_or_else(gone)?;
        state.service.get(&c.tenant, &id).await?
    } else {
        let to = form::to(sid).map_err(|_| gone())?;
        state.service.pending(&c.tenant, &to).await?
    };
    if live(&v) {
        Ok(v)
    } else {
        Err(gone())
    }
}

/// The `{Sid}` of the path, percent-decoded (a `To` number's `+` comes as `%2B`).
fn path_sid(path: &str) -> String {
    let raw = path.rsplit('/').next().unwrap_or("");
    percent_decode(raw)
}

fn percent_decode(s: &str) -> String {
    let decoded: Vec<u8> =
        form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
            .next()
            .map(|(_, v)| v.into_owned().into_bytes())
            .unwrap_or_default();
    String::from_utf8(decoded).unwrap_or_default()
}

/// `GET /v2/Services/{ServiceSid}/Verifications/{Sid}` (a `VE…` SID or the `To`).
async fn fetch(State(state): State<AppState>, c: Caller) -> Response {
    let r = async {
        let v = find(&state, &c, &path_sid(&c.path)).await?;
        Ok(json(
            StatusCode::OK,
            &render::verification(&c.ctx(), &v, now_millis()),
        ))
    }
    .await;
    done(&c, r)
}

/// `POST /v2/Services/{ServiceSid}/Verifications/{Sid}` with `Status=canceled` or
/// `Status=approved`.
async fn update(State(state): State<AppState>, c: Caller, req: Request) -> Response {
    let r = async {
        let p = params(&state, req, &["Status"]).await?;
        let target = match p.need("Status")? {
            "canceled" => Status::Canceled,
            "approved" => Status::Approved,
            _ => return Err(error::invalid("Status")),
        };
        let v = find(&state, &c, &path_sid(&c.path)).await?;
        let after = match target {
            Status::Approved => state.service.approve(&c.tenant, &v.id).await?,
            _ => state.service.cancel(&c.tenant, &v.id).await?,
        };
        Ok(json(
            StatusCode::OK,
            &render::verification(&c.ctx(), &after, now_millis()),
        ))
    }
    .await;
    done(&c, r)
}

/// `POST /v2/Services/{ServiceSid}/VerificationCheck` (`To` or `VerificationSid`, and
/// `Code`): `200` with `status` and `valid`.
async fn check(State(state): State<AppState>, c: Caller, req: Request) -> Response {
    let r = async {
        const ALLOWED: &[&str] = &["To", "VerificationSid", "Code"];
        let p = params(&state, req, ALLOWED).await?;
        let by = match (p.get("VerificationSid"), p.get("To")) {
            (Some(sid), _) => CheckBy::Id(
                parse_ve(sid).ok_or_else(|| Error::NotFound("no such verification".into()))?,
            ),
            (None, Some(to)) => CheckBy::To(form::to(to)?),
            (None, None) => return Err(error::invalid("To")),
        };
        let code = form::code(p.need("Code")?)?;
        let client = CheckClient::default();
        let (v, valid) = state.service.check(&c.tenant, by, &code, &client).await?;
        Ok(json(
            StatusCode::OK,
            &render::check(&c.ctx(), &v, valid, now_millis()),
        ))
    }
    .await;
    done(&c, r)
}
