//! SMTP failures mapped to [`ErrorKind`] and retryability.
//!
//! A refused command has a three-digit reply code (RFC 5321 §4.2): `4yz` is a transient
//! negative completion ("the action may be requested again", §4.2.1), `5yz` a permanent
//! one. Most relays put an enhanced status code (RFC 3463) at the start of the text,
//! `class.subject.detail`, whose subject says what was refused: `X.1.*` addressing,
//! `X.2.*` the mailbox, `X.3.*` the mail system, `X.4.*` network and routing, `X.5.*`
//! the protocol, `X.6.*` the content, `X.7.*` security or policy (§3.1 to §3.8). The
//! reply code decides first where it is specific (authentication, a closing relay);
//! for the other `5yz` the enhanced code's subject decides when there is one (so a
//! `550 5.7.1` policy refusal is content, not a bad mailbox), then the reply code.
//!
//! The relay's text can quote the recipient's address: our detail keeps the codes and
//! the text with every word holding an `@` replaced and digit runs scrubbed.
//!
//! Failures without a reply: a refused or dropped connection, a name that does not
//! resolve, a failed TLS handshake or a relay without `STARTTLS` are `Unavailable`
//! (another provider may do); no compatible `AUTH` mechanism is `Auth`; the deadline
//! (`timeout_ms`) is `Timeout`.

use crate::providers::http::scrub;
use crate::providers::{ErrorKind, ProviderError};
use lettre::transport::smtp::Error as SmtpError;
use std::error::Error as _;

/// An enhanced status code (RFC 3463 §2): class, subject, detail.
pub type Enhanced = (u8, u16, u16);

/// The enhanced status code at the start of a reply's text, if it has one.
pub fn enhanced(text: &str) -> Option<Enhanced> {
    let word = text.split_whitespace().next()?;
    let mut parts = word.split('.');
    let class: u8 = parts.next()?.parse().ok()?;
    let subject: u16 = parts.next()?.parse().ok()?;
    let detail: u16 = parts.next()?.parse().ok()?;
    let ok = matches!(class, 2 | 4 | 5) && subject < 1000 && detail < 1000;
    (ok && parts.next().is_none()).then_some((class, subject, detail))
}

/// The kind of a negative reply and what it means, from its reply code and enhanced code.
pub fn classify(reply: u16, enh: Option<Enhanced>) -> (ErrorKind, &'static str) {
    use ErrorKind::*;
    let sub = enh.map(|(_, s, d)| (s, d));
    match reply {
        // RFC 5321 §4.2.2 / §3.8: "421 <domain> Service not available, closing
        // transmission channel" (the relay is shutting down or overloaded).
        421 => (Unavailable, "service not available"),
        // RFC 4954 §6: 530 5.7.0 "Authentication required", 534 5.7.9 "Authentication
        // mechanism is too weak", 535 5.7.8 "Authentication credentials invalid", 538
        // 5.7.11 "Encryption required for requested authentication mechanism", 432 4.7.12
        // "A password transition is needed".
        530 | 534 | 535 | 538 | 432 => (Auth, "authentication refused"),
        // RFC 4954 §6: "454 4.7.0 Temporary authentication failure".
        454 => (Unavailable, "temporary authentication failure"),
        // RFC 3463 §3.5 X.4.5 "Mail system congestion": slow down.
        400..=499 if sub == Some((4, 5)) => (RateLimited, "mail system congestion"),
        // RFC 5321 §4.2.1: 4yz, "the action may be requested again" (451 local error,
        // 452 insufficient storage, 450 mailbox busy, greylisting).
        400..=499 => (Unavailable, "transient failure"),
        _ => match sub {
            // RFC 3463 §3.2 X.1.7 "Bad sender's mailbox address syntax", X.1.8 "Bad
            // sender's system address": our `from`, not the recipient.
            Some((1, 7 | 8)) => (RejectedContent, "sender address refused"),
            // RFC 3463 §3.2 X.1.*: the destination address (X.1.1 "Bad destination
            // mailbox address", X.1.2 "Bad destination system address", ...).
            Some((1, _)) => (InvalidDestination, "recipient address refused"),
            // RFC 3463 §3.3 X.2.2 "Mailbox full", X.2.1 "Mailbox disabled".
            Some((2, 2)) => (InvalidDestination, "mailbox full"),
            Some((2, _)) => (InvalidDestination, "mailbox unavailable"),
            // RFC 3463 §3.4 X.3.4 "Message too big for system".
            Some((3, 4)) => (RejectedContent, "message too big"),
            // RFC 3463 §3.7 X.6.*: "Message content or media status".
            Some((6, _)) => (RejectedContent, "message content refused"),
            // RFC 4954 §6: 5.7.8 "Authentication credentials invalid".
            Some((7, 8)) => (Auth, "authentication refused"),
            // RFC 3463 §3.8 X.7.*: security or policy (X.7.1 "Delivery not authorized,
            // message refused": spam filters, relaying denied).
            Some((7, _)) => (RejectedContent, "refused by policy"),
            _ => by_reply(reply),
        },
    }
}

