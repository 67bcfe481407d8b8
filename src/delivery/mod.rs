//! Delivery: workers that take queued sends, render the message, and hand it to providers
//! through the router (failover, breakers, rate caps, retries), recording progress in
//! `delivery.status` and remembering the provider's message id for receipts.
//!
//! States of a send, mirrored in `delivery.status`: `queued` (in the queue) -> `sending`
//! (a worker has it) -> `sent` (a provider accepted it) -> `delivered` / `undelivered` /
//! `failed` (receipts), or `failed` when it was rejected for good or ran out of retries
//! before the code expired (then it is also dead-lettered with the reason).

pub mod breaker;
mod order;
mod outcome;
pub mod price_fetch;
pub mod receipts;
pub mod router;
mod send;
pub mod steps;
mod table;
mod worker;

pub use router::{Outcome, Router};
pub use worker::{start, Ctx, Workers};

use crate::config::TenantConfig;
use crate::crypto::Keys;
use crate::domain::{AppHash, CodeLength, OtpCode, RecordKind, Verification};
use crate::template::{self, MessageParts};

/// A consumer name unique to this process (the queue's unit of ownership).
pub fn consumer_name() -> String {
    format!(
        "otpgw-{}-{}",
        std::process::id(),
        hex::encode(crate::crypto::random_bytes::<4>())
    )
}

/// The code a record's message carries: a verification's is re-derived from its seed;
/// a delivery-only send's was made elsewhere and is opened from its seal (the record's
/// `seed` field holds the sealed code). `None` when the seal does not open (another
/// server secret): such a send cannot be rendered.
pub fn code_of(keys: &Keys, v: &Verification) -> Option<OtpCode> {
    match v.id.kind() {
        RecordKind::Verification => {
            let len = CodeLength::new(v.code_length as i64)
                .unwrap_or_else(|_| CodeLength::new(6).expect("6 is valid"));
            Some(keys.derive_code(&v.seed, len))
        }
        RecordKind::Delivery => keys.open_code(v.id.as_str(), &v.tenant, &v.seed),
    }
}

/// A send rendered for its channel.
#[derive(Debug)]
pub struct Rendered {
    /// The texts.
    pub text: template::ChannelText,
    /// The locale used.
    pub locale: String,
    /// The code alone (for adapters that put it in a field of its own).
    pub code: OtpCode,
}

/// Renders a send on the record's current channel: its code ([`code_of`]), the
/// template the start asked for, in its locale (with fallback). `None` when the code
/// cannot be had.
pub fn render(
    keys: &Keys,
    tenant: &TenantConfig,
    v: &Verification,
    app_hash: Option<&str>,
    now: i64,
) -> Option<Rendered> {
    let code = code_of(keys, v)?;
    let name = v.template.as_deref().unwrap_or("default");
    let minutes = ((v.expires_at - now).max(0) as u64 / 1000)
        .div_ceil(60)
        .max(1);
    let hash = app_hash.and_then(|h| AppHash::parse(h).ok());
    let text = template::render_for(
        tenant,
        v.channel,
        name,
        v.locale.as_deref(),
        &MessageParts {
            code: &code,
            minutes,
            app_hash: hash.as_ref(),
        },
    );
    // a call speaks in the language of the text it says; other channels keep the
    // locale asked for (a WhatsApp template's language is picked from it at the vendor)
    let locale = text
        .spoken_locale
        .clone()
        .or_else(|| v.locale.clone())
        .unwrap_or_else(|| tenant.default_locale.clone());
    Some(Rendered { text, locale, code })
}

/// The fleet numbers' dimensions of a send of `v` through `provider`.
pub(crate) fn stats_dims<'a>(
    v: &'a crate::domain::Verification,
    provider: &'a str,
) -> crate::metrics::stats::Dims<'a> {
    crate::metrics::stats::Dims {
        tenant: &v.tenant,
        channel: v.channel.as_str(),
        country: v.to.country(),
        provider,
    }
}
