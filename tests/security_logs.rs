//! Log injection, with the real binary: an unsigned Vonage JSON receipt whose field name
//! holds a newline and a whole forged log line must not put that line into the log, in
//! the text format or the JSON one. (How every field is escaped is tested with the
//! subscriber itself in `src/telemetry.rs`.)

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The binary under test: this build's, or `TEST_OTPGW_BIN` when set (for a checkout whose
/// target directory is shared with other checkouts of the project, which overwrite
/// `target/debug/otpgw` with their own builds).
fn bin() -> String {
    std::env::var("TEST_OTPGW_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_otpgw").to_string())
}
const FORGED: &str = "2026-01-01T00:00:00.000000Z  INFO otpgw: admin login ok user=root";

struct Gateway {
    child: Child,
    addr: String,
    lines: mpsc::Receiver<String>,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn gateway(format: &str) -> Gateway {
    let mut child = Command::new(bin())
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("OTPGW_SERVER__LISTEN", "127.0.0.1:0")
        .env("OTPGW_GRPC__LISTEN", "127.0.0.1:0")
        .env("OTPGW_LOG__FORMAT", format)
        .env("OTPGW_PROVIDERS__VG__KIND", "vonage")
        .env("OTPGW_PROVIDERS__VG__API_KEY", "key")
        .env("OTPGW_PROVIDERS__VG__API_SECRET", "secret")
        .env("OTPGW_PROVIDERS__VG__FROM", "OTPGW")
        .env(
            "OTPGW_PROVIDERS__VG__SIGNATURE_SECRET",
            "vonage-signature-secret",
        )
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let t = Instant::now();
    let addr = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the gateway printed its address");
        if line.contains("otpgw listening") {
            let at = line.find("addr").expect("an addr field") + 4;
            let rest = line[at..].trim_start_matches(['=', '"', ':']);
            break rest.split(['"', ' ', ',']).next().unwrap().to_string();
        }
        assert!(t.elapsed() < Duration::from_secs(10));
    };
    Gateway {
        child,
        addr,
        lines: rx,
    }
}

/// Posts the hostile receipt and returns the log lines written until the refusal.
async fn post_hostile_receipt(gw: &Gateway) -> Vec<String> {
    let body =
        format!(r#"{{"messageId":"0A0000001","status":"delivered","x\n{FORGED}\ny":{{"k":1}}}}"#);
    otpgw::providers::http::install_tls_provider();
    let r = reqwest::Client::new()
        .post(format!("http://{}/v1/receipts/vg", gw.addr))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error(), "refused: {}", r.status());
    let mut seen = Vec::new();
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(10) {
        match gw.lines.recv_timeout(Duration::from_millis(100)) {
            Ok(l) => {
                let done = l.contains("receipt refused");
                seen.push(l);
                if done {
                    // Anything the same event wrote on further lines comes right after.
                    std::thread::sleep(Duration::from_millis(200));
                    seen.extend(gw.lines.try_iter());
                    return seen;
                }
            }
            Err(_) => continue,
        }
    }
    panic!("no `receipt refused` line: {seen:#?}");
}

fn assert_no_forged_line(lines: &[String]) {
    for l in lines {
        assert!(
            !l.starts_with("2026-01-01") && !l.trim_start().starts_with("INFO otpgw: admin"),
            "a forged line reached the log: {lines:#?}"
        );
        assert!(!l.contains('\r') && !l.contains('\u{1b}'), "{l:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_receipt_field_name_forges_no_text_log_line() {
    let gw = gateway("text");
    let lines = post_hostile_receipt(&gw).await;
    assert_no_forged_line(&lines);
    let refused = lines
        .iter()
        .find(|l| l.contains("receipt refused"))
        .unwrap();
    assert!(refused.contains("WARN"), "{refused}");
    assert!(
        !refused.contains("admin login ok"),
        "the sender's field name is not logged: {refused}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_receipt_field_name_forges_no_json_log_line() {
    let gw = gateway("json");
    let lines = post_hostile_receipt(&gw).await;
    assert_no_forged_line(&lines);
    for l in &lines {
        let v: serde_json::Value = serde_json::from_str(l)
            .unwrap_or_else(|_| panic!("every line is one JSON object: {l}"));
        assert!(v.is_object());
    }
}
