//! The fleet numbers' buffer in this process ([`Recorder`]): per-minute counters keyed by
//! (tenant, channel, country, provider), added up in memory on the hot path and handed
//! to the shared store by a flush task every `stats.flush_ms` (one call per flush; see
//! `store::stats`). Kept beside [`super::Metrics`] and reached through it, so the places
//! that count Prometheus series count these too without another handle.
//!
//! A crash loses what was buffered since the last flush (at most one flush interval);
//! a failed flush puts its counts back (bounded by [`MAX_ENTRIES`]) for the next one.
//!
//! A counter is named by a hash field `<channel>|<country>|<provider>|<counter>` inside
//! the (tenant, minute) bucket; `-` stands for "no provider" (starts, refusals,
//! approvals). Counters: `starts`, `sends`, `accepted`, `failed`, `delivered`,
//! `undelivered`, `approvals`, `refused:<reason>`, `lat:<0..7>` (the delivery latency
//! histogram, bounds in [`LATENCY_BOUNDS_SECS`]), `spend` and `avoided` (millionths of
//! the price unit: spent on accepted sends, and what sends the pumping guard refused
//! would have cost). A price a provider reported after the send (`delivery::price_fetch`)
//! replaces the estimate: [`Recorder::reported`] adds the difference to `spend` in the
//! send's own minute. The same amounts go to the Prometheus spend series ([`super::spend`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};

/// Upper bounds (seconds, inclusive) of the first seven latency buckets; the eighth
/// holds everything slower.
pub const LATENCY_BOUNDS_SECS: [u64; 7] = [2, 5, 10, 20, 30, 60, 300];

/// Most distinct (minute, tenant, field) entries buffered between flushes; beyond it new
/// entries are dropped (and logged once per flush), never the process's memory.
pub const MAX_ENTRIES: usize = 100_000;

/// Prices per provider instance: country ISO code (or `default`) → price of one
/// accepted message, in the provider's currency-less unit.
pub type Prices = BTreeMap<String, BTreeMap<String, f64>>;

/// One counter's increment: its minute (Unix minutes), tenant, field and amount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bump {
    /// Unix time in minutes.
    pub minute: i64,
    /// The tenant's id.
    pub tenant: String,
    /// `<channel>|<country>|<provider>|<counter>`.
    pub field: String,
    /// The amount added.
    pub n: i64,
}

/// Where a count belongs: the bucket's dimensions.
#[derive(Debug, Clone, Copy)]
pub struct Dims<'a> {
    /// The tenant's id.
    pub tenant: &'a str,
    /// `sms`, `whatsapp`, `voice`, `email`.
    pub channel: &'a str,
    /// ISO 3166 code, `unknown` or `email`.
    pub country: &'a str,
    /// The provider instance, or `-`.
    pub provider: &'a str,
}

/// The field name of `counter` under `d` (the tenant is the bucket, not the field).
pub fn field(d: &Dims<'_>, counter: &str) -> String {
    let clean = |s: &str| s.replace('|', "_");
    format!(
        "{}|{}|{}|{}",
        clean(d.channel),
        clean(d.country),
        clean(d.provider),
        counter
    )
}

/// A field split into (channel, country, provider, counter).
pub fn parse_field(f: &str) -> Option<(&str, &str, &str, &str)> {
    let mut it = f.splitn(4, '|');
    Some((it.next()?, it.next()?, it.next()?, it.next()?))
}

/// The latency bucket (0..8) of `secs`.
pub fn latency_bucket(secs: u64) -> usize {
    LATENCY_BOUNDS_SECS
        .iter()
        .position(|b| secs <= *b)
        .unwrap_or(LATENCY_BOUNDS_SECS.len())
}

#[derive(Default)]
struct Inner {
    buf: Mutex<HashMap<(i64, String, String), i64>>,
    prices: RwLock<Prices>,
    currency: RwLock<Option<String>>,
    spend: Option<super::spend::Spend>,
}

/// The per-process buffer of fleet counters; cheap to clone.
#[derive(Clone, Default)]
pub struct Recorder(Arc<Inner>);

impl Recorder {
    /// A recorder that also adds spend to the Prometheus series `spend`.
    pub fn with_spend(spend: super::spend::Spend) -> Self {
        Recorder(Arc::new(Inner {
            spend: Some(spend),
            ..Inner::default()
        }))
    }

    /// The Prometheus spend series, when this recorder feeds them.
    pub fn spend(&self) -> Option<&super::spend::Spend> {
        self.0.spend.as_ref()
    }

    /// Sets the price table (start-up).
    pub fn set_prices(&self, p: Prices) {
        *self.0.prices.write().unwrap_or_else(|e| e.into_inner()) = p;
    }

    /// Sets the currency of the price tables (start-up; `stats.currency`).
    pub fn set_currency(&self, c: Option<String>) {
        *self.0.currency.write().unwrap_or_else(|e| e.into_inner()) = c;
    }

