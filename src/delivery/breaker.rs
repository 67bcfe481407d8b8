//! A circuit breaker per provider: takes a failing provider out of rotation and lets one
//! probe through after a while.
//!
//! Closed: calls flow; it opens after `consecutive_failures` failures in a row, or when
//! the failure ratio over `window_ms` reaches `error_ratio` with at least `min_calls`
//! calls. Open: calls are refused for `open_ms`. Half-open: exactly one probe call is
//! let through; its success closes the breaker, its failure opens it again. Only
//! failures that say the provider is unwell count (timeouts, 5xx, unreachable); a
//! permanent rejection of one message is the message's fault and counts as a success.
//! State is per process: each gateway instance judges providers by its own calls.

use crate::config::BreakerConfig;
use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Breaker state, for metrics and the ops page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls flow.
    Closed,
    /// Calls refused until the probe time.
    Open,
    /// One probe is allowed (or in flight).
    HalfOpen,
}

impl BreakerState {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
        }
    }
}

#[derive(Debug)]
enum Mode {
    Closed,
    Open { until: Instant },
    HalfOpen { probing: bool },
}

#[derive(Debug)]
struct Inner {
    mode: Mode,
    consecutive: u32,
    window: VecDeque<(Instant, bool)>,
    /// Failures in `window`, kept as entries come and go (the window holds every call
    /// of the last `window_ms`: tens of thousands at a few thousand sends/s).
    failures: usize,
}

/// One provider's breaker.
#[derive(Debug)]
pub struct Breaker {
    cfg: BreakerConfig,
    inner: Mutex<Inner>,
}

impl Breaker {
    /// A closed breaker.
    pub fn new(cfg: BreakerConfig) -> Self {
        Breaker {
            cfg,
            inner: Mutex::new(Inner {
                mode: Mode::Closed,
                consecutive: 0,
                window: VecDeque::new(),
                failures: 0,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// May a call go through now? In half-open this hands out the single probe.
    pub fn allow(&self) -> bool {
        let mut g = self.lock();
        match g.mode {
            Mode::Closed => true,
            Mode::Open { until } if Instant::now() >= until => {
                g.mode = Mode::HalfOpen { probing: true };
                true
            }
            Mode::Open { .. } => false,
            Mode::HalfOpen { probing: false } => {
                g.mode = Mode::HalfOpen { probing: true };
                true
            }
            Mode::HalfOpen { probing: true } => false,
        }
    }

    /// Records the outcome of an allowed call.
    pub fn record(&self, ok: bool) {
        let now = Instant::now();
        let mut g = self.lock();
        if let Mode::HalfOpen { .. } = g.mode {
            if ok {
                *g = Inner {
                    mode: Mode::Closed,
                    consecutive: 0,
                    window: VecDeque::new(),
                    failures: 0,
                };
            } else {
                g.mode = Mode::Open {
                    until: now + Duration::from_millis(self.cfg.open_ms),
                };
            }
            return;
        }
        let window = Duration::from_millis(self.cfg.window_ms);
        g.window.push_back((now, ok));
        g.failures += usize::from(!ok);
        while g
            .window
            .front()
            .is_some_and(|(t, _)| now.duration_since(*t) > window)
        {
            if let Some((_, false)) = g.window.pop_front() {
                g.failures -= 1;
            }
        }
        g.consecutive = if ok { 0 } else { g.consecutive + 1 };
        let calls = g.window.len() as u32;
        let failures = g.failures as f64;
        let ratio_trip =
            calls >= self.cfg.min_calls.max(1) && failures / calls as f64 >= self.cfg.error_ratio;
        if !ok && (g.consecutive >= self.cfg.consecutive_failures || ratio_trip) {
            g.mode = Mode::Open {
                until: now + Duration::from_millis(self.cfg.open_ms),
            };
            g.window.clear();
            g.failures = 0;
            g.consecutive = 0;
        }
    }

    /// Releases a half-open probe slot that was handed out but not used.
    pub fn release(&self) {
        let mut g = self.lock();
        if let Mode::HalfOpen { probing: true } = g.mode {
            g.mode = Mode::HalfOpen { probing: false };
        }
    }

    /// Current state.
    pub fn state(&self) -> BreakerState {
        match self.lock().mode {
            Mode::Closed => BreakerState::Closed,
            Mode::Open { until } if Instant::now() >= until => BreakerState::HalfOpen,
            Mode::Open { .. } => BreakerState::Open,
            Mode::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(open_ms: u64) -> BreakerConfig {
        BreakerConfig {
            consecutive_failures: 3,
            error_ratio: 0.5,
            min_calls: 10,
            window_ms: 60_000,
            open_ms,
        }
    }

    #[test]
    fn opens_after_consecutive_failures_and_probes_once() {
        let b = Breaker::new(cfg(20));
        for _ in 0..2 {
            assert!(b.allow());
            b.record(false);
        }
        assert_eq!(b.state(), BreakerState::Closed);
        b.record(false);
        assert_eq!(b.state(), BreakerState::Open);
        assert!(!b.allow());
        std::thread::sleep(Duration::from_millis(30));
        assert!(b.allow(), "one probe after open_ms");
        assert!(!b.allow(), "only one probe at a time");
        b.record(true);
        assert_eq!(b.state(), BreakerState::Closed);
        assert!(b.allow());
    }

    #[test]
    fn a_failed_probe_opens_it_again() {
        let b = Breaker::new(cfg(20));
        for _ in 0..3 {
            b.record(false);
        }
        std::thread::sleep(Duration::from_millis(30));
        assert!(b.allow());
        b.record(false);
        assert_eq!(b.state(), BreakerState::Open);
    }

    #[test]
    fn opens_on_error_ratio_without_a_streak() {
        let b = Breaker::new(cfg(1_000));
        for i in 0..10 {
            b.record(i % 2 == 0);
        }
        assert_eq!(b.state(), BreakerState::Open, "5 of 10 failed");
    }

    #[test]
    fn failures_older_than_the_window_stop_counting() {
        let b = Breaker::new(BreakerConfig {
            consecutive_failures: 100,
            min_calls: 4,
            window_ms: 40,
            ..cfg(1_000)
        });
        for _ in 0..3 {
            b.record(false);
        }
        b.record(true);
        std::thread::sleep(Duration::from_millis(60));
        b.record(false);
        for _ in 0..3 {
            b.record(true);
        }
        assert_eq!(b.state(), BreakerState::Closed, "1 of the last 4 failed");
        b.record(false);
        b.record(false);
        b.record(false);
        assert_eq!(b.state(), BreakerState::Open, "4 of the last 7 failed");
    }
}
