//! The development outbox: the last 100 messages handed to a provider, newest first.
//!
//! Holds full numbers and texts (codes included), which is why it exists only when
//! `dev.outbox = true` and why the production example leaves it off.

use crate::domain::{rfc3339, Millis};
use serde::Serialize;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// Messages kept.
pub const CAPACITY: usize = 100;

/// One recorded message, as `GET /dev/outbox` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct OutboxEntry {
    /// Destination, E.164.
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
    pub fn record(&self, to: &str, body: &str, at: Millis) {
        let mut q = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if q.len() == CAPACITY {
            q.pop_back();
        }
        q.push_front(OutboxEntry {
            to: to.into(),
            body: body.into(),
            created_at: rfc3339(at),
        });
    }

    /// Newest first.
    pub fn list(&self) -> Vec<OutboxEntry> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
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
            o.record(&format!("+1{i}"), "b", i);
        }
        let l = o.list();
        assert_eq!(l.len(), CAPACITY);
        assert_eq!(l[0].to, "+1149");
        assert_eq!(l[99].to, "+150");
    }
}
