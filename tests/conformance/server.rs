#![allow(dead_code)]
//! A recording HTTP server that stands in for a provider's API.
//!
//! It records every request whole and answers from a script of canned responses (the
//! last one repeats), optionally after a delay (to exercise timeouts).

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One canned answer.
#[derive(Debug, Clone)]
pub struct Canned {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
    pub headers: Vec<(&'static str, String)>,
    pub delay: Option<Duration>,
}

impl Canned {
    /// A JSON answer.
    pub fn json(status: u16, body: impl Into<String>) -> Self {
        Canned {
            status,
            content_type: "application/json",
            body: body.into(),
            headers: Vec::new(),
            delay: None,
        }
    }
    /// An XML answer (SNS).
    pub fn xml(status: u16, body: impl Into<String>) -> Self {
        Canned {
            status,
            content_type: "text/xml",
            body: body.into(),
            headers: Vec::new(),
            delay: None,
        }
    }
    /// Adds a header.
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
    /// Answers only after `d`.
    pub fn after(mut self, d: Duration) -> Self {
        self.delay = Some(d);
        self
    }
}

/// A recorded request.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: Method,
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Recorded {
    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    /// The body parsed as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
    /// The body parsed as `application/x-www-form-urlencoded` pairs, in order.
    pub fn form(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(&self.body)
            .into_owned()
            .collect()
    }
    /// One form field.
    pub fn field(&self, name: &str) -> Option<String> {
        self.form()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }
    /// A header as text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }
}

#[derive(Clone)]
struct S {
    script: Arc<Mutex<Vec<Canned>>>,
    seen: Arc<Mutex<Vec<Recorded>>>,
}

async fn handle(State(s): State<S>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    s.seen.lock().unwrap().push(Recorded {
        method: parts.method,
        path: parts.uri.path().to_string(),
        query: parts.uri.query().map(str::to_string),
        headers: parts.headers,
        body,
    });
    let canned = {
        let mut script = s.script.lock().unwrap();
        if script.len() > 1 {
            script.remove(0)
        } else {
            script[0].clone()
        }
    };
    if let Some(d) = canned.delay {
        tokio::time::sleep(d).await;
    }
    let mut resp = (StatusCode::from_u16(canned.status).unwrap(), canned.body).into_response();
    resp.headers_mut()
        .insert("content-type", canned.content_type.parse().unwrap());
    for (k, v) in canned.headers {
        resp.headers_mut().insert(k, v.parse().unwrap());
    }
    resp
}

/// A running stand-in.
pub struct MockProvider {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<Recorded>>>,
}

impl MockProvider {
    /// Starts on a free loopback port, answering from `script`.
    pub async fn start(script: Vec<Canned>) -> Self {
        assert!(!script.is_empty());
        otpgw::providers::http::install_tls_provider();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let app = Router::new().fallback(handle).with_state(S {
            script: Arc::new(Mutex::new(script)),
            seen: seen.clone(),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        MockProvider { addr, seen }
    }

    /// `http://127.0.0.1:<port>`: the adapter's `base_url`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.seen.lock().unwrap().clone()
    }

    /// The only request so far.
    pub fn single(&self) -> Recorded {
        let r = self.requests();
        assert_eq!(r.len(), 1, "exactly one request expected");
        r.into_iter().next().unwrap()
    }
}

/// A message as adapters receive it.
pub fn message(to: &str, body: &str) -> otpgw::providers::OutboundMessage {
    otpgw::providers::OutboundMessage {
        id: otpgw::domain::VerificationId::parse("vrf_00aa0123456789abcdef01234567").unwrap(),
        tenant: "acme".into(),
        // Something no edge would accept can still come back from a damaged record.
        to: otpgw::domain::Destination::Phone(
            otpgw::domain::PhoneNumber::parse(to)
                .unwrap_or_else(|_| otpgw::domain::PhoneNumber::from_stored(to.into(), None)),
        ),
        body: body.into(),
        locale: "en".into(),
        metadata: None,
        expires_at: otpgw::domain::now_millis() + 600_000,
        request_id: Some("req-1".into()),
        channel: otpgw::domain::Channel::Sms,
        code: "123456".into(),
        subject: None,
        html: None,
    }
}
