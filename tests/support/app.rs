//! The real gateway, started in-process on port 0 with its own key prefix, and typed
//! helpers to call it over real HTTP.

use otpgw::config::{Config, DEMO_API_KEY};
use otpgw::Application;
use serde_json::{json, Value};
use std::net::SocketAddr;
use tokio::sync::oneshot;

/// Which store the gateway runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Memory,
    Redis,
    Cluster,
}

/// A running gateway.
pub struct TestApp {
    pub addr: SocketAddr,
    pub grpc_addr: Option<SocketAddr>,
    /// The metrics listener, when `metrics.listen` is set.
    pub metrics_addr: Option<SocketAddr>,
    pub http: reqwest::Client,
    pub key: String,
    pub prefix: String,
    pub backend: Backend,
    stop: Option<oneshot::Sender<()>>,
    done: Option<tokio::task::JoinHandle<()>>,
}

/// A response, read whole.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Resp {
    /// The problem document's `code`.
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }
    /// A header as text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }
}

/// The secret every test gateway uses.
pub const TEST_SECRET: &str = "test-secret-test-secret-test-secret-0123456789";

/// Base config for tests: the embedded default on port 0 with a fixed secret.
pub fn base_config(backend: Backend) -> (Config, String) {
    let mut cfg = Config::from_toml(otpgw::config::DEFAULT_TOML).unwrap();
    cfg.server.listen = "127.0.0.1:0".parse().unwrap();
    cfg.grpc.listen = "127.0.0.1:0".parse().unwrap();
    cfg.secret = Some(otpgw::config::Secret(TEST_SECRET.into()));
    let prefix = format!("t{}", hex::encode(otpgw::crypto::random_bytes::<6>()));
    cfg.store.redis.key_prefix = prefix.clone();
    cfg.store.redis.shards = 16;
    cfg.delivery.retry_initial_ms = 50;
    cfg.delivery.retry_max_ms = 200;
    // Suites other than tests/ratelimit.rs and tests/abuse.rs test the verification
    // flow itself, often many sends to one number in a moment: abuse control is off for
    // them and switched on by the suites that test it.
    for t in cfg.tenants.values_mut() {
        t.limits = abuse_off();
        t.pumping.mode = otpgw::config::PumpingMode::Off;
    }
    match backend {
        Backend::Memory => {}
        Backend::Redis => {
            cfg.store.kind = otpgw::config::StoreKind::Redis;
            cfg.store.redis.url = otpgw::config::Secret(super::redis::shared_redis().url());
        }
        Backend::Cluster => {
            cfg.store.kind = otpgw::config::StoreKind::Redis;
            cfg.store.redis.cluster_nodes = super::redis::shared_cluster()
                .urls()
                .into_iter()
                .map(otpgw::config::Secret)
                .collect();
        }
    }
    (cfg, prefix)
}

/// Limits with every scope off.
pub fn abuse_off() -> otpgw::config::LimitsConfig {
    otpgw::config::LimitsConfig {
        number_per_minute: 0,
        number_minute_window_secs: 60,
        number_per_hour: 0,
        number_per_day: 0,
        client_ip_per_hour: 0,
        ipv6_prefix_len: 64,
        tenant_sends_per_sec: 0,
        tenant_checks_per_sec: 0,
        api_key_sends_per_sec: 0,
        api_key_checks_per_sec: 0,
        country_per_hour: 0,
        prefix_per_hour: 0,
        local_ip_per_sec: 0,
        local_tenant_per_sec: 0,
    }
}

/// Starts a gateway on `backend`, letting the test adjust the config first.
pub async fn spawn_app(backend: Backend, tweak: impl FnOnce(&mut Config)) -> TestApp {
    otpgw::providers::webhook::install_tls_provider();
    let (mut cfg, prefix) = base_config(backend);
    tweak(&mut cfg);
    spawn_with(cfg, prefix, backend).await
}

