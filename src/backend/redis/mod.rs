//! The Redis backend: the store, the send queue, the limiter and the pumping guard's
//! state over one connection ([`Conn`]: one node alone, one node under Sentinel, or a
//! Redis Cluster) and one key layout, built together by [`build`].
//!
//! They share more than the connection: on one node a start, its limits, the guard and
//! its enqueue are one script (`fused.rs` joins `gcra.lua`, `guard.lua` and `start.lua`),
//! and an accepted send's `sent` and its stream entry's ack are one script on every
//! deployment (`delivery.rs`: the entry lives in the record's slot). The Lua scripts live
//! in `lua/`, beside the Rust that loads them.
//!
//! # Key layout (version `v1`)
//! `P` is `store.redis.key_prefix`, `S` the number's shard (`0..shards`, 4 hex digits,
//! from the keyed number hash), `N` the keyed number hash (no phone number appears in a
//! key name), `T` the tenant id, `H` in the limits' and the guard's keys a keyed hash of
//! the scope's value ([`crate::crypto::Keys::scope_key`]: no number, prefix or IP address
//! appears in a key name). No value holds a number or metadata in plain text: the
//! record seals them (`record.rs`), idempotency entries hold neither, and the key hash
//! and fingerprint are keyed (see [`crate::crypto`]).
//!
//! | key | type | TTL | holds |
//! |---|---|---|---|
//! | `P:v1:{sS}:v:<id>` | hash | expiry + retention; retention after finishing | the record (fields in `record.rs`) |
//! | `P:v1:{sS}:n:T:N:<channel>` | string | until expiry | id of the pending verification |
//! | `P:v1:{sS}:lk:T:N` | sorted set | `lookup_retention_secs` from the last start | the destination's verification and send ids by creation time (ms), the newest 50: the support lookup |
//! | `P:v1:{sS}:ls:T:N` | counter | window | sends to the number in the window |
//! | `P:v1:{sS}:cf:T:N` | string | until the TAT passes (≤ window) | GCRA TAT (ms) of the number's failed checks |
//! | `P:v1:{sS}:cc:T:N:H` | string | until the TAT passes (≤ window) | GCRA TAT (ms) of the failed checks from one client (`H`: keyed hash of its IP group or session) |
//! | `P:v1:{sS}:q` | stream | — (entries deleted on ack) | queued sends of the shard, consumer group `otpgw` |
//! | `P:v1:{sS}:dead` | stream | capped at ~10 000 entries | dead-lettered sends with their reason |
//! | `P:v1:{sS}:ev:…` | lists, sorted sets, hashes | see `events.rs` | the events to tenants of the shard's verifications: their lines, due set, attempts, expiry timers and dead letters |
//! | `P:v1:{iT}:<key hash>` | string | reservation: TTL + retention; response: until the verification's expiry + retention | idempotency reservation (`p|<fingerprint>`) or stored response (`d|<fingerprint>|<status>|<body without number or metadata>`) |
//! | `P:v1:pm:<provider>:<message id>` | string | retention | verification id of a provider's message (receipts) |
//! | `P:v1:{rl:T}:number:H` | string | until the last TAT passes | the number's minute, hour and day TATs in ms, space-separated |
//! | `P:v1:{rl:T}:<reason>:H` | string | until the TAT passes | GCRA TAT in ms (every other limit) |
//! | `P:v1:{pg:T}:t:<channel>:<level>:<generation>` | hash | 2 generations (`baseline_secs` each) | field H (or `~`, the overflow entry): the level's decayed sends and approvals, `rs,ra,ls,la,t` in thousandths of a send |
//! | `P:v1:st:T:<minute>` | hash | `stats.retention_hours` | the fleet numbers of the tenant's minute: field `<channel>\|<country>\|<provider>\|<counter>` → count (`stats.rs`) |
//! | `P:v1:{pg:T}:blocks` | hash | 30 days + the longest block, from the last block | field `<channel>:<level>:H`: `until|strikes|action|since|rule|sends|approvals|expected|baseline|tolerance|country|label` |
//!
//! The hash tag `{sS}` puts a number's record, index and counters in one cluster slot,
//! so each script is cluster-safe. A verification id carries its shard, so a lookup by id
//! finds the same slot. The send queue is one stream per shard in that same slot, so a
//! start and its queued message are one script (see `start.lua`); workers read every
//! shard's stream (`queue.rs`). Scripts may read the record named by the index (same
//! slot, built from a prefix argument).
//!
//! **All limit keys of a tenant live in one cluster slot** (hash tag `{rl:T}`), and so
//! do all its pumping keys (`{pg:T}`). That is what lets one script read and charge a
//! number, an IP, the tenant, a country and a prefix atomically on Redis Cluster, where
//! a script may only touch keys of one slot. The price: one tenant's limit traffic goes
//! to one node. A limit decision is a few hundred bytes and microseconds of Lua, so a
//! node serves tens of thousands per second; a tenant bigger than that needs its own
//! instance, and local shedding ([`crate::ratelimit::local`]) keeps floods from reaching
//! Redis at all.
//!
//! # Failure behaviour
//! The connection is made lazily: the gateway starts with Redis down, answers
//! `503 store_unavailable`, and connects on the first call after Redis is back. After
//! that the connection manager (or the cluster client) reconnects by itself; under
//! Sentinel the sentinels are asked for the master again when it moved (`sentinel.rs`).
//! Every call has a deadline (`command_timeout_ms`), so an unresponsive Redis gives 503,
//! not a hang.

mod calls;
mod conn;
mod delivery;
mod events;
mod finish;
mod fused;
mod guard_codec;
mod idem;
mod keys;
mod limiter;
mod pumps;
mod queue;
mod record;
mod sentinel;
mod stats;
mod steps;
mod store;
mod stream;

pub use conn::Conn;
pub use events::RedisEvents;
pub use keys::Layout;
pub use limiter::RedisLimiter;
pub use pumps::RedisPumps;
pub use queue::RedisQueue;
pub use stats::RedisStats;
pub use store::RedisStore;

use super::{Backend, Doorbell};
use crate::config::RedisStoreConfig;
use crate::crypto::Sealer;
use std::sync::Arc;

/// The store, queue, limiter and guard state over one connection to the Redis of `cfg`
/// (made on first use). `sealer` seals the records' personal data; the fleet numbers'
/// buckets are kept `stats_retention_hours`.
pub fn build(
    cfg: &RedisStoreConfig,
    sealer: Sealer,
    stats_retention_hours: u64,
) -> anyhow::Result<Backend> {
    let conn = Arc::new(Conn::new(cfg)?);
    let layout = Layout::new(&cfg.key_prefix, cfg.shards);
    let doorbell = Doorbell::default();
    let prefix = layout.prefix.clone();
    let queue = RedisQueue::new(conn.clone(), layout.clone(), doorbell.clone());
    let events = RedisEvents::new(conn.clone(), layout.clone());
    let store = RedisStore::new(conn.clone(), layout, sealer, doorbell);
    Ok(Backend {
        store: Arc::new(store),
        queue: Arc::new(queue),
        limiter: Arc::new(RedisLimiter::new(conn.clone(), prefix.clone())),
        pumps: Arc::new(RedisPumps::new(conn.clone(), prefix.clone())),
        stats: Arc::new(RedisStats::new(conn, prefix, stats_retention_hours)),
        events: Arc::new(events),
    })
}
