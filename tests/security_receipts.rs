//! The receipts endpoint against strangers, over real HTTP: it is open until a signature
//! is checked, so an unknown provider is refused before any body is read, a body over
//! `receipts.body_limit_bytes` is refused (declared or streamed) without being held, and
//! every refusal, here and on the other routes, is a problem document, never axum's
//! plain text.

mod support;

use otpgw::providers::{twilio, ProviderConfig};
use std::time::Duration;
use support::{spawn_app, Backend, TestApp};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const LIMIT: usize = 4096;
const ADMIN_KEY: &str = "admin-key-for-receipt-security-tests";

async fn gateway() -> TestApp {
    spawn_app(Backend::Memory, |c| {
        let tw = twilio::Config {
            base_url: "http://127.0.0.1:9".into(),
            account_sid: "AC0123456789abcdef0123456789abcdef".into(),
            auth_token: Some("twilio-auth-token-for-tests".into()),
            from: Some("+15005550006".into()),
            ..Default::default()
        };
        c.providers.insert("tw".into(), ProviderConfig::Twilio(tw));
        c.receipts.public_base_url = Some("https://otp.example.com".into());
        c.receipts.body_limit_bytes = LIMIT;
        c.admin.api_keys = vec![otpgw::crypto::hash_api_key(ADMIN_KEY)];
        // A request left waiting for its body would only end at this deadline (503):
        // far later than the answers below are waited for.
        c.server.request_timeout_ms = 120_000;
    })
    .await
}

/// Asserts a problem document with this status and code.
fn assert_problem(what: &str, status: u16, content_type: &str, body: &str, want: (u16, &str)) {
    assert_eq!(status, want.0, "{what}: {body}");
    assert_eq!(content_type, "application/problem+json", "{what}: {body}");
    let v: serde_json::Value =
        serde_json::from_str(body).unwrap_or_else(|_| panic!("{what}: not JSON: {body}"));
    assert_eq!(v["code"], want.1, "{what}: {body}");
    assert_eq!(v["status"], want.0, "{what}: {body}");
}

async fn send(what: &str, req: reqwest::RequestBuilder, want: (u16, &str)) {
    let r = req.send().await.unwrap_or_else(|e| panic!("{what}: {e}"));
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = r.text().await.unwrap_or_default();
    assert_problem(what, status, &ct, &body, want);
}

/// Sends `request` (a head, and as much body as given) over a raw connection, keeping
/// our side open, and reads the answer: status, content type, body. When the body given
/// is shorter than promised, an answer at all means the gateway did not wait for it.
async fn raw(app: &TestApp, request: Vec<u8>) -> (u16, String, String) {
    let (mut rd, mut wr) = tokio::net::TcpStream::connect(app.addr)
        .await
        .unwrap()
        .into_split();
    let writer = tokio::spawn(async move {
        let _ = wr.write_all(&request).await;
        wr
    });
    let mut buf = Vec::new();
    let read = async {
        let mut chunk = [0u8; 4096];
        loop {
            let n = rd.read(&mut chunk).await.unwrap_or(0);
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&buf);
            if let Some((h, b)) = text.split_once("\r\n\r\n") {
                let len = h
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse().unwrap())
                    })
                    .unwrap_or(0);
                if b.len() >= len {
                    break;
                }
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(60), read)
        .await
        .expect("the gateway answered");
    writer.abort();
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (h, b) = text.split_once("\r\n\r\n").expect("an HTTP answer");
    let status = h.split(' ').nth(1).unwrap().parse().unwrap();
    let ct = h
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-type")
                .then(|| v.trim().to_string())
        })
        .unwrap_or_default();
    (status, ct, b.to_string())
}

/// A request head with these extra header lines, for a receipt to `provider`.
fn head(provider: &str, extra: &str) -> Vec<u8> {
    format!(
        "POST /v1/receipts/{provider} HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-www-form-urlencoded\r\n{extra}\r\n"
    )
    .into_bytes()
}

