//! How delivery status moves, on memory, a single Redis and a Redis Cluster alike: final
//! statuses (`delivered`, `undelivered`, `failed`) never move, nothing moves backwards,
//! and a receipt is applied once per (provider, message id, status), so a replay changes
//! nothing, not even after a resend put the message back to `queued`; a receipt for an
//! earlier send (linked with the send count it went out as) moves nothing once the
//! record has sent again.

mod support;

use otpgw::domain::*;
use otpgw::store::*;
use std::sync::Arc;

async fn backend(kind: &str) -> Arc<dyn Store> {
    support::store::backend(kind).await.0
}

fn spec(number: &NumberRef) -> StartSpec {
    support::store::start_spec(number, 0)
}

/// A verification whose message provider `tw` accepted as `SM1`.
async fn sent(store: &Arc<dyn Store>) -> (VerificationId, NumberRef) {
    let n = support::store::number();
    let s = spec(&n);
    let id = s.fresh.id.clone();
    let now = now_millis();
    store.start(s, now).await.unwrap();
    store.begin_delivery(&id, 1, false, now).await.unwrap();
    store
        .delivered(&id, "tw", "SM1", 60_000, None, now)
        .await
        .unwrap();
    (id, n)
}

async fn receipt(
    store: &Arc<dyn Store>,
    id: &VerificationId,
    status: DeliveryStatus,
) -> ReceiptApplied {
    let mark = receipt_mark("tw", "SM1", status);
    store
        .apply_receipt(
            &MessageLink {
                id: id.clone(),
                send: None,
            },
            &mark,
            status,
            "tw",
            Some("reported by tw: x"),
            now_millis(),
        )
        .await
        .unwrap()
}

async fn status(store: &Arc<dyn Store>, id: &VerificationId) -> DeliveryStatus {
    store.get_any(id).await.unwrap().unwrap().delivery.status
}

support::store::on_every_backend!(
    delivered_and_undelivered_never_flip,
    a_failed_delivery_is_final,
    a_replayed_receipt_changes_nothing_even_after_a_resend,
    a_receipt_for_a_gone_record_changes_nothing_and_creates_nothing,
    a_late_receipt_for_an_earlier_send_moves_nothing,
);

async fn delivered_and_undelivered_never_flip(kind: &str) {
    use DeliveryStatus::*;
    let store = backend(kind).await;
    let (id, _) = sent(&store).await;
    assert_eq!(receipt(&store, &id, Delivered).await, ReceiptApplied::Moved);
    assert_eq!(
        receipt(&store, &id, Undelivered).await,
        ReceiptApplied::Unchanged
    );
    assert_eq!(receipt(&store, &id, Sent).await, ReceiptApplied::Unchanged);
    assert_eq!(status(&store, &id).await, Delivered);
    let (other, _) = sent(&store).await;
    assert_eq!(
        receipt(&store, &other, Undelivered).await,
        ReceiptApplied::Moved
    );
    assert_eq!(
        receipt(&store, &other, Delivered).await,
        ReceiptApplied::Unchanged
    );
    let v = store.get_any(&other).await.unwrap().unwrap();
    assert_eq!(v.delivery.status, Undelivered);
    assert_eq!(v.delivery.reason.as_deref(), Some("reported by tw: x"));
    // The worker's updates follow the same rule.
    store
        .set_delivery(&id, Failed, Some("tw"), Some("late"), now_millis())
        .await
        .unwrap();
    assert_eq!(status(&store, &id).await, Delivered);
}

async fn a_failed_delivery_is_final(kind: &str) {
    use DeliveryStatus::*;
    let store = backend(kind).await;
    let n = support::store::number();
    let s = spec(&n);
    let id = s.fresh.id.clone();
    store.start(s, now_millis()).await.unwrap();
    store
        .set_delivery(
            &id,
            Failed,
            Some("tw"),
            Some("every provider failed"),
            now_millis(),
        )
        .await
        .unwrap();
    assert_eq!(
        receipt(&store, &id, Delivered).await,
        ReceiptApplied::Unchanged
    );
    store
        .set_delivery(&id, Sent, Some("tw"), None, now_millis())
        .await
        .unwrap();
    let v = store.get_any(&id).await.unwrap().unwrap();
    assert_eq!(v.delivery.status, Failed);
    assert_eq!(v.delivery.reason.as_deref(), Some("every provider failed"));
}

