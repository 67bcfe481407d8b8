//! Idempotency keys over Redis: a reservation set by one script only when the key is
//! free (or answered with the stored result), the answer written with the verification's
//! retention as its expiry, and a delete when the request failed before answering.

use super::calls::idempotency_begun;
use super::store::RedisStore;
use crate::domain::Millis;
use crate::store::{Idempotency, IdempotencyBegin, StoreResult};
use async_trait::async_trait;

#[async_trait]
impl Idempotency for RedisStore {
    async fn idempotency_begin(
        &self,
        tenant: &str,
        key: &str,
        fp: &str,
        ttl_ms: i64,
    ) -> StoreResult<IdempotencyBegin> {
        let mut inv = self.scripts.idempotency.prepare_invoke();
        inv.key(self.layout.idem_key(tenant, key))
            .arg(format!("p|{fp}"))
            .arg(ttl_ms);
        idempotency_begun(self.conn.invoke(&inv).await?, fp)
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
        cmd.arg(self.layout.idem_key(tenant, key))
            .arg(format!("d|{fp}|{status}|{body}"))
            .arg("PXAT")
            .arg(until.max(1));
        self.conn.query(&cmd).await.map(|_| ())
    }

    async fn idempotency_abort(&self, tenant: &str, key: &str) -> StoreResult<()> {
        let mut cmd = ::redis::cmd("DEL");
        cmd.arg(self.layout.idem_key(tenant, key));
        self.conn.query(&cmd).await.map(|_| ())
    }
}
