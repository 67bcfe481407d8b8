//! Transports. Each one only parses requests into domain types, calls the service, and
//! renders results; the mapping of errors to transport codes lives in [`crate::error`].

pub mod http;
