//! The binds over TLS against the scripted SMSC listening with TLS: a throwaway CA and a
//! server certificate for 127.0.0.1 made with `openssl` for each test, trusted through
//! `tls_ca_file`; a send and its receipt over TLS, and a CA that does not vouch for the
//! SMSC's certificate refused like a wrong password (error log, breaker, no tight loop).

use super::smsc::Smsc;
use super::support::certs::{certs, Certs};
use super::support::sink::{Behaviour, Sink};
use super::{gateway, metrics, provider, series, start, wait_status};
use serde_json::json;
use std::time::Duration;

const T: Duration = Duration::from_secs(10);

/// A TLS SMSC with `settings` besides its certificate.
async fn tls_smsc(c: &Certs, mut settings: serde_json::Value) -> Smsc {
    settings["tls_key"] = json!(c.key);
    settings["tls_cert"] = json!(c.cert);
    let s = Smsc::start(settings).await;
    assert_eq!(s.all("listening")[0]["tls"], true);
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_and_its_receipt_go_over_tls_with_the_ca_from_tls_ca_file() {
    let c = certs();
    let s = tls_smsc(&c, json!({"receipt": "text"})).await;
    let mut p = provider(s.port);
    p.tls = true;
    p.tls_ca_file = Some(c.ca.to_string_lossy().into_owned());
    assert!(p.problems().is_empty(), "{:?}", p.problems());
    let app = gateway(p).await;
    s.wait_for("bound", |_| true, T).await;
    let (id, _) = start(&app).await;
    s.wait_for("submit_resp", |e| e["status"] == 0, T).await;
    wait_status(&app, &id, "delivered").await;
    s.wait_for("deliver_sm_resp", |e| e["status"] == 0, T).await;
    assert_eq!(s.count("tls_error"), 0, "{:?}", s.events());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ca_that_does_not_vouch_for_the_smsc_is_refused_with_the_breaker_and_no_tight_loop() {
    let c = certs();
    let s = tls_smsc(&c, json!({})).await;
    let sink = Sink::start(Behaviour::Ok).await;
    let mut p = provider(s.port);
    p.tls = true;
    p.tls_ca_file = Some(c.other_ca.to_string_lossy().into_owned());
    let app = super::faults::with_fallback(p, &sink).await;
    s.wait_for("tls_error", |_| true, T).await;
    for _ in 0..5 {
        let (id, _) = start(&app).await;
        let v = wait_status(&app, &id, "sent").await;
        assert_eq!(v["delivery"]["provider"], "hook");
    }
    let m = metrics(&app).await;
    assert_eq!(
        series(&m, "otpgw_breaker_state{provider=\"smsc\"}"),
        2.0,
        "open: {m}"
    );
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    // reconnect_max_ms is 1 s (±25 %): a handful of handshakes, not hundreds.
    let attempts = s.count("tls_error");
    assert!((2..=8).contains(&attempts), "{attempts} TLS handshakes");
    assert_eq!(s.count("bind"), 0, "no bind over an untrusted session");
    let m = metrics(&app).await;
    assert_eq!(
        series(
            &m,
            "otpgw_smpp_bind_state{bind=\"0\",provider=\"smsc\",state=\"refused\"}"
        ),
        1.0,
        "{m}"
    );
    assert!(
        app.get("/ops")
            .await
            .text
            .contains("TLS certificate is not trusted"),
        "the ops page names the reason"
    );
}

#[test]
fn a_tls_ca_file_without_tls_or_without_certificates_is_a_config_problem() {
    let c = certs();
    let mut p = provider(2775);
    p.tls_ca_file = Some(c.ca.to_string_lossy().into_owned());
    assert!(p.problems().iter().any(|e| e.contains("needs tls = true")));
    p.tls = true;
    assert!(p.problems().is_empty(), "{:?}", p.problems());
    p.tls_ca_file = Some(c.key.to_string_lossy().into_owned());
    assert!(
        p.problems().iter().any(|e| e.contains("no CERTIFICATE")),
        "{:?}",
        p.problems()
    );
}
