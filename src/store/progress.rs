//! How a message's delivery status may move, and how receipts are made idempotent.
//!
//! One rule for every writer (the delivery worker, provider receipts) and every backend:
//! [`delivery_moves`] here, mirrored by `backend/redis/lua/delivery.lua`. Statuses rank
//! `queued` < `sending` < `sent` < the final ones (`delivered`, `undelivered`, `failed`,
//! `expired`); an update never moves a message backwards, and a final status never moves
//! at all, so a late or replayed receipt cannot turn `delivered` into `undelivered` or
//! back. Only a resend starts a message over (`queued`), and that is the start script's
//! doing, not an update's.
//!
//! A receipt is applied once per (provider, provider message id, status): the record
//! keeps a mark for each one applied ([`receipt_mark`], a field of the record in Redis,
//! a set on the memory record), so a vendor's retry or an attacker's replay of a signed
//! receipt changes nothing, even after a resend has put the message back to `queued`.
//! The marks live and expire with the record; a verification has a handful of them at
//! most (the receipt statuses of its sends). A failure reason is stored the same way
//! everywhere too ([`bounded_reason`]), and whether a queued send is still due is one
//! rule ([`due_for_sending`]).

use crate::domain::{DeliveryStatus, VerificationId};
use sha2::{Digest, Sha256};

/// Order of delivery states; the final ones share the top rank.
pub fn delivery_rank(s: DeliveryStatus) -> u8 {
    match s {
        DeliveryStatus::Queued => 0,
        DeliveryStatus::Sending => 1,
        DeliveryStatus::Sent => 2,
        DeliveryStatus::Delivered
        | DeliveryStatus::Undelivered
        | DeliveryStatus::Failed
        | DeliveryStatus::Expired => 3,
    }
}

/// Whether `s` is final: nothing moves it except a resend.
pub fn is_final(s: DeliveryStatus) -> bool {
    delivery_rank(s) == 3
}

/// Whether an update to `next` applies to a message at `current`: never out of a final
/// status, never backwards. `delivery.lua` repeats this.
pub fn delivery_moves(current: DeliveryStatus, next: DeliveryStatus) -> bool {
    !is_final(current) && delivery_rank(next) >= delivery_rank(current)
}

/// What applying a receipt did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiptApplied {
    /// The delivery status moved.
    Moved,
    /// First time seen, but the status did not move (stale, or already final), or the
    /// verification is gone.
    Unchanged,
    /// This receipt (provider, message id, status) was applied before: nothing done.
    Replayed,
    /// The receipt is for an earlier send of the verification (a resend or a workflow
    /// step came after it): kept as applied, and nothing moves, so a late receipt of
    /// step 1 neither rewrites nor ends step 2.
    Stale,
}

/// What a provider's message id is linked to: the verification, and which of its sends
/// (the record's send count when the message was linked; `None` for a link kept
/// without one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageLink {
    /// The verification (or delivery-only record).
    pub id: VerificationId,
    /// Its send count when the provider accepted the message.
    pub send: Option<u32>,
}

impl MessageLink {
    /// The stored form: `<id>#<send>`, or the id alone.
    pub fn encode(&self) -> String {
        match self.send {
            Some(s) => format!("{}#{s}", self.id.as_str()),
            None => self.id.as_str().to_string(),
        }
    }

    /// Reads [`Self::encode`]'s form; `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        let (id, send) = match s.split_once('#') {
            Some((id, n)) => (id, Some(n.parse().ok()?)),
            None => (s, None),
        };
        Some(MessageLink {
            id: VerificationId::parse_stored(id)?,
            send,
        })
    }
}

/// The record field that marks a receipt as applied: `x:` and 16 hex digits of
/// SHA-256 over provider, message id and status (a short, fixed-size field name
/// whatever the vendor's ids look like).
pub fn receipt_mark(provider: &str, message_id: &str, status: DeliveryStatus) -> String {
    let mut h = Sha256::new();
    for part in [provider, message_id, status.as_str()] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    format!("x:{}", hex::encode(&h.finalize()[..8]))
}

