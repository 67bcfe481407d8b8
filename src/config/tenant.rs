//! Per-tenant settings: API keys, code and limit policy, branding and templates.

use serde::Deserialize;
use std::collections::BTreeMap;

/// Message templates of one name, by locale (`en`, `pt-BR`, …).
pub type TemplateSet = BTreeMap<String, String>;

/// One tenant. Every number here is a per-tenant policy with the documented default.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TenantConfig {
    /// Hashes (`sha256:<hex>`) of the API keys that act for this tenant; make one with
    /// `otpgw api-key new`.
    pub api_keys: Vec<String>,
    /// Name shown in messages as `{brand}`.
    pub brand: String,
    /// Digits in a code when the request does not say (4..10).
    pub code_length: u8,
    /// How long a code is accepted, in seconds.
    pub ttl_secs: u64,
    /// Wrong checks allowed per verification.
    pub max_check_attempts: u32,
    /// Messages per verification, first send included.
    pub max_sends: u32,
    /// Minimum time between sends of one verification, in seconds.
    pub resend_cooldown_secs: u64,
    /// How long finished verifications stay readable, in seconds.
    pub retention_secs: u64,
    /// How long the support lookup (`POST /v1/admin/lookup`) can find a destination's
    /// verifications and sends, in seconds (0: no lookup index is kept). The index holds
    /// ids under the destination's keyed hash, never the number or address.
    pub lookup_retention_secs: u64,
    /// Sends per number per hour, across verifications (shared by all instances).
    pub number_sends_per_hour: u32,
    /// Failed checks per number per hour, across verifications and from every client
    /// together (reason `number_check_limit`; at least 1). A sliding limit (GCRA): after
    /// a burst of this many, one more failure per `3600 / n` s. The ceiling that bounds
    /// a guesser with many clients: at most this many guesses per hour.
    pub number_failed_checks_per_hour: u32,
    /// Failed checks per number per hour from one client, when the check names the end
    /// user's `client_ip` (IPv6 by its /64) or `client_session` (reason
    /// `client_check_limit`; 0 counts per number only). Keep it well below
    /// `number_failed_checks_per_hour`: then one attacker's wrong codes use up its own
    /// quota and the real user, from another client, can still check.
    pub client_failed_checks_per_hour: u32,
    /// Locale used when the request names none (falls back to `en`).
    pub default_locale: String,
    /// WebOTP origin: when set, messages end with `@<domain> #<code>`.
    pub webotp_domain: Option<String>,
    /// Named templates (`default` is used when the request names none), each by locale.
    /// Placeholders: `{code}`, `{brand}`, `{minutes}`. Built-in `default` texts exist
    /// for en, es, fr, de and pt.
    pub templates: BTreeMap<String, TemplateSet>,
    /// Rate limits per number, IP, tenant, API key, country and prefix.
    pub limits: super::LimitsConfig,
    /// Which countries and number types may be sent to.
    pub geo: super::GeoConfig,
    /// The SMS-pumping guard.
    pub pumping: super::PumpingConfig,
    /// Auth servers' hooks that send their codes through this tenant.
    pub hooks: super::HooksConfig,
    /// Where this tenant's events go, signed (`docs/events.md`); none: no events.
    pub events: Option<super::EventsConfig>,
    /// The Twilio Verify v2 facade for this tenant (none: `/v2` does not reach it).
    pub twilio: Option<super::TwilioConfig>,
    /// Channels this tenant may send on: `sms`, `whatsapp`, `voice`, `email`. A start
    /// on another is refused (`403 channel_not_enabled`). Each needs a provider in
    /// `[routing]` (SMS) or `[routing.channels.<name>]`.
    pub channels: Vec<String>,
    /// Per-channel templates and limits (`[tenants.<id>.channel.voice]`, …).
    pub channel: BTreeMap<String, super::ChannelSettings>,
    /// Named workflows: channels tried in turn under one code
    /// (`[tenants.<id>.workflows.<name>] steps = [{channel = "sms", timeout_secs = 60}, …]`).
    pub workflows: BTreeMap<String, super::WorkflowConfig>,
}

impl TenantConfig {
    /// Whether the tenant has enabled `channel`.
    pub fn channel_on(&self, channel: crate::domain::Channel) -> bool {
        self.channels.iter().any(|c| c == channel.as_str())
    }

    /// The tenant's settings for `channel` (defaults when it has none).
    pub fn channel_settings(&self, channel: crate::domain::Channel) -> super::ChannelSettings {
        self.channel
            .get(channel.as_str())
            .cloned()
            .unwrap_or_default()
    }
}

impl Default for TenantConfig {
    fn default() -> Self {
        TenantConfig {
            api_keys: Vec::new(),
            brand: "otpgw".into(),
            code_length: 6,
            ttl_secs: 600,
            max_check_attempts: 5,
            max_sends: 5,
            resend_cooldown_secs: 30,
            retention_secs: 3600,
            lookup_retention_secs: 7 * 86_400,
            number_sends_per_hour: 10,
            number_failed_checks_per_hour: 50,
            client_failed_checks_per_hour: 10,
            default_locale: "en".into(),
            webotp_domain: None,
            templates: BTreeMap::new(),
            limits: Default::default(),
            geo: Default::default(),
            pumping: Default::default(),
            hooks: Default::default(),
            events: None,
            twilio: None,
            channels: vec!["sms".into()],
            channel: BTreeMap::new(),
            workflows: BTreeMap::new(),
        }
    }
}
