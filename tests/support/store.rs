//! The store and queue built straight from config (`otpgw::backend::build`), without the
//! gateway around them, on memory, one Redis or the shared Redis Cluster, and a fresh
//! start to feed them: for the store-level suites (`tests/queue.rs`,
//! `tests/receipt_store.rs`); and the limiter and guard state of a config's backend
//! ([`gate`]) for the limit and guard suites.

use otpgw::config::{Secret, StoreConfig, StoreKind};
use otpgw::domain::*;
use otpgw::queue::Queue;
use otpgw::store::*;
use std::sync::Arc;

/// Shards of the stores built here (small, so tests meet every shard).
pub const SHARDS: u16 = 4;

/// The store and queue of `kind` (`memory`, `redis`, anything else: the cluster), under
/// a fresh key prefix so tests sharing a Redis never meet.
pub async fn backend(kind: &str) -> (Arc<dyn Store>, Arc<dyn Queue>) {
    let mut cfg = StoreConfig::default();
    cfg.redis.shards = SHARDS;
    cfg.redis.key_prefix = format!("s{}", hex::encode(otpgw::crypto::random_bytes::<5>()));
    match kind {
        "memory" => {}
        "redis" => {
            cfg.kind = StoreKind::Redis;
            cfg.redis.url = Secret(super::redis::shared_redis().url());
        }
        _ => {
            cfg.kind = StoreKind::Redis;
            cfg.redis.cluster_nodes = super::redis::shared_cluster()
                .urls()
                .into_iter()
                .map(Secret)
                .collect();
        }
    }
    let b = otpgw::backend::build(&cfg, 1000, &keys()).unwrap();
    (b.store, b.queue)
}

/// The keys the backends built here seal records with.
pub fn keys() -> otpgw::crypto::Keys {
    otpgw::crypto::Keys::derive(&otpgw::crypto::ServerSecret::new(vec![7u8; 32]))
}

/// The limiter and the pumping guard's state of `cfg`'s backend.
pub fn gate(cfg: &StoreConfig) -> otpgw::ratelimit::Backends {
    otpgw::backend::build(cfg, 1000, &keys()).unwrap().gate()
}

/// A number of tenant `t` on a random shard.
pub fn number() -> NumberRef {
    NumberRef {
        tenant: "t".into(),
        key: hex::encode(otpgw::crypto::random_bytes::<16>()),
        shard: u16::from_be_bytes(otpgw::crypto::random_bytes::<2>()) % SHARDS,
        channel: Channel::Sms,
    }
}

/// A first send to `number`, pending for a minute, resendable after `cooldown_ms`.
pub fn start_spec(number: &NumberRef, cooldown_ms: i64) -> StartSpec {
    let now = now_millis();
    StartSpec {
        fresh: Verification {
            id: VerificationId::generate(number.shard).unwrap(),
            tenant: "t".into(),
            to: otpgw::domain::PhoneNumber::parse("+14155550123")
                .unwrap()
                .into(),
            channel: Channel::Sms,
            status: Status::Pending,
            created_at: now,
            expires_at: now + 60_000,
            send_count: 1,
            max_sends: 5,
            next_resend_at: now + cooldown_ms,
            resent_at: Vec::new(),
            attempts_left: 5,
            delivery: Delivery {
                status: DeliveryStatus::Queued,
                provider: None,
                updated_at: now,
                reason: None,
            },
            metadata: None,
            locale: None,
            template: None,
            code_length: 6,
            seed: vec![1; 16],
            workflow: None,
            past_steps: Vec::new(),
        },
        code_mac: [2; 32],
        number: number.clone(),
        cooldown_ms,
        retention_ms: 60_000,
        lookup_ms: 0,
        number_send_limit: 100,
        number_window_ms: 3_600_000,
        resend_channel: None,
        enqueue: EnqueueSpec {
            app_hash: Some("FA+9qCX9VSu".into()),
            request_id: Some("rid-1".into()),
        },
    }
}

/// One test per backend: `memory`, `redis` and `cluster` modules, each running the named
/// `async fn(kind: &str)` of the calling module on its backend.
#[allow(unused_macros)]
macro_rules! on_every_backend {
    ($($name:ident),* $(,)?) => {
        mod memory { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name("memory").await } )* }
        mod redis { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name("redis").await } )* }
        mod cluster { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name("cluster").await } )* }
    };
}
#[allow(unused_imports)]
pub(crate) use on_every_backend;
