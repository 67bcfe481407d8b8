//! One connection: hyper serves it while a watcher closes it when it overstays.
//!
//! The watcher's rules, in order (`next_step`):
//! 1. no request has reached the service `header_read_timeout` after the accept (a
//!    partial HTTP/2 preface, a first request head sent a byte at a time, nothing at
//!    all): the connection is dropped;
//! 2. a request is in flight: nothing happens (the request timeout bounds it);
//! 3. an HTTP/1.1 request head began to arrive (its first byte, see [`super::io`]) and
//!    has not reached the service `header_read_timeout` later: dropped;
//! 4. no request in flight for `idle_timeout`: a graceful close starts (HTTP/1.1 closes
//!    when idle, HTTP/2 sends GOAWAY); a connection still open [`CLOSE_GRACE`] later
//!    with no request in flight is dropped. Shutdown starts the same graceful close.
//!
//! So on HTTP/1.1 the wait for the next request on a kept-alive connection is
//! `idle_timeout` (keep it above a load balancer's idle timeout, or the balancer may
//! send a request just as the connection closes), and the head, once begun, has
//! `header_read_timeout`: the rules of Go's `IdleTimeout` and `ReadHeaderTimeout`.
//! hyper's own header timer is off: it starts when hyper waits for a head, idle or not.
//!
//! A connection chosen to make room at the cap ([`super::gate`]) is dropped at once, or
//! closed gracefully if a request slipped in meanwhile. Time spent writing a response
//! to a client that does not read it counts as idle, so slow readers are closed too.

use super::gate::{Registered, Slot};
use super::io::Metered;
use super::Limits;
use axum::body::{Bytes, HttpBody};
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;
use tower::ServiceExt as _;

/// How long a connection asked to close gracefully has before it is dropped.
pub(super) const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// What the watcher does next.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    /// Look again at this time.
    WakeAt(Instant),
    /// Start a graceful close.
    Close,
    /// Drop the connection now.
    Drop,
}

fn next_step(slot: &Slot, limits: &Limits, now: Instant, closing: Option<Instant>) -> Step {
    if !slot.served() {
        let mut deadline = Instant::from_std(slot.accepted()) + limits.header_read_timeout;
        if let Some(c) = closing {
            deadline = deadline.min(c + CLOSE_GRACE);
        }
        return if now >= deadline {
            Step::Drop
        } else {
            Step::WakeAt(deadline)
        };
    }
    if slot.in_flight() > 0 {
        return Step::WakeAt(now + limits.idle_timeout);
    }
    let (mut deadline, mut then) = match closing {
        Some(c) => (c + CLOSE_GRACE, Step::Drop),
        None => (
            Instant::from_std(slot.idle_since()) + limits.idle_timeout,
            Step::Close,
        ),
    };
    if let Some(head) = slot.head_since() {
        let head_deadline = Instant::from_std(head) + limits.header_read_timeout;
        if head_deadline <= deadline {
            (deadline, then) = (head_deadline, Step::Drop);
        }
    }
    if now >= deadline {
        then
    } else {
        Step::WakeAt(deadline)
    }
}

