//! The console provider: prints each message to standard output, destination masked.
//!
//! For development only: the text (and so the code) is printed so that a developer can
//! read it; the destination is masked like everywhere else. Sends on every channel (a
//! call's script, an email's subject and text are printed the same way). Never fails.

use super::{OutboundMessage, ProviderError, SmsProvider};
use crate::domain::Channel;
use async_trait::async_trait;
use std::io::Write;

/// `[providers.<name>]` with `kind = "console"`: nothing to set but an optional cap.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Sends per second this instance may make through this provider (none: no cap).
    pub max_tps: Option<u32>,
    /// `[providers.<name>.prices]`: price of one message per ISO 3166 country code,
    /// `default` for the rest, in the account's currency (spend in the fleet numbers).
    pub prices: crate::providers::settings::PriceTable,
}

/// Prints messages.
#[derive(Debug, Default)]
pub struct ConsoleProvider;

#[async_trait]
impl SmsProvider for ConsoleProvider {
    fn kind(&self) -> &'static str {
        "console"
    }

    fn channels(&self) -> Vec<Channel> {
        Channel::ALL.to_vec()
    }

    async fn send(&self, msg: &OutboundMessage) -> Result<String, ProviderError> {
        let line = format!(
            "[console {}] to={} id={}\n{}{}\n",
            msg.channel.as_str(),
            msg.to_masked(),
            msg.id.as_str(),
            msg.subject
                .as_deref()
                .map(|s| format!("Subject: {s}\n"))
                .unwrap_or_default(),
            msg.body
        );
        let _ = std::io::stdout().lock().write_all(line.as_bytes());
        Ok(format!("console-{}", msg.id.as_str()))
    }
}

impl OutboundMessage {
    /// The destination, masked for output.
    pub fn to_masked(&self) -> String {
        self.to.masked()
    }
}
