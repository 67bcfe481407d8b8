//! One verification's events delivered in order, with retries, in process.
//!
//! Event n+1 of a verification is not tried before event n was delivered: a receiver
//! that was down gets them, once it is back, in the order they happened. Each event is
//! retried with [`super::send::backoff`] while the next attempt would still fall
//! within its window (from its first attempt); then it is dead, with its last failure
//! as the reason, and so is every later event of the same verification (sending them
//! would break the order the receiver relies on), each with a reason naming the event
//! it waited for.
//!
//! The gateway's worker (`worker.rs`) keeps the same rules with its state in the
//! durable queue instead of in a loop; this in-process loop is what the tests of the
//! rules themselves run.

use super::send::{attempt, backoff, Failure};
use super::Event;
use crate::config::EventsConfig;
use crate::metrics::Metrics;
use std::time::Duration;

/// How long and how often one event is retried.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    /// The first wait; doubled after each failure, at most an hour.
    pub base: Duration,
    /// From an event's first attempt to its dead-lettering.
    pub window: Duration,
}

impl Retry {
    /// The tenant's window, waits from 5 s (or a fifth of the window, when that is
    /// shorter: a window of seconds still sees a few attempts).
    pub fn of(cfg: &EventsConfig) -> Self {
        let window = Duration::from_secs(cfg.retry_secs());
        Retry {
            base: Duration::from_secs(5).min(window / 5),
            window,
        }
    }
}

/// What became of one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A 2xx answer, after this many attempts.
    Delivered {
        /// Attempts made, the successful one included.
        attempts: u32,
    },
    /// Dead-lettered.
    Dead {
        /// Attempts made (0: never tried, an earlier event was dead).
        attempts: u32,
        /// The last failure, or the earlier event it waited for.
        reason: String,
        /// The bounded label of the last failure (`blocked` when never tried).
        kind: &'static str,
    },
}

fn now_secs() -> i64 {
    crate::domain::now_millis() / 1000
}

/// Where events go and what counts them: the tenant's section, its signing key, the
/// client, and `otpgw_events_total{tenant, outcome}`.
#[derive(Clone)]
pub struct Endpoint {
    /// The tenant id (the metric label).
    pub tenant: String,
    /// The tenant's `[events]` section.
    pub cfg: EventsConfig,
    /// The parsed secret.
    pub key: Vec<u8>,
    /// Made by [`super::send::client`] with the section's timeout.
    pub client: reqwest::Client,
    /// Where outcomes are counted.
    pub metrics: Metrics,
}

impl Endpoint {
    /// The endpoint of `tenant`'s section; an error when its secret does not parse
    /// (config check refuses that first) or the client cannot be made.
    pub fn new(tenant: &str, cfg: &EventsConfig, metrics: Metrics) -> anyhow::Result<Self> {
        let key = cfg
            .key()
            .ok_or_else(|| anyhow::anyhow!("tenants.{tenant}: events.secret does not parse"))?;
        Ok(Endpoint {
            tenant: tenant.into(),
            cfg: cfg.clone(),
            key,
            client: super::send::client(cfg.timeout())?,
            metrics,
        })
    }

    /// Counts one `outcome` of this tenant's events.
    pub fn count(&self, outcome: &str) {
        self.metrics
            .events
            .with_label_values(&[&self.tenant, outcome])
            .inc();
    }
}

/// Delivers `events` (one verification's, in `seq` order) one after another to `to`;
/// the outcome of each, in the same order.
pub async fn deliver_in_order(to: &Endpoint, events: &[Event], retry: Retry) -> Vec<Outcome> {
    let mut out = Vec::with_capacity(events.len());
    let mut dead: Option<&Event> = None;
    for event in events {
        if let Some(d) = dead {
            out.push(Outcome::Dead {
                attempts: 0,
                reason: format!(
                    "not sent: {} (seq {}) of this verification was dead-lettered before it",
                    d.id, d.data.seq
                ),
                kind: "blocked",
            });
            to.count("dead");
            continue;
        }
        let outcome = one(to, event, retry).await;
        if matches!(outcome, Outcome::Dead { .. }) {
            dead = Some(event);
        }
        out.push(outcome);
    }
    out
}

async fn one(to: &Endpoint, event: &Event, retry: Retry) -> Outcome {
    let started = tokio::time::Instant::now();
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        let sent = attempt(&to.client, &to.cfg, &to.key, event, now_secs()).await;
        let Failure { kind, reason } = match sent {
            Ok(_) => {
                to.count("sent");
                return Outcome::Delivered { attempts };
            }
            Err(f) => f,
        };
        to.count("failed");
        let wait = backoff(attempts, retry.base);
        if started.elapsed() + wait >= retry.window {
            to.count("dead");
            return Outcome::Dead {
                attempts,
                reason: format!("{reason} (after {attempts} attempts)"),
                kind,
            };
        }
        tokio::time::sleep(wait).await;
    }
}
