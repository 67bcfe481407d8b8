//! Provider conformance: every adapter against a local HTTP server that checks the exact
//! request the vendor documents (method, path, auth, encoding, fields, E.164) and answers
//! with the vendor's documented success and error bodies; where `../shared/specs/` has the
//! vendor's OpenAPI document, also against a mock server built from it.
//!
//! Each vendor has its own module; `server` is the recording stand-in they share, and
//! `checks` the tables they run on it (each vendor's documented failures, and the cases
//! every adapter meets alike, run over every vendor by one test). `support` is the
//! integration suites' harness: its Python venvs (`moto`) and the real gateway, which
//! `meta_webhooks` runs to take Meta's webhooks end to end, and the voice adapters
//! (`twilio_voice` and `_receipts`, `vonage_voice` and `_events`, with `voice_support`)
//! to take call statuses end to end.

mod checks;
mod prism;
mod server;
mod sinch;
mod twilio;
mod vonage;

#[path = "../support/mod.rs"]
mod support;
mod twilio_voice;
mod twilio_voice_receipts;
mod voice_support;
mod vonage_voice;
mod vonage_voice_events;

mod aws_sns;
mod messagebird;
mod moto;
mod plivo;
mod telnyx;

mod meta_webhooks;
mod meta_whatsapp;
mod twilio_whatsapp;
