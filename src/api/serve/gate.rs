//! The gate of one listener: a cap on its open connections, and per connection what
//! the watcher in [`super::conn`] needs to judge it (requests in flight, idle since).
//!
//! At the cap the accept loop asks the gate to make room ([`Gate::admit`]): the
//! connection idle the longest (no request in flight) gives its place up at once and is
//! closed. When every connection has a request in flight nothing is closed, and the new
//! connection waits (and behind it the kernel's accept backlog) until a request
//! finishes, whose connection then makes room.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

/// The open connections of one listener.
pub(super) struct Gate {
    permits: Arc<Semaphore>,
    open: Mutex<HashMap<u64, Arc<Slot>>>,
    next_id: AtomicU64,
    /// Rung when a connection's last request in flight finishes.
    became_idle: Arc<Notify>,
}

/// One open connection.
pub(super) struct Slot {
    id: u64,
    accepted: Instant,
    in_flight: AtomicUsize,
    served: AtomicBool,
    /// Milliseconds after `accepted` at which the connection last became idle.
    idle_since_ms: AtomicU64,
    /// Milliseconds after `accepted` at which the first byte of the next HTTP/1.1
    /// request head arrived; [`NONE`] while no head is under way.
    head_since_ms: AtomicU64,
    /// The connection speaks HTTP/2 (no request heads to time: streams are idle or in
    /// flight).
    http2: AtomicBool,
    /// Its place under the cap; taken away when it is chosen to make room.
    permit: Mutex<Option<OwnedSemaphorePermit>>,
    /// Rung when the connection was chosen to make room for a new one.
    pub(super) evicted: Notify,
    /// Rung when its first request arrives or its last request in flight finishes, so
    /// the watcher moves its deadline.
    pub(super) changed: Notify,
    became_idle: Arc<Notify>,
}

const NONE: u64 = u64::MAX;

/// A place under the cap, not yet given to a connection.
pub(super) struct Place(OwnedSemaphorePermit);

/// Removes its slot from the gate when the connection task ends.
pub(super) struct Registered {
    gate: Arc<Gate>,
    pub(super) slot: Arc<Slot>,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.gate.lock().remove(&self.slot.id);
    }
}

/// Counts one request in flight on a connection until dropped.
pub(super) struct InFlight(Arc<Slot>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.idle_since_ms.store(self.0.elapsed_ms(), SeqCst);
        if self.0.in_flight.fetch_sub(1, SeqCst) == 1 {
            self.0.changed.notify_one();
            self.0.became_idle.notify_waiters();
        }
    }
}

