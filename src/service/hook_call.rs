//! A hook call's id (Standard Webhooks' `webhook-id`) reserved against replays: the
//! store keeps only a keyed hash of it, in the idempotency entries, for the signature's
//! tolerance; a call that failed in a way the caller may retry releases it.

use super::*;

impl Service {
    /// Reserves a hook call's id (`webhook-id`) for `ttl_ms`: `Some` the first time,
    /// `None` for a replay (the same id handled before, or being handled now). The
    /// store keeps only a keyed hash of it, as it keeps idempotency keys. End the call
    /// with [`Self::hook_call_end`].
    pub async fn hook_call_begin(
        &self,
        tenant: &Tenant,
        hook: &str,
        call_id: &str,
        ttl_ms: i64,
    ) -> Result<Option<HookCall>> {
        let keys = &self.inner.keys;
        let name = format!("hook:{hook}:{call_id}");
        let call = HookCall {
            key: keys.idempotency_key(&tenant.id, name.as_bytes()),
            fp: keys.request_fingerprint(&tenant.id, name.as_bytes()),
            ttl_ms: ttl_ms.max(1),
        };
        let begun = self
            .inner
            .store
            .idempotency_begin(&tenant.id, &call.key, &call.fp, call.ttl_ms)
            .await
            .map_err(unavailable)?;
        match begun {
            IdempotencyBegin::Reserved => Ok(Some(call)),
            IdempotencyBegin::StoreFull(left) => Err(Error::store_full(dur(left))),
            _ => Ok(None),
        }
    }

    /// Ends a hook call: `handled` keeps its id until the reservation's end (a replay
    /// is refused); otherwise (a failure the caller may retry) it is released.
    pub async fn hook_call_end(&self, tenant: &Tenant, call: HookCall, handled: bool) {
        let store = &self.inner.store;
        let r = if handled {
            let until = now_millis().saturating_add(call.ttl_ms);
            store
                .idempotency_finish(&tenant.id, &call.key, &call.fp, 200, "", until)
                .await
        } else {
            store.idempotency_abort(&tenant.id, &call.key).await
        };
        if let Err(e) = r {
            tracing::warn!(error = %e, "could not record the end of a hook call");
        }
    }
}

/// A hook call whose id is reserved ([`Service::hook_call_begin`]).
#[derive(Debug)]
pub struct HookCall {
    key: String,
    fp: String,
    ttl_ms: i64,
}
