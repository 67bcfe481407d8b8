//! A recording HTTP receiver standing in for the webhook provider's endpoint.
//!
//! It records every request (headers and JSON body) and answers by a script: a number of
//! failures (status code or a hang) first, then `200`.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How the sink answers.
#[derive(Debug, Clone, Copy)]
pub enum Behaviour {
    /// Always 200.
    Ok,
    /// Always this status.
    Status(u16),
    /// The first `n` requests get `status`, then 200.
    FailFirst(usize, u16),
    /// Never answers (until the client gives up).
    Hang,
    /// Waits this long, then 200.
    Delay(Duration),
}

/// A recorded request.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub raw: Bytes,
    pub body: Value,
}

#[derive(Clone)]
struct S {
    behaviour: Arc<Mutex<Behaviour>>,
    seen: Arc<Mutex<Vec<Received>>>,
}

/// A running sink.
pub struct Sink {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<Received>>>,
    behaviour: Arc<Mutex<Behaviour>>,
}

async fn receive(State(s): State<S>, headers: HeaderMap, raw: Bytes) -> (StatusCode, String) {
    let n = {
        let mut seen = s.seen.lock().unwrap();
        seen.push(Received {
            headers,
            body: serde_json::from_slice(&raw).unwrap_or(Value::Null),
            raw,
        });
        seen.len()
    };
    let behaviour = *s.behaviour.lock().unwrap();
    let status = match behaviour {
        Behaviour::Ok => 200,
        Behaviour::Status(c) => c,
        Behaviour::FailFirst(k, c) if n <= k => c,
        Behaviour::FailFirst(..) => 200,
        Behaviour::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            200
        }
        Behaviour::Delay(d) => {
            tokio::time::sleep(d).await;
            200
        }
    };
    (
        StatusCode::from_u16(status).unwrap(),
        format!("{{\"id\":\"sink-{n}\"}}"),
    )
}

impl Sink {
    /// Starts a sink on a free loopback port.
    pub async fn start(behaviour: Behaviour) -> Sink {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let behaviour = Arc::new(Mutex::new(behaviour));
        let app = Router::new().route("/sms", post(receive)).with_state(S {
            behaviour: behaviour.clone(),
            seen: seen.clone(),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Sink {
            addr,
            seen,
            behaviour,
        }
    }

    /// Changes how it answers from now on.
    pub fn set(&self, b: Behaviour) {
        *self.behaviour.lock().unwrap() = b;
    }

    /// The URL to configure as `delivery.webhook.url`.
    pub fn url(&self) -> String {
        format!("http://{}/sms", self.addr)
    }

    /// Requests received so far.
    pub fn received(&self) -> Vec<Received> {
        self.seen.lock().unwrap().clone()
    }

    /// Waits until at least `n` requests arrived (or panics after `secs`).
    pub async fn wait_for(&self, n: usize, secs: u64) -> Vec<Received> {
        let t = std::time::Instant::now();
        loop {
            let r = self.received();
            if r.len() >= n {
                return r;
            }
            assert!(
                t.elapsed() < Duration::from_secs(secs),
                "sink got {} of {n} requests",
                r.len()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}
