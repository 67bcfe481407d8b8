//! Test support shared by the integration test binaries: real Redis servers, clusters
//! and Sentinel sets on free ports, the real gateway on port 0, and a recording webhook
//! sink.
#![allow(dead_code)]

pub mod app;
pub mod certs;
pub mod npm;
pub mod pyvenv;
pub mod redis;
pub mod scan;
pub mod sentinel;
pub mod sink;
pub mod store;
pub mod twilio;
pub mod webhook_rx;

#[allow(unused_imports)]
pub use app::{spawn_app, Backend, TestApp};

/// One test function per backend, taking the [`Backend`] (`memory`, `redis`, `cluster`
/// modules); `store::on_every_backend!` is the same for the store-level suites.
#[allow(unused_macros)]
macro_rules! on_every_backend_kind {
    ($($name:ident),* $(,)?) => {
        mod memory { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(super::Backend::Memory).await } )* }
        mod redis { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(super::Backend::Redis).await } )* }
        mod cluster { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(super::Backend::Cluster).await } )* }
    };
}
#[allow(unused_imports)]
pub(crate) use on_every_backend_kind;
