//! Routing: which providers, in which order, for a channel and a destination; and the
//! send loop with failover, per-provider breakers and send-rate caps, retries and the
//! expiry deadline.
//!
//! Each channel has its own table (SMS: `[routing]`; the others:
//! `[routing.channels.<channel>]`), and a table names only providers whose adapter
//! sends on that channel (checked when the router is built). Within a table, a route
//! matches a number by ISO country (from libphonenumber) or by calling-code prefix; the
//! first matching route wins, else the table's default (an email address matches no
//! route). Its providers are tried
//! in order, or, when weights are given, in a weighted random order (the first choice is
//! drawn by weight, the rest follow by weight as failover).
//!
//! One round tries the plan's providers in order: a provider whose breaker is open is
//! skipped; one whose send-rate cap would make the message wait more than 250 ms is
//! skipped; a retryable failure, a refusal of the account itself (credentials,
//! balance, sender: `ErrorKind::Auth`) or a redirect (never followed:
//! `ErrorKind::Redirected`) moves on to the next provider (failover) and counts against
//! that provider's breaker; a permanent rejection of the message (invalid
//! number, refused content) ends the send at once (no other provider would do better, and
//! it must not be sent twice); an acceptance ends it. When a round ends without acceptance the next one
//! starts after an exponential, jittered backoff, unless the code expires first.

use super::breaker::Breaker;
pub(super) use super::order::backoff;
use super::order::weighted_order;
pub use super::outcome::Outcome;
use crate::config::Config;
use crate::domain::{now_millis, Channel, Destination, Millis};
use crate::providers::{ErrorKind, OutboundMessage, ReceiptSink, SmsProvider};
use governor::clock::{Clock, DefaultClock};
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

type Limiter = RateLimiter<NotKeyed, InMemoryState, DefaultClock>;

/// Longest a message waits for a provider's send-rate cap before trying the next one.
const MAX_CAP_WAIT: Duration = Duration::from_millis(250);

/// One configured provider instance with its breaker and rate cap.
pub struct Slot {
    /// Instance name (`[providers.<name>]`), shown in `delivery.provider`.
    pub name: String,
    /// The adapter.
    pub provider: Arc<dyn SmsProvider>,
    /// Its circuit breaker.
    pub breaker: Breaker,
    limiter: Option<Limiter>,
}

pub(super) type Plan = Vec<(Arc<Slot>, u32)>;
use super::table::{table, Dest, Table};

/// The routing table.
pub struct Router {
    metrics: crate::metrics::Metrics,
    slots: BTreeMap<String, Arc<Slot>>,
    tables: BTreeMap<Channel, Table>,
    retry_initial: Duration,
    retry_max: Duration,
}

impl Router {
    /// Builds every provider instance and the routes from config; receipts that arrive
    /// on a provider's own connection (SMPP) are dropped (see [`Router::with_receipts`]).
    pub fn from_config(cfg: &Config, metrics: crate::metrics::Metrics) -> anyhow::Result<Self> {
        Self::with_receipts(cfg, metrics, &ReceiptSink::default())
    }

    /// Builds every provider instance and the routes from config; receipts that arrive
    /// on a provider's own connection go into `sink`.
    pub fn with_receipts(
        cfg: &Config,
        metrics: crate::metrics::Metrics,
        sink: &ReceiptSink,
    ) -> anyhow::Result<Self> {
        let mut slots = BTreeMap::new();
        for (name, pc) in &cfg.providers {
            let limiter = pc
                .max_tps()
                .and_then(NonZeroU32::new)
                .map(|tps| RateLimiter::direct(Quota::per_second(tps)));
            let slot = Slot {
                name: name.clone(),
                provider: pc
                    .build(name, sink)
                    .map_err(|e| anyhow::anyhow!("providers.{name}: {e}"))?,
                breaker: Breaker::new(cfg.delivery.breaker.clone()),
                limiter,
            };
            slots.insert(name.clone(), Arc::new(slot));
        }
        let mut tables = BTreeMap::new();
        for channel in Channel::ALL {
            if let Some(t) = cfg.routing.table(channel) {
                tables.insert(channel, table(&slots, channel, &t)?);
            }
        }
        Ok(Router {
            metrics,
            slots,
            tables,
            retry_initial: Duration::from_millis(cfg.delivery.retry_initial_ms.max(1)),
            retry_max: Duration::from_millis(cfg.delivery.retry_max_ms.max(1)),
        })
    }

    /// A provider instance by name.
    pub fn slot(&self, name: &str) -> Option<&Arc<Slot>> {
        self.slots.get(name)
    }

    /// Every provider instance.
    pub fn slots(&self) -> impl Iterator<Item = &Arc<Slot>> {
        self.slots.values()
    }

    /// Ends every provider's long-lived sessions (SMPP binds), at shutdown once the
    /// queue is drained.
    pub async fn close(&self) {
        for s in self.slots.values() {
            s.provider.close().await;
        }
    }

    /// The channels whose table names the provider instance `name`.
    pub fn channels_of(&self, name: &str) -> Vec<Channel> {
        self.tables
            .iter()
            .filter(|(_, t)| t.names(name))
            .map(|(c, _)| *c)
            .collect()
    }

