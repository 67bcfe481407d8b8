//! What operators and providers reach through the service rather than past it: the
//! providers' breaker states and the send queue's depth (the ops page, the metrics
//! refresher), and delivery receipts (handed to [`crate::delivery::receipts`]). The
//! transports render these and import nothing below the service.

use super::Service;
use crate::delivery::Router;
use crate::error::{Error, Result};
use crate::queue::Queue;
use std::sync::Arc;

pub use crate::delivery::breaker::BreakerState;
pub use crate::providers::outbox::Outbox;
pub use crate::providers::{BindView, ReceiptRequest};
pub use crate::queue::QueueDepth;

/// The delivery side the service reports on.
#[derive(Clone)]
pub struct Fleet {
    /// Providers, their breakers, their receipt parsers.
    pub router: Arc<Router>,
    /// The send queue.
    pub queue: Arc<dyn Queue>,
    /// The fleet numbers' shared buckets (`GET /v1/admin/stats`).
    pub stats: Arc<dyn crate::store::FleetStats>,
    /// Events to tenants: the emitter and its queue (`docs/events.md`).
    pub events: crate::events::Emitter,
}

/// One provider instance as the ops page shows it.
#[derive(Debug, Clone)]
pub struct ProviderState {
    /// Instance name (`[providers.<name>]`).
    pub name: String,
    /// Adapter kind (`twilio`, `webhook`, …).
    pub kind: &'static str,
    /// Its circuit breaker.
    pub breaker: BreakerState,
    /// Its long-lived sessions (SMPP binds); empty for HTTP adapters.
    pub binds: Vec<BindView>,
    /// The channels routing sends through it (`sms`, `voice`, …; empty: routed nowhere).
    pub routed: Vec<&'static str>,
}

impl Service {
    /// Every provider instance with its breaker state.
    pub fn providers(&self) -> Vec<ProviderState> {
        self.fleet()
            .router
            .slots()
            .map(|s| ProviderState {
                name: s.name.clone(),
                kind: s.provider.kind(),
                breaker: s.breaker.state(),
                binds: s.provider.binds(),
                routed: self
                    .fleet()
                    .router
                    .channels_of(&s.name)
                    .into_iter()
                    .map(|c| c.as_str())
                    .collect(),
            })
            .collect()
    }

    /// The send queue's depth.
    pub async fn queue_depth(&self) -> Result<QueueDepth> {
        self.fleet().queue.depth().await.map_err(|e| {
            tracing::debug!(error = %e, "queue depth unavailable");
            Error::store_unavailable("the send queue is unavailable; try again shortly")
        })
    }

    /// Whether `provider` names a provider instance (receipts for others are `404`
    /// before their body is read).
    pub fn takes_receipts(&self, provider: &str) -> bool {
        crate::delivery::receipts::knows(&self.fleet().router, provider)
    }

    /// A provider's webhook subscription handshake on its receipts URL: the text to
    /// echo, or `None` when the request is no handshake (it is then a receipt).
    pub fn receipt_handshake(
        &self,
        provider: &str,
        req: &ReceiptRequest<'_>,
    ) -> Result<Option<String>> {
        crate::delivery::receipts::handshake(&self.fleet().router, provider, req)
    }

    /// Verifies and applies a provider's delivery receipt; the statuses it moved.
    pub async fn receipt(&self, provider: &str, req: &ReceiptRequest<'_>) -> Result<u32> {
        let store = self.store().clone();
        let metrics = &self.inner.metrics;
        crate::delivery::receipts::apply(
            &self.fleet().router,
            &store,
            metrics,
            &self.fleet().events,
            provider,
            req,
        )
        .await
    }
}
