//! The queue suite: the same behaviour of the send queue on memory, a single Redis and a
//! 3-master Redis Cluster, driven through the store's start (which enqueues atomically),
//! and the store's delivery steps (begin, delivered, which acks the lease it is handed).

mod support;

use otpgw::domain::*;
use otpgw::store::*;
use std::time::Duration;
use support::store::backend;

fn spec(cooldown_ms: i64) -> StartSpec {
    support::store::start_spec(&support::store::number(), cooldown_ms)
}

support::store::on_every_backend!(
    a_start_queues_one_send_leased_once,
    a_resend_queues_the_next_send,
    a_refused_start_queues_nothing,
    ack_removes_the_send,
    a_silent_lease_is_reclaimed_by_another_consumer,
    touch_keeps_a_lease_from_being_reclaimed,
    dead_letter_moves_the_send_out,
    begin_delivery_marks_only_a_due_send,
    delivered_marks_sent_and_links_the_message_id,
    delivered_acks_the_lease_in_the_same_step,
);

async fn a_start_queues_one_send_leased_once(kind: &str) {
    let (store, queue) = backend(kind).await;
    let s = spec(30_000);
    let id = s.fresh.id.clone();
    assert!(matches!(
        store.start(s, now_millis()).await.unwrap(),
        StartOutcome::Created(_)
    ));
    let leases = queue.receive("c1", 10).await.unwrap();
    assert_eq!(leases.len(), 1);
    let l = &leases[0];
    assert_eq!((&l.msg.id, l.msg.seq, l.msg.tenant.as_str()), (&id, 1, "t"));
    assert_eq!(l.msg.app_hash.as_deref(), Some("FA+9qCX9VSu"));
    assert_eq!(l.msg.request_id.as_deref(), Some("rid-1"));
    assert!(!l.redelivered);
    assert!(
        queue.receive("c2", 10).await.unwrap().is_empty(),
        "leased once"
    );
    assert_eq!(queue.depth().await.unwrap().pending, 1);
}

async fn a_resend_queues_the_next_send(kind: &str) {
    let (store, queue) = backend(kind).await;
    let first = spec(0);
    let mut again = spec(0);
    again.number = first.number.clone();
    again.fresh.id = VerificationId::generate(first.number.shard).unwrap();
    store.start(first, now_millis()).await.unwrap();
    assert!(matches!(
        store.start(again, now_millis()).await.unwrap(),
        StartOutcome::Resent(_)
    ));
    let mut seqs: Vec<u32> = queue
        .receive("c1", 10)
        .await
        .unwrap()
        .iter()
        .map(|l| l.msg.seq)
        .collect();
    seqs.sort();
    assert_eq!(seqs, [1, 2]);
}

async fn a_refused_start_queues_nothing(kind: &str) {
    let (store, queue) = backend(kind).await;
    let first = spec(30_000);
    let mut again = spec(30_000);
    again.number = first.number.clone();
    again.fresh.id = VerificationId::generate(first.number.shard).unwrap();
    store.start(first, now_millis()).await.unwrap();
    assert!(matches!(
        store.start(again, now_millis()).await.unwrap(),
        StartOutcome::Cooldown(_)
    ));
    assert_eq!(
        queue.receive("c1", 10).await.unwrap().len(),
        1,
        "only the first start queued a send"
    );
}

async fn ack_removes_the_send(kind: &str) {
    let (store, queue) = backend(kind).await;
    store.start(spec(0), now_millis()).await.unwrap();
    let l = queue.receive("c1", 10).await.unwrap().remove(0);
    queue.ack(&l).await.unwrap();
    assert_eq!(queue.depth().await.unwrap().pending, 0);
    tokio::time::sleep(Duration::from_millis(60)).await;
    assert!(
        queue.reclaim("c2", 10, 10).await.unwrap().is_empty(),
        "an acked send is never reclaimed"
    );
}

async fn a_silent_lease_is_reclaimed_by_another_consumer(kind: &str) {
    let (store, queue) = backend(kind).await;
    store.start(spec(0), now_millis()).await.unwrap();
    let l = queue.receive("c1", 10).await.unwrap().remove(0);
    assert!(
        queue.reclaim("c2", 300, 10).await.unwrap().is_empty(),
        "not idle long enough yet"
    );
    tokio::time::sleep(Duration::from_millis(350)).await;
    let taken = queue.reclaim("c2", 300, 10).await.unwrap();
    assert_eq!(taken.len(), 1);
    assert_eq!(taken[0].msg, l.msg);
    assert!(taken[0].redelivered);
    queue.ack(&taken[0]).await.unwrap();
    assert_eq!(queue.depth().await.unwrap().pending, 0);
}

async fn touch_keeps_a_lease_from_being_reclaimed(kind: &str) {
    let (store, queue) = backend(kind).await;
    store.start(spec(0), now_millis()).await.unwrap();
    let l = queue.receive("c1", 10).await.unwrap().remove(0);
    tokio::time::sleep(Duration::from_millis(350)).await;
    queue.touch("c1", &l).await.unwrap();
    assert!(queue.reclaim("c2", 300, 10).await.unwrap().is_empty());
}

async fn dead_letter_moves_the_send_out(kind: &str) {
    let (store, queue) = backend(kind).await;
    store.start(spec(0), now_millis()).await.unwrap();
    let l = queue.receive("c1", 10).await.unwrap().remove(0);
    queue
        .dead_letter(&l, "rejected by test: invalid number")
        .await
        .unwrap();
    let d = queue.depth().await.unwrap();
    assert_eq!((d.pending, d.dead), (0, 1));
    tokio::time::sleep(Duration::from_millis(60)).await;
    assert!(queue.reclaim("c2", 10, 10).await.unwrap().is_empty());
}

