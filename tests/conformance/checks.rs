#![allow(dead_code)]
//! Assertions and builders the vendor modules share: error kinds, Basic credentials,
//! unreachable servers, and delivery-receipt callbacks as the receipts endpoint hands
//! them to an adapter.

use crate::server::Recorded;
use axum::http::{HeaderMap, HeaderValue};
use base64::Engine;
use otpgw::providers::{
    ErrorKind, ProviderError, Receipt, ReceiptError, ReceiptRequest, SmsProvider,
};
use std::time::Duration;

/// `http://127.0.0.1:<port>` where nothing listens (bound, then released).
pub fn refused_base_url() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    format!("http://127.0.0.1:{port}")
}

/// The user and password of a request's `Authorization: Basic …`, decoded.
pub fn basic_credentials(r: &Recorded) -> (String, String) {
    let h = r.header("authorization").expect("an Authorization header");
    let b64 = h.strip_prefix("Basic ").expect("the Basic scheme");
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("Base64 credentials");
    let text = String::from_utf8(raw).unwrap();
    let (u, p) = text.split_once(':').expect("user:password");
    (u.to_string(), p.to_string())
}

/// The error of a failed send, checked for kind and retryability.
pub fn expect_error(
    what: &str,
    r: Result<String, ProviderError>,
    kind: ErrorKind,
    retryable: bool,
) -> ProviderError {
    let e = match r {
        Ok(id) => panic!("{what}: expected {kind:?}, the send succeeded with {id}"),
        Err(e) => e,
    };
    assert_eq!(e.kind, kind, "{what}: {e}");
    assert_eq!(e.retryable, retryable, "{what}: retryable of {e}");
    e
}

/// The detail of an error says nothing of the destination or the text.
pub fn assert_detail_is_clean(e: &ProviderError, number_digits: &str, code: &str) {
    assert!(
        !e.detail.contains(number_digits),
        "number in detail: {}",
        e.detail
    );
    assert!(!e.detail.contains(code), "code in detail: {}", e.detail);
}

/// A short client timeout against a server that answers only after `hang`: the send
/// must end as a retryable `Timeout`, well before the server would have answered.
pub fn assert_timed_out(r: Result<String, ProviderError>, started: std::time::Instant) {
    expect_error("hanging server", r, ErrorKind::Timeout, true);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the timeout did not cut the request short: {:?}",
        started.elapsed()
    );
}

/// A delivery-receipt callback, owned, as `POST /v1/receipts/{provider}` receives it.
pub struct Callback {
    pub method: &'static str,
    pub url: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Callback {
    /// A `GET` to `url` (parameters in its query).
    pub fn get(url: &str) -> Self {
        Callback {
            method: "GET",
            url: url.into(),
            headers: HeaderMap::new(),
            body: Vec::new(),
        }
    }

    /// A form-encoded `POST`.
    pub fn post_form(url: &str, pairs: &[(String, String)]) -> Self {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        Callback {
            method: "POST",
            url: url.into(),
            headers: HeaderMap::new(),
            body: body.into_bytes(),
        }
        .header("content-type", "application/x-www-form-urlencoded")
    }

    /// A JSON `POST`.
    pub fn post_json(url: &str, body: impl Into<Vec<u8>>) -> Self {
        Callback {
            method: "POST",
            url: url.into(),
            headers: HeaderMap::new(),
            body: body.into(),
        }
        .header("content-type", "application/json")
    }

    /// Adds a header.
    pub fn header(mut self, name: &'static str, value: &str) -> Self {
        self.headers
            .insert(name, HeaderValue::from_str(value).unwrap());
        self
    }

    /// What the adapter makes of it.
    pub fn parse(&self, p: &dyn SmsProvider) -> Result<Vec<Receipt>, ReceiptError> {
        p.parse_receipt(&ReceiptRequest {
            method: self.method,
            url: &self.url,
            headers: &self.headers,
            body: &self.body,
        })
    }
}

/// Owned pairs from borrowed ones.
pub fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}
