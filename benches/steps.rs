//! Workflow step timers, measured: how fast due timers move verifications to their next
//! step (`Steps::due_steps`: one `advance.lua` per shard with timers due, the next send
//! queued in the same script), and what an idle look for due timers costs (one
//! `ZRANGEBYSCORE … LIMIT 0 1` per shard), on the memory store and on a Redis of its own.
//!
//! `cargo bench --bench steps [-- N]` (N verifications, default 5000). Prints one line per
//! store; the machine is shared, so compare the numbers of one run with each other.

#[path = "../tests/support/redis.rs"]
#[allow(dead_code)]
mod redis_support;

use otpgw::config::{Config, StoreKind, DEFAULT_TOML};
use otpgw::crypto::{random_bytes, Keys, ServerSecret};
use otpgw::domain::{
    now_millis, Channel, Delivery, Destination, PhoneNumber, Status, Step, Verification,
    VerificationId, Workflow,
};
use otpgw::store::{EnqueueSpec, NextStep, NumberRef, StartSpec, Store};
use std::sync::Arc;
use std::time::Instant;

/// A workflow verification to `n`, its first step due at once (a 1 ms timeout).
fn spec(keys: &Keys, shards: u16, n: u32) -> StartSpec {
    let to = format!("+1415{:07}", 2_300_000 + n);
    let (key, shard) = keys.number_key("demo", &to, shards);
    let now = now_millis();
    let step = |channel, timeout_ms| Step {
        channel,
        timeout_ms,
    };
    StartSpec {
        fresh: Verification {
            id: VerificationId::generate(shard).unwrap(),
            tenant: "demo".into(),
            to: Destination::Phone(PhoneNumber::from_stored(to, Some("US".into()))),
            channel: Channel::Sms,
            status: Status::Pending,
            created_at: now,
            expires_at: now + 600_000,
            send_count: 1,
            max_sends: 5,
            next_resend_at: now,
            resent_at: Vec::new(),
            attempts_left: 5,
            delivery: Delivery::queued(now),
            metadata: None,
            locale: None,
            template: None,
            code_length: 6,
            seed: random_bytes::<16>().to_vec(),
            workflow: Some(Workflow {
                name: "bench".into(),
                steps: vec![step(Channel::Sms, Some(1)), step(Channel::Voice, None)],
                current: 0,
                step_started_at: now,
            }),
            past_steps: Vec::new(),
        },
        code_mac: [0; 32],
        number: NumberRef {
            tenant: "demo".into(),
            key,
            shard,
            channel: Channel::Sms,
        },
        cooldown_ms: 0,
        retention_ms: 60_000,
        number_send_limit: 1_000_000,
        number_window_ms: 3_600_000,
        resend_channel: None,
        lookup_ms: 0,
        enqueue: EnqueueSpec::default(),
    }
}

async fn measure(name: &str, store: Arc<dyn Store>, keys: &Keys, shards: u16, n: u32) {
    for i in 0..n {
        store
            .start(spec(keys, shards, i), now_millis())
            .await
            .unwrap();
    }
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let t = Instant::now();
    let mut moved = 0;
    while moved < n as usize {
        let batch = store.due_steps(now_millis(), 200).await.unwrap();
        assert!(!batch.is_empty(), "timers left undone");
        moved += batch
            .iter()
            .filter(|(_, m)| matches!(m, NextStep::Advanced(..)))
            .count();
    }
    let busy = t.elapsed();
    let polls = 200;
    let t = Instant::now();
    for _ in 0..polls {
        assert!(store.due_steps(now_millis(), 200).await.unwrap().is_empty());
    }
    let idle = t.elapsed() / polls;
    println!(
        "{name}: {n} steps moved in {:.0} ms ({:.0} steps/s); an idle look over {shards} shard(s): {:.3} ms",
        busy.as_secs_f64() * 1000.0,
        n as f64 / busy.as_secs_f64(),
        idle.as_secs_f64() * 1000.0
    );
}

fn main() {
    let n: u32 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(5_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let keys = Keys::derive(&ServerSecret::random());
        let mut cfg = Config::from_toml(DEFAULT_TOML).unwrap();
        let memory = otpgw::backend::build(&cfg.store, 10_000_000, &keys).unwrap();
        measure("memory", memory.store.clone(), &keys, 1, n).await;
        let redis = redis_support::RedisServer::start();
        cfg.store.kind = StoreKind::Redis;
        cfg.store.redis.url = otpgw::config::Secret(redis.url());
        cfg.store.redis.shards = 16;
        let on_redis = otpgw::backend::build(&cfg.store, 10_000_000, &keys).unwrap();
        measure("redis", on_redis.store.clone(), &keys, 16, n).await;
    });
}
