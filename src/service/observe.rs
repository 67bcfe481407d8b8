//! Turning service outcomes into metrics (kept apart so the service reads as policy).

use super::Started;
use crate::domain::{Channel, Status, Verification};
use crate::error::Error;
use crate::metrics::Metrics;

fn limited(m: &Metrics, e: &Error) {
    let scope = match e {
        Error::RateLimited { reason, .. } => reason,
        Error::MaxSendsReached { .. } => "max_sends",
        Error::MaxAttemptsReached { .. } => "max_attempts",
        _ => return,
    };
    m.rate_limited.with_label_values(&[scope]).inc();
}

/// A start's outcome.
pub fn started(
    m: &Metrics,
    tenant: &str,
    channel: Channel,
    country: &str,
    r: Result<&Started, &Error>,
) {
    match r {
        Ok(Started::Created(_)) => m
            .started
            .with_label_values(&[tenant, channel.as_str(), country])
            .inc(),
        Ok(Started::Resent(_)) => m
            .resent
            .with_label_values(&[tenant, channel.as_str(), country])
            .inc(),
        Err(e) => limited(m, e),
    }
}

/// A verification reached an end state.
pub fn finished(m: &Metrics, tenant: &str, v: &Verification, outcome: &str) {
    let country = v.to.country();
    m.finished
        .with_label_values(&[tenant, v.channel.as_str(), country, outcome])
        .inc();
}

/// A workflow moved to its next step (`v` as it is now).
pub fn step(m: &Metrics, tenant: &str, v: &Verification, why: crate::store::NextWhy) {
    m.workflow_steps
        .with_label_values(&[tenant, v.channel.as_str(), why.as_str()])
        .inc();
}

/// A check's outcome.
pub fn checked(m: &Metrics, tenant: &str, r: Result<&(Verification, bool), &Error>) {
    let outcome = match r {
        Ok((v, true)) => {
            finished(m, tenant, v, "approved");
            "approved"
        }
        Ok((v, false)) => {
            if v.status == Status::MaxAttemptsReached {
                finished(m, tenant, v, "max_attempts");
            }
            "wrong"
        }
        Err(Error::NotFound(_)) => "not_found",
        Err(e @ Error::MaxAttemptsReached { .. }) => {
            limited(m, e);
            "max_attempts"
        }
        Err(e @ Error::RateLimited { .. }) => {
            limited(m, e);
            "rate_limited"
        }
        Err(Error::StoreUnavailable { .. }) => "unavailable",
        Err(Error::DestinationBlocked { .. }) => "blocked",
        Err(_) => "invalid",
    };
    m.checks.with_label_values(&[tenant, outcome]).inc();
}
