//! The Redis store: one node through a reconnecting connection manager, a primary found
//! through Redis Sentinel (one node to the scripts), or a Redis Cluster; every multi-key
//! step is one Lua script, so one round trip and atomic.
//!
//! # Key layout (version `v1`)
//! `P` is `store.redis.key_prefix`, `S` the number's shard (`0..shards`, 4 hex digits,
//! from the keyed number hash), `N` the keyed number hash (no phone number appears in a
//! key name), `T` the tenant id. No value holds a number or metadata in plain text: the
//! record seals them (`record.rs`), idempotency entries hold neither, and the key hash
//! and fingerprint are keyed (see [`crate::crypto`]).
//!
//! | key | type | TTL | holds |
//! |---|---|---|---|
//! | `P:v1:{sS}:v:<id>` | hash | expiry + retention; retention after finishing | the record (fields in `record.rs`) |
//! | `P:v1:{sS}:n:T:N:<channel>` | string | until expiry | id of the pending verification |
//! | `P:v1:{sS}:ls:T:N` | counter | window | sends to the number in the window |
//! | `P:v1:{sS}:cf:T:N` | string | until the TAT passes (≤ window) | GCRA TAT (ms) of the number's failed checks |
//! | `P:v1:{sS}:cc:T:N:H` | string | until the TAT passes (≤ window) | GCRA TAT (ms) of the failed checks from one client (`H`: keyed hash of its IP group or session) |
//! | `P:v1:{sS}:q` | stream | — (entries deleted on ack) | queued sends of the shard, consumer group `otpgw` |
//! | `P:v1:{sS}:dead` | stream | capped at ~10 000 entries | dead-lettered sends with their reason |
//! | `P:v1:{iT}:<key hash>` | string | reservation: TTL + retention; response: until the verification's expiry + retention | idempotency reservation (`p|<fingerprint>`) or stored response (`d|<fingerprint>|<status>|<body without number or metadata>`) |
//! | `P:v1:pm:<provider>:<message id>` | string | retention | verification id of a provider's message (receipts) |
//!
//! The hash tag `{sS}` puts a number's record, index and counters in one cluster slot,
//! so each script is cluster-safe. A verification id carries its shard, so a lookup by id
//! finds the same slot. The send queue is one stream per shard in that same slot, so a
//! start and its queued message are one script (see `start.lua`); workers read every
//! shard's stream (`crate::queue::redis`). Scripts may read the record named by the
//! index (same slot, built from a prefix argument).
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
mod fused;
mod record;
mod sentinel;

pub(crate) use calls::Parts;
use calls::{bad_reply, check_outcome, reply};

pub use conn::Conn;

pub use super::*;
use crate::config::RedisStoreConfig;
use crate::domain::DeliveryStatus;
use ::redis::Script;
use record::{decode, text};

pub(super) static START: &str = include_str!("start.lua");
pub(super) static CHECK: &str = include_str!("check.lua");
static CANCEL: &str = include_str!("cancel.lua");
static DELIVERY: &str = include_str!("delivery.lua");
static BEGIN_DELIVERY: &str = include_str!("begin_delivery.lua");
static IDEMPOTENCY: &str = include_str!("idempotency.lua");

/// Redis-backed store.
pub struct RedisStore {
    conn: std::sync::Arc<Conn>,
    sealer: crate::crypto::Sealer,
    prefix: String,
    shards: u16,
    scripts: Scripts,
    doorbell: crate::queue::Doorbell,
}

struct Scripts {
    start: Script,
    check: Script,
    admit_start: Script,
    admit_check: Script,
    cancel: Script,
    delivery: Script,
    begin_delivery: Script,
    idempotency: Script,
}

impl RedisStore {
    /// Prepares the store; connecting happens on first use. `sealer` seals the
    /// records' personal data.
    pub fn new(cfg: &RedisStoreConfig, sealer: crate::crypto::Sealer) -> anyhow::Result<Self> {
        Ok(RedisStore {
            conn: std::sync::Arc::new(Conn::new(cfg)?),
            sealer,
            prefix: format!("{}:v1", cfg.key_prefix),
            shards: cfg.shards.max(1),
            scripts: Scripts {
                start: Script::new(START),
                check: Script::new(CHECK),
                admit_start: Script::new(&fused::start_script()),
                admit_check: Script::new(&fused::check_script()),
                cancel: Script::new(CANCEL),
                delivery: Script::new(DELIVERY),
                begin_delivery: Script::new(BEGIN_DELIVERY),
                idempotency: Script::new(IDEMPOTENCY),
            },
            doorbell: crate::queue::Doorbell::default(),
        })
    }

    /// The send queue over the same connection and key layout.
    pub fn queue(&self) -> crate::queue::redis::RedisQueue {
        crate::queue::redis::RedisQueue::new(
            self.conn.clone(),
            self.prefix.clone(),
            self.shards,
            self.doorbell.clone(),
        )
    }

