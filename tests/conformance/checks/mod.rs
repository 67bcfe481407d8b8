#![allow(dead_code)]
//! What the vendor suites share beyond the stand-in server, as tables.
//!
//! - [`Case`] and [`check_errors`]: a vendor's documented failures, each against a fresh
//!   stand-in: kind, retryability, `Retry-After`, one request (no hidden retry), and an
//!   error detail that carries neither the number nor the code.
//! - [`shared`]: the cases every adapter meets alike whatever its vendor (a server too
//!   slow, nothing listening, 429 and 5xx whatever the body, a 2xx without a readable
//!   message id), one table run over every vendor's [`Vendor`](shared::Vendor).
//! - [`callbacks`]: delivery-receipt callbacks as the receipts endpoint hands them to an
//!   adapter, and the request details the vendor suites read back.

pub mod callbacks;
pub mod shared;

pub use callbacks::*;

use crate::server::{message, Canned, MockProvider};
use otpgw::providers::{ErrorKind, SmsProvider};
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
    pub name: String,
    pub answer: Canned,
    pub kind: ErrorKind,
    pub retryable: bool,
    pub retry_after: Option<Duration>,
    /// Text the error detail must contain, when the case checks it.
    pub detail_has: Option<String>,
}

impl Case {
    pub fn new(name: impl Into<String>, answer: Canned, kind: ErrorKind, retryable: bool) -> Self {
        Case {
            name: name.into(),
            answer,
            kind,
            retryable,
            retry_after: None,
            detail_has: None,
        }
    }
    pub fn retry_after(mut self, d: Duration) -> Self {
        self.retry_after = Some(d);
        self
    }
    pub fn detail_has(mut self, text: impl Into<String>) -> Self {
        self.detail_has = Some(text.into());
        self
    }
}

/// What must never show in an error detail or a log line about a send to `to` with
/// `text`: the number's last seven digits (so a national form is caught too), every run
/// of four or more digits of the text (the code), and the text itself.
pub fn secrets(to: &str, text: &str) -> Vec<String> {
    let digits: String = to.chars().filter(char::is_ascii_digit).collect();
    let mut out = vec![digits[digits.len().saturating_sub(7)..].to_string()];
    out.extend(
        text.split(|c: char| !c.is_ascii_digit())
            .filter(|run| run.len() >= 4)
            .map(str::to_string),
    );
    out.push(text.to_string());
    out
}

/// Asserts that `shown` (an error detail, log lines) carries none of [`secrets`].
pub fn assert_clean(what: &str, shown: &str, to: &str, text: &str) {
    for s in secrets(to, text) {
        assert!(!shown.contains(&s), "{what}: shows {s:?}: {shown}");
    }
}

/// Runs every case against a fresh stand-in, with the provider `build` makes for its
/// base URL, and checks kind, retryability, `retry_after`, the detail (clean, and with
/// the expected text when the case names one), and that exactly one request was made.
pub async fn check_errors<P: SmsProvider>(
    cases: Vec<Case>,
    build: impl Fn(&str) -> P,
    to: &str,
    text: &str,
) {
    check_errors_for(cases, build, &message(to, text)).await
}

/// [`check_errors`] with a message of the caller's (another channel, locale).
pub async fn check_errors_for<P: SmsProvider>(
    cases: Vec<Case>,
    build: impl Fn(&str) -> P,
    msg: &otpgw::providers::OutboundMessage,
) {
    let (to, text) = (msg.to.as_str(), msg.body.as_str());
    for case in cases {
        let name = &case.name;
        let mock = MockProvider::start(vec![case.answer.clone()]).await;
        let p = build(&mock.base_url());
        let e = match p.send(msg).await {
            Ok(id) => panic!("{name}: expected {:?}, sent as {id}", case.kind),
            Err(e) => e,
        };
        assert_eq!(e.kind, case.kind, "{name}: {e:?}");
        assert_eq!(e.retryable, case.retryable, "{name}: {e:?}");
        assert_eq!(e.retry_after, case.retry_after, "{name}: {e:?}");
        if let Some(want) = &case.detail_has {
            assert!(e.detail.contains(want), "{name}: {}", e.detail);
        }
        assert_clean(name, &e.detail, to, text);
        assert_eq!(
            mock.requests().len(),
            1,
            "{name}: one request, no hidden retry"
        );
    }
}
