//! Unit tests of the memory store: its caps (idempotency entries count, a tenant's share
//! evicts only its own entries, the store's cap refuses instead of evicting another
//! tenant's) and its background purge.

use super::*;
use crate::domain::*;
use crate::store::*;
use std::time::Duration;

fn store(total: usize, per_tenant: Option<usize>) -> MemoryStore {
    let cfg = MemoryStoreConfig {
        max_entries: total,
        max_entries_per_tenant: per_tenant,
        purge_interval_ms: 60_000,
    };
    MemoryStore::new(&cfg, 1_000)
}

fn spec(tenant: &str, n: u32, now: Millis, ttl: i64) -> StartSpec {
    let id = VerificationId::generate(0).unwrap();
    StartSpec {
        fresh: Verification {
            id,
            tenant: tenant.into(),
            to: crate::domain::Destination::Phone(
                crate::domain::PhoneNumber::parse(&format!("+1415555{n:04}")).unwrap(),
            ),
            channel: Channel::Sms,
            status: Status::Pending,
            created_at: now,
            expires_at: now + ttl,
            send_count: 1,
            max_sends: 5,
            next_resend_at: now,
            resent_at: Vec::new(),
            attempts_left: 5,
            delivery: Delivery::queued(now),
            metadata: None,
            locale: None,
            template: None,
            code_length: 6,
            seed: vec![0; 16],
            workflow: None,
            past_steps: Vec::new(),
        },
        code_mac: [0; 32],
        number: NumberRef {
            tenant: tenant.into(),
            key: format!("{tenant}{n}"),
            shard: 0,
            channel: Channel::Sms,
        },
        cooldown_ms: 0,
        retention_ms: 0,
        lookup_ms: 0,
        number_send_limit: 10,
        number_window_ms: 3_600_000,
        resend_channel: None,
        enqueue: EnqueueSpec::default(),
    }
}

async fn created(s: &MemoryStore, spec: StartSpec, now: Millis) -> VerificationId {
    let id = spec.fresh.id.clone();
    assert!(matches!(
        s.start(spec, now).await.unwrap(),
        StartOutcome::Created(_)
    ));
    id
}

#[tokio::test]
async fn idempotency_entries_take_places_like_verifications() {
    let s = store(3, None);
    let now = now_millis();
    let begin = s.idempotency_begin("a", "k", "fp", 60_000).await.unwrap();
    assert_eq!(begin, IdempotencyBegin::Reserved);
    let first = created(&s, spec("a", 1, now, 5_000), now).await;
    s.idempotency_finish("a", "k", "fp", 201, "{}", now + 6_000)
        .await
        .unwrap();
    assert_eq!(s.held("a"), (2, 2));
    created(&s, spec("a", 2, now, 9_000), now).await;
    created(&s, spec("a", 3, now, 9_000), now).await;
    assert_eq!((s.held("a"), s.evictions()), ((3, 3), 1));
    assert!(
        s.get("a", &first).await.unwrap().is_none(),
        "the soonest went"
    );
    created(&s, spec("a", 4, now, 9_000), now).await;
    assert_eq!(s.evictions(), 2);
    let gone = s.idempotency_begin("a", "k", "fp", 60_000).await.unwrap();
    assert_eq!(
        gone,
        IdempotencyBegin::Reserved,
        "the stored answer was evicted"
    );
}

#[tokio::test]
async fn a_tenants_share_evicts_only_its_own_entries() {
    let s = store(10, Some(3));
    let now = now_millis();
    let theirs = created(&s, spec("b", 0, now, 1_000), now).await;
    for n in 1..=20 {
        created(&s, spec("a", n, now, 5_000 + n as i64), now).await;
    }
    assert_eq!(s.held("a"), (4, 3));
    assert_eq!(s.evictions(), 17);
    assert!(s.get("b", &theirs).await.unwrap().is_some());
}

#[tokio::test]
async fn the_stores_cap_refuses_rather_than_evict_another_tenant() {
    let s = store(4, None);
    let now = now_millis();
    let theirs = created(&s, spec("b", 0, now, 7_000), now).await;
    for n in 1..=3 {
        created(&s, spec("a", n, now, 5_000), now).await;
    }
    let out = s.start(spec("a", 4, now, 5_000), now).await.unwrap();
    assert_eq!(
        out,
        StartOutcome::StoreFull(5_000),
        "the soonest expires in 5 s"
    );
    // The reservation reads the clock itself, so a millisecond or two may have passed.
    let full = s.idempotency_begin("a", "k", "fp", 60_000).await.unwrap();
    assert!(
        matches!(full, IdempotencyBegin::StoreFull(ms) if (4_000..=5_000).contains(&ms)),
        "{full:?}"
    );
    assert_eq!((s.held("b"), s.evictions()), ((4, 1), 0));
    assert!(s.get("b", &theirs).await.unwrap().is_some());
    let later = now + 5_000;
    created(&s, spec("a", 5, later, 5_000), later).await;
    assert_eq!(s.held("a"), (2, 1), "expired entries made room");
}

#[tokio::test]
async fn full_store_evicts_the_soonest_to_expire_and_counts_it() {
    let store = MemoryStore::new(
        &MemoryStoreConfig {
            max_entries: 2,
            max_entries_per_tenant: None,
            purge_interval_ms: 60_000,
        },
        100,
    );
    let now = now_millis();
    let soon = spec("t", 1, now, 1_000);
    let soon_id = soon.fresh.id.clone();
    store.start(soon, now).await.unwrap();
    let late = spec("t", 2, now, 9_000);
    let late_id = late.fresh.id.clone();
    store.start(late, now).await.unwrap();
    store.start(spec("t", 3, now, 5_000), now).await.unwrap();
    assert_eq!(store.len(), 2);
    assert_eq!(store.evictions(), 1);
    assert!(
        store.get("t", &soon_id).await.unwrap().is_none(),
        "the soonest to expire went"
    );
    assert!(store.get("t", &late_id).await.unwrap().is_some());
}

#[tokio::test]
async fn background_task_purges_expired_entries() {
    let store = MemoryStore::new(
        &MemoryStoreConfig {
            max_entries: 100,
            max_entries_per_tenant: None,
            purge_interval_ms: 10,
        },
        100,
    );
    let now = now_millis();
    for n in 0..5 {
        store.start(spec("t", n, now, 30), now).await.unwrap();
    }
    assert_eq!(store.len(), 5);
    let t = std::time::Instant::now();
    while !store.is_empty() {
        assert!(t.elapsed() < Duration::from_secs(2), "not purged");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(store.lock().index.len(), 0, "indexes purged too");
}
