//! The real binary as an operator runs it: subcommands, startup refusals, graceful
//! shutdown on SIGTERM, and what its logs contain.

mod support;

use serde_json::json;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use support::app::{extract_code, number, wrong};
use support::sink::{Behaviour, Sink};

const BIN: &str = env!("CARGO_BIN_EXE_otpgw");
const KEY: &str = otpgw::config::DEMO_API_KEY;

/// A gateway process; stderr lines are collected as they come.
struct Gateway {
    child: Child,
    addr: String,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
    stdout: std::thread::JoinHandle<String>,
}

fn gateway(env: &[(&str, &str)]) -> Gateway {
    let mut cmd = Command::new(BIN);
    cmd.arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("OTPGW_SERVER__LISTEN", "127.0.0.1:0")
        .env("OTPGW_GRPC__LISTEN", "127.0.0.1:0")
        .env("OTPGW_LOG__FORMAT", "json")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let stdout = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let mut seen = Vec::new();
    let t = Instant::now();
    let addr = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("gateway printed its address");
        seen.push(line.clone());
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) {
            if v["message"] == "otpgw listening" {
                break v["addr"].as_str().unwrap().to_string();
            }
        }
        assert!(t.elapsed() < Duration::from_secs(10));
    };
    Gateway {
        child,
        addr,
        lines: rx,
        seen,
        stdout,
    }
}

impl Gateway {
    fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    fn sigterm(&self) {
        let ok = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
    }

