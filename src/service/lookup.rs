//! The support lookup: a destination's verifications and delivery-only sends of the
//! tenant's `lookup_retention_secs`, newest first, for the admin API.
//!
//! The store keeps, per destination, only ids and creation times under the tenant's
//! keyed hash of the number or address ([`crate::store::Verifications::lookup`], written
//! in the start's own atomic step); the number typed in is hashed the same way here and
//! never stored or logged. Each id's record is then read as any other. A record lives
//! `retention_secs` past its expiry, usually far less than the index: an id whose record
//! is gone shows as what the index knows, its id and creation time (`record: expired`).

use super::*;
use serde::Serialize;

/// One entry of a lookup as both the admin API and the console show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LookupItem {
    /// The verification's (`vrf_…`) or delivery-only send's (`dlv_…`) id.
    pub id: String,
    /// `verification` or `delivery`.
    pub kind: &'static str,
    /// When it was created.
    pub created_at: String,
    /// `found`: the record is still kept and the fields below are filled; `expired`:
    /// the store no longer keeps it, the index knows only the id and time.
    pub record: &'static str,
    /// Its status (`pending`, `approved`, `expired`, `canceled`, `max_attempts_reached`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Channel of its last send.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// Every channel it sent on, in order (a workflow's steps so far).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channels: Option<Vec<String>>,
    /// Delivery of its last send: status, provider, reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery: Option<DeliveryView>,
    /// The workflow and its steps, when it runs one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow: Option<WorkflowView>,
    /// Messages sent (first send included).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub send_count: Option<u32>,
    /// Wrong codes checked (the tenant's current `max_check_attempts` less those left).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check_attempts_used: Option<u32>,
    /// Check attempts left.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check_attempts_remaining: Option<u32>,
}

impl LookupItem {
    /// An index entry, with its record when the store still keeps it.
    fn new(e: &LookupEntry, v: Option<&Verification>, max_attempts: u32, now: Millis) -> Self {
        let kind = match e.id.kind() {
            RecordKind::Verification => "verification",
            RecordKind::Delivery => "delivery",
        };
        let mut item = LookupItem {
            id: e.id.as_str().to_string(),
            kind,
            created_at: rfc3339(e.created_at),
            record: "expired",
            status: None,
            channel: None,
            channels: None,
            delivery: None,
            workflow: None,
            send_count: None,
            check_attempts_used: None,
            check_attempts_remaining: None,
        };
        let Some(v) = v else { return item };
        let view = VerificationView::new(v, now, None);
        let mut channels: Vec<String> = v
            .past_steps
            .iter()
            .map(|s| s.channel.as_str().to_string())
            .collect();
        channels.push(view.channel.clone());
        item.record = "found";
        item.status = Some(view.status);
        item.channel = Some(view.channel);
        item.channels = Some(channels);
        item.delivery = Some(view.delivery);
        item.workflow = view.workflow;
        item.send_count = Some(v.send_count);
        item.check_attempts_used = Some(max_attempts.saturating_sub(v.attempts_left));
        item.check_attempts_remaining = Some(v.attempts_left);
        item
    }
}

impl Service {
    /// `to`'s verifications and sends of `tenant`'s lookup window, newest first (empty
    /// when the tenant keeps no lookup index).
    pub async fn lookup(&self, tenant: &Tenant, to: &Destination) -> Result<Vec<LookupItem>> {
        let keep = ms(tenant.cfg.lookup_retention_secs);
        if keep == 0 {
            return Ok(Vec::new());
        }
        let now = now_millis();
        let number = self.number_ref(tenant, to);
        let store = &self.inner.store;
        let entries = store
            .lookup(&number, now.saturating_sub(keep))
            .await
            .map_err(unavailable)?;
        let mut items = Vec::with_capacity(entries.len());
        for e in &entries {
            let v = store.get(&tenant.id, &e.id).await.map_err(unavailable)?;
            let max = tenant.cfg.max_check_attempts;
            items.push(LookupItem::new(e, v.as_ref(), max, now));
        }
        Ok(items)
    }
}
