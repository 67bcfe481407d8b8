//! What the service takes from a transport once parsed (a start, a check's target) and
//! what a start answers: the typed requests the HTTP and gRPC edges build.

use crate::domain::{
    AppHash, Channel, CodeLength, Destination, Locale, Verification, VerificationId, WorkflowName,
};

/// A parsed start request.
#[derive(Debug, Clone)]
pub struct StartInput {
    /// Destination (parsed for the channel: a number, or an address for email).
    pub to: Destination,
    /// Channel asked for (none: the workflow's first step, else `email` for an
    /// address and `sms` for a number; on a resend, the channel of the last send).
    pub channel: Option<Channel>,
    /// Workflow asked for instead of a channel.
    pub workflow: Option<WorkflowName>,
    /// Template locale.
    pub locale: Option<Locale>,
    /// Digits for a new code.
    pub code_length: Option<CodeLength>,
    /// Named template.
    pub template: Option<String>,
    /// Android app hash.
    pub app_hash: Option<AppHash>,
    /// End user's IP (the per-IP limit, the pumping guard).
    pub client_ip: Option<std::net::IpAddr>,
    /// What the caller knows of the end user (the pumping guard).
    pub risk: Option<crate::domain::RiskContext>,
    /// Caller metadata, raw JSON object text.
    pub metadata: Option<String>,
    /// Request id for log correlation.
    pub request_id: Option<String>,
}

/// Result of a start.
#[derive(Debug, Clone)]
pub enum Started {
    /// A new verification (`201`).
    Created(Verification),
    /// The pending one, resent (`200`).
    Resent(Verification),
}

/// What a check targets, as parsed from the request.
#[derive(Debug, Clone)]
pub enum CheckBy {
    /// The pending verification of a number (or an email address).
    To(Destination),
    /// A verification by id.
    Id(VerificationId),
}
