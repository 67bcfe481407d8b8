//! Test support shared by the integration test binaries: real Redis servers, clusters
//! and Sentinel sets on free ports, the real gateway on port 0, and a recording webhook
//! sink.
#![allow(dead_code)]

pub mod app;
pub mod pyvenv;
pub mod redis;
pub mod scan;
pub mod sentinel;
pub mod sink;
pub mod store;

#[allow(unused_imports)]
pub use app::{spawn_app, Backend, TestApp};
