//! One send, as a worker runs it: read and judge the record (`DeliveryLog::begin_delivery`),
//! render the text, route it through the providers, record the outcome on the record and
//! settle the lease (ack, or dead letter with the reason).

use super::worker::Ctx;
use super::Outcome;
use crate::domain::{now_millis, DeliveryStatus, Verification};
use crate::events::EventType;
use crate::providers::OutboundMessage;
use crate::queue::Lease;
use crate::store::{Begun, NextWhy, SendVerdict};

/// Marks the send of `v` failed with `reason` (on the record, so the API shows it),
/// moves it to the dead letters with the same reason and queues `delivery.failed`.
async fn fail(ctx: &Ctx, lease: &Lease, v: &Verification, provider: Option<&str>, reason: &str) {
    let reason = &crate::domain::mask_digit_runs(reason);
    ctx.events
        .emit(EventType::DeliveryFailed, v, |d| {
            d.with_delivery(provider.unwrap_or("-"), None, "failed")
                .with_reason(reason)
        })
        .await;
    let failed = DeliveryStatus::Failed;
    if let Err(e) = ctx
        .store
        .set_delivery(&lease.msg.id, failed, provider, Some(reason), now_millis())
        .await
    {
        tracing::warn!(id = lease.msg.id.as_str(), error = %e, "could not record the failed delivery");
    }
    settle(ctx, lease, Some(reason)).await;
}

async fn settle(ctx: &Ctx, lease: &Lease, dead: Option<&str>) {
    if dead.is_some() {
        ctx.metrics.dead_letters.inc();
    }
    let r = match dead {
        None => ctx.queue.ack(lease).await,
        Some(reason) => ctx.queue.dead_letter(lease, reason).await,
    };
    if let Err(e) = r {
        tracing::warn!(id = lease.msg.id.as_str(), error = %e, "could not settle the send; it will be retried after the visibility timeout");
    }
}

pub(super) async fn process(ctx: &Ctx, lease: Lease) {
    if lease.redelivered {
        ctx.metrics.redeliveries.inc();
    }
    let id = &lease.msg.id;
    let now = now_millis();
    // Reads the record and, if the send is due, marks it `sending` (one round trip).
    let begun = ctx
        .store
        .begin_delivery(id, lease.msg.seq, lease.redelivered, now)
        .await;
    let Begun { record: v, verdict } = match begun {
        Ok(Some(b)) => b,
        Ok(None) => return settle(ctx, &lease, None).await,
        Err(e) => {
            tracing::warn!(id = id.as_str(), error = %e, "cannot read the verification; leaving the send queued");
            return;
        }
    };
    match verdict {
        SendVerdict::Due => {}
        SendVerdict::Superseded | SendVerdict::Finished => {
            return settle(ctx, &lease, None).await;
        }
        SendVerdict::AlreadyAccepted => {
            tracing::info!(
                id = id.as_str(),
                "send already accepted before a worker stopped; not sending it twice"
            );
            return settle(ctx, &lease, None).await;
        }
        SendVerdict::Expired => {
            // verifications only: a delivery's end shows in its status and dead letter
            if v.id.kind() == crate::domain::RecordKind::Verification {
                let country = v.to.country().to_string();
                let labels = [v.tenant.as_str(), v.channel.as_str(), &country, "expired"];
                ctx.metrics.finished.with_label_values(&labels).inc();
            }
            return fail(
                ctx,
                &lease,
                &v,
                None,
                "the code expired before it could be sent",
            )
            .await;
        }
    }
    let Some(tenant) = ctx.tenants.get(&v.tenant) else {
        return fail(ctx, &lease, &v, None, "the tenant is no longer configured").await;
    };
    let Some(super::Rendered { text, locale, code }) = super::render(
        &ctx.keys,
        &tenant.cfg,
        &v,
        lease.msg.app_hash.as_deref(),
        now,
    ) else {
        let why = "the supplied code does not open under this server secret";
        return fail(ctx, &lease, &v, None, why).await;
    };
    let body = text.body;
    if let Some(o) = &ctx.outbox {
        o.record(&v.tenant, v.channel, v.to.as_str(), &body, now);
    }
    if v.channel == crate::domain::Channel::Sms {
        let encoding = match crate::template::encoding_of(&body) {
            crate::template::Encoding::Gsm7 => "gsm7",
            crate::template::Encoding::Ucs2 => "ucs2",
        };
        ctx.metrics
            .segments
            .with_label_values(&[encoding])
            .observe(crate::template::segments(&body) as f64);
    }
    let msg = OutboundMessage {
        id: id.clone(),
        tenant: v.tenant.clone(),
        channel: v.channel,
        to: v.to.clone(),
        body,
        code: crate::secret::Secret(code.expose().to_string()),
        subject: text.subject,
        html: text.html,
        locale,
        metadata: v.metadata.clone(),
        expires_at: v.expires_at,
        request_id: lease.msg.request_id.clone(),
    };
    let touch = || async {
        if let Err(e) = ctx.queue.touch(&ctx.consumer, &lease).await {
            tracing::warn!(id = id.as_str(), error = %e, "could not extend the lease");
        }
    };
    match ctx
        .router
        .send(&msg, super::steps::step_deadline(&v), touch)
        .await
    {
        Outcome::Sent {
            provider,
            message_id,
            other_parts,
        } => {
            ctx.metrics
                .stats
                .accepted(now_millis(), &super::stats_dims(&v, &provider));
            let ttl = (v.expires_at - now) + tenant.cfg.retention_secs as i64 * 1000;
            // The ack rides in the same step where the backend can (both do).
            let acked = ctx
                .store
                .delivered(id, &provider, &message_id, ttl, Some(&lease), now_millis())
                .await;
            // Each later part's receipt finds the message too (SMPP parts).
            for part in &other_parts {
                if let Err(e) = ctx
                    .store
                    .link_provider_message(&provider, part, id, ttl)
                    .await
                {
                    tracing::warn!(id = id.as_str(), error = %e, "could not link a later part's message id; its receipts will count as unknown");
                }
            }
            let sent =
                |d: crate::events::EventData| d.with_delivery(&provider, Some(&message_id), "sent");
            ctx.events.emit(EventType::DeliverySent, &v, sent).await;
            match acked {
                Ok(true) => {}
                Ok(false) => settle(ctx, &lease, None).await,
                Err(e) => {
                    tracing::warn!(id = id.as_str(), error = %e, "could not record the accepted send; its status stays `sending` and its receipts will be refused");
                    settle(ctx, &lease, None).await;
                }
            }
        }
        Outcome::Rejected { provider, reason } => {
            let d = super::stats_dims(&v, &provider);
            ctx.metrics.stats.failed(now_millis(), &d);
            let reason = format!("rejected by {provider}: {reason}");
            fail(ctx, &lease, &v, Some(&provider), &reason).await;
            super::steps::after_failure(&*ctx.store, &ctx.metrics, &v, NextWhy::Failed).await;
        }
        Outcome::GaveUp { provider, reason } => {
            let d = super::stats_dims(&v, provider.as_deref().unwrap_or("-"));
            ctx.metrics.stats.failed(now_millis(), &d);
            let reason = format!("out of retries: {reason}");
            fail(ctx, &lease, &v, provider.as_deref(), &reason).await;
            super::steps::after_failure(&*ctx.store, &ctx.metrics, &v, NextWhy::Failed).await;
        }
    }
}
