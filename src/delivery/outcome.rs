//! How a send through the router ended: accepted (with every part's id), rejected for
//! good, or out of time; what the worker records and settles from.

/// How a send ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A provider accepted the message.
    Sent {
        /// Instance name.
        provider: String,
        /// The provider's message id.
        message_id: String,
        /// The ids of the message's later parts, where each has its own (SMPP).
        other_parts: Vec<String>,
    },
    /// A provider rejected it for good (invalid number, refused content, …).
    Rejected {
        /// Instance name.
        provider: String,
        /// Why.
        reason: String,
    },
    /// Every round failed until the code would expire.
    GaveUp {
        /// Last provider tried, if any.
        provider: Option<String>,
        /// Last failure.
        reason: String,
    },
}
