//! Delivery receipts, transport-free: the named provider instance's adapter verifies
//! the vendor's signature and parses the body; each update it reports is matched to our
//! message and applied once per (provider, message id, status)
//! ([`crate::store::progress`]): a vendor's retry or a replay changes nothing, and a
//! final status never moves. The HTTP endpoint (`api/http/receipts.rs`) only frames it.
//!
//! A vendor's subscription handshake on the same URL (Meta's `GET ?hub.challenge=…`) is
//! the adapter's too ([`handshake`]), answered before anything is parsed as a receipt.
//!
//! Receipts that arrive on a provider's own connection (SMPP `deliver_sm`) come through
//! a channel ([`spawn_pushed`]) and take the same path after parsing ([`update`]). Such a
//! receipt can outrun the store step that records the message id (`Store::delivered`
//! runs after the provider answered the send, and an SMSC may report delivery at once),
//! so an id not found yet is looked up again after 100 ms, 400 ms, 1 s and 2.5 s before
//! it is counted `unknown` and ignored.

use super::Router;
use crate::domain::{now_millis, DeliveryStatus, RecordKind};
use crate::error::{Error, Result};
use crate::events::{Emitter, EventType};
use crate::providers::{PushedReceipt, Receipt, ReceiptError, ReceiptRequest};
use crate::store::{receipt_mark, ReceiptApplied, Store, StoreError};
use std::sync::Arc;
use std::time::Duration;

/// Whether `provider` names a provider instance of this gateway (the endpoint answers
/// `404` before reading a body otherwise).
pub fn knows(router: &Router, provider: &str) -> bool {
    router.slot(provider).is_some()
}

fn unavailable(e: StoreError) -> Error {
    tracing::warn!(error = %e, "store call failed");
    Error::store_unavailable("the verification store is unavailable; try again shortly")
}

/// The answer to a refused receipt (or handshake): 404 for an adapter without
/// receipts, 401 unsigned, 403 forged, 400 malformed.
fn refused(provider: &str, e: ReceiptError) -> Error {
    tracing::warn!(provider = %provider, error = %e, "receipt refused");
    match e {
        ReceiptError::NotSupported => {
            Error::RouteNotFound(format!("provider `{provider}` sends no delivery receipts"))
        }
        ReceiptError::Unsigned => Error::Unauthorized(e.to_string()),
        ReceiptError::Forged => Error::Forbidden(e.to_string()),
        ReceiptError::Malformed(m) => Error::InvalidRequest(format!("malformed receipt: {m}")),
    }
}

/// A vendor's subscription handshake on the receipts URL (Meta's `hub.challenge`),
/// answered before any receipt is parsed: the text to echo, `None` when `req` is no
/// handshake for this provider's adapter, or the refusal (a wrong verify token is 403).
pub fn handshake(
    router: &Router,
    provider: &str,
    req: &ReceiptRequest<'_>,
) -> Result<Option<String>> {
    let Some(slot) = router.slot(provider) else {
        return Ok(None);
    };
    match slot.provider.handshake(req) {
        None => Ok(None),
        Some(Ok(challenge)) => {
            tracing::info!(provider = %provider, "webhook subscription handshake answered");
            Ok(Some(challenge))
        }
        Some(Err(e)) => Err(refused(provider, e)),
    }
}

/// Verifies, parses and applies one receipt callback; the number of statuses it moved.
/// A receipt none of whose updates matches a message of this gateway is `404`.
pub async fn apply(
    router: &Router,
    store: &Arc<dyn Store>,
    metrics: &crate::metrics::Metrics,
    events: &Emitter,
    provider: &str,
    req: &ReceiptRequest<'_>,
) -> Result<u32> {
    let slot = router.slot(provider).ok_or_else(|| {
        Error::RouteNotFound("no provider of that name takes receipts here".into())
    })?;
    let receipts = slot
        .provider
        .parse_receipt(req)
        .map_err(|e| refused(provider, e))?;
    let (mut matched, mut updated) = (0, 0);
    // Messages this callback moved to a final status: a price it carries is theirs.
    let mut finished = Vec::new();
    for r in &receipts {
        match update(&**store, metrics, events, provider, r)
            .await
            .map_err(unavailable)?
        {
            None => {
                tracing::info!(provider = %provider, "receipt for a message id this gateway does not know");
                metrics
                    .receipts
                    .with_label_values(&[provider, "unknown"])
                    .inc();
            }
            Some(applied) => {
                matched += 1;
                let status = r.status.as_str();
                metrics
                    .receipts
                    .with_label_values(&[provider, status])
                    .inc();
                if applied == ReceiptApplied::Moved {
                    updated += 1;
                    let done = matches!(
                        r.status,
                        DeliveryStatus::Delivered
                            | DeliveryStatus::Undelivered
                            | DeliveryStatus::Failed
                    );
                    if done {
                        let (p, s) = (slot.provider.clone(), store.clone());
                        super::price_fetch::schedule(p, provider, &r.message_id, s, metrics);
                        finished.push(r.message_id.as_str());
                    }
                }
            }
        }
    }
    if !finished.is_empty() {
        for (id, price) in slot.provider.receipt_prices(req) {
            if finished.contains(&id.as_str()) {
                super::price_fetch::record_from_receipt(store, metrics, provider, id, price);
            }
        }
    }
    if matched == 0 && !receipts.is_empty() {
        return Err(Error::NotFound(
            "no message of this gateway matches the receipt".into(),
        ));
    }
    Ok(updated)
}

