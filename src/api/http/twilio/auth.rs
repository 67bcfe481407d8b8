//! Who calls the facade: HTTP Basic with a tenant's Twilio credentials (Account SID and
//! Auth Token, or API key SID and secret; compared in constant time by `tenants`), for a
//! Service SID that tenant owns. Missing or wrong credentials answer `20003`; a Service
//! SID the credentials do not own answers `20404` before anything is read, so another
//! tenant's data never shows.

use super::render::Ctx;
use super::TwilioError;
use crate::api::http::AppState;
use crate::error::Error;
use crate::service::Tenant;
use axum::extract::FromRequestParts;
use axum::http::{header, request::Parts};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use std::sync::Arc;

/// Longest `Authorization` value looked at.
const MAX_AUTH_LEN: usize = 512;

/// A request authenticated by Twilio credentials, for a Service SID they own.
pub struct Caller {
    /// The tenant the credentials belong to.
    pub tenant: Arc<Tenant>,
    service_sid: String,
    /// The request path (Twilio names it in a `20404`).
    pub path: String,
    base: String,
}

impl Caller {
    /// What the resources of this request share.
    pub fn ctx(&self) -> Ctx<'_> {
        Ctx {
            tenant: &self.tenant,
            service_sid: &self.service_sid,
            account_sid: self
                .tenant
                .cfg
                .twilio
                .as_ref()
                .map(|t| t.account_sid.as_str())
                .unwrap_or(""),
            base: self.base.clone(),
        }
    }

    /// `e` as Twilio's error document.
    pub fn fail(&self, e: Error) -> Response {
        TwilioError::new(e, &self.path).into_response()
    }
}

/// `user:password` of an `Authorization: Basic` header.
fn basic(parts: &Parts) -> Option<(String, String)> {
    let v = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    if v.len() > MAX_AUTH_LEN {
        return None;
    }
    let (scheme, b64) = v.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (user, pass) = text.split_once(':')?;
    Some((user.to_string(), pass.to_string()))
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = TwilioError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, TwilioError> {
        let path = parts.uri.path().to_string();
        let fail = |e: Error| TwilioError::new(e, &path);
        let (user, pass) =
            basic(parts).ok_or_else(|| fail(Error::Unauthorized("no Basic credentials".into())))?;
        let tenant = state
            .service
            .tenants()
            .authenticate_twilio(&user, &pass)
            .ok_or_else(|| fail(Error::Unauthorized("unknown credentials".into())))?;
        let service_sid = path.split('/').nth(3).unwrap_or("").to_string();
        let owned = tenant.cfg.twilio.as_ref().is_some_and(|t| {
            t.service_sids
                .iter()
                .any(|s| s.eq_ignore_ascii_case(&service_sid))
        });
        if !owned {
            return Err(fail(Error::NotFound("unknown service".into())));
        }
        let base = match &state.public_base_url {
            Some(b) => b.trim_end_matches('/').to_string(),
            None => {
                let host = parts
                    .headers
                    .get(header::HOST)
                    .and_then(|h| h.to_str().ok())
                    .filter(|h| h.bytes().all(|b| b.is_ascii_graphic()))
                    .unwrap_or("localhost");
                format!("http://{host}")
            }
        };
        Ok(Caller {
            tenant,
            service_sid,
            path,
            base,
        })
    }
}
