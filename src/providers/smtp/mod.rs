//! The SMTP provider: the `email` channel through a mail relay (your own Postfix, or a
//! provider's submission service), over lettre 0.11 on rustls with ring.
//!
//! | file | what |
//! |---|---|
//! | `config.rs` | the settings: relay, `security`, account, sender, pool, timeout |
//! | `message.rs` | the MIME message: headers, `multipart/alternative`, `Message-ID` |
//! | `pool.rs` | connections: opened (TLS or `STARTTLS`, `EHLO`, `AUTH`), kept, reused |
//! | `error.rs` | reply codes (RFC 5321 §4.2) and enhanced codes (RFC 3463) to a kind |
//!
//! **A send.** The message is built ([`message::build`]); a pooled connection that
//! answers `NOOP` is taken, else a new one opened; `MAIL FROM`, `RCPT TO`, `DATA`, the
//! message. The whole send, connecting included, runs under `timeout_ms`; past it the
//! send is a `Timeout` and its connection is closed. The relay's `250` to the message
//! is a send: the returned message id is the `Message-ID` this adapter set (without
//! `<>`), not the relay's queue id (its form differs by relay, and lettre gives only the
//! reply's text); the relay logs it beside its queue id. A connection goes back to the
//! pool only after a send that ended cleanly.
//!
//! **No receipts.** Email has no delivery receipts: `sent` means the relay accepted the
//! message, nothing more (bounces come back to `from` as mail, not here). A workflow's
//! email step is never moved by a receipt, so it waits for its `timeout_secs`.
//!
//! **Logs.** Never the address in full (masked), the body or the code; the relay's text
//! only with its addresses replaced ([`error::relay_text`]).

pub mod config;
pub mod error;
pub mod message;
mod pool;

pub use config::Config;

use super::{OutboundMessage, ProviderError, SmsProvider};
use crate::domain::Channel;
use async_trait::async_trait;
use lettre::message::Mailbox;
use std::time::Duration;

/// Sends email through an SMTP relay.
#[derive(Debug)]
pub struct SmtpProvider {
    from: Mailbox,
    reply_to: Option<Mailbox>,
    timeout_ms: u64,
    pool: pool::Pool,
}

impl SmtpProvider {
    /// Checks the settings and prepares the pool (no connection is opened yet).
    pub fn new(cfg: &Config) -> anyhow::Result<Self> {
        let problems = cfg.problems();
        anyhow::ensure!(problems.is_empty(), "smtp: {}", problems.join("; "));
        let from = cfg.from_mailbox().map_err(anyhow::Error::msg)?;
        let reply_to = match crate::providers::settings::nonblank(&cfg.reply_to) {
            Some(r) => Some(Mailbox::new(None, r.parse()?)),
            None => None,
        };
        Ok(SmtpProvider {
            from,
            reply_to,
            timeout_ms: cfg.timeout_ms,
            pool: pool::Pool::new(cfg)?,
        })
    }

    /// Connections kept idle now.
    pub fn idle_connections(&self) -> usize {
        self.pool.idle_count()
    }
}

#[async_trait]
impl SmsProvider for SmtpProvider {
    fn kind(&self) -> &'static str {
        "smtp"
    }

    fn channels(&self) -> Vec<Channel> {
        vec![Channel::Email]
    }

    async fn send(&self, msg: &OutboundMessage) -> Result<String, ProviderError> {
        let built = message::build(&self.from, self.reply_to.as_ref(), msg)?;
        let envelope = built.message.envelope().clone();
        let bytes = built.message.formatted();
        let attempt = async {
            let mut conn = self.pool.take().await?;
            let answer = conn.send(&envelope, &bytes).await;
            Ok::<_, (&str, lettre::transport::smtp::Error)>((conn, answer))
        };
        let deadline = Duration::from_millis(self.timeout_ms);
        match tokio::time::timeout(deadline, attempt).await {
            Err(_) => Err(error::deadline("send", self.timeout_ms)),
            Ok(Err((step, e))) => Err(error::from_smtp(step, &e)),
            Ok(Ok((_conn, Err(e)))) => Err(error::from_smtp("send", &e)),
            Ok(Ok((conn, Ok(answer)))) => {
                tracing::debug!(
                    id = msg.id.as_str(),
                    to = %msg.to.masked(),
                    message_id = %built.message_id,
                    answer = %error::relay_text(&answer.message().collect::<Vec<_>>().join(" ")),
                    "smtp relay accepted the message"
                );
                self.pool.give_back(conn).await;
                Ok(built.message_id)
            }
        }
    }

    /// Ends the idle connections with `QUIT`.
    async fn close(&self) {
        self.pool.close().await;
    }
}
