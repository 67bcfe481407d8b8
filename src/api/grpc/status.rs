//! Rendering of [`Error`] as a gRPC status with `google.rpc` details.
//!
//! The code follows from the error's HTTP status ([`code`], the one table from statuses
//! to gRPC codes). Details: an `ErrorInfo`
//! whose `reason` is the contract's `code` (domain `otpgw`), with metadata `reason` (the
//! limit, when there is one) and `retry_after` (seconds); a `RetryInfo` when waiting
//! helps; and the same `retry-after` as metadata.

use crate::error::{retry_after_secs, Error};
use std::collections::HashMap;
use tonic::metadata::{MetadataMap, MetadataValue};
use tonic_types::{ErrorDetails, StatusExt};

impl From<Error> for tonic::Status {
    fn from(e: Error) -> Self {
        let message = match &e {
            Error::Internal(inner) => {
                tracing::error!(error = %inner, "internal error");
                "internal error".to_string()
            }
            other => other.to_string(),
        };
        let mut info = HashMap::new();
        if let Some(r) = e.reason() {
            info.insert("reason".to_string(), r.to_string());
        }
        let mut metadata = MetadataMap::new();
        let mut details = ErrorDetails::new();
        if let Some(d) = e.retry_after() {
            let secs = retry_after_secs(d);
            info.insert("retry_after".to_string(), secs.to_string());
            details.set_retry_info(Some(std::time::Duration::from_secs(secs)));
            metadata.insert("retry-after", MetadataValue::from(secs));
        }
        details.set_error_info(e.code(), "otpgw", info);
        tonic::Status::with_error_details_and_metadata(code(&e), message, details, metadata)
    }
}

/// The gRPC code of an error, from its HTTP status.
pub fn code(e: &Error) -> tonic::Code {
    use tonic::Code;
    match e.http_status() {
        400 | 405 | 413 | 415 => Code::InvalidArgument,
        401 => Code::Unauthenticated,
        403 => Code::PermissionDenied,
        404 => Code::NotFound,
        409 => Code::AlreadyExists,
        429 => Code::ResourceExhausted,
        503 => Code::Unavailable,
        _ => Code::Internal,
    }
}
