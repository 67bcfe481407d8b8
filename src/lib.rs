//! # otpgw: an SMS one-time-code gateway
//!
//! Backends ask it to send a verification code to a phone and to check the code the user
//! types back. Map of the crate, in the order a request meets it:
//!
//! - [`api::http`]: the HTTP API v1 (routes, auth, strict JSON, problem documents);
//!   [`api::grpc`]: the same service over gRPC; [`api::common`]: what both share;
//!   [`api::serve`]: the accept loop with connection deadlines and caps;
//! - [`domain`]: parsed inputs ([`domain::PhoneNumber`], [`domain::OtpCode`], …) and the
//!   verification record;
//! - [`service`]: transport-free start / check / get / cancel; [`tenants`]: tenants and
//!   API keys;
//! - [`crypto`]: code MACs, code derivation, number keys, API-key hashes;
//! - [`store`]: the store's contract (the trait, its requests and outcomes, admission in
//!   turn);
//! - [`ratelimit`]: GCRA rate limits, local shedding, the SMS-pumping guard's model and
//!   state contract;
//! - [`template`]: message texts, locales, GSM-7 segments;
//! - [`queue`]: the durable send queue's contract;
//! - [`backend`]: every implementation of those contracts, by backend:
//!   [`backend::memory`] in process, [`backend::redis`] over one connection (Lua
//!   scripts, cluster-safe key layout), chosen by [`backend::build`];
//! - [`delivery`]: workers, routing with failover, circuit breakers, rate caps, retries;
//! - [`providers`]: SMS provider adapters, one folder each, and the dev outbox;
//! - [`events`]: events to tenants (their payload, one signed attempt, the backoff);
//! - [`config`], [`telemetry`], [`metrics`], [`error`] (the one mapping of errors to HTTP
//!   and gRPC);
//! - [`secret`]: redacted secret text, below `config` and the providers' settings;
//! - [`app`] builds all of it from config; [`cli`] is the command line.

pub mod api;
pub mod app;
pub mod backend;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod delivery;
pub mod domain;
pub mod error;
pub mod events;
pub mod metrics;
pub mod providers;
pub mod queue;
pub mod ratelimit;
pub mod secret;
pub mod service;
pub mod store;
pub mod telemetry;
pub mod template;
pub mod tenants;

pub use app::Application;
pub use config::Config;
