//! Events to tenants over real HTTP, received by a Python server that checks every
//! call with the Standard Webhooks reference library (PyPI `standardwebhooks`, in a
//! virtualenv): each event type verifies; a receiver holding another secret refuses
//! them; a redirect, a 500 and a hang are failed attempts (the redirect never
//! followed), retried, then dead-lettered with the reason; a receiver down for a while
//! gets every event once it is back, in order.
//!
//! The delivery loop runs in process here (`events::order`); `tests/events_app.rs` runs
//! the gateway with its durable queue on every backend.

#[path = "support/pyvenv.rs"]
mod pyvenv;
#[path = "support/webhook_rx.rs"]
mod webhook_rx;

use otpgw::config::EventsConfig;
use otpgw::domain::{Channel, Destination, PhoneNumber};
use otpgw::events::order::{deliver_in_order, Endpoint, Outcome, Retry};
use otpgw::events::{send, Event, EventData, EventType};
use otpgw::metrics::Metrics;
use std::time::{Duration, Instant};
use webhook_rx::{secret, Receiver};

const NUMBER: &str = "+447911123456";

fn cfg(url: String, secret: &str, timeout_ms: u64) -> EventsConfig {
    EventsConfig {
        url,
        secret: secret.into(),
        timeout_ms,
        ..Default::default()
    }
}

/// Events 1..=n of one verification, one of each type in turn.
fn events(verification: &str, n: usize) -> Vec<Event> {
    let to = Destination::Phone(PhoneNumber::parse(NUMBER).unwrap());
    (0..n)
        .map(|i| {
            let kind = EventType::ALL[i % EventType::ALL.len()];
            let data = EventData::new(
                verification,
                "demo",
                Channel::Sms,
                "pending",
                i as u64 + 1,
                &to,
            )
            .with_delivery("tw", Some("SM0001"), "sent");
            Event::new(kind, now() - 10, data)
        })
        .collect()
}

fn now() -> i64 {
    otpgw::domain::now_millis() / 1000
}

fn key(secret: &str) -> Vec<u8> {
    otpgw::crypto::webhook_sig::parse_secret(secret).unwrap()
}

#[tokio::test]
async fn every_event_type_verifies_with_the_reference_library() {
    let rx = Receiver::start(&secret(1), 0);
    let c = cfg(rx.url("/ok"), &secret(1), 5000);
    let client = send::client(c.timeout()).unwrap();
    let evs = events("vrf_0001aaaaaaaaaaaaaaaaaaaaaaaa", 8);
    for ev in &evs {
        assert_eq!(
            send::attempt(&client, &c, &key(&secret(1)), ev, now()).await,
            Ok(204)
        );
    }
    let seen = rx.seen_at_least(8);
    assert_eq!(seen.len(), 8, "{seen:?}");
    for (ev, s) in evs.iter().zip(&seen) {
        assert_eq!(s["ok"], true, "{s}");
        assert_eq!(s["id"], ev.id.as_str());
        assert_eq!(s["event"]["type"], ev.kind.as_str());
        assert_eq!(s["event"]["data"]["seq"], ev.data.seq);
        assert_eq!(s["event"]["data"]["to_masked"], ev.data.to_masked());
        let body = s["body"].as_str().unwrap();
        assert!(
            !body.contains(&NUMBER[1..]) && !body.contains("123456"),
            "{body}"
        );
    }
}

#[tokio::test]
async fn a_receiver_holding_another_secret_refuses_the_events() {
    let rx = Receiver::start(&secret(2), 0);
    let c = cfg(rx.url("/ok"), &secret(1), 5000);
    let client = send::client(c.timeout()).unwrap();
    let ev = &events("vrf_0001bbbbbbbbbbbbbbbbbbbbbbbb", 1)[0];
    let f = send::attempt(&client, &c, &key(&secret(1)), ev, now())
        .await
        .unwrap_err();
    assert_eq!((f.kind, f.reason.as_str()), ("status", "answered 400"));
    let seen = rx.seen_at_least(1);
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0]["ok"], false);
    assert_eq!(seen[0]["error"], "WebhookVerificationError");
}

