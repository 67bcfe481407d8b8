//! Configuration sections other than tenants, each with its defaults.

use serde::Deserialize;
use std::net::SocketAddr;

/// The demo tenant's API key, shown in the README. Only `config/default.toml` uses it;
/// `mode = "production"` refuses it, and in dev mode the gateway warns loudly if it is
/// accepted on a non-loopback address.
pub const DEMO_API_KEY: &str = "otpgw_demo_key_for_local_development_only";

/// Deployment mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Development: a missing secret is replaced by a random one at startup, and a
    /// local caller opens `/ops` without an admin key.
    Dev,
    /// Production: a missing or short secret, the dev outbox or the public demo key
    /// stops startup, and `/ops` always needs an admin key.
    #[default]
    Production,
}

/// HTTP server settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Largest request body accepted, in bytes; larger gets `413 payload_too_large`.
    pub body_limit_bytes: usize,
    /// Whole-request deadline in milliseconds; a request past it gets `503`.
    pub request_timeout_ms: u64,
    /// Requests handled at once before new ones are shed with `503` (gRPC:
    /// `UNAVAILABLE`); the HTTP and gRPC listeners each have this many.
    pub max_concurrent_requests: usize,
    /// On shutdown, how long in-flight requests may take to finish, in milliseconds.
    pub shutdown_grace_ms: u64,
    /// Reverse proxies (addresses or CIDR blocks) whose `Forwarded` / `X-Forwarded-For`
    /// give the client address. A request through one is never local (`/dev/outbox`,
    /// `/ops` in dev mode). Empty: forwarding headers are ignored.
    pub trusted_proxies: super::TrustedProxies,
    /// How long a new connection has to deliver its first request (the HTTP/2 preface
    /// included), and an HTTP/1.1 request head to arrive whole once its first byte
    /// came, in milliseconds; past it the connection is closed. Applies to every
    /// listener.
    pub header_read_timeout_ms: u64,
    /// A connection with no request in flight for this long is closed (HTTP/2 with a
    /// GOAWAY), in milliseconds: the keep-alive timeout. Keep it above the idle timeout
    /// of a load balancer in front. Applies to every listener.
    pub idle_timeout_ms: u64,
    /// Open connections per listener. At the cap a new connection closes the one idle
    /// the longest; when every connection has a request in flight, new ones wait in
    /// the accept backlog.
    pub max_connections: usize,
    /// How often an HTTP/2 connection is pinged to check that the peer is still there,
    /// in milliseconds; 0 turns pings off.
    pub http2_keepalive_interval_ms: u64,
    /// How long an HTTP/2 ping may go unanswered before the connection is closed, in
    /// milliseconds.
    pub http2_keepalive_timeout_ms: u64,
    /// Requests (streams) one HTTP/2 connection may have open at once; the client is told
    /// and further streams are refused.
    pub http2_max_concurrent_streams: u32,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: "127.0.0.1:8080".parse().expect("static address"),
            body_limit_bytes: 8 * 1024,
            request_timeout_ms: 10_000,
            max_concurrent_requests: 4096,
            shutdown_grace_ms: 10_000,
            trusted_proxies: Default::default(),
            header_read_timeout_ms: 10_000,
            idle_timeout_ms: 75_000,
            max_connections: 1_000,
            http2_keepalive_interval_ms: 20_000,
            http2_keepalive_timeout_ms: 20_000,
            http2_max_concurrent_streams: 256,
        }
    }
}

/// gRPC listener settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GrpcConfig {
    /// Serve the gRPC API (and `grpc.health.v1`, reflection) on its own listener.
    pub enabled: bool,
    /// Address of the gRPC listener; port 0 picks a free port.
    pub listen: SocketAddr,
}

impl Default for GrpcConfig {
    fn default() -> Self {
        GrpcConfig {
            enabled: true,
            listen: "127.0.0.1:50051".parse().expect("static address"),
        }
    }
}

/// Which store backend holds verifications and counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    /// Embedded in-process store: one instance, lost on restart.
    #[default]
    Memory,
    /// Redis (one node or a cluster): many stateless instances.
    Redis,
}

