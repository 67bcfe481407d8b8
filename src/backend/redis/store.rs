//! The store over Redis: every multi-key step is one Lua script (`lua/`), so one round
//! trip and atomic; reads and the provider-message links are plain commands. A start
//! queues its send in the same script (the shard's stream shares the record's slot), and
//! rings the process's doorbell so its idle worker reads that shard at once.

use super::calls::check_outcome;
use super::conn::Conn;
use super::keys::Layout;
use super::queue::ACK;
use super::{fused, record};
use crate::backend::Doorbell;
use crate::domain::{DeliveryStatus, Millis, Status, Verification, VerificationId};
use crate::queue::Lease;
use crate::ratelimit::Backends;
use crate::store::{admit, Admission, Admitted, CheckOutcome, CheckSpec};
use crate::store::{Begun, NumberRef, ReceiptApplied, StartOutcome, StartSpec, Store, StoreResult};
use crate::store::{DeliveryLog, Verifications};
use ::redis::Script;
use async_trait::async_trait;
use record::{decode, text};
use std::sync::Arc;

/// The start script (also joined into the one-node admission script).
pub(super) static START: &str = include_str!("lua/start.lua");
/// The check script (also joined into the one-node admission script).
pub(super) static CHECK: &str = include_str!("lua/check.lua");
static CANCEL: &str = include_str!("lua/cancel.lua");
static DELIVERY: &str = include_str!("lua/delivery.lua");
static DELIVERED: &str = include_str!("lua/delivered.lua");
static BEGIN_DELIVERY: &str = include_str!("lua/begin_delivery.lua");
static IDEMPOTENCY: &str = include_str!("lua/idempotency.lua");

/// Redis-backed store.
pub struct RedisStore {
    pub(super) conn: Arc<Conn>,
    pub(super) sealer: crate::crypto::Sealer,
    pub(super) layout: Layout,
    pub(super) scripts: Scripts,
    pub(super) doorbell: Doorbell,
}

/// The store's scripts, loaded once.
pub(super) struct Scripts {
    start: Script,
    check: Script,
    pub(super) admit_start: Script,
    pub(super) admit_check: Script,
    pub(super) cancel: Script,
    pub(super) delivery: Script,
    pub(super) delivered: Script,
    pub(super) begin_delivery: Script,
    pub(super) advance: Script,
    pub(super) idempotency: Script,
}

impl RedisStore {
    /// The store over `conn` in `layout`; `sealer` seals the records' personal data,
    /// `doorbell` is rung when a start queues a send. Connecting happens on first use.
    pub fn new(
        conn: Arc<Conn>,
        layout: Layout,
        sealer: crate::crypto::Sealer,
        doorbell: Doorbell,
    ) -> Self {
        RedisStore {
            conn,
            sealer,
            layout,
            scripts: Scripts {
                start: Script::new(START),
                check: Script::new(CHECK),
                admit_start: Script::new(&fused::start_script()),
                admit_check: Script::new(&fused::check_script()),
                cancel: Script::new(CANCEL),
                delivery: Script::new(DELIVERY),
                delivered: Script::new(&fused::join(
                    &[("progress", DELIVERY), ("ack", ACK)],
                    DELIVERED,
                )),
                begin_delivery: Script::new(BEGIN_DELIVERY),
                advance: Script::new(include_str!("lua/advance.lua")),
                idempotency: Script::new(IDEMPOTENCY),
            },
            doorbell,
        }
    }
}

