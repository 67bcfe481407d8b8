//! The message as it goes to the relay: `From` (with its display name), `To`,
//! `Reply-To` when set, `Subject`, `Date`, `Message-ID`, `MIME-Version`,
//! `Auto-Submitted: auto-generated` (RFC 3834 §5: no auto-replies, no vacation
//! notices), and a `multipart/alternative` body with a `text/plain` and a `text/html`
//! part, both UTF-8. lettre encodes a header with non-ASCII text as RFC 2047 words and
//! picks each part's transfer encoding (7bit, quoted-printable or base64), so the
//! message is ASCII on the wire and needs no `8BITMIME` from the relay.
//!
//! No `List-Unsubscribe`: a code is transactional, asked for by the person it goes to
//! (RFC 8058 one-click unsubscription is for lists and bulk mail). DKIM signing is left
//! to the relay, which holds the domain's key.

use crate::providers::{ErrorKind, OutboundMessage, ProviderError};
use lettre::message::header::{Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::{Address, Message};

/// The subject when the message carries none (the templates always give one).
const FALLBACK_SUBJECT: &str = "Your verification code";

/// `Auto-Submitted: auto-generated` (RFC 3834 §5.1).
#[derive(Clone, Debug)]
pub struct AutoSubmitted;

impl Header for AutoSubmitted {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Auto-Submitted")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(AutoSubmitted)
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "auto-generated".into())
    }
}

/// A message ready for the relay, and its `Message-ID` without the angle brackets.
pub struct Built {
    /// The message, its envelope (`MAIL FROM` the sender, `RCPT TO` the destination).
    pub message: Message,
    /// The `Message-ID` (`<…>` stripped): the id the send returns.
    pub message_id: String,
}

/// A fresh `Message-ID` for a message of verification `id` from `domain`: the id, a
/// random part (a resend of the same verification is a new message), `@domain`.
pub fn message_id(id: &str, domain: &str) -> String {
    let random = hex::encode(crate::crypto::random_bytes::<8>());
    format!("{id}.{random}@{domain}")
}

/// Builds the message of `msg` from `from`.
pub fn build(
    from: &Mailbox,
    reply_to: Option<&Mailbox>,
    msg: &OutboundMessage,
) -> Result<Built, ProviderError> {
    let to = msg.to.email().ok_or_else(|| {
        ProviderError::new(
            ErrorKind::InvalidDestination,
            "smtp: sends to email addresses only",
        )
    })?;
    let to: Address = to.as_str().parse().map_err(|_| {
        ProviderError::new(
            ErrorKind::InvalidDestination,
            format!("smtp: {} is not an address the relay can take", to.masked()),
        )
    })?;
    let message_id = message_id(msg.id.as_str(), from.email.domain());
    let subject = msg
        .subject
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or(FALLBACK_SUBJECT)
        .replace(['\r', '\n'], " ");
    let mut b = Message::builder()
        .from(from.clone())
        .to(Mailbox::new(None, to))
        .subject(subject)
        .date_now()
        .message_id(Some(format!("<{message_id}>")))
        .header(AutoSubmitted);
    if let Some(r) = reply_to {
        b = b.reply_to(r.clone());
    }
    let built = match &msg.html {
        Some(html) => b.multipart(MultiPart::alternative_plain_html(
            msg.body.clone(),
            html.clone(),
        )),
        None => b.singlepart(SinglePart::plain(msg.body.clone())),
    };
    let message = built.map_err(|e| {
        ProviderError::new(
            ErrorKind::RejectedContent,
            format!("smtp: the message could not be built: {e}"),
        )
    })?;
    Ok(Built {
        message,
        message_id,
    })
}
