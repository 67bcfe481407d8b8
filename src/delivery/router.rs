//! Routing: which providers, in which order, for a destination; and the send loop with
//! failover, per-provider breakers and send-rate caps, retries and the expiry deadline.
//!
//! A route matches a destination by ISO country (from libphonenumber) or by calling-code
//! prefix; the first matching route wins, else the default route. Its providers are tried
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
use crate::config::Config;
use crate::domain::{now_millis, Millis, PhoneNumber};
use crate::providers::{ErrorKind, OutboundMessage, SmsProvider};
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

enum Dest {
    Country(String),
    Prefix(String),
}

type Plan = Vec<(Arc<Slot>, u32)>;

/// The routing table.
pub struct Router {
    metrics: crate::metrics::Metrics,
    slots: BTreeMap<String, Arc<Slot>>,
    routes: Vec<(Vec<Dest>, Plan)>,
    default: Plan,
    retry_initial: Duration,
    retry_max: Duration,
}

/// How a send ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A provider accepted the message.
    Sent {
        /// Instance name.
        provider: String,
        /// The provider's message id.
        message_id: String,
    },
    /// A provider rejected it for good (invalid number, refused content, …).
    Rejected {
        /// Instance name.
        provider: String,
        /// Why.
        reason: String,
    },
    /// Every round failed until the code would expire.
    GaveUp {
        /// Last provider tried, if any.
        provider: Option<String>,
        /// Last failure.
        reason: String,
    },
}

/// Delay before retry round `round` (1-based): exponential, capped, jittered in [½, 1].
pub fn backoff(initial: Duration, max: Duration, round: u32) -> Duration {
    let exp = initial.saturating_mul(1u32 << round.saturating_sub(1).min(16));
    let cap = exp.min(max);
    let r = u32::from_be_bytes(crate::crypto::random_bytes::<4>()) as f64 / u32::MAX as f64;
    cap.mul_f64(0.5 + r / 2.0)
}

fn weighted_order(entries: &Plan) -> Vec<Arc<Slot>> {
    let mut pool: Vec<(Arc<Slot>, u32)> = entries.clone();
    let mut out = Vec::with_capacity(pool.len());
    while !pool.is_empty() {
        let total: u64 = pool.iter().map(|(_, w)| *w as u64).sum();
        if total == 0 {
            out.extend(pool.drain(..).map(|(s, _)| s));
            break;
        }
        let mut pick = u64::from_be_bytes(crate::crypto::random_bytes::<8>()) % total;
        let i = pool
            .iter()
            .position(|(_, w)| {
                if pick < *w as u64 {
                    true
                } else {
                    pick -= *w as u64;
                    false
                }
            })
            .unwrap_or(0);
        out.push(pool.remove(i).0);
    }
    out
}

