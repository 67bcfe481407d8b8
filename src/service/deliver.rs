//! Delivery-only sends: codes made elsewhere (an auth server's own OTP: Supabase Auth's
//! Send SMS hook, Ory Kratos's HTTP courier, Keycloak SMS plugins), delivered through the
//! same admission (geo, limits, the pumping guard), routing, failover, receipts and
//! metrics as a start, and never checked here.
//!
//! A delivery is a record like a verification, with a `dlv_` id
//! ([`crate::domain::DeliveryId`]): the store creates it in the same step as its queued
//! send, but it never resends the number's pending verification nor takes its place
//! (so a check by number never finds it), and `VerificationId::parse` refuses its id
//! (so a check by id answers as for an unknown verification). Its code cannot be
//! derived from a seed, so the record's seed field holds the code sealed
//! (ChaCha20-Poly1305, bound to the record id and tenant, [`Keys::seal_code`]): at rest
//! the store holds neither the number nor the code in plain text; the worker opens it
//! to render the message with the tenant's template.
//!
//! The guard sees no approvals for these codes: it judges them as it judges
//! unconverted starts, by volume against its baselines, unless the caller confirms
//! (`POST /v1/deliveries/{id}/confirm`, [`Service::confirm_delivery`]) that the user
//! typed the code right. A confirmation runs as a right check of the record by id (the
//! code's MAC is the one stored), so the approval is counted once, in the same store
//! step, exactly as a verification's approval is, for the number's levels and the
//! sources the confirmation's `risk_context` names; confirming again answers the record
//! and counts nothing. (A hook call's id is reserved against replays in `hook_call.rs`.)

use super::start::started_from;
use super::*;
use crate::crypto::Keys;

/// Where a delivery-only send came from (a bounded metric label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliverySource {
    /// `POST /v1/deliveries`.
    Api,
    /// The Supabase Auth Send SMS hook.
    Supabase,
}

impl DeliverySource {
    /// The label.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliverySource::Api => "api",
            DeliverySource::Supabase => "supabase",
        }
    }
}

/// A parsed delivery-only request.
#[derive(Debug, Clone)]
pub struct DeliverInput {
    /// Destination.
    pub to: PhoneNumber,
    /// The code made elsewhere (4..10 digits; `Debug` hides it).
    pub code: OtpCode,
    /// Template locale.
    pub locale: Option<Locale>,
    /// Named template.
    pub template: Option<String>,
    /// What the caller knows of the end user (the pumping guard).
    pub risk: Option<RiskContext>,
    /// Caller metadata, raw JSON object text.
    pub metadata: Option<String>,
    /// Request id for log correlation.
    pub request_id: Option<String>,
    /// Who asked.
    pub source: DeliverySource,
}

/// The record of a delivery-only send: the number sealed, the code sealed in `seed`,
/// its MAC (confirmation), one send, no resends.
fn record(
    keys: &Keys,
    tenant: &Tenant,
    id: &DeliveryId,
    input: &DeliverInput,
    now: Millis,
) -> Verification {
    let cfg = &tenant.cfg;
    Verification {
        id: id.record().clone(),
        tenant: tenant.id.clone(),
        to: Destination::Phone(input.to.clone()),
        channel: Channel::Sms,
        status: Status::Pending,
        created_at: now,
        expires_at: now + ms(cfg.ttl_secs),
        send_count: 1,
        max_sends: 1,
        next_resend_at: now,
        resent_at: Vec::new(),
        attempts_left: 1,
        delivery: Delivery::queued(now),
        metadata: input.metadata.clone(),
        locale: input.locale.as_ref().map(|l| l.as_str().to_string()),
        template: input.template.clone(),
        code_length: input.code.expose().len() as u8,
        seed: keys.seal_code(id.as_str(), &tenant.id, &input.code),
        workflow: None,
        past_steps: Vec::new(),
    }
}

impl Service {
    /// Delivers a code made elsewhere: admission, the record and its queued send in
    /// one store step, the answer.
    pub async fn deliver(
        &self,
        tenant: &Tenant,
        input: DeliverInput,
    ) -> Result<(Verification, RateInfo)> {
        let source = input.source;
        let to = Destination::Phone(input.to.clone());
        let r = self.deliver_inner(tenant, input).await;
        match &r {
            Ok((v, _)) => self.inner.fleet.events.arm_expiry(v).await,
            Err(e) => self.emit_blocked(tenant, Channel::Sms, &to, e).await,
        }
        let outcome = if r.is_ok() { "accepted" } else { "refused" };
        self.inner
            .metrics
            .deliveries
            .with_label_values(&[&tenant.id, source.as_str(), outcome])
            .inc();
        r
    }

