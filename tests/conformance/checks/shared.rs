//! The cases every adapter meets alike, whatever its vendor: one table ([`cases`]), run
//! over every vendor's [`Vendor`] by one test.
//!
//! | case | the adapter must answer |
//! |---|---|
//! | a server slower than the client timeout | a retryable `Timeout`, well before the server would have answered |
//! | nothing listening | a retryable `Unavailable` |
//! | 429, with or without `Retry-After`, whatever the body | a retryable `RateLimited`, the delay kept |
//! | 5xx, JSON or an HTML page, with or without `Retry-After` | a retryable `Unavailable`, the delay kept |
//! | a 2xx without a readable message id: an empty body, a body that is not JSON or XML, one cut short, and each vendor's own shapes without an id | sent, under the verification id, with one `warn` naming the vendor and the HTTP status |
//! | a 307 (or 302) to a second server | a `Redirected` failure, not retryable on that provider, naming the redirect; the second server gets nothing (no credentials, no code) |
//!
//! Each answered case gets a fresh stand-in and must cost exactly one request.

use super::{assert_clean, refused_base_url};
use crate::server::{message, Canned, MockProvider};
use otpgw::providers::{ErrorKind, ProviderError, SmsProvider};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One adapter as the shared cases need it.
pub struct Vendor {
    /// The adapter kind, as its log lines name it.
    pub kind: &'static str,
    /// The adapter for a base URL, with a client timeout in milliseconds.
    pub build: fn(&str, u64) -> Box<dyn SmsProvider>,
    /// The destination and text every case sends.
    pub to: &'static str,
    pub text: &'static str,
    /// The vendor's documented success answer (its status is the vendor's 2xx).
    pub accepted: Canned,
    /// Answers with that status, in the vendor's own shape, that carry no readable id.
    pub without_id: Vec<Canned>,
}

/// How a case reaches the adapter.
enum Setup {
    /// The stand-in answers this.
    Answer(Canned),
    /// The stand-in answers the success only after 5 s; the client waits 300 ms.
    Slow,
    /// Nothing listens.
    Refused,
    /// The vendor's 2xx status line, then the connection closes mid-body.
    CutShort,
    /// The stand-in answers this redirect status with a `Location` on a second server
    /// that would accept the message.
    Redirect(u16),
}

/// What the adapter must make of it.
enum Expect {
    Error(ErrorKind, Option<Duration>),
    Sent,
    /// A `Redirected` failure, and nothing sent to the redirect's target.
    Redirected,
}

/// The table, for one vendor.
fn cases(v: &Vendor) -> Vec<(String, Setup, Expect)> {
    use ErrorKind::*;
    let ok = v.accepted.status;
    let secs = |s| Some(Duration::from_secs(s));
    let mut t = vec![
        (
            "slow server".into(),
            Setup::Slow,
            Expect::Error(Timeout, None),
        ),
        (
            "refused".into(),
            Setup::Refused,
            Expect::Error(Unavailable, None),
        ),
        (
            "429 with Retry-After".into(),
            Setup::Answer(Canned::json(429, "{}").header("retry-after", "5")),
            Expect::Error(RateLimited, secs(5)),
        ),
        (
            "429 without a body".into(),
            Setup::Answer(Canned::json(429, "")),
            Expect::Error(RateLimited, None),
        ),
        (
            "500".into(),
            Setup::Answer(Canned::json(500, "{}")),
            Expect::Error(Unavailable, None),
        ),
        (
            "503 page with Retry-After".into(),
            Setup::Answer(Canned::json(503, "<html>down</html>").header("retry-after", "30")),
            Expect::Error(Unavailable, secs(30)),
        ),
        (
            format!("{ok} without a body"),
            Setup::Answer(Canned::json(ok, "")),
            Expect::Sent,
        ),
        (
            format!("{ok} not JSON or XML"),
            Setup::Answer(Canned::json(ok, "not json")),
            Expect::Sent,
        ),
        (format!("{ok} cut short"), Setup::CutShort, Expect::Sent),
        ("307".into(), Setup::Redirect(307), Expect::Redirected),
        ("302".into(), Setup::Redirect(302), Expect::Redirected),
    ];
    for (i, answer) in v.without_id.iter().enumerate() {
        t.push((
            format!("{ok} without an id #{i}: {}", answer.body),
            Setup::Answer(answer.clone()),
            Expect::Sent,
        ));
    }
    t
}