/// Store settings.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// `memory` or `redis`.
    pub kind: StoreKind,
    /// Settings of the memory store.
    pub memory: MemoryStoreConfig,
    /// Settings of the Redis store.
    pub redis: super::RedisStoreConfig,
}

/// Memory store settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MemoryStoreConfig {
    /// Most entries held at once: verifications and stored idempotent answers, of all
    /// tenants. At this cap a start that would need another tenant's entry evicted is
    /// refused with `503 store_unavailable` instead.
    pub max_entries: usize,
    /// Most entries one tenant holds (`None`: `max_entries`); beyond it the tenant's own
    /// soonest-to-expire entry is evicted (and counted in the evictions metric).
    pub max_entries_per_tenant: Option<usize>,
    /// How often expired entries are purged, in milliseconds.
    pub purge_interval_ms: u64,
}

impl Default for MemoryStoreConfig {
    fn default() -> Self {
        MemoryStoreConfig {
            max_entries: 1_000_000,
            max_entries_per_tenant: None,
            purge_interval_ms: 1_000,
        }
    }
}

/// Delivery queue and worker settings (providers and routes have their own sections).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeliveryConfig {
    /// Messages handed to providers at once.
    pub concurrency: usize,
    /// Messages waiting in the memory queue before starts answer `503` (the Redis queue
    /// is bounded by Redis memory instead).
    pub queue_capacity: usize,
    /// A leased send whose worker has been silent this long (it died or hung) is taken
    /// over by another worker, in milliseconds. Workers extend their lease while they
    /// retry, so this only needs to exceed one round of provider attempts.
    pub visibility_timeout_ms: u64,
    /// How often an idle worker looks for new sends, in milliseconds (it backs off to 4x
    /// while the queue stays empty).
    pub poll_interval_ms: u64,
    /// First retry delay after a failed attempt, in milliseconds (doubles, with jitter).
    pub retry_initial_ms: u64,
    /// Longest retry delay, in milliseconds.
    pub retry_max_ms: u64,
    /// On shutdown, how long queued messages may still be sent, in milliseconds.
    pub shutdown_deadline_ms: u64,
    /// Circuit breaker per provider.
    pub breaker: super::BreakerConfig,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            concurrency: 64,
            queue_capacity: 10_000,
            visibility_timeout_ms: 30_000,
            poll_interval_ms: 20,
            retry_initial_ms: 500,
            retry_max_ms: 30_000,
            shutdown_deadline_ms: 5_000,
            breaker: super::BreakerConfig::default(),
        }
    }
}

/// Operator access.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct AdminConfig {
    /// Hashes (`sha256:<hex>`, from `otpgw api-key new`) of the keys of the admin API and
    /// `/ops`. In dev mode a local caller opens `/ops` without one; in production `/ops`
    /// always needs one. An admin key may not also be a tenant key.
    pub api_keys: Vec<String>,
}

/// Delivery-receipt settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReceiptsConfig {
    /// This gateway's public base URL as providers call it (`https://otp.example.com`).
    /// Receipt signatures cover the full URL; without this the `Host` header is used.
    pub public_base_url: Option<String>,
    /// Largest receipt body read, in bytes; larger gets `413 payload_too_large` before
    /// anything is parsed (a declared `Content-Length` is refused before any byte is
    /// read). Receipts are unauthenticated until their signature is checked, so this is
    /// small: vendors' receipts are 2 KiB at most.
    pub body_limit_bytes: usize,
}

impl Default for ReceiptsConfig {
    fn default() -> Self {
        ReceiptsConfig {
            public_base_url: None,
            body_limit_bytes: 8 * 1024,
        }
    }
}

/// Development aids.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct DevConfig {
    /// Serve `GET /dev/outbox` with the last 100 messages (codes included), each caller
    /// seeing its own tenant's. Refused in `mode = "production"`.
    pub outbox: bool,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Logging settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `text` or `json`.
    pub format: LogFormat,
    /// Filter in `tracing` syntax (`info`, `otpgw=debug,info`); `RUST_LOG` wins if set.
    pub filter: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: LogFormat::Text,
            filter: "info".into(),
        }
    }
}