/// Starts a gateway from a finished config.
pub async fn spawn_with(cfg: Config, prefix: String, backend: Backend) -> TestApp {
    let app = Application::build(cfg).await.expect("gateway builds");
    let addr = app.local_addr();
    let grpc_addr = app.grpc_addr();
    let metrics_addr = app.metrics_addr();
    let (tx, rx) = oneshot::channel();
    let done = tokio::spawn(async move {
        app.run_until(async {
            let _ = rx.await;
        })
        .await
        .unwrap();
    });
    TestApp {
        addr,
        grpc_addr,
        metrics_addr,
        http: reqwest::Client::new(),
        key: DEMO_API_KEY.to_string(),
        prefix,
        backend,
        stop: Some(tx),
        done: Some(done),
    }
}

/// A number that is valid and unique enough per call.
pub fn number() -> String {
    let r = u32::from_be_bytes(otpgw::crypto::random_bytes::<4>());
    let mut exchange = 230 + (r % 700);
    if exchange % 100 == 11 {
        exchange += 1;
    }
    format!("+1415{exchange}{:04}", (r / 700) % 10_000)
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    async fn read(r: reqwest::Response) -> Resp {
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp {
            status,
            headers,
            body,
            text,
        }
    }

    /// POST JSON with the tenant's key.
    pub async fn post(&self, path: &str, body: Value) -> Resp {
        let r = self
            .http
            .post(self.url(path))
            .bearer_auth(&self.key)
            .json(&body)
            .send()
            .await
            .unwrap();
        Self::read(r).await
    }

    /// GET with the tenant's key.
    pub async fn get(&self, path: &str) -> Resp {
        let r = self
            .http
            .get(self.url(path))
            .bearer_auth(&self.key)
            .send()
            .await
            .unwrap();
        Self::read(r).await
    }

    /// Sends a raw request.
    pub async fn send(&self, req: reqwest::RequestBuilder) -> Resp {
        Self::read(req.send().await.unwrap()).await
    }

    pub async fn start(&self, to: &str) -> Resp {
        self.post("/v1/verifications", json!({ "to": to })).await
    }

    pub async fn check(&self, to: &str, code: &str) -> Resp {
        self.post("/v1/verifications/check", json!({ "to": to, "code": code }))
            .await
    }

    pub async fn check_id(&self, id: &str, code: &str) -> Resp {
        self.post("/v1/verifications/check", json!({ "id": id, "code": code }))
            .await
    }

    pub async fn fetch(&self, id: &str) -> Resp {
        self.get(&format!("/v1/verifications/{id}")).await
    }

    pub async fn cancel(&self, id: &str) -> Resp {
        self.post(&format!("/v1/verifications/{id}/cancel"), json!({}))
            .await
    }

    /// The dev outbox, newest first.
    pub async fn outbox(&self) -> Vec<Value> {
        let r = self.http.get(self.url("/dev/outbox")).send().await.unwrap();
        r.json::<Vec<Value>>().await.unwrap()
    }

    /// Waits for a message to `to` in the outbox and returns the code in it.
    pub async fn code_for(&self, to: &str) -> String {
        for _ in 0..200 {
            if let Some(m) = self.outbox().await.into_iter().find(|m| m["to"] == to) {
                return extract_code(m["body"].as_str().unwrap());
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("no message for {to} in the outbox");
    }

    /// Every message to `to` in the outbox (newest first).
    pub async fn messages_to(&self, to: &str) -> Vec<String> {
        self.outbox()
            .await
            .into_iter()
            .filter(|m| m["to"] == to)
            .map(|m| m["body"].as_str().unwrap().to_string())
            .collect()
    }

    /// Stops the gateway and waits for it to finish draining.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(d) = self.done.take() {
            d.await.unwrap();
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// The first run of 4..10 digits in a message body.
pub fn extract_code(body: &str) -> String {
    body.split(|c: char| !c.is_ascii_digit())
        .find(|s| (4..=10).contains(&s.len()))
        .expect("a code in the message")
        .to_string()
}

/// A code that differs from `code` in every digit (a sure wrong guess).
pub fn wrong(code: &str) -> String {
    code.chars()
        .map(|c| char::from(b'0' + ((c as u8 - b'0' + 1) % 10)))
        .collect()
}
