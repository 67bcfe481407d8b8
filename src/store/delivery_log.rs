//! The delivery log: each send's progress on its verification record (queued, sending,
//! sent, delivered, failed), the provider message ids receipts are matched by, and the
//! receipts applied at most once.

use super::progress::{send_verdict, Begun, MessageLink, ReceiptApplied, SendVerdict};
use super::Verifications;
use crate::domain::{Millis, VerificationId};
use crate::error::StoreResult;
use crate::queue::Lease;
use async_trait::async_trait;

/// What delivery workers and receipt handlers record about a verification's sends. It
/// reads records as [`Verifications`] does, since a send is judged against its record.
#[async_trait]
pub trait DeliveryLog: Verifications {
    /// Remembers which verification a provider's message id belongs to (receipts), with
    /// the record's send count at that moment ([`MessageLink`]).
    async fn link_provider_message(
        &self,
        provider: &str,
        message_id: &str,
        id: &VerificationId,
        ttl_ms: i64,
    ) -> StoreResult<()>;
    /// The verification a provider's message id belongs to, and which send it was.
    async fn find_provider_message(
        &self,
        provider: &str,
        message_id: &str,
    ) -> StoreResult<Option<MessageLink>>;
    /// Records delivery progress ([`super::delivery_moves`]: never backwards, never out of a
    /// final status) with the reason for a failure; a no-op for unknown ids.
    async fn set_delivery(
        &self,
        id: &VerificationId,
        status: crate::domain::DeliveryStatus,
        provider: Option<&str>,
        reason: Option<&str>,
        now: Millis,
    ) -> StoreResult<()>;
    /// Applies a provider's delivery receipt as [`DeliveryLog::set_delivery`] does, at most
    /// once per `mark` ([`super::receipt_mark`] of provider, message id and status): the mark
    /// is kept on the record, in the same atomic step, whether the status moved or not.
    /// The record is `link.id`; with `link.send`, a receipt for an earlier send than the
    /// record's current one is [`ReceiptApplied::Stale`] and moves nothing.
    async fn apply_receipt(
        &self,
        link: &MessageLink,
        mark: &str,
        status: crate::domain::DeliveryStatus,
        provider: &str,
        reason: Option<&str>,
        now: Millis,
    ) -> StoreResult<ReceiptApplied>;
    /// Reads a verification for delivery, judges its send ([`send_verdict`]) and, when
    /// it is due, marks it `sending`, in one step where the backend can. Returns the
    /// record as it was before the mark, with the verdict; `None` when it is gone.
    async fn begin_delivery(
        &self,
        id: &VerificationId,
        seq: u32,
        redelivered: bool,
        now: Millis,
    ) -> StoreResult<Option<Begun>> {
        let Some(v) = self.get_any(id).await? else {
            return Ok(None);
        };
        let verdict = send_verdict(&v, seq, redelivered, now);
        if verdict == SendVerdict::Due {
            let sending = crate::domain::DeliveryStatus::Sending;
            self.set_delivery(&v.id, sending, None, None, now).await?;
        }
        Ok(Some(Begun { record: v, verdict }))
    }
    /// Records that `provider` accepted the send as `message_id` (status `sent`, and the
    /// link receipts are matched by), in one step where the backend can. With `ack`, the
    /// send's lease is acked in that same step where the backend keeps its queue beside
    /// the record (both backends do: one Redis script, one memory lock section). Returns
    /// whether it acked; if not, the caller acks through the queue. By default the steps
    /// run in turn and nothing is acked.
    async fn delivered(
        &self,
        id: &VerificationId,
        provider: &str,
        message_id: &str,
        link_ttl_ms: i64,
        ack: Option<&Lease>,
        now: Millis,
    ) -> StoreResult<bool> {
        let _ = ack; // no queue here to ack: the caller does
        let sent = crate::domain::DeliveryStatus::Sent;
        self.set_delivery(id, sent, Some(provider), None, now)
            .await?;
        self.link_provider_message(provider, message_id, id, link_ttl_ms)
            .await?;
        Ok(false)
    }
}
