//! Twilio's resources, with its field names, types and formats (checked against Twilio's
//! own OpenAPI document of Verify v2 by `tests/twilio_verify.rs`): the Verification, the
//! Verification Check and the Service.
//!
//! `send_code_attempts` lists one entry per send (`send_count`), each at the time the
//! record keeps for it ([`Verification::send_times`]). A record written before each
//! send's time was kept has none for its resends: the last one then shows
//! `next_resend_at` less the cooldown and those between the first send's time, as
//! before.

use super::sid::{attempt_sid, ve_sid};
use crate::domain::{rfc3339, Millis, Status, Verification};
use crate::service::Tenant;
use serde_json::{json, Value};

/// What every resource of a request shares: its Service, account and base URL.
pub struct Ctx<'a> {
    /// The tenant.
    pub tenant: &'a Tenant,
    /// The Service SID of the path.
    pub service_sid: &'a str,
    /// The tenant's Account SID.
    pub account_sid: &'a str,
    /// `scheme://host` the resources' `url` fields start with.
    pub base: String,
}

/// Twilio's name of a status: the same words as ours.
fn status(v: &Verification, now: Millis) -> Status {
    v.status_at(now)
}

/// When the last send went out, from `next_resend_at` (all a record without its sends'
/// times tells).
fn last_send(ctx: &Ctx, v: &Verification) -> Millis {
    let cooldown = (ctx.tenant.cfg.resend_cooldown_secs as i64).saturating_mul(1000);
    (v.next_resend_at - cooldown).max(v.created_at)
}

fn updated(ctx: &Ctx, v: &Verification) -> Millis {
    v.created_at
        .max(last_send(ctx, v))
        .max(v.delivery.updated_at)
}

fn channel_name(v: &Verification) -> &'static str {
    super::form::channel_name(v.channel)
}

/// The Verification resource.
pub fn verification(ctx: &Ctx, v: &Verification, now: Millis) -> Value {
    let sid = ve_sid(&v.id);
    let mut times = v.send_times();
    if v.resent_at.is_empty() && times.len() > 1 {
        let last = times.len() - 1;
        times[last] = last_send(ctx, v);
    }
    let attempts: Vec<Value> = (0u32..)
        .zip(times)
        .map(|(n, t)| {
            json!({
                "attempt_sid": attempt_sid(&sid, n),
                "channel": channel_name(v).to_ascii_uppercase(),
                "time": rfc3339(t),
            })
        })
        .collect();
    let st = status(v, now);
    json!({
        "sid": sid,
        "service_sid": ctx.service_sid,
        "account_sid": ctx.account_sid,
        "to": v.to.as_str(),
        "channel": channel_name(v),
        "status": st.as_str(),
        "valid": st == Status::Approved,
        "lookup": {},
        "amount": null,
        "payee": null,
        "send_code_attempts": attempts,
        "date_created": rfc3339(v.created_at),
        "date_updated": rfc3339(updated(ctx, v)),
        "sna": null,
        "url": format!("{}/v2/Services/{}/Verifications/{sid}", ctx.base, ctx.service_sid),
    })
}

/// The Verification Check resource: `valid` is whether this code was right.
pub fn check(ctx: &Ctx, v: &Verification, valid: bool, now: Millis) -> Value {
    let st = if valid {
        Status::Approved
    } else {
        status(v, now)
    };
    json!({
        "sid": ve_sid(&v.id),
        "service_sid": ctx.service_sid,
        "account_sid": ctx.account_sid,
        "to": v.to.as_str(),
        "channel": channel_name(v),
        "status": st.as_str(),
        "valid": valid,
        "amount": null,
        "payee": null,
        "sna_attempts_error_codes": [],
        "date_created": rfc3339(v.created_at),
        "date_updated": rfc3339(now.max(v.created_at)),
    })
}

/// The Service resource: the tenant's settings under Twilio's names. No Console made
/// it, so it has no creation date.
pub fn service(ctx: &Ctx) -> Value {
    let cfg = &ctx.tenant.cfg;
    let url = format!("{}/v2/Services/{}", ctx.base, ctx.service_sid);
    let friendly: String = cfg.brand.chars().take(30).collect();
    json!({
        "sid": ctx.service_sid,
        "account_sid": ctx.account_sid,
        "friendly_name": friendly,
        "code_length": cfg.code_length,
        "lookup_enabled": false,
        "psd2_enabled": false,
        "skip_sms_to_landlines": false,
        "dtmf_input_required": false,
        "tts_name": null,
        "do_not_share_warning_enabled": false,
        "custom_code_enabled": false,
        "push": {},
        "totp": {},
        "default_template_sid": null,
        "whatsapp": {},
        "passkeys": {},
        "verify_event_subscription_enabled": false,
        "date_created": null,
        "date_updated": null,
        "url": url,
        "links": {
            "verification_checks": format!("{url}/VerificationCheck"),
            "verifications": format!("{url}/Verifications"),
        },
    })
}
