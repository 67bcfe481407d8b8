//! The IETF `RateLimit-Policy` and `RateLimit` header fields
//! (draft-ietf-httpapi-ratelimit-headers, structured-field form): one list member per
//! limit that applied to the request, named after the limit (the same name a `429`
//! gives as `reason`).
//!
//! ```text
//! RateLimit-Policy: "number_per_minute";q=5;w=60, "tenant_sends";q=100;w=1
//! RateLimit: "number_per_minute";r=4;t=12, "tenant_sends";r=99;t=1
//! ```
//! `q` is the quota, `w` the window in seconds, `r` what is left now, `t` the seconds
//! until the whole quota is back.

use super::{Limit, Quota};

fn secs(ms: u64) -> u64 {
    ms.div_ceil(1000)
}

/// The limits of a request as header values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RateInfo {
    /// One entry per limit.
    pub quotas: Vec<Quota>,
}

impl RateInfo {
    /// After an admitted request.
    pub fn allowed(quotas: Vec<Quota>) -> Self {
        RateInfo { quotas }
    }

    /// After a refusal by `limit`, which admits again in `retry_after_ms`.
    pub fn denied(limit: &Limit, retry_after_ms: u64) -> Self {
        RateInfo {
            quotas: vec![Quota {
                reason: limit.reason,
                quota: limit.quota,
                window_ms: limit.window_ms,
                remaining: 0,
                reset_ms: retry_after_ms.max(1),
            }],
        }
    }

    /// `RateLimit-Policy`, or `None` when no limit applied.
    pub fn policy(&self) -> Option<String> {
        (!self.quotas.is_empty()).then(|| {
            self.quotas
                .iter()
                .map(|q| format!("\"{}\";q={};w={}", q.reason, q.quota, secs(q.window_ms)))
                .collect::<Vec<_>>()
                .join(", ")
        })
    }

    /// `RateLimit`, or `None` when no limit applied.
    pub fn current(&self) -> Option<String> {
        (!self.quotas.is_empty()).then(|| {
            self.quotas
                .iter()
                .map(|q| format!("\"{}\";r={};t={}", q.reason, q.remaining, secs(q.reset_ms)))
                .collect::<Vec<_>>()
                .join(", ")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_structured_field_lists() {
        let info = RateInfo::allowed(vec![
            Quota {
                reason: "number_per_minute",
                quota: 5,
                window_ms: 60_000,
                remaining: 4,
                reset_ms: 11_500,
            },
            Quota {
                reason: "tenant_sends",
                quota: 100,
                window_ms: 1000,
                remaining: 99,
                reset_ms: 10,
            },
        ]);
        assert_eq!(
            info.policy().unwrap(),
            "\"number_per_minute\";q=5;w=60, \"tenant_sends\";q=100;w=1"
        );
        assert_eq!(
            info.current().unwrap(),
            "\"number_per_minute\";r=4;t=12, \"tenant_sends\";r=99;t=1"
        );
        assert_eq!(RateInfo::default().policy(), None);
    }
}
