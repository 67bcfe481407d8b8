//! Exactness across processes: two gateway binaries on one Redis, concurrent starts to
//! many numbers; a limit of N per window admits exactly N per number, and admits again
//! after the window.

mod support;

use serde_json::json;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::app::number;

const BIN: &str = env!("CARGO_BIN_EXE_otpgw");
const KEY: &str = otpgw::config::DEMO_API_KEY;
const N: usize = 3;
const WINDOW_SECS: u64 = 4;

struct Gw(Child, String);

impl Drop for Gw {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn gateway(redis: &str, prefix: &str) -> Gw {
    let mut cmd = Command::new(BIN);
    cmd.arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("OTPGW_SERVER__LISTEN", "127.0.0.1:0")
        .env("OTPGW_GRPC__ENABLED", "false")
        .env("OTPGW_LOG__FORMAT", "json")
        .env("OTPGW_SECRET", support::app::TEST_SECRET)
        .env("OTPGW_STORE__KIND", "redis")
        .env("OTPGW_STORE__REDIS__URL", redis)
        .env("OTPGW_STORE__REDIS__KEY_PREFIX", prefix)
        .env(
            "OTPGW_TENANTS__DEMO__LIMITS__NUMBER_PER_MINUTE",
            N.to_string(),
        )
        .env(
            "OTPGW_TENANTS__DEMO__LIMITS__NUMBER_MINUTE_WINDOW_SECS",
            WINDOW_SECS.to_string(),
        )
        .env("OTPGW_TENANTS__DEMO__LIMITS__NUMBER_PER_HOUR", "0")
        .env("OTPGW_TENANTS__DEMO__LIMITS__NUMBER_PER_DAY", "0")
        .env("OTPGW_TENANTS__DEMO__LIMITS__TENANT_SENDS_PER_SEC", "0")
        .env("OTPGW_TENANTS__DEMO__LIMITS__API_KEY_SENDS_PER_SEC", "0")
        .env("OTPGW_TENANTS__DEMO__LIMITS__PREFIX_PER_HOUR", "0")
        .env("OTPGW_TENANTS__DEMO__NUMBER_SENDS_PER_HOUR", "1000")
        .env("OTPGW_TENANTS__DEMO__PUMPING__MODE", "off")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let t = Instant::now();
    let addr = loop {
        let line = lines.next().expect("gateway output").unwrap();
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) {
            if v["message"] == "otpgw listening" {
                break v["addr"].as_str().unwrap().to_string();
            }
        }
        assert!(
            t.elapsed() < Duration::from_secs(15),
            "gateway did not start"
        );
    };
    std::thread::spawn(move || for _ in lines {});
    Gw(child, addr)
}

/// Fires `per_number` starts at every number, alternating gateways, all at once;
/// returns how many each number had admitted by the limit, and how long it took.
async fn burst(gws: &[String], numbers: &[String], per_number: usize) -> (Vec<usize>, Duration) {
    otpgw::providers::webhook::install_tls_provider();
    let http = reqwest::Client::new();
    let t = Instant::now();
    let mut tasks = Vec::new();
    for (n, to) in numbers.iter().enumerate() {
        for i in 0..per_number {
            let url = format!("http://{}/v1/verifications", gws[(n + i) % gws.len()]);
            let (http, to) = (http.clone(), to.clone());
            tasks.push(tokio::spawn(async move {
                let r = http
                    .post(url)
                    .bearer_auth(KEY)
                    .json(&json!({ "to": to }))
                    .send()
                    .await
                    .unwrap();
                let status = r.status().as_u16();
                let body: serde_json::Value = r.json().await.unwrap_or_default();
                assert!(
                    matches!(status, 200 | 201 | 429),
                    "unexpected {status}: {body}"
                );
                (n, body["reason"] != "number_per_minute")
            }));
        }
    }
    let mut admitted = vec![0; numbers.len()];
    for task in tasks {
        let (n, ok) = task.await.unwrap();
        admitted[n] += ok as usize;
    }
    (admitted, t.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_on_one_redis_admit_exactly_n_per_number() {
    let redis = support::redis::shared_redis().url();
    let prefix = format!("x{}", hex::encode(otpgw::crypto::random_bytes::<5>()));
    let (a, b) = (gateway(&redis, &prefix), gateway(&redis, &prefix));
    let gws = vec![a.1.clone(), b.1.clone()];
    let numbers: Vec<String> = (0..40).map(|_| number()).collect();
    // GCRA admits N at once and one more every window / N: a burst shorter than that
    // must admit exactly N per number; a longer one at most one more per interval.
    let interval = Duration::from_millis(WINDOW_SECS * 1000 / N as u64);
    let (admitted, took) = burst(&gws, &numbers, 3 * N).await;
    let extra = (took.as_millis() / interval.as_millis()) as usize;
    for (n, got) in admitted.iter().enumerate() {
        assert!(
            *got >= N && *got <= N + extra,
            "number {n}: {got} admitted (burst took {took:?})"
        );
    }
    if extra == 0 {
        assert!(admitted.iter().all(|&g| g == N), "{admitted:?}");
    }
    eprintln!(
        "burst of {} starts over 2 processes took {took:?}",
        numbers.len() * 3 * N
    );
    tokio::time::sleep(Duration::from_secs(WINDOW_SECS) + Duration::from_millis(100)).await;
    let (again, took) = burst(&gws, &numbers, N).await;
    assert!(
        again.iter().all(|&g| g == N),
        "after the window every number admits N again: {again:?} ({took:?})"
    );
}