/// A permanent reply's kind by its code alone (RFC 5321 §4.2.2, §4.2.3).
fn by_reply(reply: u16) -> (ErrorKind, &'static str) {
    use ErrorKind::*;
    match reply {
        // 550 "mailbox unavailable (e.g., mailbox not found, no access, or command
        // rejected for policy reasons)", 551 "User not local", 553 "mailbox name not
        // allowed (e.g., mailbox syntax incorrect)".
        550 | 551 | 553 => (InvalidDestination, "mailbox unavailable"),
        // RFC 7504: 521 "Host does not accept mail", 556 "Domain does not accept mail".
        521 | 556 => (InvalidDestination, "domain does not accept mail"),
        // 552 "exceeded storage allocation", 554 "Transaction failed".
        552 => (RejectedContent, "exceeded storage allocation"),
        554 => (RejectedContent, "transaction failed"),
        // 500-504 syntax errors and unimplemented commands, 555 "MAIL FROM/RCPT TO
        // parameters not recognized or not implemented": the relay refused what we sent.
        500..=504 | 555 => (RejectedContent, "command refused"),
        _ => (RejectedContent, "permanent failure"),
    }
}

/// A relay's text made safe for logs: words with an `@` (addresses) replaced, digit
/// runs scrubbed, control characters dropped, bounded.
pub fn relay_text(text: &str) -> String {
    let words: Vec<&str> = text
        .split_whitespace()
        .map(|w| if w.contains('@') { "<address>" } else { w })
        .collect();
    scrub(&words.join(" ").replace(char::is_control, ""))
}

/// Whether a rustls error is in `e`'s chain (lettre reports a failed implicit-TLS
/// handshake as a connection error holding it).
fn tls_failure(e: &SmtpError) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = e.source();
    while let Some(c) = cause {
        let io_inner = c
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .is_some_and(|i| i.downcast_ref::<rustls::Error>().is_some());
        if io_inner || c.downcast_ref::<rustls::Error>().is_some() {
            return true;
        }
        cause = c.source();
    }
    false
}

/// The error for a failure of lettre's while `step` (`connect`, `auth`, `send`) ran.
pub fn from_smtp(step: &str, e: &SmtpError) -> ProviderError {
    let source = e.source().map(|s| s.to_string()).unwrap_or_default();
    if let Some(code) = e.status() {
        let reply: u16 = code.to_string().parse().unwrap_or(554);
        let enh = enhanced(&source);
        let (kind, what) = classify(reply, enh);
        return ProviderError::new(
            kind,
            format!("smtp {step}: {reply} {what}: {}", relay_text(&source)),
        );
    }
    let (kind, what) = if e.is_timeout() {
        (ErrorKind::Timeout, "no answer in time")
    } else if e.is_tls() || tls_failure(e) || source.contains("STARTTLS") {
        (ErrorKind::Unavailable, "TLS with the relay failed")
    } else if source.contains("authentication mechanism") {
        (
            ErrorKind::Auth,
            "the relay offers neither AUTH PLAIN nor LOGIN",
        )
    } else if source.contains("8BITMIME") || source.contains("SMTPUTF8") {
        (
            ErrorKind::RejectedContent,
            "the relay cannot take this message",
        )
    } else if e.is_response() {
        (ErrorKind::Unavailable, "unreadable answer from the relay")
    } else {
        (ErrorKind::Unavailable, "relay unreachable")
    };
    ProviderError::new(
        kind,
        format!("smtp {step}: {what}: {}", relay_text(&e.to_string())),
    )
}

/// The error for a send that passed `timeout_ms`.
pub fn deadline(step: &str, ms: u64) -> ProviderError {
    ProviderError::new(
        ErrorKind::Timeout,
        format!("smtp {step}: no answer within timeout_ms ({ms} ms)"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use ErrorKind::*;

    #[test]
    fn reads_the_enhanced_code_at_the_start_of_the_text() {
        assert_eq!(enhanced("5.1.1 <a@b.example>: unknown"), Some((5, 1, 1)));
        assert_eq!(enhanced("4.7.0 try later"), Some((4, 7, 0)));
        assert_eq!(enhanced("Requested action aborted"), None);
        assert_eq!(enhanced("5.1 short"), None);
        assert_eq!(enhanced("1.2.3 wrong class"), None);
    }

    #[test]
    fn maps_reply_codes_as_rfc_5321_and_4954_define_them() {
        for (reply, kind) in [
            (421, Unavailable),
            (450, Unavailable),
            (451, Unavailable),
            (452, Unavailable),
            (454, Unavailable),
            (530, Auth),
            (535, Auth),
            (550, InvalidDestination),
            (551, InvalidDestination),
            (553, InvalidDestination),
            (556, InvalidDestination),
            (552, RejectedContent),
            (554, RejectedContent),
            (500, RejectedContent),
        ] {
            assert_eq!(classify(reply, None).0, kind, "{reply}");
            let retryable = ProviderError::new(kind, "").retryable;
            assert_eq!(retryable, reply < 500 && reply != 432, "{reply}");
        }
    }

    #[test]
    fn the_enhanced_code_refines_a_permanent_reply() {
        assert_eq!(classify(550, Some((5, 7, 1))).0, RejectedContent);
        assert_eq!(classify(554, Some((5, 1, 1))).0, InvalidDestination);
        assert_eq!(classify(552, Some((5, 2, 2))).0, InvalidDestination);
        assert_eq!(classify(553, Some((5, 1, 8))).0, RejectedContent);
        assert_eq!(classify(554, Some((5, 7, 8))).0, Auth);
        assert_eq!(classify(451, Some((4, 4, 5))).0, RateLimited);
        // the reply code decides first where it is specific
        assert_eq!(classify(535, Some((5, 1, 1))).0, Auth);
    }

    #[test]
    fn relay_text_hides_addresses_and_long_digit_runs() {
        let t = relay_text("5.1.1 <ann.lee@example.com>: Recipient 123456 rejected\r\n");
        assert_eq!(t, "5.1.1 <address> Recipient # rejected");
    }
}
