//! The console provider: prints each message to standard output, number masked.
//!
//! For development only: the text (and so the code) is printed so that a developer can
//! read it; the number is masked like everywhere else. Never fails.

use super::{OutboundMessage, ProviderError, SmsProvider};
use async_trait::async_trait;
use std::io::Write;

/// Prints messages.
#[derive(Debug, Default)]
pub struct ConsoleProvider;

#[async_trait]
impl SmsProvider for ConsoleProvider {
    fn name(&self) -> &'static str {
        "console"
    }

    async fn send(&self, msg: &OutboundMessage) -> Result<String, ProviderError> {
        let line = format!(
            "[console sms] to={} id={}\n{}\n",
            msg.to_masked(),
            msg.id.as_str(),
            msg.body
        );
        let _ = std::io::stdout().lock().write_all(line.as_bytes());
        Ok(format!("console-{}", msg.id.as_str()))
    }
}

impl OutboundMessage {
    /// The destination, masked for output.
    pub fn to_masked(&self) -> String {
        crate::domain::mask_number(&self.to)
    }
}