async fn a_replayed_receipt_changes_nothing_even_after_a_resend(kind: &str) {
    use DeliveryStatus::*;
    let store = backend(kind).await;
    let (id, n) = sent(&store).await;
    assert_eq!(receipt(&store, &id, Delivered).await, ReceiptApplied::Moved);
    let first = store.get_any(&id).await.unwrap().unwrap().delivery;
    assert_eq!(
        receipt(&store, &id, Delivered).await,
        ReceiptApplied::Replayed
    );
    assert_eq!(store.get_any(&id).await.unwrap().unwrap().delivery, first);
    // A resend starts the message over; the old receipt replayed must not mark the new
    // send delivered.
    match store.start(spec(&n), now_millis()).await.unwrap() {
        StartOutcome::Resent(v) => assert_eq!(v.id, id),
        other => panic!("expected a resend, got {other:?}"),
    }
    assert_eq!(status(&store, &id).await, Queued);
    assert_eq!(
        receipt(&store, &id, Delivered).await,
        ReceiptApplied::Replayed
    );
    assert_eq!(status(&store, &id).await, Queued);
    // The record still decodes whole with its marks.
    let v = store.get_any(&id).await.unwrap().unwrap();
    assert_eq!(v.send_count, 2);
}

async fn a_receipt_for_a_gone_record_changes_nothing_and_creates_nothing(kind: &str) {
    let store = backend(kind).await;
    let id = VerificationId::generate(1).unwrap();
    assert_eq!(
        receipt(&store, &id, DeliveryStatus::Delivered).await,
        ReceiptApplied::Unchanged
    );
    assert!(store.get_any(&id).await.unwrap().is_none());
}

/// The receipt the receipt handler would apply for `message_id`: through its link.
async fn linked_receipt(
    store: &Arc<dyn Store>,
    message_id: &str,
    status: DeliveryStatus,
) -> ReceiptApplied {
    let link = store
        .find_provider_message("tw", message_id)
        .await
        .unwrap()
        .expect("linked");
    store
        .apply_receipt(
            &link,
            &receipt_mark("tw", message_id, status),
            status,
            "tw",
            None,
            now_millis(),
        )
        .await
        .unwrap()
}

async fn a_late_receipt_for_an_earlier_send_moves_nothing(kind: &str) {
    use DeliveryStatus::*;
    let store = backend(kind).await;
    let (id, n) = sent(&store).await;
    let first = store.find_provider_message("tw", "SM1").await.unwrap();
    assert_eq!(first.map(|l| (l.id, l.send)), Some((id.clone(), Some(1))));
    // A resend goes out as SM2.
    assert!(matches!(
        store.start(spec(&n), now_millis()).await.unwrap(),
        StartOutcome::Resent(_)
    ));
    store
        .begin_delivery(&id, 2, false, now_millis())
        .await
        .unwrap();
    store
        .delivered(&id, "tw", "SM2", 60_000, None, now_millis())
        .await
        .unwrap();
    // SM1's receipt arrives late: it neither fails nor finishes the current send.
    assert_eq!(
        linked_receipt(&store, "SM1", Undelivered).await,
        ReceiptApplied::Stale
    );
    assert_eq!(status(&store, &id).await, Sent);
    assert_eq!(
        linked_receipt(&store, "SM1", Undelivered).await,
        ReceiptApplied::Replayed
    );
    // SM2's own receipt applies.
    assert_eq!(
        linked_receipt(&store, "SM2", Delivered).await,
        ReceiptApplied::Moved
    );
    assert_eq!(status(&store, &id).await, Delivered);
}
