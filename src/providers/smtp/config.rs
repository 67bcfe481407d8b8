//! SMTP provider settings (`[providers.<name>]` with `kind = "smtp"`): the relay, how
//! the connection is secured, the account, the sender, the pool and the timeout.
//! `password` is a [`Secret`]: the derived `Debug` prints `<redacted>`.

use crate::providers::settings::{blank, nonblank, timeout_problem};
use crate::secret::Secret;
use lettre::message::Mailbox;
use lettre::Address;
use serde::Deserialize;
use std::net::IpAddr;

/// Default timeout of one send, in milliseconds: a whole SMTP conversation (connect,
/// greeting, EHLO, STARTTLS and EHLO again, AUTH, MAIL, RCPT, DATA, the message) is
/// several round trips, and relays scan the message before answering the final `.`.
pub const DEFAULT_TIMEOUT_MS: u64 = 10_000;

/// How the connection to the relay is secured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Security {
    /// Plain TCP, then `STARTTLS` (RFC 3207), required: a relay that does not offer it
    /// is refused (no fallback to plain text). Port 587 by default (RFC 6409).
    #[default]
    Starttls,
    /// TLS from the first byte ("implicit TLS", RFC 8314 §3.3). Port 465 by default.
    Tls,
    /// Plain text throughout: only for a relay on this machine (loopback), port 25 by
    /// default.
    None,
}

/// `[providers.<name>]` with `kind = "smtp"`.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The relay's host name (checked against its TLS certificate) or address.
    pub host: String,
    /// The relay's port; unset: 587 for `starttls`, 465 for `tls`, 25 for `none`.
    pub port: Option<u16>,
    /// `"starttls"` (the default), `"tls"` (implicit TLS) or `"none"` (plain text; only
    /// to a loopback host).
    pub security: Security,
    /// A PEM file of CA certificates to trust for the relay's certificate instead of the
    /// system's trust store (a private relay's CA, or its self-signed certificate). Read
    /// when the provider is built.
    pub tls_ca_file: Option<String>,
    /// Account name for `AUTH` (PLAIN or LOGIN, RFC 4954); with `password`, or neither.
    #[serde(deserialize_with = "crate::secret::text::option")]
    pub username: Option<String>,
    /// Account password for `AUTH`; with `username`, or neither.
    pub password: Option<Secret>,
    /// The sender's address (`From` and the envelope's `MAIL FROM`).
    pub from: String,
    /// The sender's display name in `From` (`"Acme" <otp@acme.example>`); none: the
    /// address alone.
    pub from_name: Option<String>,
    /// A `Reply-To` address; none: replies go to `from`.
    pub reply_to: Option<String>,
    /// Connections kept open to the relay between sends (0: a connection per message).
    pub pool_size: u32,
    /// Longest time one send may take, the whole SMTP conversation included, in
    /// milliseconds. A send past it is a `Timeout` and its connection is closed.
    pub timeout_ms: u64,
    /// Sends per second this instance may make through this relay (none: no cap).
    pub max_tps: Option<u32>,
    /// The name this gateway gives in `EHLO` (RFC 5321 §4.1.1.1: its host name); none:
    /// the domain of `from`.
    pub hello_name: Option<String>,
    /// `[providers.<name>.prices]`: price of one message per ISO 3166 country code,
    /// `default` for the rest, in the account's currency (spend in the fleet numbers).
    pub prices: crate::providers::settings::PriceTable,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            prices: Default::default(),
            host: String::new(),
            port: None,
            security: Security::Starttls,
            tls_ca_file: None,
            username: None,
            password: None,
            from: String::new(),
            from_name: None,
            reply_to: None,
            pool_size: 4,
            timeout_ms: DEFAULT_TIMEOUT_MS,
            max_tps: None,
            hello_name: None,
        }
    }
}