async fn begin_delivery_marks_only_a_due_send(kind: &str) {
    let (store, _queue) = backend(kind).await;
    let s = spec(0);
    let id = s.fresh.id.clone();
    let again = StartSpec {
        fresh: Verification {
            id: VerificationId::generate(s.number.shard).unwrap(),
            ..s.fresh.clone()
        },
        ..spec(0)
    };
    let again = StartSpec {
        number: s.number.clone(),
        ..again
    };
    let now = now_millis();
    store.start(s, now).await.unwrap();
    assert!(matches!(
        store.start(again, now).await.unwrap(),
        StartOutcome::Resent(_)
    ));
    let delivery = |b: Option<Begun>| b.map(|b| (b.record.delivery.status, b.verdict));
    // The first send was superseded by the resend (sequence 2): not marked.
    let stale = store.begin_delivery(&id, 1, false, now).await.unwrap();
    assert_eq!(
        delivery(stale),
        Some((DeliveryStatus::Queued, SendVerdict::Superseded))
    );
    let v = store.get_any(&id).await.unwrap().unwrap();
    assert_eq!(
        v.delivery.status,
        DeliveryStatus::Queued,
        "stale: not marked"
    );
    // The current one is marked; the record comes back as it was before.
    let due = store.begin_delivery(&id, 2, false, now).await.unwrap();
    assert_eq!(
        delivery(due),
        Some((DeliveryStatus::Queued, SendVerdict::Due))
    );
    let v = store.get_any(&id).await.unwrap().unwrap();
    assert_eq!(v.delivery.status, DeliveryStatus::Sending);
    // Accepted, then redelivered after a crash: read, not marked back to sending.
    store
        .delivered(&id, "p", "m-1", 60_000, None, now)
        .await
        .unwrap();
    let redelivered = store.begin_delivery(&id, 2, true, now).await.unwrap();
    assert_eq!(
        delivery(redelivered),
        Some((DeliveryStatus::Sent, SendVerdict::AlreadyAccepted))
    );
    let v = store.get_any(&id).await.unwrap().unwrap();
    assert_eq!(v.delivery.status, DeliveryStatus::Sent);
    // Expired before it was sent: read, not marked.
    let s = spec(0);
    let late_id = s.fresh.id.clone();
    store.start(s, now).await.unwrap();
    let late = store.begin_delivery(&late_id, 1, false, now + 61_000).await;
    assert_eq!(
        delivery(late.unwrap()),
        Some((DeliveryStatus::Queued, SendVerdict::Expired))
    );
    let v = store.get_any(&late_id).await.unwrap().unwrap();
    assert_eq!(
        v.delivery.status,
        DeliveryStatus::Queued,
        "expired: not marked"
    );
    let gone = VerificationId::generate(0).unwrap();
    assert!(store
        .begin_delivery(&gone, 1, false, now)
        .await
        .unwrap()
        .is_none());
}

async fn delivered_marks_sent_and_links_the_message_id(kind: &str) {
    let (store, _queue) = backend(kind).await;
    let s = spec(0);
    let id = s.fresh.id.clone();
    let now = now_millis();
    store.start(s, now).await.unwrap();
    store.begin_delivery(&id, 1, false, now).await.unwrap();
    let acked = store
        .delivered(&id, "twilio", "SM123", 60_000, None, now + 5)
        .await
        .unwrap();
    assert!(!acked, "no lease given, nothing acked");
    let v = store.get_any(&id).await.unwrap().unwrap();
    assert_eq!(
        (v.delivery.status, v.delivery.provider.as_deref()),
        (DeliveryStatus::Sent, Some("twilio"))
    );
    assert_eq!(v.delivery.updated_at, now + 5);
    let found = store
        .find_provider_message("twilio", "SM123")
        .await
        .unwrap();
    assert_eq!(found.map(|l| l.id), Some(id.clone()));
    assert_eq!(
        store
            .find_provider_message("twilio", "SM999")
            .await
            .unwrap(),
        None
    );
}

async fn delivered_acks_the_lease_in_the_same_step(kind: &str) {
    let (store, queue) = backend(kind).await;
    let s = spec(0);
    let id = s.fresh.id.clone();
    let now = now_millis();
    store.start(s, now).await.unwrap();
    let l = queue.receive("c1", 10).await.unwrap().remove(0);
    store.begin_delivery(&id, 1, false, now).await.unwrap();
    let acked = store
        .delivered(&id, "twilio", "SM7", 60_000, Some(&l), now + 5)
        .await
        .unwrap();
    assert!(acked, "{kind}: the store acks the lease beside the record");
    assert_eq!(queue.depth().await.unwrap().pending, 0);
    tokio::time::sleep(Duration::from_millis(60)).await;
    assert!(
        queue.reclaim("c2", 10, 10).await.unwrap().is_empty(),
        "an acked send is never reclaimed"
    );
    let v = store.get_any(&id).await.unwrap().unwrap();
    assert_eq!(v.delivery.status, DeliveryStatus::Sent);
    assert_eq!(
        store
            .find_provider_message("twilio", "SM7")
            .await
            .unwrap()
            .map(|l| l.id),
        Some(id)
    );
}