    /// Waits for exit; returns (exit code, all stderr, all stdout).
    fn wait(mut self, secs: u64) -> (i32, String, String) {
        let t = Instant::now();
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            if t.elapsed() > Duration::from_secs(secs) {
                let _ = self.child.kill();
                panic!("gateway did not exit within {secs} s");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        std::thread::sleep(Duration::from_millis(50));
        self.seen.extend(self.lines.try_iter());
        let out = self.stdout.join().unwrap();
        (status.code().unwrap_or(-1), self.seen.join("\n"), out)
    }
}

fn client() -> reqwest::Client {
    otpgw::providers::webhook::install_tls_provider();
    reqwest::Client::new()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_queued_messages_and_exits_zero() {
    let sink = Sink::start(Behaviour::Delay(Duration::from_millis(400))).await;
    let url = sink.url();
    let gw = gateway(&[
        ("OTPGW_PROVIDERS__HOOK__KIND", "webhook"),
        ("OTPGW_PROVIDERS__HOOK__URL", &url),
        ("OTPGW_ROUTING__DEFAULT", "[hook]"),
        ("OTPGW_DELIVERY__CONCURRENCY", "2"),
    ]);
    let http = client();
    for _ in 0..6 {
        let r = http
            .post(gw.url("/v1/verifications"))
            .bearer_auth(KEY)
            .json(&json!({"to": number()}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    gw.sigterm();
    let (code, logs, _) = tokio::task::spawn_blocking(move || gw.wait(15))
        .await
        .unwrap();
    assert_eq!(code, 0, "{logs}");
    assert_eq!(
        sink.received().len(),
        6,
        "every queued message went out before exit"
    );
    assert!(logs.contains("shutdown complete"), "{logs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_an_in_flight_request_finish() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let gw = gateway(&[]);
    // A body sent in two parts keeps the request in flight across the signal.
    let body = format!("{{\"to\": \"{}\"}}", number());
    let (head, tail) = body.split_at(body.len() - 1);
    let mut conn = tokio::net::TcpStream::connect(&gw.addr).await.unwrap();
    let request = format!(
        "POST /v1/verifications HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {KEY}\r\n\
         content-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{head}",
        body.len()
    );
    conn.write_all(request.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    gw.sigterm();
    tokio::time::sleep(Duration::from_millis(200)).await;
    conn.write_all(tail.as_bytes()).await.unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).await.unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 201"),
        "the in-flight start completed: {answer}"
    );
    let (code, logs, _) = tokio::task::spawn_blocking(move || gw.wait(15))
        .await
        .unwrap();
    assert_eq!(code, 0, "{logs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_of_a_webhook_run_hold_no_code_and_no_full_number() {
    let sink = Sink::start(Behaviour::FailFirst(1, 500)).await;
    let url = sink.url();
    let gw = gateway(&[
        ("OTPGW_PROVIDERS__HOOK__KIND", "webhook"),
        ("OTPGW_PROVIDERS__HOOK__URL", &url),
        ("OTPGW_ROUTING__DEFAULT", "[hook]"),
        ("OTPGW_DELIVERY__RETRY_INITIAL_MS", "20"),
        ("OTPGW_TENANTS__DEMO__CODE_LENGTH", "10"),
        ("OTPGW_TENANTS__DEMO__RESEND_COOLDOWN_SECS", "0"),
        ("OTPGW_LOG__FILTER", "trace"),
    ]);
    let http = client();
    let mut numbers = Vec::new();
    for _ in 0..4 {
        let to = number();
        let start = |to: String| {
            http.post(gw.url("/v1/verifications"))
                .bearer_auth(KEY)
                .json(&json!({"to": to, "metadata": {"k": "v"}}))
                .send()
        };
        let before = sink.received().len();
        let r = start(to.clone()).await.unwrap();
        assert_eq!(r.status(), 201);
        let id = r.json::<serde_json::Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        let first = sink.wait_for(before + 1, 10).await;
        assert!(first.last().unwrap().body["to"] == to.as_str());
        tokio::time::sleep(Duration::from_millis(100)).await;
        let before = sink.received().len();
        assert_eq!(start(to.clone()).await.unwrap().status(), 200, "resend");
        let got = sink.wait_for(before + 1, 10).await;
        let code = extract_code(got.last().unwrap().body["body"].as_str().unwrap());
        assert_eq!(code.len(), 10);
        let check = |body: serde_json::Value| {
            http.post(gw.url("/v1/verifications/check"))
                .bearer_auth(KEY)
                .json(&body)
                .send()
        };
        check(json!({"to": to, "code": wrong(&code)}))
            .await
            .unwrap();
        check(json!({"id": id, "code": code})).await.unwrap();
        http.get(gw.url(&format!("/v1/verifications/{id}")))
            .bearer_auth(KEY)
            .send()
            .await
            .unwrap();
        numbers.push((to, code));
    }
    gw.sigterm();
    let (_, logs, stdout) = tokio::task::spawn_blocking(move || gw.wait(15))
        .await
        .unwrap();
    assert!(logs.lines().count() > 20, "trace logging produced output");
    let all = format!("{logs}\n{stdout}");
    for (to, code) in &numbers {
        assert!(!all.contains(code.as_str()), "a code reached the logs");
        assert!(!all.contains(&to[2..]), "a full number reached the logs");
    }
    assert!(all.contains("+1415*****"), "numbers appear masked");
}

#[test]
fn production_mode_without_secret_refuses_to_start_and_says_how() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("p.toml");
    std::fs::write(&cfg, "mode = \"production\"\n[tenants.a]\napi_keys = [\"sha256:0000000000000000000000000000000000000000000000000000000000000000\"]\n").unwrap();
    let out = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&cfg)
        .env_remove("OTPGW_SECRET")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no server secret") && err.contains("otpgw secret new"),
        "{err}"
    );

    let out = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&cfg)
        .env("OTPGW_SECRET", "too-short")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 32"));
}

/// `otpgw config check --config <cfg>`, run to its end.
fn config_check(cfg: &std::path::Path) -> std::process::Output {
    Command::new(BIN)
        .args(["config", "check", "--config"])
        .arg(cfg)
        .output()
        .unwrap()
}

#[test]
fn config_check_reports_every_problem() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.toml");
    std::fs::write(
        &cfg,
        "mode = \"production\"\n[store]\nkind = \"redis\"\n[store.redis]\nurl = \"http://x\"\n[tenants.a]\napi_keys = [\"raw-key\"]\nttl_secs = 0\n",
    )
    .unwrap();
    let out = config_check(&cfg);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    for needle in ["4 problem", "secret", "redis://", "sha256", "ttl_secs"] {
        assert!(err.contains(needle), "missing {needle:?} in {err}");
    }
    let ok = Command::new(BIN)
        .args(["config", "check"])
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let typo = dir.path().join("typo.toml");
    std::fs::write(&typo, "[server]\nlisten_addr = \"127.0.0.1:1\"\n").unwrap();
    let out = config_check(&typo);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("listen_addr"));
}

