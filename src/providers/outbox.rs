//! The development outbox: the last 100 messages handed to a provider, newest first.
//!
//! Holds full numbers and texts (codes included), which is why it exists only when
//! `dev.outbox = true` and `mode = "production"` refuses it. Each entry names its tenant:
//! a caller with an API key sees only its own tenant's messages.

use crate::domain::{rfc3339, Channel, Millis};
use serde::Serialize;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// Messages kept.
pub const CAPACITY: usize = 100;

/// One recorded message, as `GET /dev/outbox` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct OutboxEntry {
    /// Tenant the message was sent for.
    pub tenant: String,
    /// Channel it went by.
    pub channel: &'static str,
    /// Destination: E.164, or an email address.
    pub to: String,
    /// Text as sent.
    pub body: String,
    /// When it was handed to the provider (RFC 3339).
    pub created_at: String,
}

/// Shared ring buffer.
#[derive(Debug, Clone, Default)]
pub struct Outbox(Arc<Mutex<VecDeque<OutboxEntry>>>);

impl Outbox {
    /// Records a message, dropping the oldest beyond [`CAPACITY`].
    pub fn record(&self, tenant: &str, channel: Channel, to: &str, body: &str, at: Millis) {
        let mut q = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if q.len() == CAPACITY {
            q.pop_back();
        }
        q.push_front(OutboxEntry {
            tenant: tenant.into(),
            channel: channel.as_str(),
            to: to.into(),
            body: body.into(),
            created_at: rfc3339(at),
        });
    }

    /// Every tenant's messages, newest first.
    pub fn list(&self) -> Vec<OutboxEntry> {
        self.matching(|_| true)
    }

    /// One tenant's messages, newest first.
    pub fn list_for(&self, tenant: &str) -> Vec<OutboxEntry> {
        self.matching(|e| e.tenant == tenant)
    }

    fn matching(&self, keep: impl Fn(&OutboxEntry) -> bool) -> Vec<OutboxEntry> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|e| keep(e))
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_hundred_newest_first() {
        let o = Outbox::default();
        for i in 0..150 {
            o.record("t", Channel::Sms, &format!("+1{i}"), "b", i);
        }
        let l = o.list();
        assert_eq!(l.len(), CAPACITY);
        assert_eq!(l[0].to, "+1149");
        assert_eq!(l[99].to, "+150");
    }

    #[test]
    fn a_tenant_sees_only_its_own_messages() {
        let o = Outbox::default();
        o.record("a", Channel::Sms, "+1", "code 1", 0);
        o.record("b", Channel::Sms, "+2", "code 2", 1);
        let a = o.list_for("a");
        assert_eq!(a.len(), 1);
        assert_eq!((a[0].tenant.as_str(), a[0].to.as_str()), ("a", "+1"));
        assert!(o.list_for("c").is_empty());
        assert_eq!(o.list().len(), 2);
    }
}