/// Whether `host` is this machine: `localhost` or a loopback address.
pub fn is_loopback(host: &str) -> bool {
    let h = host.trim().trim_end_matches('.');
    h.eq_ignore_ascii_case("localhost")
        || h.trim_matches(['[', ']'])
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Whether `name` can stand after `EHLO`: a host name (letters, digits, `-`, `.`) or an
/// address literal in brackets.
fn is_hello_name(name: &str) -> bool {
    let literal = name.starts_with('[') && name.ends_with(']');
    (1..=255).contains(&name.len())
        && name.bytes().all(|b| {
            b.is_ascii_alphanumeric() || b"-.".contains(&b) || (literal && b"[]:".contains(&b))
        })
}

impl Config {
    /// The port connected to: `port`, or the usual one for `security`.
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(match self.security {
            Security::Starttls => 587,
            Security::Tls => 465,
            Security::None => 25,
        })
    }

    /// The sender's mailbox: `from_name` and `from`.
    pub fn from_mailbox(&self) -> Result<Mailbox, String> {
        let addr: Address = self
            .from
            .trim()
            .parse()
            .map_err(|e| format!("from must be an email address ({e})"))?;
        Ok(Mailbox::new(nonblank(&self.from_name), addr))
    }

    /// The `EHLO` name: `hello_name`, or the domain of `from`.
    pub fn hello(&self) -> String {
        nonblank(&self.hello_name).unwrap_or_else(|| {
            self.from
                .trim()
                .rsplit_once('@')
                .map_or("localhost", |(_, d)| d)
                .to_string()
        })
    }

    /// Problems with these settings, one sentence each.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        let host = self.host.trim();
        if host.is_empty() || host.bytes().any(|b| b.is_ascii_whitespace() || b == b'/') {
            p.push("host must name the SMTP relay (a host name or an address)".into());
        }
        if self.port == Some(0) {
            p.push("port must be 1 to 65535".into());
        }
        if self.security == Security::None && !host.is_empty() && !is_loopback(host) {
            p.push(
                "security = \"none\" sends the account and every code in plain text: it is \
                 allowed only to a relay on this machine (localhost, 127.0.0.1, ::1); use \
                 \"starttls\" or \"tls\""
                    .into(),
            );
        }
        if let Some(f) = &self.tls_ca_file {
            if self.security == Security::None {
                p.push("tls_ca_file needs security = \"starttls\" or \"tls\"".into());
            }
            if let Err(e) = super::pool::ca_certificate(f) {
                p.push(e);
            }
        }
        if blank(&self.username) != blank(&self.password) {
            p.push(
                "username and password go together (or neither, for a relay without AUTH)".into(),
            );
        }
        if let Err(e) = self.from_mailbox() {
            p.push(e);
        }
        if let Some(name) = &self.from_name {
            if name.chars().any(char::is_control) {
                p.push("from_name must be one line of text".into());
            }
        }
        if let Some(r) = nonblank(&self.reply_to) {
            if r.parse::<Address>().is_err() {
                p.push("reply_to must be an email address".into());
            }
        }
        if self.pool_size > 64 {
            p.push("pool_size must be 0 to 64".into());
        }
        timeout_problem(&mut p, self.timeout_ms);
        if !is_hello_name(&self.hello()) {
            p.push("hello_name must be a host name (letters, digits, '-' and '.') or an address literal such as [192.0.2.1]".into());
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok() -> Config {
        toml::from_str("host = \"smtp.example.net\"\nfrom = \"otp@acme.example\"").unwrap()
    }

    #[test]
    fn a_relay_and_a_sender_are_enough_and_the_port_follows_security() {
        let c = ok();
        assert!(c.problems().is_empty(), "{:?}", c.problems());
        assert_eq!(
            (c.security, c.port(), c.pool_size),
            (Security::Starttls, 587, 4)
        );
        assert_eq!(c.hello(), "acme.example");
        let tls = Config {
            security: Security::Tls,
            ..ok()
        };
        assert_eq!(tls.port(), 465);
        assert_eq!(
            Config {
                port: Some(2525),
                ..tls
            }
            .port(),
            2525
        );
    }

    #[test]
    fn plain_text_is_refused_unless_the_relay_is_loopback() {
        for (host, allowed) in [
            ("smtp.example.net", false),
            ("192.0.2.10", false),
            ("localhost", true),
            ("127.0.0.1", true),
            ("::1", true),
            ("[::1]", true),
        ] {
            let c = Config {
                host: host.into(),
                security: Security::None,
                ..ok()
            };
            assert_eq!(
                c.problems().is_empty(),
                allowed,
                "{host}: {:?}",
                c.problems()
            );
            assert_eq!(c.port(), 25);
        }
    }

    #[test]
    fn account_sender_and_names_are_checked() {
        let half = Config {
            username: Some("u".into()),
            ..ok()
        };
        assert_eq!(half.problems().len(), 1, "{:?}", half.problems());
        let bad_from = Config {
            from: "not an address".into(),
            ..ok()
        };
        assert!(bad_from.problems()[0].starts_with("from"));
        let injected = Config {
            hello_name: Some("gw.example\r\nRSET".into()),
            from_name: Some("Acme\r\nBcc: x@y.example".into()),
            reply_to: Some("nope".into()),
            ..ok()
        };
        assert_eq!(injected.problems().len(), 3, "{:?}", injected.problems());
        let missing_ca = Config {
            tls_ca_file: Some("/nonexistent/ca.pem".into()),
            ..ok()
        };
        assert!(missing_ca.problems()[0].starts_with("tls_ca_file"));
    }
}
