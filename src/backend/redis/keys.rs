//! The key names of the records, indexes, counters, streams and links (layout `v1`, the
//! table in `mod.rs`), in one place for the store and the queue: a number's record, its
//! index, its counters and its shard's stream share the hash tag `{sS}`, so one cluster
//! slot, so one script may touch them all.

use crate::domain::VerificationId;
use crate::store::NumberRef;

/// Key names under one prefix (`P:v1`), over `shards` shards.
#[derive(Debug, Clone)]
pub struct Layout {
    /// `P:v1`: `store.redis.key_prefix` and the layout version.
    pub prefix: String,
    /// Shards the numbers hash into (at least 1).
    pub shards: u16,
}

impl Layout {
    /// The layout under `key_prefix` with `shards` shards.
    pub fn new(key_prefix: &str, shards: u16) -> Self {
        Layout {
            prefix: format!("{key_prefix}:v1"),
            shards: shards.max(1),
        }
    }

    /// `P:v1:{sS}`: a shard's hash tag.
    pub fn tag(&self, shard: u16) -> String {
        format!("{}:{{s{shard:04x}}}", self.prefix)
    }

    /// What a record's key starts with (the scripts build record keys from it).
    pub fn record_prefix(&self, shard: u16) -> String {
        format!("{}:v:", self.tag(shard))
    }

    /// A verification's record.
    pub fn record_key(&self, id: &VerificationId) -> String {
        format!("{}{}", self.record_prefix(id.shard()), id.as_str())
    }

    /// The id of the verification pending for a number.
    pub fn index_key(&self, n: &NumberRef) -> String {
        format!(
            "{}:n:{}:{}:{}",
            self.tag(n.shard),
            n.tenant,
            n.key,
            n.channel.as_str()
        )
    }

    /// A destination's lookup index (every channel): ids by creation time.
    pub fn lookup_key(&self, n: &NumberRef) -> String {
        format!("{}:lk:{}:{}", self.tag(n.shard), n.tenant, n.key)
    }

    /// A number's counter of `kind` (`ls`, `cf`, `cc`).
    pub fn counter_key(&self, kind: &str, n: &NumberRef) -> String {
        format!("{}:{kind}:{}:{}", self.tag(n.shard), n.tenant, n.key)
    }

    /// The verification a provider's message id belongs to.
    pub fn link_key(&self, provider: &str, message_id: &str) -> String {
        format!("{}:pm:{provider}:{message_id}", self.prefix)
    }

    /// An idempotency entry.
    pub fn idem_key(&self, tenant: &str, key: &str) -> String {
        format!("{}:{{i{tenant}}}:{key}", self.prefix)
    }

    /// A shard's send queue.
    pub fn stream(&self, shard: u16) -> String {
        format!("{}:q", self.tag(shard))
    }

    /// A shard's workflow step timers (a sorted set of `<id>|<step>` by due time).
    pub fn timers(&self, shard: u16) -> String {
        format!("{}:wt", self.tag(shard))
    }

    /// A shard's dead letters.
    pub fn dead_stream(&self, shard: u16) -> String {
        format!("{}:dead", self.tag(shard))
    }
}
