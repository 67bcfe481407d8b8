//! Delivery-receipt callbacks as `POST /v1/receipts/{provider}` hands them to an
//! adapter (an owned [`Callback`], or borrowed parts for [`receipt`]), the clock their
//! signatures are checked against, and the request details vendor suites read back
//! (Basic credentials, form pairs).

use crate::server::Recorded;
use axum::http::{HeaderMap, HeaderValue};
use base64::Engine;
use otpgw::providers::{Receipt, ReceiptError, ReceiptRequest, SmsProvider};

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

    /// The prices the adapter reads from it (`SmsProvider::receipt_prices`).
    pub fn prices(&self, p: &dyn SmsProvider) -> Vec<(String, otpgw::providers::Price)> {
        p.receipt_prices(&ReceiptRequest {
            method: self.method,
            url: &self.url,
            headers: &self.headers,
            body: &self.body,
        })
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

/// Unix seconds now.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Headers from pairs.
pub fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
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
    headers: &'a HeaderMap,
    body: &'a [u8],
) -> ReceiptRequest<'a> {
    ReceiptRequest {
        method,
        url,
        headers,
        body,
    }
}