/// Runs the whole table against one vendor's adapter.
pub async fn check_shared(v: &Vendor) {
    for (name, setup, expect) in cases(v) {
        let what = format!("{}: {name}", v.kind);
        let msg = message(v.to, v.text);
        let logs = Logs::default();
        let _guard = tracing::subscriber::set_default(logs.subscriber());
        let started = Instant::now();
        let mut target = None;
        let (result, mock) = match setup {
            Setup::Answer(a) => {
                let mock = MockProvider::start(vec![a]).await;
                (
                    (v.build)(&mock.base_url(), 2_000).send(&msg).await,
                    Some(mock),
                )
            }
            Setup::Slow => {
                let mock =
                    MockProvider::start(vec![v.accepted.clone().after(Duration::from_secs(5))])
                        .await;
                (
                    (v.build)(&mock.base_url(), 300).send(&msg).await,
                    Some(mock),
                )
            }
            Setup::Refused => ((v.build)(&refused_base_url(), 2_000).send(&msg).await, None),
            Setup::CutShort => {
                let base = cut_short(v.accepted.status, &v.accepted.body).await;
                ((v.build)(&base, 2_000).send(&msg).await, None)
            }
            Setup::Redirect(status) => {
                let thief = MockProvider::start(vec![v.accepted.clone()]).await;
                let location = format!("{}/elsewhere?x=1", thief.base_url());
                let mock =
                    MockProvider::start(
                        vec![Canned::json(status, "").header("location", location)],
                    )
                    .await;
                let r = (v.build)(&mock.base_url(), 2_000).send(&msg).await;
                target = Some(thief);
                (r, Some(mock))
            }
        };
        if let Some(thief) = target {
            assert!(
                thief.requests().is_empty(),
                "{what}: the redirect was followed"
            );
        }
        if let Some(mock) = mock {
            assert_eq!(
                mock.requests().len(),
                1,
                "{what}: one request, no hidden retry"
            );
        }
        // The verification id is no secret, and it may contain a code's digits.
        let logged = logs.text().replace(msg.id.as_str(), "<id>");
        assert_clean(&what, &logged, v.to, v.text);
        match expect {
            Expect::Sent => {
                assert_eq!(
                    result.as_deref().ok(),
                    Some(msg.id.as_str()),
                    "{what}: {result:?}"
                );
                let warned: Vec<&str> = logged
                    .lines()
                    .filter(|l| l.contains("no readable message id"))
                    .collect();
                assert_eq!(warned.len(), 1, "{what}: one warning: {logged}");
                assert!(warned[0].contains("WARN"), "{what}: {logged}");
                assert!(warned[0].contains(v.kind), "{what}: {logged}");
                let status = format!("status={}", v.accepted.status);
                assert!(warned[0].contains(&status), "{what}: {logged}");
            }
            Expect::Redirected => {
                let e: ProviderError = match result {
                    Ok(id) => panic!("{what}: expected Redirected, sent as {id}"),
                    Err(e) => e,
                };
                assert_eq!(
                    (e.kind, e.retryable),
                    (ErrorKind::Redirected, false),
                    "{what}: {e:?}"
                );
                assert!(
                    e.detail.contains("redirects are not followed"),
                    "{what}: {}",
                    e.detail
                );
                assert!(!e.detail.contains("x=1"), "{what}: {}", e.detail);
                assert_clean(&what, &e.detail, v.to, v.text);
            }
            Expect::Error(kind, retry_after) => {
                let e: ProviderError = match result {
                    Ok(id) => panic!("{what}: expected {kind:?}, sent as {id}"),
                    Err(e) => e,
                };
                assert_eq!((e.kind, e.retryable), (kind, true), "{what}: {e:?}");
                assert_eq!(e.retry_after, retry_after, "{what}: {e:?}");
                assert_clean(&what, &e.detail, v.to, v.text);
                if kind == ErrorKind::Timeout {
                    let waited = started.elapsed();
                    assert!(
                        waited < Duration::from_secs(2),
                        "{what}: gave up after {waited:?}"
                    );
                }
            }
        }
    }
}

/// A server that answers the first request with `status` and the first bytes of `body`
/// under a `content-length` of all of it, then closes the connection.
async fn cut_short(status: u16, body: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let head = format!(
        "HTTP/1.1 {status} OK\r\ncontent-length: {}\r\n\r\n{}",
        body.len() + 100,
        &body[..body.len().min(12)]
    );
    tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut buf = vec![0u8; 64 * 1024];
        let _ = sock.read(&mut buf).await;
        let _ = sock.write_all(head.as_bytes()).await;
        let _ = sock.shutdown().await;
    });
    base
}

/// What was logged at `warn` and above on this thread while a case ran.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    fn subscriber(&self) -> impl tracing::Subscriber + Send + Sync {
        tracing_subscriber::fmt()
            .with_writer(self.clone())
            .with_max_level(tracing::Level::WARN)
            .with_ansi(false)
            .finish()
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Logs {
    type Writer = Logs;
    fn make_writer(&'a self) -> Logs {
        self.clone()
    }
}

/// Every vendor adapter, through the whole table.
#[tokio::test]
async fn every_adapter_meets_the_shared_cases() {
    let vendors = [
        crate::twilio::vendor(),
        crate::vonage::vendor(),
        crate::sinch::vendor(),
        crate::telnyx::vendor(),
        crate::plivo::vendor(),
        crate::messagebird::vendor(),
        crate::aws_sns::vendor(),
        crate::meta_whatsapp::vendor(),
    ];
    for v in &vendors {
        assert!(!v.without_id.is_empty(), "{}: no vendor shapes", v.kind);
        check_shared(v).await;
    }
}
