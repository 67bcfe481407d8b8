//! Transports. Each one only frames requests and answers; parsing into domain types,
//! idempotency and the rendered view live in [`common`] (and [`deliveries`] for
//! delivery-only sends), and the mapping of errors to
//! transport codes lives in [`crate::error`]. [`serve`] is the accept loop every
//! listener shares, with its connection limits.

pub mod common;
pub mod deliveries;
pub mod grpc;
pub mod http;
pub mod serve;