#[async_trait]
impl Verifications for RedisStore {
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
        gate: &Backends,
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
        gate: &Backends,
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
        cmd.arg(self.layout.record_key(id));
        let v = self.conn.query(&cmd).await?;
        Ok(decode(id, &v, &self.sealer))
    }

    async fn cancel(
        &self,
        tenant: &str,
        id: &VerificationId,
        number: &NumberRef,
        retention_ms: i64,
        now: Millis,
    ) -> StoreResult<Option<(Verification, bool)>> {
        self.finish(tenant, id, number, Status::Canceled, retention_ms, now)
            .await
    }

    async fn approve(
        &self,
        tenant: &str,
        id: &VerificationId,
        number: &NumberRef,
        retention_ms: i64,
        now: Millis,
    ) -> StoreResult<Option<(Verification, bool)>> {
        self.finish(tenant, id, number, Status::Approved, retention_ms, now)
            .await
    }

    async fn pending_id(
        &self,
        number: &NumberRef,
        _now: Millis,
    ) -> StoreResult<Option<VerificationId>> {
        let mut cmd = ::redis::cmd("GET");
        cmd.arg(self.layout.index_key(number));
        let v = self.conn.query(&cmd).await?;
        Ok(text(&v).and_then(|s| VerificationId::parse(&s).ok()))
    }

    async fn lookup(
        &self,
        number: &NumberRef,
        since: Millis,
    ) -> StoreResult<Vec<crate::store::LookupEntry>> {
        let mut cmd = ::redis::cmd("ZREVRANGEBYSCORE");
        cmd.arg(self.layout.lookup_key(number))
            .arg("+inf")
            .arg(since)
            .arg("WITHSCORES")
            .arg("LIMIT")
            .arg(0)
            .arg(crate::store::LOOKUP_MAX);
        Ok(super::calls::lookup_entries(self.conn.query(&cmd).await?))
    }
}

#[async_trait]
impl DeliveryLog for RedisStore {
    async fn link_provider_message(
        &self,
        provider: &str,
        message_id: &str,
        id: &VerificationId,
        ttl_ms: i64,
    ) -> StoreResult<()> {
        // The record's send count goes with the link (`MessageLink`): read first, since
        // the link key lives in another slot than the record.
        let mut hget = ::redis::cmd("HGET");
        hget.arg(self.layout.record_key(id)).arg("sc");
        let send = text(&self.conn.query(&hget).await?).and_then(|s| s.parse().ok());
        let link = crate::store::MessageLink {
            id: id.clone(),
            send,
        };
        let mut cmd = ::redis::cmd("SET");
        cmd.arg(self.layout.link_key(provider, message_id))
            .arg(link.encode())
            .arg("PX")
            .arg(ttl_ms.max(1));
        self.conn.query(&cmd).await.map(|_| ())
    }

    async fn find_provider_message(
        &self,
        provider: &str,
        message_id: &str,
    ) -> StoreResult<Option<crate::store::MessageLink>> {
        let mut cmd = ::redis::cmd("GET");
        cmd.arg(self.layout.link_key(provider, message_id));
        let v = self.conn.query(&cmd).await?;
        Ok(text(&v).and_then(|s| crate::store::MessageLink::parse(&s)))
    }

    async fn set_delivery(
        &self,
        id: &VerificationId,
        status: DeliveryStatus,
        provider: Option<&str>,
        reason: Option<&str>,
        now: Millis,
    ) -> StoreResult<()> {
        self.progress(id, status, provider, reason, now).await
    }

    async fn apply_receipt(
        &self,
        link: &crate::store::MessageLink,
        mark: &str,
        status: DeliveryStatus,
        provider: &str,
        reason: Option<&str>,
        now: Millis,
    ) -> StoreResult<ReceiptApplied> {
        self.receipt(link, mark, status, provider, reason, now)
            .await
    }

    async fn begin_delivery(
        &self,
        id: &VerificationId,
        seq: u32,
        redelivered: bool,
        now: Millis,
    ) -> StoreResult<Option<Begun>> {
        self.begin(id, seq, redelivered, now).await
    }

    async fn delivered(
        &self,
        id: &VerificationId,
        provider: &str,
        message_id: &str,
        link_ttl_ms: i64,
        ack: Option<&Lease>,
        now: Millis,
    ) -> StoreResult<bool> {
        self.accepted(id, provider, message_id, link_ttl_ms, ack, now)
            .await
    }
}

#[async_trait]
impl Store for RedisStore {
    async fn ping(&self) -> StoreResult<()> {
        self.conn.ping().await
    }
}