#[tokio::test]
async fn a_redirect_a_500_and_a_hang_are_failed_attempts() {
    let rx = Receiver::start(&secret(1), 0);
    let k = key(&secret(1));
    let ev = &events("vrf_0001cccccccccccccccccccccccc", 1)[0];
    for (path, kind, reason) in [
        (
            "/redirect",
            "redirect",
            "answered a redirect (302); redirects are not followed",
        ),
        ("/500", "status", "answered 500"),
        ("/hang", "timeout", "no answer within 300 ms"),
    ] {
        let c = cfg(rx.url(path), &secret(1), 300);
        let client = send::client(c.timeout()).unwrap();
        let t = Instant::now();
        let f = send::attempt(&client, &c, &k, ev, now()).await.unwrap_err();
        assert_eq!((f.kind, f.reason.as_str()), (kind, reason), "{path}");
        assert!(
            t.elapsed() < Duration::from_secs(3),
            "{path}: {:?}",
            t.elapsed()
        );
    }
    assert!(rx.seen().is_empty(), "the redirect to /ok was not followed");
}

#[tokio::test]
async fn failing_receivers_are_retried_then_dead_lettered_with_the_reason() {
    let rx = Receiver::start(&secret(1), 0);
    let retry = Retry {
        base: Duration::from_millis(100),
        window: Duration::from_millis(1500),
    };
    for (path, kind) in [
        ("/500", "status"),
        ("/redirect", "redirect"),
        ("/hang", "timeout"),
    ] {
        let metrics = Metrics::new();
        let to =
            Endpoint::new("demo", &cfg(rx.url(path), &secret(1), 200), metrics.clone()).unwrap();
        let evs = events("vrf_0001dddddddddddddddddddddddd", 3);
        let out = deliver_in_order(&to, &evs, retry).await;
        let Outcome::Dead {
            attempts,
            kind: k,
            reason,
        } = &out[0]
        else {
            panic!("{path}: {out:?}")
        };
        assert!(*attempts >= 3, "{path}: retried, {attempts} attempts");
        assert_eq!(*k, kind, "{path}: {reason}");
        for later in &out[1..] {
            let Outcome::Dead {
                attempts: 0,
                kind: "blocked",
                reason,
            } = later
            else {
                panic!("{path}: {out:?}")
            };
            assert!(reason.contains(&evs[0].id), "{reason}");
        }
        let count = |o: &str| metrics.events.with_label_values(&["demo", o]).get();
        assert_eq!(count("dead"), 3, "{path}");
        assert_eq!(count("failed"), u64::from(*attempts), "{path}");
        assert_eq!(count("sent"), 0, "{path}");
    }
    assert!(rx.seen().is_empty());
}

#[tokio::test]
async fn a_receiver_down_for_a_while_gets_every_event_in_order_once_back() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let metrics = Metrics::new();
    let c = cfg(format!("http://127.0.0.1:{port}/ok"), &secret(1), 2000);
    let to = Endpoint::new("demo", &c, metrics.clone()).unwrap();
    let (a, b) = (
        events("vrf_0001eeeeeeeeeeeeeeeeeeeeeeee", 4),
        events("vrf_0002ffffffffffffffffffffffff", 4),
    );
    let retry = Retry {
        base: Duration::from_millis(100),
        window: Duration::from_secs(60),
    };
    let (ta, tb) = (to.clone(), to.clone());
    let (ea, eb) = (a.clone(), b.clone());
    let ta = tokio::spawn(async move { deliver_in_order(&ta, &ea, retry).await });
    let tb = tokio::spawn(async move { deliver_in_order(&tb, &eb, retry).await });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let rx = Receiver::start(&secret(1), port);
    let (oa, ob) = (ta.await.unwrap(), tb.await.unwrap());
    for o in oa.iter().chain(&ob) {
        assert!(matches!(o, Outcome::Delivered { .. }), "{oa:?} {ob:?}");
    }
    let Outcome::Delivered { attempts } = oa[0] else {
        unreachable!()
    };
    assert!(attempts > 1, "the first event waited for the receiver");
    let seen = rx.seen_at_least(8);
    assert_eq!(seen.len(), 8, "every event once: {seen:?}");
    for evs in [&a, &b] {
        let got: Vec<&str> = seen
            .iter()
            .filter(|s| s["event"]["data"]["id"] == evs[0].data.id.as_str())
            .map(|s| s["id"].as_str().unwrap())
            .collect();
        let want: Vec<&str> = evs.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(got, want, "in order");
    }
    let count = |o: &str| metrics.events.with_label_values(&["demo", o]).get();
    assert_eq!((count("sent"), count("dead")), (8, 0));
    assert!(
        count("failed") >= 2,
        "the attempts while it was down were counted"
    );
}
