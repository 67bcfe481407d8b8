//! A pending verification canceled or approved without a code: one script
//! (`cancel.lua`, the status it moves to as its last argument) over the record and the
//! number's pending index, which share the shard's slot.

use super::calls::{bad_reply, reply};
use super::record::decode;
use super::store::RedisStore;
use crate::domain::{Millis, Status, Verification, VerificationId};
use crate::store::{NumberRef, StoreResult};

impl RedisStore {
    /// Moves a pending verification to `to` (canceled or approved) in one script
    /// (`cancel.lua`): the record kept for `retention_ms`, the pending index freed. The
    /// record after the call and whether this call moved it.
    pub(super) async fn finish(
        &self,
        tenant: &str,
        id: &VerificationId,
        number: &NumberRef,
        to: Status,
        retention_ms: i64,
        now: Millis,
    ) -> StoreResult<Option<(Verification, bool)>> {
        let mut inv = self.scripts.cancel.prepare_invoke();
        inv.key(self.layout.record_key(id))
            .key(self.layout.index_key(number))
            .arg(now)
            .arg(tenant)
            .arg(retention_ms)
            .arg(id.as_str())
            .arg(to.as_str());
        let (head, rest) = reply(self.conn.invoke(&inv).await?);
        match head.as_str() {
            "not_found" => Ok(None),
            head @ ("ok" | "moved") => Ok(rest
                .first()
                .and_then(|r| decode(id, r, &self.sealer))
                .map(|v| (v, head == "moved"))),
            _ => Err(bad_reply(to.as_str())),
        }
    }
}
