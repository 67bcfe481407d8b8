#![allow(dead_code)]
//! What the vendor suites share beyond the stand-in server: an address that refuses
//! connections, the error-case table runner, receipt requests, and the clock.

use crate::server::{Canned, MockProvider};
use otpgw::providers::{ErrorKind, ProviderError, ReceiptRequest, SmsProvider};
use std::time::Duration;

/// `http://127.0.0.1:<port>` where nothing listens (a port bound, then released).
pub fn refused_base_url() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    format!("http://127.0.0.1:{port}")
}

/// One documented failure and what the adapter must make of it.
pub struct Case {
    pub name: &'static str,
    pub answer: Canned,
    pub kind: ErrorKind,
    pub retryable: bool,
    pub retry_after: Option<Duration>,
}

impl Case {
    pub fn new(name: &'static str, answer: Canned, kind: ErrorKind, retryable: bool) -> Self {
        Case {
            name,
            answer,
            kind,
            retryable,
            retry_after: None,
        }
    }
    pub fn retry_after(mut self, d: Duration) -> Self {
        self.retry_after = Some(d);
        self
    }
}

/// Runs every case against a fresh stand-in, with the provider `build` makes for its
/// base URL, and checks kind, retryability, `retry_after`, and that the error detail
/// never carries the destination number or the text.
pub async fn check_errors<P: SmsProvider>(
    cases: Vec<Case>,
    build: impl Fn(&str) -> P,
    to: &str,
    text: &str,
) {
    let digits = to.trim_start_matches('+');
    for case in cases {
        let mock = MockProvider::start(vec![case.answer.clone()]).await;
        let p = build(&mock.base_url());
        let e: ProviderError = p
            .send(&crate::server::message(to, text))
            .await
            .expect_err(case.name);
        assert_eq!(e.kind, case.kind, "{}: {e:?}", case.name);
        assert_eq!(e.retryable, case.retryable, "{}: {e:?}", case.name);
        assert_eq!(e.retry_after, case.retry_after, "{}: {e:?}", case.name);
        assert!(
            !e.detail.contains(digits),
            "{}: detail shows the number: {}",
            case.name,
            e.detail
        );
        assert!(
            !e.detail.contains(text),
            "{}: detail shows the text: {}",
            case.name,
            e.detail
        );
        assert_eq!(
            mock.requests().len(),
            1,
            "{}: one request, no hidden retry",
            case.name
        );
    }
}

/// A provider pointed at a server that answers only after 3 s, with a 300 ms timeout,
/// must fail with a retryable `Timeout` in well under the server's delay.
pub async fn check_timeout<P: SmsProvider>(build: impl Fn(&str) -> P, answer: Canned) {
    let mock = MockProvider::start(vec![answer.after(Duration::from_secs(3))]).await;
    let p = build(&mock.base_url());
    let t = std::time::Instant::now();
    let e = p
        .send(&crate::server::message(
            "+14155550123",
            "Your code is 123456",
        ))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Timeout, "{e:?}");
    assert!(e.retryable);
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "gave up after {:?}",
        t.elapsed()
    );
}

/// A provider pointed at a closed port must fail with a retryable `Unavailable`.
pub async fn check_refused<P: SmsProvider>(build: impl Fn(&str) -> P) {
    let p = build(&refused_base_url());
    let e = p
        .send(&crate::server::message(
            "+14155550123",
            "Your code is 123456",
        ))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unavailable, "{e:?}");
    assert!(e.retryable);
}

/// A provider whose 2xx answer is cut short (the connection closes mid-body) must count
/// the message as sent, under the verification id: the provider took it, and a retry
/// would send the code twice.
pub async fn check_truncated_success<P: SmsProvider>(build: impl Fn(&str) -> P) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut buf = vec![0u8; 64 * 1024];
        let _ = sock.read(&mut buf).await;
        let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 500\r\n\r\n{\"data\":{\"id";
        let _ = sock.write_all(head.as_bytes()).await;
        let _ = sock.shutdown().await;
    });
    let msg = crate::server::message("+14155550123", "Your code is 123456");
    let id = build(&base)
        .send(&msg)
        .await
        .expect("a cut-short 2xx is still a send");
    assert_eq!(id, msg.id.as_str());
}

/// Unix seconds now.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Headers from pairs.
pub fn headers(pairs: &[(&str, &str)]) -> http::HeaderMap {
    let mut h = http::HeaderMap::new();
    for (k, v) in pairs {
        h.append(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    h
}

/// A receipt request as the gateway's endpoint hands it to an adapter.
pub fn receipt<'a>(
    method: &'a str,
    url: &'a str,
    headers: &'a http::HeaderMap,
    body: &'a [u8],
) -> ReceiptRequest<'a> {
    ReceiptRequest {
        method,
        url,
        headers,
        body,
    }
}
