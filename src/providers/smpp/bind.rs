//! One bind's handle, shared by its session task and the senders: where it is
//! ([`State`]), its client while bound, its window (a semaphore of `window` permits,
//! one per outstanding `submit_sm`), the signal that resets it, and its counters, read
//! by the ops page and the metrics as a [`BindView`].

use crate::providers::BindView;
use rusmppc::Client;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{Notify, Semaphore};

/// Where a bind is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum State {
    /// Connecting or binding.
    Connecting = 0,
    /// Bound: takes sends.
    Bound = 1,
    /// Lost; waiting to try again.
    Down = 2,
    /// The SMSC refused the bind; waiting `reconnect_max_ms`.
    Refused = 3,
}

impl State {
    fn from_u8(v: u8) -> State {
        match v {
            1 => State::Bound,
            2 => State::Down,
            3 => State::Refused,
            _ => State::Connecting,
        }
    }

    /// The word the ops page and metrics show.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Connecting => "connecting",
            State::Bound => "bound",
            State::Down => "down",
            State::Refused => "refused",
        }
    }
}

/// One bind's handle: its client while bound, its window, its counters.
#[derive(Debug)]
pub struct Bind {
    /// Its index within the provider.
    pub index: usize,
    state: AtomicU8,
    client: Mutex<Option<Client>>,
    /// Permits for outstanding `submit_sm`s.
    pub window: Arc<Semaphore>,
    window_size: u32,
    /// Wakes the session task to drop the session (after a `generic_nack`).
    pub(super) reset: Notify,
    /// Wakes senders waiting for a bind to come up.
    pub changed: Notify,
    submitted: AtomicU64,
    errors: Mutex<BTreeMap<&'static str, u64>>,
    pub(super) receipts: AtomicU64,
    pub(super) mobile_originated: AtomicU64,
    pub(super) reconnects: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl Bind {
    /// A bind not yet connected.
    pub fn new(index: usize, window: u32) -> Self {
        Bind {
            index,
            state: AtomicU8::new(State::Connecting as u8),
            client: Mutex::new(None),
            window: Arc::new(Semaphore::new(window as usize)),
            window_size: window,
            reset: Notify::new(),
            changed: Notify::new(),
            submitted: AtomicU64::new(0),
            errors: Mutex::new(BTreeMap::new()),
            receipts: AtomicU64::new(0),
            mobile_originated: AtomicU64::new(0),
            reconnects: AtomicU64::new(0),
            last_error: Mutex::new(None),
        }
    }

    /// Where it is.
    pub fn state(&self) -> State {
        State::from_u8(self.state.load(Ordering::Acquire))
    }

    pub(super) fn set(&self, s: State, client: Option<Client>) {
        *self.client.lock().unwrap_or_else(|e| e.into_inner()) = client;
        self.state.store(s as u8, Ordering::Release);
        self.changed.notify_waiters();
    }

    /// The client, while bound.
    pub fn client(&self) -> Option<Client> {
        if self.state() != State::Bound {
            return None;
        }
        self.client
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Asks the session task to drop this session and bind again.
    pub fn reset(&self) {
        self.reset.notify_one();
    }

    /// Counts an accepted `submit_sm`.
    pub fn accepted(&self) {
        self.submitted.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a failed `submit_sm` under `what` (a status name, `timeout`, `closed`).
    pub fn failed(&self, what: &'static str) {
        *self
            .errors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(what)
            .or_default() += 1;
    }

    /// The last reason it went down.
    pub fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(super) fn went_down(&self, why: String) {
        *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(why);
    }

    /// What the ops page and metrics show.
    pub fn view(&self) -> BindView {
        BindView {
            bind: self.index,
            state: self.state().as_str(),
            window_in_use: self
                .window_size
                .saturating_sub(self.window.available_permits() as u32),
            window: self.window_size,
            submitted: self.submitted.load(Ordering::Relaxed),
            errors: self
                .errors
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .map(|(k, v)| (*k, *v))
                .collect(),
            receipts: self.receipts.load(Ordering::Relaxed),
            mobile_originated: self.mobile_originated.load(Ordering::Relaxed),
            reconnects: self.reconnects.load(Ordering::Relaxed),
            last_error: self.last_error(),
        }
    }
}