/// Matches one parsed update to our message and applies it once; `None` when no message
/// of this gateway has that id.
pub async fn update(
    store: &dyn Store,
    metrics: &crate::metrics::Metrics,
    events: &Emitter,
    provider: &str,
    r: &Receipt,
) -> std::result::Result<Option<ReceiptApplied>, StoreError> {
    let Some(link) = store.find_provider_message(provider, &r.message_id).await? else {
        return Ok(None);
    };
    let id = link.id.clone();
    let reason = r
        .detail
        .as_deref()
        .map(|d| format!("reported by {provider}: {d}"));
    let mark = receipt_mark(provider, &r.message_id, r.status);
    let applied = store
        .apply_receipt(
            &link,
            &mark,
            r.status,
            provider,
            reason.as_deref(),
            now_millis(),
        )
        .await?;
    let outcome = match applied {
        ReceiptApplied::Moved => "applied",
        ReceiptApplied::Unchanged => "no change",
        ReceiptApplied::Replayed => "replay ignored",
        ReceiptApplied::Stale => "an earlier send's: kept, nothing moved",
    };
    tracing::info!(id = id.as_str(), provider = %provider, status = r.status.as_str(), detail = r.detail.as_deref().unwrap_or(""), outcome, "delivery receipt");
    let bad = matches!(
        r.status,
        DeliveryStatus::Undelivered | DeliveryStatus::Failed
    );
    if applied == ReceiptApplied::Moved {
        count(store, metrics, events, provider, &id, r).await;
    }
    if applied == ReceiptApplied::Moved && bad && id.kind() == RecordKind::Verification {
        super::steps::after_receipt(store, metrics, &id).await;
    }
    Ok(Some(applied))
}

/// Delays before looking an unknown id up again (the receipt may have outrun the
/// store step that records the id).
const UNKNOWN_RETRIES: [u64; 4] = [100, 300, 600, 1_500];

/// Applies one pushed receipt, looking an unknown id up again a few times; the outcome
/// word for `otpgw_delivery_receipts_total`'s `status` label is the status, or `unknown`.
async fn apply_pushed(
    store: &dyn Store,
    metrics: &crate::metrics::Metrics,
    events: &Emitter,
    p: &PushedReceipt,
) -> &'static str {
    for (i, wait) in std::iter::once(0).chain(UNKNOWN_RETRIES).enumerate() {
        tokio::time::sleep(Duration::from_millis(wait)).await;
        match update(store, metrics, events, &p.provider, &p.receipt).await {
            Ok(Some(_)) => return p.receipt.status.as_str(),
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(provider = %p.provider, error = %e, attempt = i + 1, "store call failed applying a receipt");
            }
        }
    }
    tracing::info!(provider = %p.provider, "receipt for a message id this gateway does not know: acknowledged and ignored");
    "unknown"
}

/// Applies receipts pushed by providers' own connections until every sender is gone;
/// each in its own task, so one waiting for its id holds up no other.
pub fn spawn_pushed(
    store: Arc<dyn Store>,
    mut rx: tokio::sync::mpsc::Receiver<PushedReceipt>,
    metrics: crate::metrics::Metrics,
    events: Emitter,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while let Some(p) = rx.recv().await {
            let (store, metrics, events) = (store.clone(), metrics.clone(), events.clone());
            tokio::spawn(async move {
                let outcome = apply_pushed(&*store, &metrics, &events, &p).await;
                metrics
                    .receipts
                    .with_label_values(&[&p.provider, outcome])
                    .inc();
            });
        }
    })
}

/// Counts a receipt that moved a send into the fleet numbers: `delivered` with its
/// latency from the last send's queueing, or `undelivered`; and queues its
/// `delivery.delivered` or `delivery.failed` event. One record read, off the hot path;
/// a failed read only skips the count and the event.
async fn count(
    store: &dyn Store,
    metrics: &crate::metrics::Metrics,
    events: &Emitter,
    provider: &str,
    id: &crate::domain::VerificationId,
    r: &Receipt,
) {
    let delivered = match r.status {
        DeliveryStatus::Delivered => true,
        DeliveryStatus::Undelivered | DeliveryStatus::Failed => false,
        _ => return,
    };
    let Ok(Some(v)) = store.get_any(id).await else {
        return;
    };
    let (kind, status) = if delivered {
        (EventType::DeliveryDelivered, "delivered")
    } else {
        (EventType::DeliveryFailed, r.status.as_str())
    };
    events
        .emit(kind, &v, |d| {
            let d = d.with_delivery(provider, Some(&r.message_id), status);
            match &r.detail {
                Some(why) if !delivered => d.with_reason(why),
                _ => d,
            }
        })
        .await;
    let now = now_millis();
    let d = super::stats_dims(&v, provider);
    if delivered {
        let queued = v.send_times().last().copied().unwrap_or(v.created_at);
        metrics.stats.delivered(now, &d, now - queued);
        let secs = (now - queued).max(0) as f64 / 1000.0;
        metrics
            .delivery_latency
            .with_label_values(&[provider])
            .observe(secs);
    } else {
        metrics.stats.add(now, &d, "undelivered", 1);
    }
}
