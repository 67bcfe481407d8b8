//! Failures and their kinds, against the real server or a socket that misbehaves on
//! purpose; the pool's reuse of one connection and its refusal to reuse a connection a
//! send gave up on.

use super::server::{closed_port, secured, silent_listener, Smtpd};
use super::support::certs::certs;
use super::{message, provider, secured_provider, send};
use otpgw::providers::smtp::{config::Security, SmtpProvider};
use otpgw::providers::{ErrorKind, SmsProvider};
use otpgw::secret::Secret;
use serde_json::json;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_an_auth_error_and_nothing_is_sent() {
    let c = certs();
    let s = secured("starttls", &c, json!({})).await;
    let cfg = otpgw::providers::smtp::Config {
        password: Some(Secret("not-the-password".into())),
        ..secured_provider(s.port, Security::Starttls, &c.ca)
    };
    let e = send(&cfg, "ann@example.com", "123456").await.unwrap_err();
    assert_eq!((e.kind, e.retryable), (ErrorKind::Auth, false), "{e}");
    assert!(e.detail.contains("535"), "{e}");
    // the relay records the refused AUTH as it answers it: wait for the record
    assert_eq!(s.wait_for("auth", 1, T).await[0]["ok"], false);
    assert!(s.messages().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_listening_is_a_retryable_unavailable() {
    let e = send(&provider(closed_port()), "ann@example.com", "123456")
        .await
        .unwrap_err();
    assert_eq!((e.kind, e.retryable), (ErrorKind::Unavailable, true), "{e}");
    assert!(e.detail.starts_with("smtp connect"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_550_recipient_is_a_permanent_invalid_destination_without_the_address_in_the_detail() {
    let s = Smtpd::plain().await;
    let e = send(&provider(s.port), "unknown.user@example.com", "123456")
        .await
        .unwrap_err();
    assert_eq!(
        (e.kind, e.retryable),
        (ErrorKind::InvalidDestination, false),
        "{e}"
    );
    assert!(
        e.detail.contains("550") && e.detail.contains("5.1.1"),
        "{e}"
    );
    assert!(
        !e.detail.contains("unknown.user"),
        "the relay's text quotes the address: {e}"
    );
    assert!(s.messages().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_451_recipient_is_a_retryable_unavailable() {
    let s = Smtpd::plain().await;
    let e = send(&provider(s.port), "busy@example.com", "123456")
        .await
        .unwrap_err();
    assert_eq!((e.kind, e.retryable), (ErrorKind::Unavailable, true), "{e}");
    assert!(e.detail.contains("451"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_greets_times_out_within_timeout_ms() {
    let cfg = otpgw::providers::smtp::Config {
        timeout_ms: 400,
        ..provider(silent_listener())
    };
    let t = Instant::now();
    let e = send(&cfg, "ann@example.com", "123456").await.unwrap_err();
    let took = t.elapsed();
    assert_eq!((e.kind, e.retryable), (ErrorKind::Timeout, true), "{e}");
    assert!(
        took >= Duration::from_millis(400) && took < Duration::from_millis(1_400),
        "{took:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_cut_short_by_its_deadline_closes_its_connection_and_the_next_send_opens_another() {
    let s = Smtpd::plain().await;
    let cfg = otpgw::providers::smtp::Config {
        timeout_ms: 800,
        ..provider(s.port)
    };
    let p = SmtpProvider::new(&cfg).unwrap();
    p.send(&message("ok1@example.com", "111111")).await.unwrap();
    assert_eq!(p.idle_connections(), 1);
    // the server never answers this message's final "."
    let t = Instant::now();
    let e = p
        .send(&message("hang@example.com", "222222"))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Timeout, "{e}");
    assert!(
        t.elapsed() < Duration::from_millis(1_800),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(
        p.idle_connections(),
        0,
        "the connection left mid-DATA is not kept"
    );
    p.send(&message("ok2@example.com", "333333")).await.unwrap();
    let m = s.wait_for("message", 2, T).await;
    assert_eq!(
        (m[0]["conn"].as_u64(), m[1]["conn"].as_u64()),
        (Some(1), Some(2))
    );
    assert_eq!(m[1]["rcpt_tos"], json!(["ok2@example.com"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_sends_reuse_one_pooled_connection() {
    let c = certs();
    let s = secured("starttls", &c, json!({})).await;
    let p = SmtpProvider::new(&secured_provider(s.port, Security::Starttls, &c.ca)).unwrap();
    for i in 0..5 {
        p.send(&message(&format!("user{i}@example.com"), "424242"))
            .await
            .unwrap();
    }
    let m = s.wait_for("message", 5, T).await;
    assert!(m.iter().all(|m| m["conn"] == 1), "{m:#?}");
    assert_eq!(s.all("connect").len(), 1);
    assert_eq!(
        s.all("auth").len(),
        1,
        "one AUTH for the connection, not one per message"
    );
    assert_eq!(p.idle_connections(), 1);
    p.close().await;
    assert_eq!(p.idle_connections(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_size_zero_opens_a_connection_per_message() {
    let s = Smtpd::plain().await;
    let cfg = otpgw::providers::smtp::Config {
        pool_size: 0,
        ..provider(s.port)
    };
    let p = SmtpProvider::new(&cfg).unwrap();
    for code in ["111111", "222222", "333333"] {
        p.send(&message("ann@example.com", code)).await.unwrap();
    }
    let m = s.wait_for("message", 3, T).await;
    let conns: Vec<u64> = m.iter().map(|m| m["conn"].as_u64().unwrap()).collect();
    assert_eq!(conns, [1, 2, 3]);
    assert_eq!(p.idle_connections(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_certificate_the_ca_file_does_not_vouch_for_is_unavailable_and_nothing_is_sent() {
    let c = certs();
    let s = secured("tls", &c, json!({})).await;
    let e = send(
        &secured_provider(s.port, Security::Tls, &c.other_ca),
        "ann@example.com",
        "123456",
    )
    .await
    .unwrap_err();
    assert_eq!((e.kind, e.retryable), (ErrorKind::Unavailable, true), "{e}");
    assert!(e.detail.contains("TLS"), "{e}");
    assert!(s.all("auth").is_empty() && s.messages().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_without_starttls_is_refused_rather_than_sent_in_plain_text() {
    let c = certs();
    let s = Smtpd::plain().await;
    let e = send(
        &secured_provider(s.port, Security::Starttls, &c.ca),
        "ann@example.com",
        "123456",
    )
    .await
    .unwrap_err();
    assert_eq!((e.kind, e.retryable), (ErrorKind::Unavailable, true), "{e}");
    assert!(e.detail.starts_with("smtp starttls"), "{e}");
    assert!(s.messages().is_empty());
}
