//! Reported prices: after a final receipt (delivered, undelivered, failed) through an
//! instance that reads prices ([`SmsProvider::price_reads`], Twilio's `fetch_price`),
//! a task reads the price the vendor billed and records it into the fleet numbers in
//! place of the config estimate ([`crate::metrics::stats::Recorder::reported`]).
//!
//! The receipt's answer never waits for it: [`schedule`] spawns and returns. Reads are
//! bounded: one task per final receipt, at most [`MAX_WAITING`] waiting in the process
//! (more are skipped, and their estimate stays), each adapter caps its reads in flight;
//! each read has the adapter's timeout; a price not there yet, or a read that failed and
//! may succeed later (5xx, 429, a timeout), is read again after the next delay, and after
//! the last delay the estimate stays. An error the vendor will not get over (404, 401)
//! stops at once. Outcomes are counted in `otpgw_price_fetches_total`: `priced`,
//! `unpriced` (the last read found no price yet), `failed` (the last read failed),
//! `skipped` (too many waiting), and `in_receipt` for a price a receipt carried
//! ([`record_from_receipt`], Vonage's `price`). With `stats.currency` set, a price in
//! another currency (`price_unit`) is not recorded and counts as `other_currency`.

use crate::metrics::Metrics;
use crate::providers::SmsProvider;
use crate::store::Store;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Price reads waiting or running in this process, at most.
pub const MAX_WAITING: usize = 10_000;

static WAITING: AtomicUsize = AtomicUsize::new(0);

/// Releases a waiting place when the task ends, however it ends.
struct Place;

impl Drop for Place {
    fn drop(&mut self) {
        WAITING.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Schedules the read of `message_id`'s price through `name`'s adapter, if it reads
/// prices. Returns at once.
pub fn schedule(
    provider: Arc<dyn SmsProvider>,
    name: &str,
    message_id: &str,
    store: Arc<dyn Store>,
    metrics: &Metrics,
) {
    let delays = provider.price_reads();
    if delays.is_empty() {
        return;
    }
    let count = |m: &Metrics, name: &str, outcome: &str| {
        if let Some(s) = m.stats.spend() {
            s.price_fetches.with_label_values(&[name, outcome]).inc();
        }
    };
    if WAITING.fetch_add(1, Ordering::Relaxed) >= MAX_WAITING {
        WAITING.fetch_sub(1, Ordering::Relaxed);
        count(metrics, name, "skipped");
        return;
    }
    let (name, message_id, metrics) = (name.to_string(), message_id.to_string(), metrics.clone());
    tokio::spawn(async move {
        let _place = Place;
        let mut outcome = "unpriced";
        for (i, delay) in delays.iter().enumerate() {
            tokio::time::sleep(*delay).await;
            match provider.reported_price(&message_id).await {
                Ok(Some(price)) if !metrics.stats.takes_unit(price.unit.as_deref()) => {
                    tracing::warn!(provider = %name, unit = ?price.unit, "reported price in another currency than stats.currency: estimate kept");
                    outcome = "other_currency";
                    break;
                }
                Ok(Some(price)) => {
                    outcome = "priced";
                    record(&*store, &metrics, &name, &message_id, price.amount).await;
                    break;
                }
                Ok(None) => outcome = "unpriced",
                Err(e) => {
                    tracing::info!(provider = %name, read = i + 1, error = %e, "price read failed");
                    outcome = "failed";
                    if !e.retryable {
                        break;
                    }
                }
            }
        }
        count(&metrics, &name, outcome);
    });
}

/// Records the price a receipt through `name` carried for `message_id` (a final status
/// just applied), off the receipt's answer: one record lookup in a task of its own.
pub fn record_from_receipt(
    store: &Arc<dyn Store>,
    metrics: &Metrics,
    name: &str,
    message_id: String,
    price: crate::providers::Price,
) {
    let (store, metrics, name) = (store.clone(), metrics.clone(), name.to_string());
    tokio::spawn(async move {
        let outcome = if metrics.stats.takes_unit(price.unit.as_deref()) {
            record(&*store, &metrics, &name, &message_id, price.amount).await;
            "in_receipt"
        } else {
            tracing::warn!(provider = %name, unit = ?price.unit, "receipt price in another currency than stats.currency: estimate kept");
            "other_currency"
        };
        if let Some(s) = metrics.stats.spend() {
            s.price_fetches.with_label_values(&[&name, outcome]).inc();
        }
    });
}

/// Records a reported `amount` for message `message_id` through `name`, in the minute
/// of its record's last send; a record gone (expired) keeps the estimate.
async fn record(store: &dyn Store, metrics: &Metrics, name: &str, message_id: &str, amount: f64) {
    let v = match store.find_provider_message(name, message_id).await {
        Ok(Some(link)) => store.get_any(&link.id).await.ok().flatten(),
        _ => None,
    };
    let Some(v) = v else {
        tracing::info!(provider = %name, "price read for a record no longer kept: estimate kept");
        return;
    };
    let sent = v.send_times().last().copied().unwrap_or(v.created_at);
    let micro = (amount * 1e6).round() as i64;
    metrics
        .stats
        .reported(sent, &super::stats_dims(&v, name), micro);
}