    /// Whether `channel` has a table with at least one provider.
    pub fn serves(&self, channel: Channel) -> bool {
        self.tables
            .get(&channel)
            .is_some_and(|t| !t.default.is_empty() || t.routes.iter().any(|(_, p)| !p.is_empty()))
    }

    /// The providers to try for `to` on `channel`, in order (none: the channel has no
    /// table).
    pub fn plan(&self, channel: Channel, to: &Destination) -> Vec<Arc<Slot>> {
        let Some(table) = self.tables.get(&channel) else {
            return Vec::new();
        };
        let matches = |d: &Dest| match d {
            Dest::Prefix(p) => to.phone().is_some() && to.as_str().starts_with(p.as_str()),
            Dest::Country(c) => to.region() == Some(c.as_str()),
        };
        let entries = table
            .routes
            .iter()
            .find(|(dests, _)| dests.iter().any(matches))
            .map(|(_, p)| p)
            .unwrap_or(&table.default);
        if entries.iter().any(|(_, w)| *w > 0) {
            weighted_order(entries)
        } else {
            entries.iter().map(|(s, _)| s.clone()).collect()
        }
    }

    /// Sends `msg` until a provider accepts it, one rejects it, or `deadline` is near.
    /// `between_rounds` runs before each backoff wait (workers keep their lease there).
    pub async fn send<F, Fut>(
        &self,
        msg: &OutboundMessage,
        deadline: Millis,
        mut between_rounds: F,
    ) -> Outcome
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        let to = msg.to_masked();
        let mut last: Option<(String, String, Option<Duration>)> = None;
        for round in 1u32.. {
            for slot in self.plan(msg.channel, &msg.to) {
                if !slot.breaker.allow() {
                    continue;
                }
                if let Some(l) = &slot.limiter {
                    if let Err(not_until) = l.check() {
                        let wait = not_until.wait_time_from(DefaultClock::default().now());
                        if wait > MAX_CAP_WAIT {
                            slot.breaker.release();
                            continue;
                        }
                        tokio::time::sleep(wait).await;
                    }
                }
                let started = std::time::Instant::now();
                let result = slot.provider.send_parts(msg).await;
                self.metrics
                    .send_duration
                    .with_label_values(&[&slot.name])
                    .observe(started.elapsed().as_secs_f64());
                let outcome = match &result {
                    Ok(_) => "accepted",
                    Err(e) if !e.retryable => "rejected",
                    Err(e) => match e.kind {
                        ErrorKind::Timeout => "timeout",
                        ErrorKind::RateLimited => "rate_limited",
                        _ => "failed",
                    },
                };
                self.metrics
                    .sends
                    .with_label_values(&[&slot.name, outcome])
                    .inc();
                match result {
                    Ok(accepted) => {
                        slot.breaker.record(true);
                        tracing::info!(id = msg.id.as_str(), to = %to, provider = %slot.name, round, "message accepted");
                        return Outcome::Sent {
                            provider: slot.name.clone(),
                            message_id: accepted.message_id,
                            other_parts: accepted.other_parts,
                        };
                    }
                    // A refused account (credentials, balance, sender) or a redirect is
                    // this provider's problem, not the message's: another provider may
                    // deliver it.
                    Err(e)
                        if e.retryable
                            || matches!(e.kind, ErrorKind::Auth | ErrorKind::Redirected) =>
                    {
                        let unwell = matches!(
                            e.kind,
                            ErrorKind::Unavailable
                                | ErrorKind::Timeout
                                | ErrorKind::Auth
                                | ErrorKind::Redirected
                        );
                        slot.breaker.record(!unwell);
                        let dims = crate::metrics::stats::Dims {
                            tenant: &msg.tenant,
                            channel: msg.channel.as_str(),
                            country: msg.to.country(),
                            provider: &slot.name,
                        };
                        self.metrics.stats.failed_over(now_millis(), &dims);
                        tracing::warn!(id = msg.id.as_str(), to = %to, provider = %slot.name, round, error = %e, "send failed; trying the next provider");
                        last = Some((slot.name.clone(), e.to_string(), e.retry_after));
                    }
                    Err(e) => {
                        slot.breaker.record(true);
                        tracing::warn!(id = msg.id.as_str(), to = %to, provider = %slot.name, error = %e, "send rejected for good");
                        return Outcome::Rejected {
                            provider: slot.name.clone(),
                            reason: e.to_string(),
                        };
                    }
                }
            }
            let wait = last
                .as_ref()
                .and_then(|(_, _, ra)| *ra)
                .unwrap_or_else(|| backoff(self.retry_initial, self.retry_max, round));
            if now_millis() + wait.as_millis() as i64 >= deadline {
                let (provider, reason) = match last {
                    Some((p, r, _)) => (Some(p), r),
                    None => (None, "no provider was available".to_string()),
                };
                tracing::warn!(id = msg.id.as_str(), to = %to, round, reason = %reason, "giving up: the code expires before the next round");
                return Outcome::GaveUp { provider, reason };
            }
            between_rounds().await;
            tokio::time::sleep(wait).await;
        }
        unreachable!("the round counter cannot run out")
    }
}

#[cfg(test)]
#[path = "router_tests.rs"]
mod tests;