/// The former `[stats.prices]` is refused with the new place; bad
/// `[providers.<name>.prices]` (a code that is no country, a negative price) too.
#[test]
fn config_check_refuses_old_and_bad_prices() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("prices.toml");
    std::fs::write(
        &cfg,
        "mode = \"dev\"\n[providers.console]\nkind = \"console\"\n[providers.console.prices]\ndefault = 0.05\nXX = 0.1\nFR = -0.2\n[stats.prices.console]\ndefault = 0.05\n",
    )
    .unwrap();
    let out = config_check(&cfg);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    for needle in [
        "stats.prices has moved",
        "[providers.<name>.prices]",
        "providers.console.prices.XX: a country is an ISO 3166 code",
        "providers.console.prices.FR must be a price of 0 or more",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in {err}");
    }
}

#[test]
fn api_key_new_prints_a_key_and_its_hash() {
    let out = Command::new(BIN).args(["api-key", "new"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let key = text
        .split_whitespace()
        .find(|w| w.starts_with("otpgw_"))
        .unwrap();
    let hash = text
        .split_whitespace()
        .find(|w| w.starts_with("sha256:"))
        .unwrap();
    assert_eq!(hash, otpgw::crypto::hash_api_key(key));
    let secret = Command::new(BIN).args(["secret", "new"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&secret.stdout).trim().len(), 64);
}

#[test]
fn api_key_hash_prints_the_hash_of_a_secret_read_from_stdin() {
    use std::io::Write;
    let run = |input: &str| {
        let mut child = Command::new(BIN)
            .args(["api-key", "hash"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let out = run("a-twilio-auth-token\n");
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        otpgw::crypto::hash_api_key("a-twilio-auth-token")
    );
    let empty = run("");
    assert!(!empty.status.success());
    assert!(String::from_utf8_lossy(&empty.stderr).contains("standard input"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_key_on_a_non_loopback_address_is_warned_about() {
    let gw = gateway(&[("OTPGW_SERVER__LISTEN", "0.0.0.0:0")]);
    gw.sigterm();
    let (code, logs, _) = tokio::task::spawn_blocking(move || gw.wait(10))
        .await
        .unwrap();
    assert_eq!(code, 0);
    assert!(logs.contains("PUBLIC DEMO API KEY"), "{logs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_metrics_on_a_non_loopback_address_are_warned_about_unless_protected() {
    let hash = otpgw::crypto::hash_api_key("a-metrics-token");
    for (token, warned) in [(None, true), (Some(hash.as_str()), false)] {
        let mut env = vec![("OTPGW_SERVER__LISTEN", "0.0.0.0:0")];
        env.extend(token.map(|h| ("OTPGW_METRICS__BEARER_TOKEN_HASH", h)));
        let gw = gateway(&env);
        gw.sigterm();
        let (code, logs, _) = tokio::task::spawn_blocking(move || gw.wait(10))
            .await
            .unwrap();
        assert_eq!(code, 0);
        assert_eq!(logs.contains("/metrics (tenant ids"), warned, "{logs}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_instance_s_sends_are_delivered_by_the_other_none_lost() {
    let redis = support::redis::RedisServer::start();
    // Instance A's provider never answers, so whatever A holds is stuck in flight when it
    // is killed; instance B's provider is the counting sink.
    let stuck = Sink::start(Behaviour::Hang).await;
    let sink = Sink::start(Behaviour::Ok).await;
    let redis_url = redis.url();
    let prefix = format!("crash{}", std::process::id());
    let env = |provider_url: &str| -> Vec<(String, String)> {
        [
            ("OTPGW_SECRET", "crash-test-secret-crash-test-secret-0123"),
            ("OTPGW_STORE__KIND", "redis"),
            ("OTPGW_STORE__REDIS__URL", redis_url.as_str()),
            ("OTPGW_STORE__REDIS__KEY_PREFIX", prefix.as_str()),
            ("OTPGW_STORE__REDIS__SHARDS", "4"),
            ("OTPGW_DELIVERY__VISIBILITY_TIMEOUT_MS", "1000"),
            ("OTPGW_DELIVERY__CONCURRENCY", "2"),
            ("OTPGW_PROVIDERS__HOOK__KIND", "webhook"),
            ("OTPGW_PROVIDERS__HOOK__URL", provider_url),
            ("OTPGW_PROVIDERS__HOOK__TIMEOUT_MS", "60000"),
            ("OTPGW_ROUTING__DEFAULT", "[hook]"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    };
    let env_a = env(&stuck.url());
    let env_a: Vec<(&str, &str)> = env_a
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut a = gateway(&env_a);
    let http = client();
    let mut started = std::collections::BTreeSet::new();
    for _ in 0..10 {
        let r = http
            .post(a.url("/v1/verifications"))
            .bearer_auth(KEY)
            .json(&json!({"to": number()}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let v: serde_json::Value = r.json().await.unwrap();
        started.insert(v["id"].as_str().unwrap().to_string());
    }
    stuck.wait_for(2, 10).await;
    a.child.kill().unwrap();
    a.child.wait().unwrap();

    let env_b = env(&sink.url());
    let env_b: Vec<(&str, &str)> = env_b
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let b = gateway(&env_b);
    let t = Instant::now();
    loop {
        let ids: std::collections::BTreeSet<String> = sink
            .received()
            .iter()
            .map(|r| r.body["id"].as_str().unwrap().to_string())
            .collect();
        if ids == started {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "{} of {} delivered",
            ids.len(),
            started.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        stuck.received().len(),
        2,
        "A had two sends in flight when it was killed"
    );
    assert_eq!(sink.received().len(), 10, "B sent each of the ten once");
    b.sigterm();
    let (code, logs, _) = tokio::task::spawn_blocking(move || b.wait(15))
        .await
        .unwrap();
    assert_eq!(code, 0);
    assert!(
        logs.contains("took over sends whose worker went silent"),
        "{logs}"
    );
}

#[test]
fn template_preview_shows_text_encoding_and_segments() {
    let out = Command::new(BIN)
        .args(["template", "preview", "--locale", "de-AT", "--app-hash"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Bestätigungscode lautet 123456"), "{text}");
    assert!(text.contains("FA+9qCX9VSu"), "{text}");
    assert!(
        text.contains("Gsm7") && text.contains("1 segment"),
        "{text}"
    );

    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("long.toml");
    let long = "x".repeat(200);
    std::fs::write(
        &cfg,
        format!("mode = \"dev\"\n[tenants.a]\napi_keys = [\"sha256:{}\"]\n[tenants.a.templates.login]\nen = \"{long} {{code}}\"\n", "0".repeat(64)),
    )
    .unwrap();
    let out = Command::new(BIN)
        .args([
            "template",
            "preview",
            "--tenant",
            "a",
            "--template",
            "login",
            "--config",
        ])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("2 segment"));
    assert!(String::from_utf8_lossy(&out.stderr).contains("warning"));
    let check = config_check(&cfg);
    assert!(
        String::from_utf8_lossy(&check.stderr).contains("template login/en needs 2 SMS segments")
    );
}