    async fn deliver_inner(
        &self,
        tenant: &Tenant,
        input: DeliverInput,
    ) -> Result<(Verification, RateInfo)> {
        let cfg = &tenant.cfg;
        let name = input.template.as_deref().unwrap_or("default");
        if template::pick(cfg, name, None).is_none() {
            return Err(Error::InvalidRequest(format!("unknown template `{name}`")));
        }
        let abuse = &self.inner.abuse;
        let to = Destination::Phone(input.to.clone());
        let adm = abuse.start_admission(tenant, &to, Channel::Sms, None, input.risk.as_ref())?;
        let number = self.number_ref(tenant, &to);
        let id = DeliveryId::generate(number.shard)?;
        let now = now_millis();
        let keys = &self.inner.keys;
        let spec = StartSpec {
            fresh: record(keys, tenant, &id, &input, now),
            code_mac: keys.code_mac(&tenant.id, input.to.as_str(), &input.code),
            number,
            cooldown_ms: 0,
            retention_ms: ms(cfg.retention_secs),
            lookup_ms: ms(cfg.lookup_retention_secs),
            number_send_limit: cfg.number_sends_per_hour,
            number_window_ms: 3_600_000,
            resend_channel: None,
            enqueue: EnqueueSpec {
                app_hash: None,
                request_id: input.request_id.clone(),
            },
        };
        let admitted = self
            .inner
            .store
            .admit_start(abuse.gate(), &adm, spec, now)
            .await
            .map_err(unavailable)?;
        let (outcome, info) = abuse.settle(tenant, admitted)?;
        let v = match started_from(outcome)? {
            Started::Created(v) | Started::Resent(v) => v,
        };
        tracing::info!(
            id = v.id.as_str(),
            tenant = %tenant.id,
            to = %input.to.masked(),
            source = input.source.as_str(),
            "delivery queued"
        );
        Ok((v, info))
    }

    /// Reads a delivery of this tenant.
    pub async fn delivery(&self, tenant: &Tenant, id: &DeliveryId) -> Result<Verification> {
        self.inner
            .store
            .get(&tenant.id, id.record())
            .await
            .map_err(unavailable)?
            .ok_or_else(|| Error::DeliveryNotFound("no delivery with this id".into()))
    }

    /// Records that the user typed the delivered code right: an approval for the
    /// pumping guard, counted once, for the number's levels and the sources `risk`
    /// names (as a check's `risk_context`). Returns the record and whether this call
    /// counted.
    pub async fn confirm_delivery(
        &self,
        tenant: &Tenant,
        id: &DeliveryId,
        risk: Option<RiskContext>,
    ) -> Result<(Verification, bool)> {
        let v = self.delivery(tenant, id).await?;
        if v.status == Status::Approved {
            return Ok((v, false));
        }
        let gone =
            || Error::DeliveryNotFound("the delivery has expired; nothing to confirm".into());
        if v.status_at(now_millis()) != Status::Pending {
            return Err(gone());
        }
        let keys = &self.inner.keys;
        let code = keys
            .open_code(id.as_str(), &tenant.id, &v.seed)
            .ok_or_else(|| Error::Internal("a delivery's code does not open".into()))?;
        let client = CheckClient {
            risk,
            ..CheckClient::default()
        };
        let abuse = &self.inner.abuse;
        let adm = abuse.check_admission(tenant, Some(&v.to), &client)?;
        let spec = CheckSpec {
            target: CheckTarget::Id(id.record().clone(), self.number_ref(tenant, &v.to)),
            code_mac: keys.code_mac(&tenant.id, &v.to.key_form(), &code),
            number_fail_limit: tenant.cfg.number_failed_checks_per_hour,
            client_keys: Vec::new(),
            client_fail_limit: 0,
            number_window_ms: 3_600_000,
            retention_ms: ms(tenant.cfg.retention_secs),
        };
        let admitted = self
            .inner
            .store
            .admit_check(abuse.gate(), &adm, spec, now_millis())
            .await
            .map_err(unavailable)?;
        let (outcome, _) = abuse.settle(tenant, admitted)?;
        match outcome {
            CheckOutcome::Approved(v) => {
                let m = &self.inner.metrics;
                m.deliveries
                    .with_label_values(&[&tenant.id, "api", "confirmed"])
                    .inc();
                tracing::info!(id = v.id.as_str(), tenant = %tenant.id, "delivery confirmed");
                self.emit(crate::events::EventType::VerificationApproved, &v)
                    .await;
                Ok((v, true))
            }
            // Confirmed by a concurrent call in between: this one counts nothing.
            _ => match self.delivery(tenant, id).await? {
                v if v.status == Status::Approved => Ok((v, false)),
                _ => Err(gone()),
            },
        }
    }
}
