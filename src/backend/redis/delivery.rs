//! The Redis store's delivery steps: progress and receipts (`delivery.lua`), the read that
//! marks a due send `sending` (`begin_delivery.lua`), and an accepted send
//! (`delivered.lua`), which acks the send's stream entry in the same script.
//!
//! A send's stream entry and its record share the shard's slot (`{sS}`), so on Redis
//! Cluster too the record's `sent` and the ack are one script; the provider-message link
//! lives in another slot (`P:v1:pm:…`), so there it is a second call, made first so
//! that a receipt arriving at once finds it. Per accepted send: one round trip on one
//! node, two on a cluster (it was two and three with the ack on its own).

use super::calls::bad_reply;
use super::queue::GROUP;
use super::record::{self, decode};
use super::store::RedisStore;
use crate::domain::{DeliveryStatus, Millis, VerificationId};
use crate::queue::Lease;
use crate::store::{bounded_reason, send_verdict, Begun, DeliveryLog, ReceiptApplied, StoreResult};

impl RedisStore {
    /// [`DeliveryLog::set_delivery`].
    pub(super) async fn progress(
        &self,
        id: &VerificationId,
        status: DeliveryStatus,
        provider: Option<&str>,
        reason: Option<&str>,
        now: Millis,
    ) -> StoreResult<()> {
        let mut inv = self.scripts.delivery.prepare_invoke();
        inv.key(self.layout.record_key(id))
            .arg(status.as_str())
            .arg(provider.unwrap_or(""))
            .arg(now)
            .arg(reason.map(bounded_reason).unwrap_or_default());
        self.conn.invoke(&inv).await.map(|_| ())
    }

    /// [`DeliveryLog::apply_receipt`].
    pub(super) async fn receipt(
        &self,
        link: &crate::store::MessageLink,
        mark: &str,
        status: DeliveryStatus,
        provider: &str,
        reason: Option<&str>,
        now: Millis,
    ) -> StoreResult<ReceiptApplied> {
        let mut inv = self.scripts.delivery.prepare_invoke();
        inv.key(self.layout.record_key(&link.id))
            .arg(status.as_str())
            .arg(provider)
            .arg(now)
            .arg(reason.map(bounded_reason).unwrap_or_default())
            .arg(mark)
            .arg(link.send.map(|s| s.to_string()).unwrap_or_default());
        match record::int(&self.conn.invoke(&inv).await?) {
            Some(1) => Ok(ReceiptApplied::Moved),
            Some(2) => Ok(ReceiptApplied::Replayed),
            Some(3) => Ok(ReceiptApplied::Stale),
            Some(0) => Ok(ReceiptApplied::Unchanged),
            _ => Err(bad_reply("delivery")),
        }
    }

    /// [`DeliveryLog::begin_delivery`]: one script.
    pub(super) async fn begin(
        &self,
        id: &VerificationId,
        seq: u32,
        redelivered: bool,
        now: Millis,
    ) -> StoreResult<Option<Begun>> {
        let mut inv = self.scripts.begin_delivery.prepare_invoke();
        inv.key(self.layout.record_key(id))
            .arg(now)
            .arg(seq)
            .arg(if redelivered { "1" } else { "0" });
        // The script marks a due send by its mirror of the rule; the verdict is the rule's.
        let record = decode(id, &self.conn.invoke(&inv).await?, &self.sealer);
        Ok(record.map(|record| Begun {
            verdict: send_verdict(&record, seq, redelivered, now),
            record,
        }))
    }

    /// [`DeliveryLog::delivered`]: the record's `sent`, the link and the ack in one script on
    /// one node; on a cluster the link first, then the record and the ack.
    pub(super) async fn accepted(
        &self,
        id: &VerificationId,
        provider: &str,
        message_id: &str,
        link_ttl_ms: i64,
        ack: Option<&Lease>,
        now: Millis,
    ) -> StoreResult<bool> {
        // The entry is in the stream of the record's shard; anything else is not acked
        // here (the caller acks it through the queue).
        let ack = ack.filter(|l| l.shard == id.shard());
        let cluster = self.conn.is_cluster();
        if cluster {
            self.link_provider_message(provider, message_id, id, link_ttl_ms)
                .await?;
        }
        let mut inv = self.scripts.delivered.prepare_invoke();
        inv.key(self.layout.record_key(id));
        if let Some(l) = ack {
            inv.key(self.layout.stream(l.shard));
        }
        if !cluster {
            inv.key(self.layout.link_key(provider, message_id));
        }
        inv.arg(provider)
            .arg(now)
            .arg(GROUP)
            .arg(ack.map_or("", |l| l.entry.as_str()))
            .arg(if cluster { "" } else { id.as_str() })
            .arg(link_ttl_ms.max(1));
        self.conn.invoke(&inv).await?;
        Ok(ack.is_some())
    }
}