/// The service of one connection: counts requests in flight for the watcher and gives
/// handlers the peer address as `ConnectInfo<SocketAddr>`.
struct Tracked<S> {
    inner: S,
    slot: Arc<Slot>,
    peer: SocketAddr,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B> hyper::service::Service<http::Request<Incoming>> for Tracked<S>
where
    S: tower::Service<http::Request<Incoming>, Response = http::Response<B>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
{
    type Response = http::Response<B>;
    type Error = Infallible;
    type Future = BoxFuture<Result<http::Response<B>, Infallible>>;

    fn call(&self, mut req: http::Request<Incoming>) -> Self::Future {
        req.extensions_mut().insert(ConnectInfo(self.peer));
        let in_flight = self.slot.enter();
        let svc = self.inner.clone();
        Box::pin(async move {
            let r = svc.oneshot(req).await;
            drop(in_flight);
            r
        })
    }
}

/// What every connection of a listener shares.
pub(super) struct Common {
    /// hyper's connection settings.
    pub(super) builder: Builder<TokioExecutor>,
    /// The listener's limits.
    pub(super) limits: Limits,
    /// The listener speaks HTTP/2 only.
    pub(super) http2_only: bool,
}

/// Serves one accepted connection until it ends, is closed by the watcher, or shutdown
/// has closed it.
pub(super) async fn run<S, B>(
    tcp: TcpStream,
    peer: SocketAddr,
    svc: S,
    common: Arc<Common>,
    me: Registered,
    mut shutdown: watch::Receiver<bool>,
) where
    S: tower::Service<http::Request<Incoming>, Response = http::Response<B>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let slot = me.slot.clone();
    let svc = Tracked {
        inner: svc,
        slot: slot.clone(),
        peer,
    };
    let io = Metered::new(tcp, slot.clone(), common.http2_only);
    let conn = common.builder.serve_connection(TokioIo::new(io), svc);
    tokio::pin!(conn);
    let mut closing: Option<Instant> = None;
    let mut stopping = false;
    loop {
        let now = Instant::now();
        let wake = match next_step(&slot, &common.limits, now, closing) {
            Step::WakeAt(t) => t,
            Step::Close => {
                conn.as_mut().graceful_shutdown();
                closing = Some(now);
                continue;
            }
            Step::Drop => {
                tracing::debug!(%peer, "closing a connection that overstayed");
                break;
            }
        };
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
                break;
            }
            _ = slot.evicted.notified() => {
                if slot.in_flight() == 0 {
                    tracing::debug!(%peer, "closing an idle connection to make room for a new one");
                    break;
                }
                if closing.is_none() {
                    conn.as_mut().graceful_shutdown();
                    closing = Some(Instant::now());
                }
            }
            _ = shutdown.wait_for(|v| *v), if !stopping => {
                stopping = true;
                if closing.is_none() {
                    conn.as_mut().graceful_shutdown();
                    closing = Some(Instant::now());
                }
            }
            _ = slot.changed.notified() => {}
            _ = tokio::time::sleep_until(wake) => {}
        }
    }
    drop(me);
}

#[cfg(test)]
mod tests {
    use super::super::gate::Gate;
    use super::*;

    fn limits() -> Limits {
        Limits {
            header_read_timeout: Duration::from_millis(100),
            idle_timeout: Duration::from_millis(300),
            ..Limits::default()
        }
    }

    #[tokio::test]
    async fn the_watcher_drops_silent_connections_and_closes_idle_ones() {
        let l = limits();
        let gate = Gate::new(4);
        let c = gate.register(gate.try_place().unwrap());
        let start = Instant::now();
        // No request yet: dropped at the header deadline.
        assert_eq!(
            next_step(&c.slot, &l, start, None),
            Step::WakeAt(Instant::from_std(c.slot.accepted()) + l.header_read_timeout)
        );
        assert_eq!(
            next_step(&c.slot, &l, start + l.header_read_timeout, None),
            Step::Drop
        );
        // A request in flight is never cut, whatever the time.
        let busy = c.slot.enter();
        let late = start + Duration::from_secs(3600);
        assert!(matches!(
            next_step(&c.slot, &l, late, None),
            Step::WakeAt(_)
        ));
        assert!(matches!(
            next_step(&c.slot, &l, late, Some(start)),
            Step::WakeAt(_)
        ));
        drop(busy);
        // Idle: a graceful close after idle_timeout, then a drop after the grace.
        let idle = Instant::from_std(c.slot.idle_since());
        assert_eq!(
            next_step(&c.slot, &l, idle, None),
            Step::WakeAt(idle + l.idle_timeout)
        );
        assert_eq!(
            next_step(&c.slot, &l, idle + l.idle_timeout, None),
            Step::Close
        );
        let closing = idle + l.idle_timeout;
        assert_eq!(
            next_step(&c.slot, &l, closing + CLOSE_GRACE, Some(closing)),
            Step::Drop
        );
        // A request head begins: it has header_read_timeout, not idle_timeout.
        c.slot.bytes_read();
        let head = Instant::from_std(c.slot.head_since().unwrap());
        assert_eq!(
            next_step(&c.slot, &l, head, None),
            Step::WakeAt(head + l.header_read_timeout)
        );
        assert_eq!(
            next_step(&c.slot, &l, head + l.header_read_timeout, None),
            Step::Drop
        );
        // On HTTP/2 bytes are pings and window updates, never a head.
        c.slot.set_http2();
        c.slot.bytes_read();
        assert_eq!(c.slot.head_since(), None);
    }
}