    fn tag(&self, shard: u16) -> String {
        format!("{}:{{s{shard:04x}}}", self.prefix)
    }
    fn record_prefix(&self, shard: u16) -> String {
        format!("{}:v:", self.tag(shard))
    }
    fn record_key(&self, id: &VerificationId) -> String {
        format!("{}{}", self.record_prefix(id.shard()), id.as_str())
    }
    fn index_key(&self, n: &NumberRef) -> String {
        format!(
            "{}:n:{}:{}:{}",
            self.tag(n.shard),
            n.tenant,
            n.key,
            n.channel.as_str()
        )
    }
    fn counter_key(&self, kind: &str, n: &NumberRef) -> String {
        format!("{}:{kind}:{}:{}", self.tag(n.shard), n.tenant, n.key)
    }
    fn link_key(&self, provider: &str, message_id: &str) -> String {
        format!("{}:pm:{provider}:{message_id}", self.prefix)
    }
    fn idem_key(&self, tenant: &str, key: &str) -> String {
        format!("{}:{{i{tenant}}}:{key}", self.prefix)
    }
}

#[async_trait]
impl Store for RedisStore {
    async fn start(&self, spec: StartSpec, now: Millis) -> StoreResult<StartOutcome> {
        let mut inv = self.scripts.start.prepare_invoke();
        self.start_parts(&spec, now).apply(&mut inv);
        let v = self.conn.invoke(&inv).await?;
        self.start_outcome(spec, v)
    }

    async fn check(&self, spec: CheckSpec, now: Millis) -> StoreResult<CheckOutcome> {
        let mut inv = self.scripts.check.prepare_invoke();
        self.check_parts(&spec, now).apply(&mut inv);
        check_outcome(self.conn.invoke(&inv).await?, &self.sealer)
    }

    async fn admit_start(
        &self,
        gate: &crate::ratelimit::Backends,
        adm: &Admission,
        spec: StartSpec,
        now: Millis,
    ) -> StoreResult<Admitted<StartOutcome>> {
        if self.conn.is_cluster() {
            return admit::start_in_turn(self, gate, adm, spec, now).await;
        }
        self.fused_start(adm, spec, now).await
    }

    async fn admit_check(
        &self,
        gate: &crate::ratelimit::Backends,
        adm: &Admission,
        spec: CheckSpec,
        now: Millis,
    ) -> StoreResult<Admitted<CheckOutcome>> {
        if self.conn.is_cluster() {
            return admit::check_in_turn(self, gate, adm, spec, now).await;
        }
        self.fused_check(adm, spec, now).await
    }

    async fn get_any(&self, id: &VerificationId) -> StoreResult<Option<Verification>> {
        let mut cmd = ::redis::cmd("HGETALL");
        cmd.arg(self.record_key(id));
        let v = self.conn.query(&cmd).await?;
        Ok(decode(id, &v, &self.sealer))
    }

    async fn link_provider_message(
        &self,
        provider: &str,
        message_id: &str,
        id: &VerificationId,
        ttl_ms: i64,
    ) -> StoreResult<()> {
        let mut cmd = ::redis::cmd("SET");
        cmd.arg(self.link_key(provider, message_id))
            .arg(id.as_str())
            .arg("PX")
            .arg(ttl_ms.max(1));
        self.conn.query(&cmd).await.map(|_| ())
    }

    async fn find_provider_message(
        &self,
        provider: &str,
        message_id: &str,
    ) -> StoreResult<Option<VerificationId>> {
        let mut cmd = ::redis::cmd("GET");
        cmd.arg(self.link_key(provider, message_id));
        let v = self.conn.query(&cmd).await?;
        Ok(text(&v).and_then(|s| VerificationId::parse(&s).ok()))
    }

    async fn cancel(
        &self,
        tenant: &str,
        id: &VerificationId,
        number: &NumberRef,
        retention_ms: i64,
        now: Millis,
    ) -> StoreResult<Option<Verification>> {
        let mut inv = self.scripts.cancel.prepare_invoke();
        inv.key(self.record_key(id))
            .key(self.index_key(number))
            .arg(now)
            .arg(tenant)
            .arg(retention_ms)
            .arg(id.as_str());
        let (head, rest) = reply(self.conn.invoke(&inv).await?);
        match head.as_str() {
            "not_found" => Ok(None),
            "ok" => Ok(rest.first().and_then(|r| decode(id, r, &self.sealer))),
            _ => Err(bad_reply("cancel")),
        }
    }

    async fn set_delivery(
        &self,
        id: &VerificationId,
        status: DeliveryStatus,
        provider: Option<&str>,
        reason: Option<&str>,
        now: Millis,
    ) -> StoreResult<()> {
        let mut inv = self.scripts.delivery.prepare_invoke();
        inv.key(self.record_key(id))
            .arg(status.as_str())
            .arg(provider.unwrap_or(""))
            .arg(now)
            .arg(reason.map(bounded_reason).unwrap_or_default());
        self.conn.invoke(&inv).await.map(|_| ())
    }

