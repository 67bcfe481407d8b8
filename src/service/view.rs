//! The verification resource as both transports show it, and the outcome of a start:
//! transport-free (the HTTP API serializes it as JSON, gRPC converts it field by field),
//! and what an idempotent start stores and replays.

use crate::domain::{rfc3339, Millis, Verification};
use crate::ratelimit::headers::RateInfo;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The verification resource as both APIs show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerificationView {
    pub id: String,
    pub to: String,
    pub channel: String,
    pub status: String,
    pub created_at: String,
    pub expires_at: String,
    pub send_count: u32,
    pub sends_remaining: u32,
    pub next_resend_at: String,
    pub check_attempts_remaining: u32,
    pub delivery: DeliveryView,
    pub metadata: Value,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub locale: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub valid: Option<bool>,
    /// The workflow it runs; absent when started on one channel.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub workflow: Option<WorkflowView>,
}

/// `workflow` of the resource: every step, those over, the current one, those to come.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkflowView {
    pub name: String,
    pub current_step: u32,
    pub steps: Vec<StepView>,
}

/// One step of `workflow.steps`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepView {
    pub channel: String,
    /// Delivery status of the step (`pending` for a step still to come).
    pub status: String,
    pub provider: Option<String>,
    /// When it started (absent for a step still to come).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub started_at: Option<String>,
    /// When it ended (steps that are over).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub ended_at: Option<String>,
    /// Why the next step began: `failed`, `undelivered`, `timeout` or `requested`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub next_because: Option<String>,
    /// The step's timeout (absent on a last step).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub timeout_secs: Option<u64>,
}

impl WorkflowView {
    /// The workflow of `v` as seen at `now`, if it runs one.
    pub fn of(v: &Verification, now: Millis) -> Option<Self> {
        let w = v.workflow.as_ref()?;
        let secs = |i: usize| {
            w.steps
                .get(i)
                .and_then(|s| s.timeout_ms)
                .map(|t| (t / 1000) as u64)
        };
        let mut steps: Vec<StepView> = v
            .past_steps
            .iter()
            .enumerate()
            .map(|(i, p)| StepView {
                channel: p.channel.as_str().into(),
                status: p.status.as_str().into(),
                provider: p.provider.clone(),
                started_at: Some(rfc3339(p.started_at)),
                ended_at: Some(rfc3339(p.ended_at)),
                next_because: Some(p.why_next.clone()),
                timeout_secs: secs(i),
            })
            .collect();
        let cur = w.current as usize;
        steps.push(StepView {
            channel: v.channel.as_str().into(),
            status: v.delivery_status_at(now).as_str().into(),
            provider: v.delivery.provider.clone(),
            started_at: Some(rfc3339(w.step_started_at)),
            ended_at: None,
            next_because: None,
            timeout_secs: secs(cur),
        });
        for (i, s) in w.steps.iter().enumerate().skip(cur + 1) {
            steps.push(StepView {
                channel: s.channel.as_str().into(),
                status: "pending".into(),
                provider: None,
                started_at: None,
                ended_at: None,
                next_because: None,
                timeout_secs: secs(i),
            });
        }
        Some(WorkflowView {
            name: w.name.clone(),
            current_step: w.current as u32,
            steps,
        })
    }
}

/// `delivery` of the resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryView {
    pub status: String,
    pub provider: Option<String>,
    pub updated_at: String,
    /// Why the message failed or was not delivered; absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reason: Option<String>,
}

impl VerificationView {
    /// Renders a record as seen at `now`.
    pub fn new(v: &Verification, now: Millis, valid: Option<bool>) -> Self {
        VerificationView {
            id: v.id.as_str().to_string(),
            to: v.to.as_str().to_string(),
            channel: v.channel.as_str().to_string(),
            status: v.status_at(now).as_str().to_string(),
            created_at: rfc3339(v.created_at),
            expires_at: rfc3339(v.expires_at),
            send_count: v.send_count,
            sends_remaining: v.sends_remaining(),
            next_resend_at: rfc3339(v.next_resend_at),
            check_attempts_remaining: v.attempts_left,
            delivery: DeliveryView {
                status: v.delivery_status_at(now).as_str().to_string(),
                provider: v.delivery.provider.clone(),
                updated_at: rfc3339(v.delivery.updated_at),
                reason: v.delivery.reason.clone(),
            },
            metadata: metadata_view(v),
            locale: v.locale.clone(),
            valid,
            workflow: WorkflowView::of(v, now),
        }
    }
}

/// A delivery-only send as the API shows it: where its message is, and whether the
/// caller confirmed the code was typed right. Never the code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryRecordView {
    pub id: String,
    pub to: String,
    pub channel: String,
    pub created_at: String,
    pub expires_at: String,
    pub confirmed: bool,
    pub delivery: DeliveryView,
    pub metadata: Value,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub locale: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub template: Option<String>,
}

impl DeliveryRecordView {
    /// Renders a delivery's record as seen at `now`.
    pub fn new(v: &Verification, now: Millis) -> Self {
        let full = VerificationView::new(v, now, None);
        DeliveryRecordView {
            id: full.id,
            to: full.to,
            channel: full.channel,
            created_at: full.created_at,
            expires_at: full.expires_at,
            confirmed: v.status == crate::domain::Status::Approved,
            delivery: full.delivery,
            metadata: full.metadata,
            locale: full.locale,
            template: v.template.clone(),
        }
    }
}

/// The `metadata` of the view: the stored object, or `{}`.
pub(crate) fn metadata_view(v: &Verification) -> Value {
    v.metadata
        .as_deref()
        .and_then(|m| serde_json::from_str(m).ok())
        .unwrap_or_else(|| Value::Object(Default::default()))
}

/// Outcome of a start as both APIs report it.
#[derive(Debug)]
pub struct StartResult {
    /// True for a new verification (HTTP 201), false for a resend (200).
    pub created: bool,
    /// The verification.
    pub view: VerificationView,
    /// True when this is a replay of an earlier request with the same key.
    pub replayed: bool,
    /// The limits that applied (none for a replay).
    pub rate: RateInfo,
}

/// The `RateLimit-Policy` / `RateLimit` state to show with an error: for a
/// `429 rate_limited` from a configured limit, that limit with nothing left.
pub fn error_rate(tenant: &super::Tenant, e: &crate::error::Error) -> RateInfo {
    match *e {
        crate::error::Error::RateLimited {
            reason,
            retry_after,
            ..
        } => super::limit_policy(&tenant.cfg, reason)
            .map(|(quota, window_ms)| {
                RateInfo::denied(
                    &crate::ratelimit::Limit {
                        reason,
                        key: String::new(),
                        quota,
                        window_ms,
                    },
                    retry_after.as_millis() as u64,
                )
            })
            .unwrap_or_default(),
        _ => RateInfo::default(),
    }
}
