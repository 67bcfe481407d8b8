//! Sessions and faults against the scripted SMSC: several binds, enquire_link, the
//! window, reconnecting after a drop, an unbind, a generic_nack, malformed PDUs and a
//! restart with no queued send lost, failover to an HTTP provider, a refused bind and
//! an SMSC that never answers the bind.

use super::smsc::{free_port, Smsc};
use super::support::sink::{Behaviour, Sink};
use super::support::{spawn_app, Backend, TestApp};
use super::{gateway, metrics, pair, provider, series, start, wait_status};
use otpgw::providers::{smpp, webhook, ProviderConfig};
use serde_json::json;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(10);

/// A gateway routing to `smsc` (settings `p`) and then to a webhook to `sink`.
async fn with_fallback(p: smpp::Config, sink: &Sink) -> TestApp {
    let url = sink.url();
    spawn_app(Backend::Memory, move |c| {
        c.providers.insert("smsc".into(), ProviderConfig::Smpp(p));
        c.providers.insert(
            "hook".into(),
            ProviderConfig::Webhook(webhook::Config {
                url,
                ..Default::default()
            }),
        );
        c.routing.default = vec!["smsc".into(), "hook".into()];
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_binds_share_the_sends_and_keep_alive_with_enquire_link() {
    let s = Smsc::start(json!({})).await;
    let mut p = provider(s.port);
    p.sessions = 3;
    p.enquire_link_secs = 1;
    let app = gateway(p).await;
    s.wait_count("bound", 3, T).await;
    let mut ids = Vec::new();
    for _ in 0..6 {
        ids.push(start(&app).await.0);
    }
    for id in &ids {
        wait_status(&app, id, "sent").await;
    }
    s.wait_for("enquire_link", |_| true, Duration::from_secs(5))
        .await;
    let m = metrics(&app).await;
    let per_bind: Vec<f64> = (0..3)
        .map(|b| {
            series(
                &m,
                &format!("otpgw_smpp_submits_total{{bind=\"{b}\",provider=\"smsc\"}}"),
            )
        })
        .collect();
    assert_eq!(per_bind.iter().sum::<f64>(), 6.0, "{m}");
    assert!(
        per_bind.iter().filter(|n| **n > 0.0).count() >= 2,
        "{per_bind:?}"
    );
    for b in 0..3 {
        let line =
            format!("otpgw_smpp_bind_state{{bind=\"{b}\",provider=\"smsc\",state=\"bound\"}}");
        assert_eq!(series(&m, &line), 1.0, "{m}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drop_an_unbind_a_generic_nack_and_a_malformed_pdu_each_end_in_a_new_bind() {
    let (mut s, app) = pair(json!({})).await;
    let mut binds = 1;
    for cmd in ["drop", "unbind", "generic_nack", "garbage"] {
        s.cmd(json!({ "cmd": cmd })).await;
        binds += 1;
        s.wait_count("bound", binds, T).await;
        let (id, _) = start(&app).await;
        wait_status(&app, &id, "sent").await;
    }
    assert!(s.count("unbind_resp") >= 1, "the SMSC's unbind is answered");
    let m = metrics(&app).await;
    assert!(
        series(
            &m,
            "otpgw_smpp_reconnects_total{bind=\"0\",provider=\"smsc\"}"
        ) >= 4.0,
        "{m}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_smsc_restarts_no_queued_send_is_lost() {
    let port = free_port();
    let mut s = Smsc::start_on(port, json!({})).await;
    let p = provider(port);
    // The breaker opens while the SMSC is away; a short open time lets the sends go
    // soon after it is back (they wait in the queue meanwhile, as they would for any
    // provider).
    let app = spawn_app(Backend::Memory, move |c| {
        c.providers.insert("smsc".into(), ProviderConfig::Smpp(p));
        c.routing.default = vec!["smsc".into()];
        c.delivery.breaker.open_ms = 300;
    })
    .await;
    s.wait_for("bound", |_| true, T).await;
    s.kill();
    let mut sent = Vec::new();
    for _ in 0..3 {
        sent.push(start(&app).await);
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    let s = Smsc::start_on(port, json!({})).await;
    for (id, _) in &sent {
        wait_status(&app, id, "sent").await;
    }
    let subs = s.all("submit");
    for (_, to) in &sent {
        let n = subs
            .iter()
            .filter(|e| e["destination_addr"] == to.trim_start_matches('+'))
            .count();
        assert_eq!(n, 1, "{to} submitted once after the restart: {subs:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_every_bind_is_down_the_send_fails_over_to_the_http_provider() {
    let sink = Sink::start(Behaviour::Ok).await;
    let app = with_fallback(provider(free_port()), &sink).await;
    let (id, _) = start(&app).await;
    let v = wait_status(&app, &id, "sent").await;
    assert_eq!(v["delivery"]["provider"], "hook");
    assert_eq!(sink.wait_for(1, 5).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_window_fails_over_after_window_wait_ms() {
    let mut s = Smsc::start(json!({"hold": true})).await;
    let sink = Sink::start(Behaviour::Ok).await;
    let mut p = provider(s.port);
    p.window = 1;
    p.window_wait_ms = 300;
    p.response_timeout_ms = 5_000;
    let app = with_fallback(p, &sink).await;
    s.wait_for("bound", |_| true, T).await;
    let (first, _) = start(&app).await;
    s.wait_for("submit", |_| true, T).await;
    let t = Instant::now();
    let (second, _) = start(&app).await;
    let v = wait_status(&app, &second, "sent").await;
    assert_eq!(v["delivery"]["provider"], "hook");
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    assert_eq!(
        s.count("submit"),
        1,
        "the second never reached the full bind"
    );
    let m = metrics(&app).await;
    assert_eq!(
        series(&m, "otpgw_smpp_window_in_use{bind=\"0\",provider=\"smsc\"}"),
        1.0,
        "{m}"
    );
    assert!(
        series(
            &m,
            "otpgw_smpp_errors_total{bind=\"0\",provider=\"smsc\",status=\"window_full\"}"
        ) >= 1.0
    );
    s.cmd(json!({"cmd": "release"})).await;
    let v = wait_status(&app, &first, "sent").await;
    assert_eq!(v["delivery"]["provider"], "smsc");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_refused_with_the_breaker_and_no_tight_loop() {
    let s = Smsc::start(json!({"password": "other"})).await;
    let sink = Sink::start(Behaviour::Ok).await;
    let app = with_fallback(provider(s.port), &sink).await;
    s.wait_for("bind_refused", |_| true, T).await;
    // The breaker opens after 5 failures in a row (the default): each send's refusal
    // of the account counts as one.
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
    // reconnect_max_ms is 1 s (±25 %): a handful of attempts in a few seconds, not
    // hundreds.
    let attempts = s.count("bind");
    assert!((2..=8).contains(&attempts), "{attempts} bind attempts");
    let m = metrics(&app).await;
    assert_eq!(
        series(
            &m,
            "otpgw_smpp_bind_state{bind=\"0\",provider=\"smsc\",state=\"refused\"}"
        ),
        1.0,
        "{m}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_smsc_that_never_answers_the_bind_times_out_and_backs_off() {
    let s = Smsc::start(json!({"bind_silent": true})).await;
    let sink = Sink::start(Behaviour::Ok).await;
    let mut p = provider(s.port);
    p.response_timeout_ms = 300;
    let app = with_fallback(p, &sink).await;
    let (id, _) = start(&app).await;
    let v = wait_status(&app, &id, "sent").await;
    assert_eq!(v["delivery"]["provider"], "hook");
    tokio::time::sleep(Duration::from_millis(2_000)).await;
    let attempts = s.count("bind");
    assert!(
        (2..=8).contains(&attempts),
        "{attempts} bind attempts in ~2.5 s"
    );
    let r = app.get("/healthz").await;
    assert_eq!(r.status, 200, "the gateway keeps running");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_answer_times_out_fails_over_and_is_counted_when_it_comes() {
    let mut s = Smsc::start(json!({"hold": true})).await;
    let sink = Sink::start(Behaviour::Ok).await;
    let mut p = provider(s.port);
    p.response_timeout_ms = 300;
    let app = with_fallback(p, &sink).await;
    s.wait_for("bound", |_| true, T).await;
    let (id, _) = start(&app).await;
    let v = wait_status(&app, &id, "sent").await;
    assert_eq!(v["delivery"]["provider"], "hook", "a timeout fails over");
    s.cmd(json!({"cmd": "release"})).await;
    s.wait_for("submit_resp", |_| true, T).await;
    let t = Instant::now();
    loop {
        let m = metrics(&app).await;
        let timeouts = series(
            &m,
            "otpgw_smpp_errors_total{bind=\"0\",provider=\"smsc\",status=\"timeout\"}",
        );
        let late = series(
            &m,
            "otpgw_smpp_errors_total{bind=\"0\",provider=\"smsc\",status=\"late\"}",
        );
        if timeouts >= 1.0 && late >= 1.0 {
            break;
        }
        assert!(t.elapsed() < T, "timeouts {timeouts}, late {late}:\n{m}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let v = app.fetch(&id).await.body;
    assert_eq!(
        v["delivery"]["provider"], "hook",
        "the late answer changes nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_shutdown_every_bind_unbinds_after_the_queue_drains() {
    let s = Smsc::start(json!({})).await;
    let mut p = provider(s.port);
    p.sessions = 2;
    let app = gateway(p).await;
    s.wait_count("bound", 2, T).await;
    let (id, _) = start(&app).await;
    wait_status(&app, &id, "sent").await;
    app.stop().await;
    s.wait_count("unbind", 2, T).await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(s.count("bind"), 2, "no bind after the unbind");
}
