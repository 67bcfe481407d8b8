//! Transports. Each one only frames requests and answers; parsing into domain types,
//! idempotency and the rendered view live in [`common`], and the mapping of errors to
//! transport codes lives in [`crate::error`].

pub mod common;
pub mod grpc;
pub mod http;
