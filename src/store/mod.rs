//! The verification store's contract, split by purpose: [`Verifications`] (start, check,
//! reads, cancel), [`DeliveryLog`] (each send's progress, provider message ids, receipts),
//! [`Steps`] (workflows' next steps and their timers) and [`Idempotency`] (keys and
//! stored answers), joined in [`Store`]; their requests and
//! outcomes; and what is the same on every backend (admission in turn, the metering
//! decorator, the delivery-status rule).
//!
//! Every operation that touches more than one value is atomic in every implementation
//! (a mutex section in memory, one Lua script in Redis), so N instances over one Redis
//! behave like one. The caller passes `now`; stores never read the clock for semantics.
//! The implementations live in [`crate::backend`], by backend; this module names none of
//! them. The shared behaviour suites (`tests/behaviour.rs`, `tests/queue.rs`) run against
//! memory, Redis and Redis Cluster.

pub mod admit;
mod delivery_log;
mod idempotency;
mod metered;
pub mod progress;
pub mod stats;
mod steps;
mod verifications;

pub use admit::{Admission, Admitted};
pub use metered::MeteredStore;
pub use progress::{
    bounded_reason, delivery_moves, receipt_mark, send_verdict, Begun, MessageLink, ReceiptApplied,
    SendVerdict,
};
pub use stats::FleetStats;

use async_trait::async_trait;

pub use crate::error::{StoreError, StoreResult};
pub use delivery_log::DeliveryLog;
pub use idempotency::{Idempotency, IdempotencyBegin};
pub use steps::{advance, parse_timer, timer_member, NextStep, NextWhy, Steps};
pub use verifications::{
    CheckOutcome, CheckSpec, CheckTarget, EnqueueSpec, LookupEntry, NumberRef, StartOutcome,
    StartSpec, Verifications, LOOKUP_MAX,
};

/// The whole store: verifications, their delivery log and idempotency keys over one
/// backend. Split by purpose so each caller names the part it uses; one backend value
/// implements all three, since one script may touch all of them.
#[async_trait]
pub trait Store: Verifications + DeliveryLog + Idempotency + Steps {
    /// Answers when the backend is reachable.
    async fn ping(&self) -> StoreResult<()>;
    /// Entries evicted because the store was full (memory backend; 0 elsewhere).
    fn evictions(&self) -> u64 {
        0
    }
}