    /// Whether a price reported in `unit` may replace an estimate: always when no
    /// currency is set or the provider names none (Vonage's receipts), otherwise when
    /// `unit` is that currency (case aside).
    pub fn takes_unit(&self, unit: Option<&str>) -> bool {
        let currency = self.0.currency.read().unwrap_or_else(|e| e.into_inner());
        match (currency.as_deref(), unit) {
            (Some(c), Some(u)) => c.eq_ignore_ascii_case(u.trim()),
            _ => true,
        }
    }

    /// The price, in millionths, of one message through `provider` to `country`
    /// (`default` when the country has none), if the provider has prices.
    pub fn price_micro(&self, provider: &str, country: &str) -> Option<i64> {
        let prices = self.0.prices.read().unwrap_or_else(|e| e.into_inner());
        let table = prices.get(provider)?;
        let p = table.get(country).or_else(|| table.get("default"))?;
        Some((p * 1e6).round() as i64)
    }

    /// Adds `n` to `counter` under `d` in the minute of `now_ms`.
    pub fn add(&self, now_ms: i64, d: &Dims<'_>, counter: &str, n: i64) {
        if n == 0 {
            return;
        }
        let key = (
            now_ms.div_euclid(60_000),
            d.tenant.to_string(),
            field(d, counter),
        );
        let mut buf = self.0.buf.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(v) = buf.get_mut(&key) {
            *v += n;
        } else if buf.len() < MAX_ENTRIES {
            buf.insert(key, n);
        }
    }

    /// An accepted send through `d.provider`: `sends`, `accepted` and its price.
    pub fn accepted(&self, now_ms: i64, d: &Dims<'_>) {
        self.add(now_ms, d, "sends", 1);
        self.add(now_ms, d, "accepted", 1);
        if let Some(p) = self.price_micro(d.provider, d.country) {
            self.add(now_ms, d, "spend", p);
            if let Some(s) = self.spend() {
                s.add(d.provider, d.channel, "estimate", p);
            }
        }
    }

    /// The price `reported_micro` (millionths) that `d.provider` reported for a send
    /// accepted at `sent_ms`: it replaces that send's estimate in the send's minute.
    pub fn reported(&self, sent_ms: i64, d: &Dims<'_>, reported_micro: i64) {
        let estimate = self.price_micro(d.provider, d.country).unwrap_or(0);
        self.add(sent_ms, d, "spend", reported_micro - estimate);
        if let Some(s) = self.spend() {
            s.add(d.provider, d.channel, "reported", reported_micro);
            s.add(d.provider, d.channel, "replaced", estimate);
        }
    }

    /// One attempt through `d.provider` that failed and moved on to the next provider
    /// or round (a 5xx, a timeout, a refused account): the send itself is counted once,
    /// where it ended, so a failing provider shows here.
    pub fn failed_over(&self, now_ms: i64, d: &Dims<'_>) {
        self.add(now_ms, d, "failed_over", 1);
    }

    /// A send no provider accepted (rejected, or out of retries).
    pub fn failed(&self, now_ms: i64, d: &Dims<'_>) {
        self.add(now_ms, d, "sends", 1);
        self.add(now_ms, d, "failed", 1);
    }

    /// A delivered receipt, `latency_ms` after the send was queued.
    pub fn delivered(&self, now_ms: i64, d: &Dims<'_>, latency_ms: i64) {
        self.add(now_ms, d, "delivered", 1);
        let bucket = latency_bucket((latency_ms.max(0) / 1000) as u64);
        self.add(now_ms, d, &format!("lat:{bucket}"), 1);
    }

    /// A refused start, by its reason; for a refusal by the pumping guard (`guard`),
    /// `d.provider` (the route's first provider) prices the spend it avoided.
    pub fn refused(&self, now_ms: i64, d: &Dims<'_>, reason: &str, guard: bool) {
        self.add(now_ms, d, &format!("refused:{reason}"), 1);
        if guard {
            if let Some(p) = self.price_micro(d.provider, d.country) {
                self.add(now_ms, d, "avoided", p);
                if let Some(s) = self.spend() {
                    s.avoided
                        .with_label_values(&[d.provider, d.channel])
                        .inc_by(p as f64 / 1e6);
                }
            }
        }
    }

    /// Takes everything buffered (the flush task).
    pub fn take(&self) -> Vec<Bump> {
        let mut buf = self.0.buf.lock().unwrap_or_else(|e| e.into_inner());
        std::mem::take(&mut *buf)
            .into_iter()
            .map(|((minute, tenant, field), n)| Bump {
                minute,
                tenant,
                field,
                n,
            })
            .collect()
    }

    /// Puts back counts a failed flush could not write (bounded like [`Self::add`]).
    pub fn restore(&self, bumps: Vec<Bump>) {
        let mut buf = self.0.buf.lock().unwrap_or_else(|e| e.into_inner());
        for b in bumps {
            let key = (b.minute, b.tenant, b.field);
            if let Some(v) = buf.get_mut(&key) {
                *v += b.n;
            } else if buf.len() < MAX_ENTRIES {
                buf.insert(key, b.n);
            }
        }
    }
}

#[cfg(test)]
#[path = "stats_tests.rs"]
mod tests;
