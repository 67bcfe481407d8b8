//! The SMPP provider's throughput: `submit_sm` per second through one bind with a
//! window of 10, and through 4 binds (window 10 each), against the scripted SMSC of the
//! tests (`tests/smpp/smsc.js` on the npm `smpp` package, in its quiet mode: it answers
//! every `submit_sm` at once and reports only a count). Each run sends `SMPP_BENCH_N`
//! one-part messages (default 20 000) from 64 concurrent senders through
//! `SmsProvider::send`, the path a delivery worker takes, after a warm-up of 1 000.
//!
//! Run: `cargo bench --bench smpp`. Figures go in docs/performance.md. The SMSC is one
//! Node.js process: on a small machine it shares the cores with the gateway, so the
//! figures are a floor for the gateway's side.

#[path = "../tests/smpp/smsc.rs"]
#[allow(dead_code)]
mod smsc;

#[path = "../tests/support/npm.rs"]
#[allow(dead_code)]
mod npm;

/// The scripted SMSC installs its npm package through the tests' one installer, which it
/// reaches as `crate::support::npm`.
mod support {
    pub(crate) use super::npm;
}

use otpgw::domain::{now_millis, PhoneNumber, VerificationId};
use otpgw::providers::smpp::{Config, SmppProvider};
use otpgw::providers::{OutboundMessage, ReceiptSink, SmsProvider};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn message() -> OutboundMessage {
    OutboundMessage {
        id: VerificationId::generate(0).unwrap(),
        tenant: "bench".into(),
        to: PhoneNumber::parse("+14155550123").unwrap().into(),
        body: "Acme: your verification code is 123456. It expires in 10 minutes.".into(),
        locale: "en".into(),
        metadata: None,
        expires_at: now_millis() + 600_000,
        request_id: None,
        channel: otpgw::domain::Channel::Sms,
        code: "123456".into(),
        subject: None,
        html: None,
    }
}

/// Sends `n` messages from `senders` tasks; the time taken and the sends that failed
/// (with the first failure).
async fn run(p: Arc<SmppProvider>, n: usize, senders: usize) -> (Duration, usize, Option<String>) {
    let started = Instant::now();
    let per = n / senders;
    let tasks: Vec<_> = (0..senders)
        .map(|_| {
            let p = p.clone();
            tokio::spawn(async move {
                let m = message();
                let (mut failed, mut first) = (0, None);
                for _ in 0..per {
                    if let Err(e) = p.send(&m).await {
                        failed += 1;
                        first.get_or_insert(e.to_string());
                    }
                }
                (failed, first)
            })
        })
        .collect();
    let (mut failed, mut first) = (0, None);
    for t in tasks {
        let (f, e) = t.await.unwrap();
        failed += f;
        first = first.or(e);
    }
    (started.elapsed(), failed, first)
}

async fn case(sessions: u32, n: usize) {
    let s = smsc::Smsc::start(json!({"quiet": true})).await;
    let cfg = Config {
        host: "127.0.0.1".into(),
        port: s.port,
        system_id: "otpgw".into(),
        password: otpgw::config::Secret("secret".into()),
        source: "Acme".into(),
        sessions,
        window: 10,
        window_wait_ms: 10_000,
        ..Default::default()
    };
    let p = Arc::new(SmppProvider::new("bench", &cfg, ReceiptSink::default()).unwrap());
    s.wait_count("bound", sessions as usize, Duration::from_secs(10))
        .await;
    run(p.clone(), 1_000, 64).await;
    let (took, failed, first) = run(p.clone(), n, 64).await;
    let sent = (n / 64) * 64 - failed;
    println!(
        "smpp/{sessions}_bind{}_window_10: {sent} submit_sm in {:.2} s = {:.0} submit_sm/s{}",
        if sessions == 1 { "" } else { "s" },
        took.as_secs_f64(),
        sent as f64 / took.as_secs_f64(),
        match first {
            Some(e) => format!(" ({failed} failed, first: {e})"),
            None => String::new(),
        }
    );
}

fn main() {
    // `cargo test --benches` runs this with `--bench` absent: do nothing then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let n = std::env::var("SMPP_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        case(1, n).await;
        case(4, n).await;
    });
}
