//! Provider conformance: every adapter against a local HTTP server that checks the exact
//! request the vendor documents (method, path, auth, encoding, fields, E.164) and answers
//! with the vendor's documented success and error bodies; where `../shared/specs/` has the
//! vendor's OpenAPI document, also against a mock server built from it.
//!
//! Each vendor has its own module; `server` is the recording stand-in they share.

mod checks;
mod prism;
mod server;
mod sinch;
mod transport;
mod twilio;
mod vonage;

mod aws_sns;
mod messagebird;
mod moto;
mod plivo;
mod telnyx;
