//! Serving a listener: the accept loop every listener (HTTP API, gRPC, metrics) shares,
//! with the limits that keep slow or idle clients from holding connections.
//!
//! Why our own loop rather than `axum::serve` and tonic's server: neither bounds how
//! long a client may take to send its first request (a partial HTTP/2 preface held a
//! connection open for as long as the client liked) nor how many connections a
//! listener keeps, and each had a different shutdown. Here one loop, over hyper-util's
//! HTTP/1.1 + HTTP/2 connection builder, applies to every listener:
//!
//! - **first request and headers** (`server.header_read_timeout_ms`): a connection
//!   whose first request has not reached the service in time is dropped, and so is an
//!   HTTP/1.1 connection whose next request head, once begun, has not;
//! - **idle** (`server.idle_timeout_ms`): no request in flight for that long closes the
//!   connection gracefully (see [`conn`] for the exact rules);
//! - **HTTP/2 pings** (`server.http2_keepalive_*`) find peers that vanished, and
//!   `server.http2_max_concurrent_streams` bounds the requests of one connection;
//! - **a cap per listener** (`server.max_connections`). At the cap the connection idle
//!   the longest is closed to make room, so clients that open connections and send
//!   nothing cannot starve new ones (a probe's `/healthz` still gets in); when every
//!   connection has a request in flight, new ones wait in the kernel's accept backlog
//!   until one finishes. See [`gate`].
//!
//! `TCP_NODELAY` is set on every connection: answers go out at once, not held back by
//! Nagle's algorithm waiting for the client's delayed acknowledgement. Handlers find the
//! peer address as `ConnectInfo<SocketAddr>`.
//!
//! Shutdown: the listening socket is closed at once, every connection is asked to close
//! gracefully (in-flight requests finish, HTTP/2 gets GOAWAY), and what is still open
//! after `server.shutdown_grace_ms` is dropped.

mod conn;
mod gate;
mod io;

use crate::config::ServerConfig;
use axum::body::{Bytes, HttpBody};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// The connection limits of a listener.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Deadline of the first request and of every HTTP/1.1 request head.
    pub header_read_timeout: Duration,
    /// How long a connection may stay with no request in flight.
    pub idle_timeout: Duration,
    /// Open connections at most.
    pub max_connections: usize,
    /// HTTP/2 ping interval; `None`: no pings.
    pub http2_keepalive_interval: Option<Duration>,
    /// How long a ping may go unanswered.
    pub http2_keepalive_timeout: Duration,
    /// Streams per HTTP/2 connection.
    pub http2_max_concurrent_streams: u32,
    /// On shutdown, how long open connections have to finish.
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits::from_config(&ServerConfig::default())
    }
}

impl Limits {
    /// The limits `[server]` sets.
    pub fn from_config(c: &ServerConfig) -> Self {
        let ms = Duration::from_millis;
        Limits {
            header_read_timeout: ms(c.header_read_timeout_ms.max(1)),
            idle_timeout: ms(c.idle_timeout_ms.max(1)),
            max_connections: c.max_connections.max(1),
            http2_keepalive_interval: (c.http2_keepalive_interval_ms > 0)
                .then(|| ms(c.http2_keepalive_interval_ms)),
            http2_keepalive_timeout: ms(c.http2_keepalive_timeout_ms.max(1)),
            http2_max_concurrent_streams: c.http2_max_concurrent_streams.max(1),
            shutdown_grace: ms(c.shutdown_grace_ms),
        }
    }
}

/// Which protocols a listener speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocols {
    /// HTTP/1.1 and HTTP/2 (prior knowledge), told apart by the first bytes.
    Http1And2,
    /// HTTP/2 only (gRPC).
    Http2Only,
}

fn builder(limits: &Limits, protocols: Protocols) -> Builder<TokioExecutor> {
    let mut b = Builder::new(TokioExecutor::new());
    // Request heads are timed by the watcher (see `conn`): hyper's timer would also run
    // while a kept-alive connection waits for its next request.
    b.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(None)
        .keep_alive(true);
    b.http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(limits.http2_keepalive_interval)
        .keep_alive_timeout(limits.http2_keepalive_timeout)
        .max_concurrent_streams(limits.http2_max_concurrent_streams);
    match protocols {
        Protocols::Http1And2 => b,
        Protocols::Http2Only => b.http2_only(),
    }
}

/// `ENFILE` or `EMFILE` (23 and 24 on Linux, macOS and the BSDs).
fn out_of_files(e: &std::io::Error) -> bool {
    cfg!(unix) && matches!(e.raw_os_error(), Some(23 | 24))
}

/// Serves `svc` on `listener` until `shutdown` turns true, then closes the listening
/// socket and lets open connections finish within the grace period. Returns whether
/// they all did; `what` names the listener in logs.
pub async fn serve<S, B>(
    listener: TcpListener,
    svc: S,
    limits: Limits,
    protocols: Protocols,
    mut shutdown: watch::Receiver<bool>,
    what: &'static str,
) -> bool
where
    S: tower::Service<http::Request<Incoming>, Response = http::Response<B>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let common = Arc::new(conn::Common {
        builder: builder(&limits, protocols),
        http2_only: protocols == Protocols::Http2Only,
        limits,
    });
    let gate = gate::Gate::new(common.limits.max_connections);
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        while tasks.try_join_next().is_some() {}
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = shutdown.wait_for(|v| *v) => break,
        };
        let (tcp, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors: make room if we can. Otherwise (a connection
                // reset before we took it, say) just go on, after a breath.
                tracing::debug!(listener = what, error = %e, "accept failed");
                if out_of_files(&e) {
                    gate.evict_idlest();
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let place = tokio::select! {
            p = gate.admit() => p,
            _ = shutdown.wait_for(|v| *v) => break,
        };
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY on a connection");
        }
        let me = gate.register(place);
        tasks.spawn(conn::run(
            tcp,
            peer,
            svc.clone(),
            common.clone(),
            me,
            shutdown.clone(),
        ));
    }
    drop(listener);
    let drained = tokio::time::timeout(common.limits.shutdown_grace, async {
        while tasks.join_next().await.is_some() {}
    })
    .await
    .is_ok();
    if !drained {
        tracing::warn!(
            listener = what,
            open = tasks.len(),
            "connections still open after the shutdown grace period are dropped"
        );
    }
    tasks.shutdown().await;
    drained
}