impl Gate {
    /// A gate for at most `max` connections.
    pub(super) fn new(max: usize) -> Arc<Self> {
        Arc::new(Gate {
            permits: Arc::new(Semaphore::new(max.max(1))),
            open: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
            became_idle: Arc::new(Notify::new()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Slot>>> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A place at once, if the cap is not reached.
    pub(super) fn try_place(&self) -> Option<Place> {
        self.permits.clone().try_acquire_owned().ok().map(Place)
    }

    /// A place for a new connection: a free one, or the place of the connection idle
    /// the longest, which is closed; when every connection has a request in flight,
    /// waits until one finishes or closes.
    pub(super) async fn admit(&self) -> Place {
        let mut logged = false;
        loop {
            if let Some(p) = self.try_place() {
                return p;
            }
            let idle = self.became_idle.notified();
            tokio::pin!(idle);
            idle.as_mut().enable();
            if !self.evict_idlest() && !logged {
                logged = true;
                tracing::debug!(
                    open = self.open(),
                    "connection cap reached with a request in flight on every connection; \
                     new connections wait"
                );
            }
            tokio::select! {
                p = self.permits.clone().acquire_owned() => {
                    return Place(p.expect("the semaphore is never closed"));
                }
                _ = idle => {}
            }
        }
    }

    /// Closes the connection idle the longest, freeing its place at once. False when
    /// every connection has a request in flight.
    pub(super) fn evict_idlest(&self) -> bool {
        let open = self.lock();
        let victim = open
            .values()
            .filter(|s| s.in_flight.load(SeqCst) == 0)
            .filter(|s| s.holds_place())
            .min_by_key(|s| s.idle_since());
        match victim {
            Some(s) => {
                drop(s.permit.lock().unwrap_or_else(|e| e.into_inner()).take());
                s.evicted.notify_one();
                true
            }
            None => false,
        }
    }

    /// Registers a new connection in `place`.
    pub(super) fn register(self: &Arc<Self>, place: Place) -> Registered {
        let slot = Arc::new(Slot {
            id: self.next_id.fetch_add(1, SeqCst),
            accepted: Instant::now(),
            in_flight: AtomicUsize::new(0),
            served: AtomicBool::new(false),
            idle_since_ms: AtomicU64::new(0),
            head_since_ms: AtomicU64::new(NONE),
            http2: AtomicBool::new(false),
            permit: Mutex::new(Some(place.0)),
            evicted: Notify::new(),
            changed: Notify::new(),
            became_idle: self.became_idle.clone(),
        });
        self.lock().insert(slot.id, slot.clone());
        Registered {
            gate: self.clone(),
            slot,
        }
    }

    /// Open connections (tests and logs).
    pub(super) fn open(&self) -> usize {
        self.lock().len()
    }
}

impl Slot {
    fn elapsed_ms(&self) -> u64 {
        self.accepted.elapsed().as_millis() as u64
    }

    fn holds_place(&self) -> bool {
        self.permit
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
    }

    /// A request reached the service.
    pub(super) fn enter(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, SeqCst);
        self.head_since_ms.store(NONE, SeqCst);
        if !self.served.swap(true, SeqCst) {
            self.changed.notify_one();
        }
        InFlight(self.clone())
    }

    /// Bytes arrived. With no request in flight on an HTTP/1.1 connection they are the
    /// start of the next request head, whose deadline starts now.
    pub(super) fn bytes_read(&self) {
        if self.http2.load(SeqCst) || self.in_flight.load(SeqCst) > 0 {
            return;
        }
        let now = self.elapsed_ms();
        if self
            .head_since_ms
            .compare_exchange(NONE, now, SeqCst, SeqCst)
            .is_ok()
        {
            self.changed.notify_one();
        }
    }

    /// The connection turned out to speak HTTP/2.
    pub(super) fn set_http2(&self) {
        self.http2.store(true, SeqCst);
        self.head_since_ms.store(NONE, SeqCst);
    }

    /// When the first byte of an HTTP/1.1 request head not yet handed to the service
    /// arrived.
    pub(super) fn head_since(&self) -> Option<Instant> {
        match self.head_since_ms.load(SeqCst) {
            NONE => None,
            ms => Some(self.accepted + Duration::from_millis(ms)),
        }
    }

    /// When the connection was accepted.
    pub(super) fn accepted(&self) -> Instant {
        self.accepted
    }

    /// Whether any request has reached the service on this connection.
    pub(super) fn served(&self) -> bool {
        self.served.load(SeqCst)
    }

    /// Requests in flight.
    pub(super) fn in_flight(&self) -> usize {
        self.in_flight.load(SeqCst)
    }

    /// When the last request finished (or the connection was accepted).
    pub(super) fn idle_since(&self) -> Instant {
        self.accepted + Duration::from_millis(self.idle_since_ms.load(SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn at_the_cap_the_idlest_connection_makes_room_and_busy_ones_never_do() {
        let gate = Gate::new(2);
        let a = gate.register(gate.try_place().unwrap());
        tokio::time::sleep(Duration::from_millis(10)).await;
        let b = gate.register(gate.try_place().unwrap());
        assert!(gate.try_place().is_none(), "the cap is 2");
        // `a` serves a request and finishes after `b` was accepted: `b` is idler.
        tokio::time::sleep(Duration::from_millis(10)).await;
        drop(a.slot.enter());
        assert!(gate.evict_idlest());
        assert!(!b.slot.holds_place() && a.slot.holds_place());
        let c = gate.register(gate.try_place().expect("b's place was freed"));
        let _busy_a = a.slot.enter();
        let _busy_c = c.slot.enter();
        assert!(
            !gate.evict_idlest(),
            "b gave its place up already; a and c have a request in flight"
        );
        assert_eq!(gate.open(), 3, "b is still closing");
        drop(b);
        assert_eq!(gate.open(), 2);
    }
}
