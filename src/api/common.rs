//! What both transports share: the raw request fields, their parsing into domain types,
//! the verification view both render, and the idempotent start.
//!
//! HTTP and gRPC differ only in framing; putting the rest here keeps them from drifting
//! (the same validation messages, the same idempotency semantics, the same view). The
//! start's idempotency and the view are the service's ([`crate::service::view`]).

use crate::domain::*;
use crate::error::{Error, Result};
pub use crate::service::{error_rate, DeliveryView, StartResult, VerificationView};
use crate::service::{CheckBy, RateInfo, Service, StartInput, Tenant};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Largest `metadata` object, serialized.
pub const MAX_METADATA_BYTES: usize = 1024;

/// Start request fields as received. Unknown JSON fields are rejected.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStart {
    /// Destination, E.164.
    pub to: String,
    /// Channel name.
    pub channel: Option<String>,
    /// Named workflow (instead of `channel`).
    pub workflow: Option<String>,
    /// BCP 47 locale.
    pub locale: Option<String>,
    /// Digits.
    pub code_length: Option<i64>,
    /// Named template.
    pub template: Option<String>,
    /// Android app hash.
    pub app_hash: Option<String>,
    /// End user's IP.
    pub client_ip: Option<String>,
    /// Caller metadata (must be an object).
    pub metadata: Option<Value>,
    /// What the caller knows of the end user, for the pumping guard ([`RawRisk`]).
    pub risk_context: Option<Value>,
}

/// `risk_context` as received (start and check). Unknown fields are rejected.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawRisk {
    /// Browser or app user agent.
    pub user_agent: Option<String>,
    /// The end user's session.
    pub session_id: Option<String>,
    /// The end user's device.
    pub device_id: Option<String>,
    /// A CAPTCHA or bot score, 0 (bot) to 1 (human).
    pub captcha_score: Option<f64>,
    /// The end user passed the caller's challenge after `challenge_required`.
    pub challenge_passed: Option<bool>,
}

impl RawRisk {
    /// Reads a request's `risk_context` (absent or `null`: none) into the domain type;
    /// every error names the field.
    pub fn read(v: Option<&Value>) -> Result<Option<RiskContext>> {
        let bad = |m: String| Error::InvalidRequest(format!("`risk_context`{m}"));
        let obj = match v {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::Object(o)) => o,
            Some(_) => return Err(bad(" must be an object".into())),
        };
        let mut raw = RawRisk::default();
        for (k, v) in obj {
            let wrong = |what: &str| bad(format!(".{k} must be {what}"));
            let text = || match v {
                Value::Null => Ok(None),
                Value::String(s) => Ok(Some(s.clone())),
                _ => Err(wrong("a string")),
            };
            match k.as_str() {
                "user_agent" => raw.user_agent = text()?,
                "session_id" => raw.session_id = text()?,
                "device_id" => raw.device_id = text()?,
                "captcha_score" => {
                    raw.captcha_score = match v {
                        Value::Null => None,
                        Value::Number(n) => n.as_f64(),
                        _ => return Err(wrong("a number from 0 to 1")),
                    }
                }
                "challenge_passed" => {
                    raw.challenge_passed = match v {
                        Value::Null => None,
                        Value::Bool(b) => Some(*b),
                        _ => return Err(wrong("true or false")),
                    }
                }
                _ => {
                    let name: String = k.chars().take(64).collect();
                    return Err(bad(format!(": unknown field `{name}`")));
                }
            }
        }
        raw.parse().map(Some)
    }

    /// Parses into the domain type.
    pub fn parse(&self) -> Result<RiskContext> {
        RiskContext::parse(
            self.user_agent.as_deref(),
            self.session_id.as_deref(),
            self.device_id.as_deref(),
            self.captcha_score,
            self.challenge_passed,
        )
    }
}

/// Check request fields as received.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCheck {
    /// Number of the pending verification.
    pub to: Option<String>,
    /// Or the verification id.
    pub id: Option<String>,
    /// The code (must be a string of digits).
    pub code: Option<Value>,
    /// End user's IP: failed checks are counted per (number, IP).
    pub client_ip: Option<String>,
    /// End user's session (opaque): failed checks are counted per (number, session).
    pub client_session: Option<String>,
    /// What the caller knows of the end user: an approval counts for its sources
    /// ([`RawRisk`]).
    pub risk_context: Option<Value>,
}