impl Router {
    /// Builds every provider instance and the routes from config.
    pub fn from_config(cfg: &Config, metrics: crate::metrics::Metrics) -> anyhow::Result<Self> {
        let mut slots = BTreeMap::new();
        for (name, pc) in &cfg.providers {
            let limiter = pc
                .max_tps()
                .and_then(NonZeroU32::new)
                .map(|tps| RateLimiter::direct(Quota::per_second(tps)));
            let slot = Slot {
                name: name.clone(),
                provider: pc
                    .build()
                    .map_err(|e| anyhow::anyhow!("providers.{name}: {e}"))?,
                breaker: Breaker::new(cfg.delivery.breaker.clone()),
                limiter,
            };
            slots.insert(name.clone(), Arc::new(slot));
        }
        let plan = |names: &[String], weights: &[u32]| -> anyhow::Result<Plan> {
            names
                .iter()
                .enumerate()
                .map(|(i, n)| {
                    let slot = slots
                        .get(n)
                        .ok_or_else(|| anyhow::anyhow!("routing names unknown provider `{n}`"))?;
                    Ok((slot.clone(), weights.get(i).copied().unwrap_or(0)))
                })
                .collect()
        };
        let default = plan(&cfg.routing.default, &cfg.routing.default_weights)?;
        let mut routes = Vec::new();
        for r in &cfg.routing.routes {
            let dests = r
                .destinations
                .iter()
                .map(|d| {
                    if d.starts_with('+') {
                        Dest::Prefix(d.clone())
                    } else {
                        Dest::Country(d.clone())
                    }
                })
                .collect();
            routes.push((dests, plan(&r.providers, &r.weights)?));
        }
        Ok(Router {
            metrics,
            slots,
            routes,
            default,
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

    /// The providers to try for `to`, in order.
    pub fn plan(&self, to: &PhoneNumber) -> Vec<Arc<Slot>> {
        let matches = |d: &Dest| match d {
            Dest::Prefix(p) => to.as_str().starts_with(p.as_str()),
            Dest::Country(c) => to.region() == Some(c.as_str()),
        };
        let entries = self
            .routes
            .iter()
            .find(|(dests, _)| dests.iter().any(matches))
            .map(|(_, p)| p)
            .unwrap_or(&self.default);
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
            for slot in self.plan(&msg.to) {
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
                let result = slot.provider.send(msg).await;
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
                    Ok(message_id) => {
                        slot.breaker.record(true);
                        tracing::info!(id = msg.id.as_str(), to = %to, provider = %slot.name, round, "message accepted");
                        return Outcome::Sent {
                            provider: slot.name.clone(),
                            message_id,
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
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        let i = Duration::from_millis(100);
        let m = Duration::from_millis(1000);
        for _ in 0..50 {
            let b1 = backoff(i, m, 1);
            assert!(b1 >= Duration::from_millis(50) && b1 <= i);
            let b3 = backoff(i, m, 3);
            assert!(b3 >= Duration::from_millis(200) && b3 <= Duration::from_millis(400));
            assert!(backoff(i, m, 30) <= m);
        }
    }

    fn router(toml: &str) -> Router {
        let cfg = Config::from_toml(toml).unwrap();
        Router::from_config(&cfg, crate::metrics::Metrics::new()).unwrap()
    }

    const PROVIDERS: &str = r#"
        [providers.a]
        kind = "console"
        [providers.b]
        kind = "console"
        [providers.c]
        kind = "console"
    "#;

    fn names(p: Vec<Arc<Slot>>) -> Vec<String> {
        p.into_iter().map(|s| s.name.clone()).collect()
    }

    #[test]
    fn routes_by_country_then_prefix_then_default() {
        let r = router(&format!(
            r#"{PROVIDERS}
            [routing]
            default = ["c"]
            [[routing.routes]]
            destinations = ["GB"]
            providers = ["b", "a"]
            [[routing.routes]]
            destinations = ["+1"]
            providers = ["a", "b"]
            "#
        ));
        assert_eq!(
            names(r.plan(&PhoneNumber::parse("+447400123456").unwrap())),
            ["b", "a"],
            "by ISO country"
        );
        assert_eq!(
            names(r.plan(&PhoneNumber::parse("+14155550123").unwrap())),
            ["a", "b"],
            "by prefix"
        );
        assert_eq!(
            names(r.plan(&PhoneNumber::parse("+4915123456789").unwrap())),
            ["c"],
            "default"
        );
    }

    #[test]
    fn weights_split_the_first_choice() {
        let r = router(&format!(
            r#"{PROVIDERS}
            [routing]
            default = ["a", "b"]
            default_weights = [3, 1]
            "#
        ));
        let mut first_a = 0;
        for _ in 0..4000 {
            let p = names(r.plan(&PhoneNumber::parse("+14155550123").unwrap()));
            assert_eq!(p.len(), 2, "the other provider stays as failover");
            if p[0] == "a" {
                first_a += 1;
            }
        }
        assert!(
            (2700..3300).contains(&first_a),
            "{first_a} of 4000 went to a first (expect ~3000)"
        );
    }
}
