//! Named provider instances (`[providers.<name>]`) and the one place each kind is built.
//!
//! Each kind's settings are its adapter's own `Config` (in its folder, with a redacting
//! `Debug`); `kind = "…"` picks the variant. Adding an adapter means a folder under
//! `providers/` and one variant here. Fields holding credentials or sender ids read any
//! scalar as text (`config::secret::text`), so a token of digits set in the environment
//! is the string it was.

use super::*;
use serde::Deserialize;

/// One provider instance's settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ProviderConfig {
    /// Prints messages (development).
    Console(console::Config),
    /// POSTs JSON to your endpoint.
    Webhook(webhook::Config),
    /// Twilio Programmable Messaging.
    Twilio(twilio::Config),
    /// Vonage SMS API.
    Vonage(vonage::Config),
    /// Sinch SMS REST API.
    Sinch(sinch::Config),
    /// Telnyx Messaging API v2.
    Telnyx(telnyx::Config),
    /// Plivo Message API.
    Plivo(plivo::Config),
    /// MessageBird (Bird) SMS Messaging API.
    Messagebird(messagebird::Config),
    /// Amazon SNS `Publish` to a phone number.
    AwsSns(aws_sns::Config),
}

impl ProviderConfig {
    /// Builds the adapter (its HTTP client and pool included).
    pub fn build(&self) -> anyhow::Result<Arc<dyn SmsProvider>> {
        Ok(match self {
            ProviderConfig::Console(_) => Arc::new(console::ConsoleProvider),
            ProviderConfig::Webhook(c) => Arc::new(webhook::WebhookProvider::new(c)?),
            ProviderConfig::Twilio(c) => Arc::new(twilio::TwilioProvider::new(c)?),
            ProviderConfig::Vonage(c) => Arc::new(vonage::VonageProvider::new(c)?),
            ProviderConfig::Sinch(c) => Arc::new(sinch::SinchProvider::new(c)?),
            ProviderConfig::Telnyx(c) => Arc::new(telnyx::TelnyxProvider::new(c)?),
            ProviderConfig::Plivo(c) => Arc::new(plivo::PlivoProvider::new(c)?),
            ProviderConfig::Messagebird(c) => Arc::new(messagebird::MessageBirdProvider::new(c)?),
            ProviderConfig::AwsSns(c) => Arc::new(aws_sns::SnsProvider::new(c)?),
        })
    }

    /// Problems with the settings, one sentence each.
    pub fn problems(&self) -> Vec<String> {
        match self {
            ProviderConfig::Console(_) => Vec::new(),
            ProviderConfig::Webhook(c) => c.problems(),
            ProviderConfig::Twilio(c) => c.problems(),
            ProviderConfig::Vonage(c) => c.problems(),
            ProviderConfig::Sinch(c) => c.problems(),
            ProviderConfig::Telnyx(c) => c.problems(),
            ProviderConfig::Plivo(c) => c.problems(),
            ProviderConfig::Messagebird(c) => c.problems(),
            ProviderConfig::AwsSns(c) => c.problems(),
        }
    }

    /// The callback URL this instance asks the vendor to send receipts to, when the
    /// vendor signs receipts over that URL and this instance verifies them (Twilio with
    /// `auth_token`, Plivo, MessageBird with `signing_key`). Such receipts verify only if
    /// the gateway rebuilds the URL exactly (`receipts.public_base_url`). Vendors that
    /// sign the body or the parameters alone (Telnyx, Vonage) or take a token (Sinch,
    /// Vonage) are `None`.
    pub fn url_signed_receipts(&self) -> Option<&str> {
        fn set(s: &Option<String>) -> Option<&str> {
            s.as_deref().map(str::trim).filter(|s| !s.is_empty())
        }
        match self {
            ProviderConfig::Twilio(c) => set(&c.auth_token).and(set(&c.status_callback_url)),
            ProviderConfig::Plivo(c) => set(&c.status_url),
            ProviderConfig::Messagebird(c) => set(&c.signing_key).and(set(&c.report_url)),
            _ => None,
        }
    }

    /// The per-instance send-rate cap, if any.
    pub fn max_tps(&self) -> Option<u32> {
        match self {
            ProviderConfig::Console(c) => c.max_tps,
            ProviderConfig::Webhook(c) => c.max_tps,
            ProviderConfig::Twilio(c) => c.max_tps,
            ProviderConfig::Vonage(c) => c.max_tps,
            ProviderConfig::Sinch(c) => c.max_tps,
            ProviderConfig::Telnyx(c) => c.max_tps,
            ProviderConfig::Plivo(c) => c.max_tps,
            ProviderConfig::Messagebird(c) => c.max_tps,
            ProviderConfig::AwsSns(c) => c.max_tps,
        }
    }
}
