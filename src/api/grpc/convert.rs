//! Conversions between protobuf messages and the shared request/view types.

use super::pb;
use crate::api::common::{RawCheck, RawRisk, RawStart, VerificationView};
use crate::api::deliveries::RawDelivery;
use crate::service::view::DeliveryView;
use crate::service::{DeliveryRecordView, WorkflowView};
use prost_types::value::Kind;
use serde_json::{Number, Value};

/// `google.protobuf.Struct` to a JSON object.
pub fn struct_to_json(s: prost_types::Struct) -> Value {
    Value::Object(
        s.fields
            .into_iter()
            .map(|(k, v)| (k, value_to_json(v)))
            .collect(),
    )
}

fn value_to_json(v: prost_types::Value) -> Value {
    match v.kind {
        None | Some(Kind::NullValue(_)) => Value::Null,
        Some(Kind::BoolValue(b)) => Value::Bool(b),
        Some(Kind::StringValue(s)) => Value::String(s),
        Some(Kind::NumberValue(n)) => {
            // Struct numbers are doubles; integral ones go back to JSON as integers so a
            // value round-trips the same over both transports.
            if n.fract() == 0.0 && n.abs() < 9_007_199_254_740_992.0 {
                Value::Number(Number::from(n as i64))
            } else {
                Number::from_f64(n)
                    .map(Value::Number)
                    .unwrap_or(Value::Null)
            }
        }
        Some(Kind::StructValue(s)) => struct_to_json(s),
        Some(Kind::ListValue(l)) => Value::Array(l.values.into_iter().map(value_to_json).collect()),
    }
}

/// A JSON object to `google.protobuf.Struct` (anything else gives an empty struct).
pub fn json_to_struct(v: &Value) -> prost_types::Struct {
    let fields = match v {
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| (k.clone(), json_to_value(v)))
            .collect(),
        _ => Default::default(),
    };
    prost_types::Struct { fields }
}

fn json_to_value(v: &Value) -> prost_types::Value {
    let kind = match v {
        Value::Null => Kind::NullValue(0),
        Value::Bool(b) => Kind::BoolValue(*b),
        Value::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or(0.0)),
        Value::String(s) => Kind::StringValue(s.clone()),
        Value::Array(a) => Kind::ListValue(prost_types::ListValue {
            values: a.iter().map(json_to_value).collect(),
        }),
        Value::Object(_) => Kind::StructValue(json_to_struct(v)),
    };
    prost_types::Value { kind: Some(kind) }
}

impl From<pb::StartRequest> for RawStart {
    fn from(r: pb::StartRequest) -> Self {
        RawStart {
            to: r.to,
            channel: r.channel,
            workflow: r.workflow,
            locale: r.locale,
            code_length: r.code_length.map(i64::from),
            template: r.template,
            app_hash: r.app_hash,
            client_ip: r.client_ip,
            metadata: r
                .metadata
                .map(struct_to_json)
                .filter(|m| m.as_object().is_some_and(|o| !o.is_empty())),
            risk_context: r.risk_context.map(risk_json),
        }
    }
}

impl From<pb::DeliverRequest> for RawDelivery {
    fn from(r: pb::DeliverRequest) -> Self {
        RawDelivery {
            to: r.to,
            code: Value::String(r.code),
            locale: r.locale,
            template: r.template,
            metadata: r
                .metadata
                .map(struct_to_json)
                .filter(|m| m.as_object().is_some_and(|o| !o.is_empty())),
            risk_context: r.risk_context.map(risk_json),
        }
    }
}

/// gRPC's `RiskContext` as the JSON object the shared edge reads.
pub fn risk_json(r: pb::RiskContext) -> Value {
    serde_json::to_value(RawRisk {
        user_agent: r.user_agent,
        session_id: r.session_id,
        device_id: r.device_id,
        captcha_score: r.captcha_score,
        challenge_passed: r.challenge_passed,
    })
    .unwrap_or(Value::Null)
}