impl RawStart {
    /// Canonical form for the idempotency fingerprint: the same request over either
    /// transport, whatever its whitespace or field order, has the same form.
    pub fn canonical(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Parses into domain types.
    pub fn parse(self, request_id: Option<String>) -> Result<StartInput> {
        let metadata = match self.metadata {
            None | Some(Value::Null) => None,
            Some(Value::Object(m)) => {
                let text = serde_json::to_string(&m).map_err(|e| Error::Internal(e.to_string()))?;
                if text.len() > MAX_METADATA_BYTES {
                    return Err(Error::InvalidRequest(format!(
                        "`metadata` is larger than {MAX_METADATA_BYTES} bytes"
                    )));
                }
                Some(text)
            }
            Some(_) => {
                return Err(Error::InvalidRequest(
                    "`metadata` must be a JSON object".into(),
                ))
            }
        };
        let template = match self.template {
            Some(t)
                if t.is_empty()
                    || t.len() > 64
                    || !t
                        .bytes()
                        .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-') =>
            {
                return Err(Error::InvalidRequest(
                    "`template` must be 1..64 of [A-Za-z0-9_-]".into(),
                ))
            }
            t => t,
        };
        let channel = self.channel.as_deref().map(Channel::parse).transpose()?;
        let workflow = match self.workflow {
            Some(_) if channel.is_some() => {
                return Err(Error::InvalidRequest(
                    "give `channel` or `workflow`, not both".into(),
                ))
            }
            Some(w) => Some(crate::domain::WorkflowName::parse(&w)?),
            None => None,
        };
        let to = match channel {
            Some(c) => Destination::parse_for(c, &self.to)?,
            None => Destination::parse(&self.to)?,
        };
        Ok(StartInput {
            to,
            channel,
            workflow,
            locale: self.locale.as_deref().map(Locale::parse).transpose()?,
            code_length: self.code_length.map(CodeLength::new).transpose()?,
            template,
            app_hash: self.app_hash.as_deref().map(AppHash::parse).transpose()?,
            client_ip: self.client_ip.as_deref().map(parse_client_ip).transpose()?,
            risk: RawRisk::read(self.risk_context.as_ref())?,
            metadata,
            request_id: request_id.filter(|s| !s.is_empty()),
        })
    }
}

impl RawCheck {
    /// Parses into a target, a code and the client it comes from; the code's format is
    /// checked first, so a malformed code never costs an attempt.
    pub fn parse(self) -> Result<(CheckBy, OtpCode, CheckClient)> {
        let code = match &self.code {
            Some(Value::String(s)) => OtpCode::parse(s)?,
            Some(_) => {
                return Err(Error::InvalidCodeFormat(
                    "`code` must be a string of 4 to 10 digits".into(),
                ))
            }
            None => return Err(Error::InvalidRequest("`code` is required".into())),
        };
        let by = match (self.to, self.id) {
            (Some(to), None) => CheckBy::To(Destination::parse(&to)?),
            (None, Some(id)) => CheckBy::Id(VerificationId::parse(&id)?),
            _ => {
                return Err(Error::InvalidRequest(
                    "give exactly one of `to` and `id`".into(),
                ))
            }
        };
        let client = CheckClient {
            ip: self.client_ip.as_deref().map(parse_client_ip).transpose()?,
            session: self
                .client_session
                .as_deref()
                .map(ClientSession::parse)
                .transpose()?,
            risk: RawRisk::read(self.risk_context.as_ref())?,
        };
        Ok((by, code, client))
    }
}

/// Validates an `Idempotency-Key`. The store only ever sees its keyed hash
/// ([`Service::idempotency_names`]).
pub fn idempotency_key(raw: Option<&[u8]>) -> Result<Option<String>> {
    let Some(v) = raw else { return Ok(None) };
    let ok = (1..=255).contains(&v.len()) && v.iter().all(|b| (0x21..=0x7e).contains(b));
    if !ok {
        return Err(Error::InvalidRequest(
            "Idempotency-Key must be 1..255 visible ASCII characters".into(),
        ));
    }
    Ok(Some(String::from_utf8_lossy(v).into_owned()))
}

/// Checks a code.
pub async fn check(svc: &Service, tenant: &Tenant, raw: RawCheck) -> Result<VerificationView> {
    check_rated(svc, tenant, raw).await.map(|(v, _)| v)
}

/// Checks a code; also the limits that applied.
pub async fn check_rated(
    svc: &Service,
    tenant: &Tenant,
    raw: RawCheck,
) -> Result<(VerificationView, RateInfo)> {
    let (by, code, client) = raw.parse()?;
    let ((v, valid), rate) = svc.check_rated(tenant, by, &code, &client).await?;
    Ok((VerificationView::new(&v, now_millis(), Some(valid)), rate))
}

/// Reads a verification.
pub async fn get(svc: &Service, tenant: &Tenant, id: &str) -> Result<VerificationView> {
    let v = svc.get(tenant, &VerificationId::parse(id)?).await?;
    Ok(VerificationView::new(&v, now_millis(), None))
}

/// Cancels a verification.
pub async fn cancel(svc: &Service, tenant: &Tenant, id: &str) -> Result<VerificationView> {
    let v = svc.cancel(tenant, &VerificationId::parse(id)?).await?;
    Ok(VerificationView::new(&v, now_millis(), None))
}

/// Moves a workflow verification to its next step now.
pub async fn next_step(svc: &Service, tenant: &Tenant, id: &str) -> Result<VerificationView> {
    let v = svc.next_step(tenant, &VerificationId::parse(id)?).await?;
    Ok(VerificationView::new(&v, now_millis(), None))
}

/// Starts a verification, honouring an idempotency key if given.
pub async fn start(
    svc: &Service,
    tenant: &Tenant,
    raw: RawStart,
    idempotency_key: Option<String>,
    request_id: Option<String>,
) -> Result<StartResult> {
    let canonical = raw.canonical();
    let input = raw.parse(request_id)?;
    svc.start_idempotent(tenant, input, &canonical, idempotency_key)
        .await
}
