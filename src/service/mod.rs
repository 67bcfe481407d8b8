//! The verification service: start, check, get and cancel, and delivery-only sends of
//! codes made elsewhere ([`deliver`]), free of any transport.
//!
//! HTTP and gRPC handlers parse requests into domain types and call these methods. This
//! layer owns the policy (tenant settings, admission: limits, geo, the pumping guard),
//! the keyed hashing of numbers and codes, and idempotent starts; the store owns
//! atomicity (a start and its queued send are one store step), and `delivery` renders
//! and sends the message.

mod abuse;
mod admission;
mod approve;
mod cancel;
mod check;
mod deliver;
mod events;
mod guard;
mod hook_call;
mod idempotency;
mod idempotent;
mod input;
mod lookup;
mod observe;
mod ops;
mod start;
pub mod stats;
mod stats_report;
pub mod view;

pub use crate::ratelimit::headers::RateInfo;
pub use crate::ratelimit::pumping::{Block, Level};
pub use crate::store::IdempotencyBegin;
pub use abuse::Abuse;
pub use admission::{check_admission, client_check_keys, geo_check, limit_policy, start_admission};
pub use deliver::{DeliverInput, DeliverySource};
pub use events::{DeadEventView, DEAD_EVENTS_MAX};
pub use guard::{guard_policy, probe, Sources};
pub use hook_call::HookCall;
pub use input::{CheckBy, StartInput, Started};
pub use lookup::LookupItem;
pub use ops::{BindView, BreakerState, Fleet, Outbox, ProviderState, QueueDepth, ReceiptRequest};
pub use stats::{By, Report, Window};
pub use view::{
    error_rate, DeliveryRecordView, DeliveryView, StartResult, StepView, VerificationView,
    WorkflowView,
};

pub use crate::tenants::{AdminKeys, Tenant, Tenants};

use crate::crypto::{random_bytes, Keys};
use crate::domain::*;
use crate::error::{Error, Result};
use crate::events::EventType;
use crate::store::*;
use crate::template;
use std::sync::Arc;
use std::time::Duration;

/// The service. Cheap to clone.
#[derive(Clone)]
pub struct Service {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    keys: Keys,
    tenants: Tenants,
    shards: u16,
    metrics: crate::metrics::Metrics,
    abuse: Abuse,
    fleet: Fleet,
}

fn ms(secs: u64) -> i64 {
    secs.saturating_mul(1000).min(i64::MAX as u64) as i64
}

fn dur(ms: i64) -> Duration {
    Duration::from_millis(ms.max(0) as u64)
}

fn unavailable(e: StoreError) -> Error {
    tracing::warn!(error = %e, "store call failed");
    Error::store_unavailable("the verification store is unavailable; try again shortly")
}

impl Service {
    /// Wires the service.
    pub fn new(
        store: Arc<dyn Store>,
        keys: Keys,
        tenants: Tenants,
        shards: u16,
        metrics: crate::metrics::Metrics,
        abuse: Abuse,
        fleet: Fleet,
    ) -> Self {
        Service {
            inner: Arc::new(Inner {
                store,
                keys,
                tenants,
                shards: shards.max(1),
                metrics,
                abuse,
                fleet,
            }),
        }
    }

    /// Starts a verification, or resends the pending one for the same number and channel.
    pub async fn start(&self, tenant: &Tenant, input: StartInput) -> Result<Started> {
        self.start_rated(tenant, input).await.map(|(s, _)| s)
    }