/// A failure reason as stored: number-like digit runs masked, at most 300 bytes, cut at
/// a character boundary (every backend stores it so).
pub fn bounded_reason(r: &str) -> String {
    let r = crate::domain::mask_digit_runs(r);
    let mut end = r.len().min(300);
    while !r.is_char_boundary(end) {
        end -= 1;
    }
    r[..end].to_string()
}

/// What becomes of a queued send when a worker takes it: the one rule, which the worker
/// acts on and `begin_delivery.lua` mirrors to mark a due send `sending`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendVerdict {
    /// Send it now.
    Due,
    /// A resend queued a newer message; this one is dropped.
    Superseded,
    /// A provider accepted it before a worker stopped (this is a redelivery): not twice.
    AlreadyAccepted,
    /// The verification is approved, canceled or out of attempts.
    Finished,
    /// The code expired before it could be sent.
    Expired,
}

/// The verdict on a queued send (sequence `seq`) of `v` at `now`.
pub fn send_verdict(
    v: &crate::domain::Verification,
    seq: u32,
    redelivered: bool,
    now: crate::domain::Millis,
) -> SendVerdict {
    use crate::domain::{DeliveryStatus as D, Status};
    let accepted = matches!(v.delivery.status, D::Sent | D::Delivered | D::Undelivered);
    if v.send_count > seq {
        SendVerdict::Superseded
    } else if accepted && redelivered {
        SendVerdict::AlreadyAccepted
    } else if v.status != Status::Pending {
        SendVerdict::Finished
    } else if now >= v.expires_at {
        SendVerdict::Expired
    } else {
        SendVerdict::Due
    }
}

/// A send a worker has taken: the record as it was before `begin_delivery` marked it,
/// and the verdict.
#[derive(Debug, Clone)]
pub struct Begun {
    /// The record, before the mark.
    pub record: crate::domain::Verification,
    /// What to do with the send.
    pub verdict: SendVerdict,
}

#[cfg(test)]
mod tests {
    use super::*;
    use DeliveryStatus as D;

    const ALL: [D; 7] = [
        D::Queued,
        D::Sending,
        D::Sent,
        D::Delivered,
        D::Undelivered,
        D::Failed,
        D::Expired,
    ];

    #[test]
    fn final_statuses_never_move_and_nothing_moves_backwards() {
        for cur in ALL {
            for next in ALL {
                let moves = delivery_moves(cur, next);
                if is_final(cur) {
                    assert!(!moves, "{cur:?} -> {next:?}");
                } else {
                    assert_eq!(
                        moves,
                        delivery_rank(next) >= delivery_rank(cur),
                        "{cur:?} -> {next:?}"
                    );
                }
            }
        }
        assert!(!delivery_moves(D::Delivered, D::Undelivered));
        assert!(!delivery_moves(D::Undelivered, D::Delivered));
        assert!(!delivery_moves(D::Failed, D::Delivered));
        assert!(!delivery_moves(D::Delivered, D::Sent));
        assert!(delivery_moves(D::Sent, D::Delivered));
        assert!(delivery_moves(D::Sent, D::Sent));
        assert!(delivery_moves(D::Sending, D::Failed));
    }

    #[test]
    fn marks_differ_by_provider_id_and_status_and_cannot_be_forged_by_joining() {
        let m = receipt_mark("tw", "SM1", D::Delivered);
        assert_eq!(m.len(), 18);
        assert!(m.starts_with("x:"));
        assert_eq!(m, receipt_mark("tw", "SM1", D::Delivered));
        assert_ne!(m, receipt_mark("tw", "SM1", D::Undelivered));
        assert_ne!(m, receipt_mark("tw", "SM2", D::Delivered));
        assert_ne!(m, receipt_mark("tx", "SM1", D::Delivered));
        assert_ne!(
            receipt_mark("a", "bc", D::Sent),
            receipt_mark("ab", "c", D::Sent)
        );
    }
}
