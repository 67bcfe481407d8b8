//! The events queue (`otpgw::queue::events`) on the memory store, one Redis and a Redis
//! Cluster: only a line's head is claimed, under a lease another instance takes over
//! when it passes; retries wait with their attempts; a head is settled once; a dead
//! head takes the rest of its line with it; an expiry timer fires once whichever
//! instance polls. And through the gateway (Redis, Cluster): a lease left by an
//! instance that died is delivered by another.

mod support;

use otpgw::domain::VerificationId;
use otpgw::queue::events::EventQueue;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::webhook_rx::{secret, Receiver};
use support::Backend;

support::on_every_backend_kind!(the_queue_keeps_order_leases_retries_and_dead_letters);

/// The events queue of `backend` under a fresh prefix, built twice over the same state
/// on Redis (two instances); once in memory.
fn queues(backend: Backend) -> (Arc<dyn EventQueue>, Arc<dyn EventQueue>) {
    let (mut cfg, _) = support::app::base_config(backend);
    cfg.store.redis.shards = 4;
    let keys = support::store::keys();
    let one = otpgw::backend::build(&cfg.store, 100, &keys)
        .unwrap()
        .events;
    let two = match backend {
        Backend::Memory => one.clone(),
        _ => {
            otpgw::backend::build(&cfg.store, 100, &keys)
                .unwrap()
                .events
        }
    };
    (one, two)
}

async fn the_queue_keeps_order_leases_retries_and_dead_letters(backend: Backend) {
    let (q, other) = queues(backend);
    let now = otpgw::domain::now_millis();
    let (v, w) = (
        VerificationId::generate(1).unwrap(),
        VerificationId::generate(2).unwrap(),
    );
    for (i, t) in ["a", "b", "c"].iter().enumerate() {
        assert_eq!(q.append(&v, t, now).await.unwrap(), i as u64 + 1);
    }
    // the head only, leased: neither instance sees it again before the lease ends
    let c = q.claim(now, 1000, 10).await.unwrap();
    assert_eq!(c.len(), 1);
    assert_eq!((c[0].seq, c[0].text.as_str(), c[0].attempts), (1, "a", 0));
    assert!(other.claim(now + 500, 1000, 10).await.unwrap().is_empty());
    // a lease that ends (its instance died) is claimed by the other
    let c = other.claim(now + 1001, 1000, 10).await.unwrap();
    assert_eq!((c.len(), c[0].seq), (1, 1));
    // a retry waits, with its attempts; a stale settle does nothing
    q.retry(&v, 1, 3, now, now + 5000).await.unwrap();
    assert!(q.claim(now + 4000, 1000, 10).await.unwrap().is_empty());
    let c = q.claim(now + 5000, 1000, 10).await.unwrap();
    assert_eq!((c[0].seq, c[0].attempts, c[0].first_ms), (1, 3, now));
    assert!(q.delivered(&v, 1, now + 5001).await.unwrap());
    assert!(
        !other.delivered(&v, 1, now + 5002).await.unwrap(),
        "settled once"
    );
    let c = q.claim(now + 5002, 1000, 10).await.unwrap();
    assert_eq!((c[0].seq, c[0].text.as_str(), c[0].attempts), (2, "b", 0));
    // dead: the head and everything behind it
    assert_eq!(
        q.dead(&v, 2, 4, "answered 500", "behind b", now + 6000)
            .await
            .unwrap(),
        2
    );
    assert!(q.claim(now + 99_000, 1000, 10).await.unwrap().is_empty());
    let dead = other.dead_letters(10).await.unwrap();
    let mine: Vec<_> = dead.iter().filter(|d| d.at_ms == now + 6000).collect();
    assert_eq!(mine.len(), 2, "{dead:?}");
    assert_eq!(
        (mine[0].seq, mine[0].attempts, mine[0].reason.as_str()),
        (3, 0, "behind b")
    );
    assert_eq!(
        (mine[1].seq, mine[1].attempts, mine[1].reason.as_str()),
        (2, 4, "answered 500")
    );
    // a timer fires once, whichever instance polls; a disarmed one never
    q.arm(&w, "expired-w", now + 100).await.unwrap();
    q.arm(&v, "expired-v", now + 100).await.unwrap();
    q.disarm(&v).await.unwrap();
    assert!(q.claim(now + 50, 1000, 10).await.unwrap().is_empty());
    let (a, b) = tokio::join!(
        other.claim(now + 200, 1000, 10),
        q.claim(now + 200, 1000, 10)
    );
    let fired: Vec<_> = a.unwrap().into_iter().chain(b.unwrap()).collect();
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert_eq!(
        (&fired[0].verification, fired[0].seq, fired[0].text.as_str()),
        (&w, 1, "expired-w")
    );
    assert_eq!(q.depth().await.unwrap().lines, 1);
}

/// A lease an instance took and never settled (it died) is delivered by another
/// instance once the lease passes.
async fn a_lease_left_by_a_dead_instance_is_delivered_by_another(backend: Backend) {
    let rx = Receiver::start(&secret(1), 0);
    let (mut cfg, prefix) = support::app::base_config(backend);
    let queue = otpgw::backend::build(&cfg.store, 100, &support::store::keys())
        .unwrap()
        .events;
    let to = otpgw::domain::Destination::Phone(
        otpgw::domain::PhoneNumber::parse("+447911123456").unwrap(),
    );
    let v = VerificationId::generate(3).unwrap();
    let data = otpgw::events::EventData::new(
        v.as_str(),
        "demo",
        otpgw::domain::Channel::Sms,
        "pending",
        0,
        &to,
    );
    let e = otpgw::events::Event::new(otpgw::events::EventType::DeliverySent, 1_765_000_000, data);
    let now = otpgw::domain::now_millis();
    queue
        .append(&v, &serde_json::to_string(&e).unwrap(), now)
        .await
        .unwrap();
    let held = queue.claim(now, 1500, 10).await.unwrap();
    assert_eq!(held.len(), 1, "the dead instance's lease");
    cfg.tenants.get_mut("demo").unwrap().events = Some(otpgw::config::EventsConfig {
        url: rx.url("/ok"),
        secret: secret(1).into(),
        timeout_ms: 1000,
        ..Default::default()
    });
    let app = support::app::spawn_with(cfg, prefix, backend).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(rx.seen().is_empty(), "not before the lease passes");
    assert_eq!(wait_for(&rx, v.as_str()).await, ["delivery.sent"]);
    assert_eq!(rx.seen()[0]["id"], e.id.as_str());
    app.stop().await;
}

mod instances {
    use super::*;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn redis() {
        a_lease_left_by_a_dead_instance_is_delivered_by_another(Backend::Redis).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cluster() {
        a_lease_left_by_a_dead_instance_is_delivered_by_another(Backend::Cluster).await
    }
}

/// Waits until `rx` verified an event about `id`; the types it saw about it.
async fn wait_for(rx: &Receiver, id: &str) -> Vec<String> {
    let t = Instant::now();
    loop {
        let got: Vec<String> = rx
            .seen()
            .iter()
            .filter(|s| s["ok"] == true && s["event"]["data"]["id"] == id)
            .map(|s| s["event"]["type"].as_str().unwrap().to_string())
            .collect();
        if !got.is_empty() {
            return got;
        }
        assert!(t.elapsed() < Duration::from_secs(30), "{:?}", rx.seen());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