impl From<pb::CheckRequest> for RawCheck {
    fn from(r: pb::CheckRequest) -> Self {
        let (to, id) = match r.target {
            Some(pb::check_request::Target::To(t)) => (Some(t), None),
            Some(pb::check_request::Target::Id(i)) => (None, Some(i)),
            None => (None, None),
        };
        RawCheck {
            to,
            id,
            code: Some(Value::String(r.code)),
            client_ip: r.client_ip,
            client_session: r.client_session,
            risk_context: r.risk_context.map(risk_json),
        }
    }
}

fn timestamp(rfc3339: &str) -> Option<prost_types::Timestamp> {
    let t = time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .ok()?;
    Some(prost_types::Timestamp {
        seconds: t.unix_timestamp(),
        nanos: t.nanosecond() as i32,
    })
}

fn status(s: &str) -> pb::VerificationStatus {
    use pb::VerificationStatus as S;
    match s {
        "pending" => S::Pending,
        "approved" => S::Approved,
        "canceled" => S::Canceled,
        "expired" => S::Expired,
        "max_attempts_reached" => S::MaxAttemptsReached,
        "failed" => S::Failed,
        _ => S::Unspecified,
    }
}

fn delivery_status(s: &str) -> pb::DeliveryStatus {
    use pb::DeliveryStatus as D;
    match s {
        "queued" => D::Queued,
        "sending" => D::Sending,
        "sent" => D::Sent,
        "delivered" => D::Delivered,
        "undelivered" => D::Undelivered,
        "failed" => D::Failed,
        "expired" => D::Expired,
        _ => D::Unspecified,
    }
}

fn delivery(d: DeliveryView) -> pb::Delivery {
    pb::Delivery {
        status: delivery_status(&d.status) as i32,
        provider: d.provider,
        updated_at: timestamp(&d.updated_at),
        reason: d.reason,
    }
}

impl From<DeliveryRecordView> for pb::CodeDelivery {
    fn from(v: DeliveryRecordView) -> Self {
        pb::CodeDelivery {
            id: v.id,
            to: v.to,
            channel: v.channel,
            created_at: timestamp(&v.created_at),
            expires_at: timestamp(&v.expires_at),
            confirmed: v.confirmed,
            delivery: Some(delivery(v.delivery)),
            metadata: Some(json_to_struct(&v.metadata)),
            locale: v.locale,
            template: v.template,
        }
    }
}

impl From<VerificationView> for pb::Verification {
    fn from(v: VerificationView) -> Self {
        pb::Verification {
            id: v.id,
            to: v.to,
            channel: v.channel,
            status: status(&v.status) as i32,
            created_at: timestamp(&v.created_at),
            expires_at: timestamp(&v.expires_at),
            send_count: v.send_count,
            sends_remaining: v.sends_remaining,
            next_resend_at: timestamp(&v.next_resend_at),
            check_attempts_remaining: v.check_attempts_remaining,
            delivery: Some(delivery(v.delivery)),
            metadata: Some(json_to_struct(&v.metadata)),
            locale: v.locale,
            valid: v.valid,
            workflow: v.workflow.map(workflow),
        }
    }
}

fn workflow(w: WorkflowView) -> pb::WorkflowState {
    pb::WorkflowState {
        name: w.name,
        current_step: w.current_step,
        steps: w
            .steps
            .into_iter()
            .map(|s| pb::WorkflowStep {
                channel: s.channel,
                status: delivery_status(&s.status) as i32,
                provider: s.provider,
                started_at: s.started_at.as_deref().and_then(timestamp),
                ended_at: s.ended_at.as_deref().and_then(timestamp),
                next_because: s.next_because,
                timeout_secs: s.timeout_secs.map(|t| t.min(u32::MAX as u64) as u32),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_round_trips_through_struct() {
        let v = serde_json::json!({"n": 42, "f": 1.5, "s": "x", "b": true, "z": null, "l": [1, "a"], "o": {"k": 7}});
        assert_eq!(struct_to_json(json_to_struct(&v)), v);
    }

    #[test]
    fn statuses_map_by_name() {
        assert_eq!(
            status("max_attempts_reached"),
            pb::VerificationStatus::MaxAttemptsReached
        );
        assert_eq!(
            delivery_status("undelivered"),
            pb::DeliveryStatus::Undelivered
        );
        assert_eq!(status("nonsense"), pb::VerificationStatus::Unspecified);
    }
}