/// `body` as a chunked transfer in 1 KiB chunks, with the final empty chunk.
fn chunked(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for c in body.chunks(1024) {
        out.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
        out.extend_from_slice(c);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

fn form(pad: usize) -> String {
    format!(
        "MessageSid=SM1&MessageStatus=delivered&pad={}",
        "a".repeat(pad)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_provider_is_refused_before_the_body_is_read() {
    let app = gateway().await;
    let (status, ct, body) = raw(&app, head("nope", "content-length: 1000000000\r\n")).await;
    assert_problem("unknown provider", status, &ct, &body, (404, "not_found"));
    let (status, ct, body) = raw(&app, head("nope", "transfer-encoding: chunked\r\n")).await;
    assert_problem(
        "unknown provider, chunked",
        status,
        &ct,
        &body,
        (404, "not_found"),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declared_length_over_the_limit_is_refused_before_the_body_is_read() {
    let app = gateway().await;
    let (status, ct, body) = raw(&app, head("tw", "content-length: 1000000000\r\n")).await;
    assert_problem(
        "declared too large",
        status,
        &ct,
        &body,
        (413, "payload_too_large"),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_the_limit_is_a_413_problem_with_or_without_a_length() {
    let app = gateway().await;
    let url = app.url("/v1/receipts/tw");
    send(
        "with content-length",
        app.http
            .post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(LIMIT)),
        (413, "payload_too_large"),
    )
    .await;
    // Past axum's own 2 MB default, where it used to answer in plain text. Over a raw
    // connection: the gateway answers before the body and may close while a client is
    // still writing it, which an HTTP client reports as a failed send.
    let mut req = head("tw", &format!("content-length: {}\r\n", 3 << 20));
    req.extend(vec![b'a'; 3 << 20]);
    let (status, ct, body) = raw(&app, req).await;
    assert_problem(
        "3 MB with content-length",
        status,
        &ct,
        &body,
        (413, "payload_too_large"),
    );
    for (what, size) in [("chunked", LIMIT + 1), ("chunked 3 MB", 3 << 20)] {
        let mut req = head("tw", "transfer-encoding: chunked\r\n");
        req.extend(chunked(&vec![b'a'; size]));
        let (status, ct, body) = raw(&app, req).await;
        assert_problem(what, status, &ct, &body, (413, "payload_too_large"));
    }
    // Under the limit the receipt reaches the adapter (here: unsigned, so 401), whether
    // its length is declared or not.
    send(
        "under the limit",
        app.http
            .post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(100)),
        (401, "unauthorized"),
    )
    .await;
    let mut req = head("tw", "transfer-encoding: chunked\r\n");
    req.extend(chunked(form(2000).as_bytes()));
    let (status, ct, body) = raw(&app, req).await;
    assert_problem(
        "chunked under the limit",
        status,
        &ct,
        &body,
        (401, "unauthorized"),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn path_and_query_rejections_are_problem_documents_on_every_route() {
    let app = gateway().await;
    let admin = |r: reqwest::RequestBuilder| r.bearer_auth(ADMIN_KEY);
    let cases: Vec<(&str, reqwest::RequestBuilder, (u16, &str))> = vec![
        (
            "receipt provider that is not UTF-8",
            app.http.post(app.url("/v1/receipts/%FF")),
            (404, "not_found"),
        ),
        (
            "receipt GET, provider that is not UTF-8",
            app.http.get(app.url("/v1/receipts/%FF%FE?x=1")),
            (404, "not_found"),
        ),
        (
            "admin block path that is not UTF-8",
            admin(app.http.delete(app.url("/v1/admin/blocks/%FF/4477"))),
            (404, "not_found"),
        ),
        (
            "admin block prefix that is not UTF-8",
            admin(app.http.delete(app.url("/v1/admin/blocks/demo/%C3%28"))),
            (404, "not_found"),
        ),
        (
            "admin list with a repeated query field",
            admin(app.http.get(app.url("/v1/admin/blocks?tenant=a&tenant=b"))),
            (400, "invalid_request"),
        ),
        (
            "admin list with an unknown query field",
            admin(app.http.get(app.url("/v1/admin/blocks?nope=1"))),
            (400, "invalid_request"),
        ),
        (
            "verification id that is not UTF-8",
            app.http
                .get(app.url("/v1/verifications/%FF"))
                .bearer_auth(&app.key),
            (404, "verification_not_found"),
        ),
        (
            "cancel id that is not UTF-8",
            app.http
                .post(app.url("/v1/verifications/%FF/cancel"))
                .bearer_auth(&app.key),
            (404, "verification_not_found"),
        ),
    ];
    for (what, req, want) in cases {
        send(what, req, want).await;
    }
    let mut req = format!(
        "POST /v1/verifications HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n",
        app.key
    )
    .into_bytes();
    req.extend(chunked(&vec![b' '; 3 << 20]));
    let (status, ct, body) = raw(&app, req).await;
    assert_problem(
        "start body of 3 MB, chunked",
        status,
        &ct,
        &body,
        (413, "payload_too_large"),
    );
}

/// The binary under test: this build's, or `TEST_OTPGW_BIN` when set (for a checkout whose
/// target directory is shared with other checkouts, which overwrite `target/debug/otpgw`).
fn bin() -> String {
    std::env::var("TEST_OTPGW_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_otpgw").to_string())
}

/// `otpgw config check` over the embedded default plus a Twilio instance whose receipts
/// are signed over its callback URL, without `receipts.public_base_url`.
fn check_twilio_without_base_url(extra: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = std::process::Command::new(bin());
    cmd.args(["config", "check"])
        .env_clear()
        .env("OTPGW_PROVIDERS__TW__KIND", "twilio")
        .env(
            "OTPGW_PROVIDERS__TW__ACCOUNT_SID",
            "AC0123456789abcdef0123456789abcdef",
        )
        .env("OTPGW_PROVIDERS__TW__AUTH_TOKEN", "twilio-auth-token")
        .env("OTPGW_PROVIDERS__TW__FROM", "+15005550006")
        .env(
            "OTPGW_PROVIDERS__TW__STATUS_CALLBACK_URL",
            "https://otp.example.com/v1/receipts/tw",
        );
    for (k, v) in extra {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

#[test]
fn config_check_warns_in_dev_and_refuses_production_without_a_public_base_url() {
    let dev = check_twilio_without_base_url(&[]);
    let err = String::from_utf8_lossy(&dev.stderr);
    assert!(dev.status.success(), "{err}");
    assert!(
        err.contains("warning: providers.tw: receipts are signed over the callback URL")
            && err.contains("receipts.public_base_url"),
        "{err}"
    );

    let prod = check_twilio_without_base_url(&[
        ("OTPGW_MODE", "production"),
        (
            "OTPGW_SECRET",
            "a-production-secret-of-at-least-32-bytes-0123",
        ),
        ("OTPGW_DEV__OUTBOX", "false"),
    ]);
    let err = String::from_utf8_lossy(&prod.stderr);
    assert_eq!(prod.status.code(), Some(2), "{err}");
    assert!(
        err.contains("providers.tw: receipts are signed over the callback URL"),
        "{err}"
    );

    let fixed = check_twilio_without_base_url(&[(
        "OTPGW_RECEIPTS__PUBLIC_BASE_URL",
        "https://otp.example.com",
    )]);
    let err = String::from_utf8_lossy(&fixed.stderr);
    assert!(fixed.status.success(), "{err}");
    assert!(!err.contains("public_base_url"), "{err}");
}
