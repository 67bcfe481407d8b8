//! The console's lookup form over real HTTP: a number's verifications, a clear error for
//! a malformed number, nothing for another tenant's number, bad and hostile form input,
//! and the number in no log line of the gateway.

use super::forms::{own, post};
use super::scenario::SHOP_KEY;
use super::support::app::{number, spawn_app};
use super::support::Backend;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

/// Every log line of this test binary, at every level of the gateway's own code.
fn log() -> Arc<Mutex<Vec<u8>>> {
    static LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let w = buf.clone();
        let make = move || Sink(w.clone());
        let sub = tracing_subscriber::fmt()
            .with_env_filter("trace,h2=info,hyper=info,hyper_util=info,reqwest=info,tower=info")
            .with_writer(make)
            .finish();
        let _ = tracing::subscriber::set_global_default(sub);
        buf
    })
    .clone()
}

struct Sink(Arc<Mutex<Vec<u8>>>);
impl Write for Sink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lookup_form_finds_the_number_of_its_tenant_only_and_never_logs_it() {
    let log = log();
    let app = spawn_app(Backend::Memory, |c| {
        let mut shop = c.tenants["demo"].clone();
        shop.api_keys = vec![otpgw::crypto::hash_api_key(SHOP_KEY)];
        c.tenants.insert("shop".into(), shop);
    })
    .await;
    let to = number();
    assert_eq!(app.start(&to).await.status, 201);
    let code = app.code_for(&to).await;
    app.check(&to, &code).await;
    let origin = own(&app);
    let r = post(
        &app,
        Some(&origin),
        &[("action", "lookup"), ("tenant", "demo"), ("to", &to)],
    )
    .await;
    assert_eq!(r.status, 200);
    let rows = super::browser::table(&r.text, "lookup-rows");
    assert_eq!(
        rows.matches("<tr>").count(),
        2,
        "a heading and one row: {rows}"
    );
    assert!(rows.contains("data-col=\"outcome\">approved<"), "{rows}");
    assert!(!r.text.contains(&to), "the page shows the number masked");
    // Another tenant's index knows nothing of it.
    let r = post(
        &app,
        Some(&origin),
        &[("action", "lookup"), ("tenant", "shop"), ("to", &to)],
    )
    .await;
    assert!(r.text.contains("id=\"lookup-count\">0<"), "{}", r.text);
    // Malformed, missing, oversized and hostile input: a clear error on the page.
    for (tenant, n, says) in [
        ("demo", "+1415", "Not a number or address the gateway takes"),
        ("demo", "", "Type a tenant id and a number"),
        (
            "<script>alert(1)</script>",
            "+14155550123",
            "No such tenant",
        ),
        ("demo", &"9".repeat(300), "too long"),
    ] {
        let r = post(
            &app,
            Some(&origin),
            &[("action", "lookup"), ("tenant", tenant), ("to", n)],
        )
        .await;
        assert_eq!(r.status, 200);
        let err = super::browser::text_of(&r.text, "lookup-error");
        assert!(err.contains(says), "{tenant} {n}: {err}");
        assert!(!r.text.contains("<script>alert"), "input is escaped");
    }
    let r = post(&app, Some(&origin), &[("action", "dance")]).await;
    assert_eq!((r.status, r.code()), (400, "invalid_request"));
    // A 2 MiB form, declared: refused from its Content-Length before any of it is
    // read. Sent as a head alone over a raw connection, since a client still writing
    // the body may meet the closed socket before it reads the answer.
    assert_eq!(declared_too_big(&app, &origin).await, 413);
    let req = app
        .http
        .post(app.url("/ops"))
        .header("origin", &origin)
        .header("content-type", "application/json")
        .body("{}");
    assert_eq!(app.send(req).await.status, 415);
    let text = String::from_utf8_lossy(&log.lock().unwrap()).into_owned();
    assert!(
        text.contains("verification started"),
        "the log was captured: {text}"
    );
    assert!(
        !text.contains(&to) && !text.contains(&to[1..]),
        "the number is in the log"
    );
}

/// The status `POST /ops` answers a head declaring a 2 MiB form, sent without its body.
async fn declared_too_big(app: &super::support::TestApp, origin: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let head = format!(
        "POST /ops HTTP/1.1\r\nHost: {}\r\nOrigin: {origin}\r\nContent-Type: \
         application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
        app.addr,
        2 * 1024 * 1024
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let read = async {
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(10), read)
        .await
        .expect("no answer to a declared oversized form");
    let head = String::from_utf8_lossy(&buf);
    head.split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {head}"))
}
