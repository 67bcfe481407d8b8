//! The SMPP provider end to end: the real gateway (memory store) sending through binds
//! to a scripted SMSC on the npm `smpp` package ([`smsc`]): `submit_sm` fields, receipts
//! in both forms moving `delivery.status`, mobile-originated messages and unknown ids
//! acknowledged, long texts reassembled on the SMSC side, UCS-2, throttling, the
//! window, reconnecting after drops, unbinds and restarts, failover when every bind is
//! down, and the faults of issue 16 (a refused bind, a silent SMSC, malformed PDUs).

mod support;

#[path = "smpp/smsc.rs"]
mod smsc;

#[path = "smpp/faults.rs"]
mod faults;
#[path = "smpp/ops.rs"]
mod ops;
#[path = "smpp/send.rs"]
mod send;

use otpgw::config::Secret;
use otpgw::providers::{smpp, ProviderConfig};
use smsc::Smsc;
use std::time::{Duration, Instant};
use support::{spawn_app, Backend, TestApp};

/// The provider's settings against the SMSC on `port`, with fast timers.
pub fn provider(port: u16) -> smpp::Config {
    smpp::Config {
        host: "127.0.0.1".into(),
        port,
        system_id: "otpgw".into(),
        password: Secret("secret".into()),
        source: "Acme".into(),
        response_timeout_ms: 2_000,
        connect_timeout_ms: 1_000,
        reconnect_initial_ms: 100,
        reconnect_max_ms: 1_000,
        throttle_backoff_ms: 50,
        window_wait_ms: 1_000,
        ..Default::default()
    }
}

/// A gateway whose only provider, `smsc`, is `p`.
pub async fn gateway(p: smpp::Config) -> TestApp {
    spawn_app(Backend::Memory, move |c| {
        c.providers.insert("smsc".into(), ProviderConfig::Smpp(p));
        c.routing.default = vec!["smsc".into()];
    })
    .await
}

/// Starts a verification to a fresh number; its id and the number.
pub async fn start(app: &TestApp) -> (String, String) {
    let to = support::app::number();
    let r = app.start(&to).await;
    assert_eq!(r.status, 201, "{}", r.text);
    (r.body["id"].as_str().unwrap().to_string(), to)
}

/// Waits until the verification's `delivery.status` is `want`; the verification.
pub async fn wait_status(app: &TestApp, id: &str, want: &str) -> serde_json::Value {
    let t = Instant::now();
    loop {
        let r = app.fetch(id).await;
        if r.body["delivery"]["status"] == want {
            return r.body;
        }
        assert!(
            t.elapsed() < Duration::from_secs(15),
            "delivery stuck at {} (wanted {want})",
            r.body["delivery"]
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The gateway's `/metrics` text.
pub async fn metrics(app: &TestApp) -> String {
    app.http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The value of the series line starting with `prefix` (labels included), or 0.
pub fn series(text: &str, prefix: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

/// An SMSC with default settings and a gateway bound to it.
pub async fn pair(settings: serde_json::Value) -> (Smsc, TestApp) {
    let s = Smsc::start(settings).await;
    let app = gateway(provider(s.port)).await;
    s.wait_for("bound", |_| true, Duration::from_secs(10)).await;
    (s, app)
}