    /// [`Self::start`], with the state of the limits that applied (for the
    /// `RateLimit` headers).
    pub async fn start_rated(
        &self,
        tenant: &Tenant,
        input: StartInput,
    ) -> Result<(Started, RateInfo)> {
        let country = input.to.region().unwrap_or("unknown").to_string();
        let (channel, workflow) = match self.route_start(tenant, &input) {
            Ok(r) => r,
            Err(e) => {
                let ch = input.channel.unwrap_or(Channel::Sms);
                observe::started(&self.inner.metrics, &tenant.id, ch, &country, Err(&e));
                self.count_start(&tenant.id, ch, &input.to, Err(&e));
                return Err(e);
            }
        };
        let to = input.to.clone();
        let r = match self.inner.abuse.start_admission(
            tenant,
            &input.to,
            channel,
            input.client_ip,
            input.risk.as_ref(),
        ) {
            Ok(adm) => {
                self.start_inner(tenant, input, (channel, workflow), adm)
                    .await
            }
            Err(e) => Err(e),
        };
        let seen = r.as_ref().map(|(s, _)| s);
        observe::started(&self.inner.metrics, &tenant.id, channel, &country, seen);
        self.count_start(&tenant.id, channel, &to, seen);
        match &r {
            Ok((Started::Created(v) | Started::Resent(v), _)) => {
                self.inner.fleet.events.arm_expiry(v).await
            }
            Err(e) => self.emit_blocked(tenant, channel, &to, e).await,
        }
        r
    }

    /// Checks a code: `(record, valid)`.
    pub async fn check(
        &self,
        tenant: &Tenant,
        by: CheckBy,
        code: &OtpCode,
        client: &CheckClient,
    ) -> Result<(Verification, bool)> {
        self.check_rated(tenant, by, code, client)
            .await
            .map(|(v, _)| v)
    }

    /// [`Self::check`], with the state of the limits that applied.
    pub async fn check_rated(
        &self,
        tenant: &Tenant,
        by: CheckBy,
        code: &OtpCode,
        client: &CheckClient,
    ) -> Result<((Verification, bool), RateInfo)> {
        let r = self.check_inner(tenant, by, code, client).await;
        observe::checked(&self.inner.metrics, &tenant.id, r.as_ref().map(|(v, _)| v));
        match &r {
            Ok(((v, true), _)) => self.emit(EventType::VerificationApproved, v).await,
            Ok(((v, false), _)) if v.status == Status::MaxAttemptsReached => {
                self.emit(EventType::VerificationMaxAttempts, v).await
            }
            _ => {}
        }
        if let Ok(((v, true), _)) = &r {
            stats::count_approval(&self.inner.metrics, &tenant.id, v);
        }
        r
    }

    /// Abuse control: prefix blocks and their admin operations.
    pub fn abuse(&self) -> &Abuse {
        &self.inner.abuse
    }

    /// Tenants and their keys.
    pub fn tenants(&self) -> &Tenants {
        &self.inner.tenants
    }

    /// Where a destination's entries live. One pending verification per destination
    /// whatever the channel (a resend may switch channel), so the index is named by the
    /// destination's kind: `sms` for numbers (the name it had when SMS was the only
    /// channel, so the keys did not change), `email` for addresses.
    fn number_ref(&self, tenant: &Tenant, to: &Destination) -> NumberRef {
        let (key, shard) =
            self.inner
                .keys
                .number_key(&tenant.id, &to.key_form(), self.inner.shards);
        NumberRef {
            tenant: tenant.id.clone(),
            key,
            shard,
            channel: if to.phone().is_some() {
                Channel::Sms
            } else {
                Channel::Email
            },
        }
    }

    /// Reads a verification of this tenant.
    pub async fn get(&self, tenant: &Tenant, id: &VerificationId) -> Result<Verification> {
        self.inner
            .store
            .get(&tenant.id, id)
            .await
            .map_err(unavailable)?
            .ok_or_else(not_found)
    }

    /// Ready when the store (which also holds the send queue) answers.
    pub async fn ready(&self) -> Result<()> {
        self.inner.store.ping().await.map_err(unavailable)
    }

    /// Providers and the send queue (the ops side).
    pub fn fleet(&self) -> &Fleet {
        &self.inner.fleet
    }

    /// The store (tests, admin tools).
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }
}

fn not_found() -> Error {
    Error::NotFound("no pending verification matches".into())
}