    async fn apply_receipt(
        &self,
        id: &VerificationId,
        mark: &str,
        status: DeliveryStatus,
        provider: &str,
        reason: Option<&str>,
        now: Millis,
    ) -> StoreResult<ReceiptApplied> {
        let mut inv = self.scripts.delivery.prepare_invoke();
        inv.key(self.record_key(id))
            .arg(status.as_str())
            .arg(provider)
            .arg(now)
            .arg(reason.map(bounded_reason).unwrap_or_default())
            .arg("")
            .arg("")
            .arg(mark);
        match record::int(&self.conn.invoke(&inv).await?) {
            Some(1) => Ok(ReceiptApplied::Moved),
            Some(2) => Ok(ReceiptApplied::Replayed),
            Some(0) => Ok(ReceiptApplied::Unchanged),
            _ => Err(bad_reply("delivery")),
        }
    }

    async fn begin_delivery(
        &self,
        id: &VerificationId,
        seq: u32,
        redelivered: bool,
        now: Millis,
    ) -> StoreResult<Option<Verification>> {
        let mut inv = self.scripts.begin_delivery.prepare_invoke();
        inv.key(self.record_key(id))
            .arg(now)
            .arg(seq)
            .arg(if redelivered { "1" } else { "0" });
        Ok(decode(id, &self.conn.invoke(&inv).await?, &self.sealer))
    }

    async fn delivered(
        &self,
        id: &VerificationId,
        provider: &str,
        message_id: &str,
        link_ttl_ms: i64,
        now: Millis,
    ) -> StoreResult<()> {
        let sent = DeliveryStatus::Sent;
        if self.conn.is_cluster() {
            self.set_delivery(id, sent, Some(provider), None, now)
                .await?;
            return self
                .link_provider_message(provider, message_id, id, link_ttl_ms)
                .await;
        }
        let mut inv = self.scripts.delivery.prepare_invoke();
        inv.key(self.record_key(id))
            .key(self.link_key(provider, message_id))
            .arg(sent.as_str())
            .arg(provider)
            .arg(now)
            .arg("")
            .arg(id.as_str())
            .arg(link_ttl_ms.max(1));
        self.conn.invoke(&inv).await.map(|_| ())
    }

    async fn idempotency_begin(
        &self,
        tenant: &str,
        key: &str,
        fp: &str,
        ttl_ms: i64,
    ) -> StoreResult<IdempotencyBegin> {
        let mut inv = self.scripts.idempotency.prepare_invoke();
        inv.key(self.idem_key(tenant, key))
            .arg(format!("p|{fp}"))
            .arg(ttl_ms);
        let (head, rest) = reply(self.conn.invoke(&inv).await?);
        if head == "reserved" {
            return Ok(IdempotencyBegin::Reserved);
        }
        let cur = rest
            .first()
            .and_then(text)
            .ok_or_else(|| bad_reply("idempotency"))?;
        let mut parts = cur.splitn(4, '|');
        Ok(
            match (parts.next(), parts.next(), parts.next(), parts.next()) {
                (Some("p"), Some(f), _, _) if f == fp => IdempotencyBegin::InProgress,
                (Some("d"), Some(f), Some(status), Some(body)) if f == fp => {
                    IdempotencyBegin::Replay(status.parse().unwrap_or(200), body.to_string())
                }
                _ => IdempotencyBegin::Mismatch,
            },
        )
    }

    async fn idempotency_finish(
        &self,
        tenant: &str,
        key: &str,
        fp: &str,
        status: u16,
        body: &str,
        until: Millis,
    ) -> StoreResult<()> {
        let mut cmd = ::redis::cmd("SET");
        cmd.arg(self.idem_key(tenant, key))
            .arg(format!("d|{fp}|{status}|{body}"))
            .arg("PXAT")
            .arg(until.max(1));
        self.conn.query(&cmd).await.map(|_| ())
    }

    async fn idempotency_abort(&self, tenant: &str, key: &str) -> StoreResult<()> {
        let mut cmd = ::redis::cmd("DEL");
        cmd.arg(self.idem_key(tenant, key));
        self.conn.query(&cmd).await.map(|_| ())
    }

    async fn ping(&self) -> StoreResult<()> {
        self.conn.ping().await
    }
}

/// A failure reason as stored: number-like digit runs masked, at most 300 bytes, cut at
/// a character boundary.
pub(crate) fn bounded_reason(r: &str) -> String {
    let r = crate::domain::mask_digit_runs(r);
    let mut end = r.len().min(300);
    while !r.is_char_boundary(end) {
        end -= 1;
    }
    r[..end].to_string()
}
