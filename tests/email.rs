//! The SMTP provider (`kind = "smtp"`) against a real SMTP server, PyPI `aiosmtpd`
//! driven by `tests/email/smtpd.py` ([`server`]): the message as the server parsed it
//! (headers, both parts, the code, UTF-8), STARTTLS and implicit TLS with a throwaway CA
//! trusted through `tls_ca_file`, AUTH PLAIN and LOGIN, the failures mapped to error
//! kinds (wrong password, nothing listening, 550 and 451 recipients, a server that
//! hangs, an untrusted certificate, a relay without STARTTLS), the pool's reuse of one
//! connection, and the gateway end to end: a start on the `email` channel delivered
//! through the relay, with neither the code nor the address in its logs.

mod support;

#[path = "email/server.rs"]
mod server;

#[path = "email/faults.rs"]
mod faults;
#[path = "email/gateway.rs"]
mod gateway;
#[path = "email/message.rs"]
mod message;

use otpgw::config::{Secret, TenantConfig};
use otpgw::domain::{Channel, Destination, EmailAddress, OtpCode, VerificationId};
use otpgw::providers::smtp::{self, config::Security};
use otpgw::providers::{OutboundMessage, ProviderError, SmsProvider};
use otpgw::template::{render_for, MessageParts};

/// The brand of the test tenant: not ASCII, so subject, name and parts need UTF-8.
pub const BRAND: &str = "Crème Brûlée Café ✓";
/// The sender.
pub const FROM: &str = "otp@acme.example";

/// The provider's settings for the plain-text server on `port` (loopback, no AUTH).
pub fn provider(port: u16) -> smtp::Config {
    smtp::Config {
        host: "127.0.0.1".into(),
        port: Some(port),
        security: Security::None,
        from: FROM.into(),
        from_name: Some(BRAND.into()),
        timeout_ms: 5_000,
        ..Default::default()
    }
}

/// The settings for a server secured as `security` with AUTH, trusting `ca`.
pub fn secured_provider(port: u16, security: Security, ca: &std::path::Path) -> smtp::Config {
    smtp::Config {
        security,
        tls_ca_file: Some(ca.display().to_string()),
        username: Some(server::USER.into()),
        password: Some(Secret(server::PASSWORD.into())),
        ..provider(port)
    }
}

/// The email of `code` to `to` as the gateway renders it (built-in templates, locale
/// `en`, the test brand).
pub fn message(to: &str, code: &str) -> OutboundMessage {
    let tenant = TenantConfig {
        brand: BRAND.into(),
        ..Default::default()
    };
    let otp = OtpCode::parse(code).unwrap();
    let parts = MessageParts {
        code: &otp,
        minutes: 10,
        app_hash: None,
    };
    let text = render_for(&tenant, Channel::Email, "default", Some("en"), &parts);
    OutboundMessage {
        id: VerificationId::parse("vrf_00aa0123456789abcdef01234567").unwrap(),
        tenant: "acme".into(),
        channel: Channel::Email,
        to: Destination::Email(EmailAddress::parse(to).unwrap()),
        body: text.body,
        code: code.into(),
        subject: text.subject,
        html: text.html,
        locale: "en".into(),
        metadata: None,
        expires_at: otpgw::domain::now_millis() + 600_000,
        request_id: Some("req-1".into()),
    }
}

/// Sends `code` to `to` through a provider built from `cfg`.
pub async fn send(cfg: &smtp::Config, to: &str, code: &str) -> Result<String, ProviderError> {
    let p = smtp::SmtpProvider::new(cfg).expect("the provider builds");
    p.send(&message(to, code)).await
}
