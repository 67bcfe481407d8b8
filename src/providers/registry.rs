//! Named provider instances (`[providers.<name>]`) and the one place each kind is built.
//!
//! Each kind's settings are its adapter's own `Config` (in its folder); `kind = "…"`
//! picks the variant. Adding an adapter means a folder under `providers/` and one
//! variant here, and a line in this file's test that no `Debug` shows a credential.
//! Credentials are [`crate::secret::Secret`] (derived `Debug` prints `<redacted>`);
//! they and the sender ids read any scalar as text (`config::secret::text` for the
//! plain ids), so a token of digits set in the environment is the string it was.

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
    /// Twilio Programmable Messaging (and Voice, with its `voice` table).
    Twilio(twilio::Config),
    /// Vonage SMS API (and Voice API, with its `voice` table).
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
    /// An SMSC over SMPP (binds held open; receipts arrive on them).
    Smpp(smpp::Config),
    /// An SMTP relay (the `email` channel).
    Smtp(smtp::Config),
    /// WhatsApp authentication templates through Meta's Cloud API.
    MetaWhatsapp(meta::Config),
}

impl ProviderConfig {
    /// Builds the adapter (its HTTP client and pool included). `name` is the instance's
    /// name; `sink` takes receipts that arrive on the adapter's own connection (SMPP).
    pub fn build(&self, name: &str, sink: &ReceiptSink) -> anyhow::Result<Arc<dyn SmsProvider>> {
        Ok(match self {
            ProviderConfig::Smpp(c) => Arc::new(smpp::SmppProvider::new(name, c, sink.clone())?),
            ProviderConfig::Console(_) => Arc::new(console::ConsoleProvider),
            ProviderConfig::Webhook(c) => Arc::new(webhook::WebhookProvider::new(c)?),
            ProviderConfig::Twilio(c) => Arc::new(twilio::TwilioProvider::new(c)?),
            ProviderConfig::Vonage(c) => Arc::new(vonage::VonageProvider::new(c)?),
            ProviderConfig::Sinch(c) => Arc::new(sinch::SinchProvider::new(c)?),
            ProviderConfig::Telnyx(c) => Arc::new(telnyx::TelnyxProvider::new(c)?),
            ProviderConfig::Plivo(c) => Arc::new(plivo::PlivoProvider::new(c)?),
            ProviderConfig::Messagebird(c) => Arc::new(messagebird::MessageBirdProvider::new(c)?),
            ProviderConfig::AwsSns(c) => Arc::new(aws_sns::SnsProvider::new(c)?),
            ProviderConfig::Smtp(c) => Arc::new(smtp::SmtpProvider::new(c)?),
            ProviderConfig::MetaWhatsapp(c) => Arc::new(meta::MetaWhatsappProvider::new(c)?),
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
            ProviderConfig::Smpp(c) => c.problems(),
            ProviderConfig::Smtp(c) => c.problems(),
            ProviderConfig::MetaWhatsapp(c) => c.problems(),
        }
    }

    /// The callback URL this instance asks the vendor to send receipts to, when the
    /// vendor signs receipts over that URL and this instance verifies them (Twilio with
    /// `auth_token`, Plivo, MessageBird with `signing_key`). Such receipts verify only if
    /// the gateway rebuilds the URL exactly (`receipts.public_base_url`). Vendors that
    /// sign the body or the parameters alone (Telnyx, Vonage) or take a token (Sinch,
    /// Vonage) are `None`.
    pub fn url_signed_receipts(&self) -> Option<&str> {
        fn set<S: AsRef<str>>(s: &Option<S>) -> Option<&str> {
            s.as_ref()
                .map(|s| s.as_ref().trim())
                .filter(|s| !s.is_empty())
        }
        match self {
            ProviderConfig::Twilio(c) => set(&c.auth_token).and(set(&c.status_callback_url)),
            ProviderConfig::Plivo(c) => set(&c.status_url),
            ProviderConfig::Messagebird(c) => set(&c.signing_key).and(set(&c.report_url)),
            _ => None,
        }
    }

    /// The instance's `[providers.<name>.prices]`.
    pub fn prices(&self) -> &settings::PriceTable {
        match self {
            ProviderConfig::Console(c) => &c.prices,
            ProviderConfig::Webhook(c) => &c.prices,
            ProviderConfig::Twilio(c) => &c.prices,
            ProviderConfig::Vonage(c) => &c.prices,
            ProviderConfig::Sinch(c) => &c.prices,
            ProviderConfig::Telnyx(c) => &c.prices,
            ProviderConfig::Plivo(c) => &c.prices,
            ProviderConfig::Messagebird(c) => &c.prices,
            ProviderConfig::AwsSns(c) => &c.prices,
            ProviderConfig::Smpp(c) => &c.prices,
            ProviderConfig::Smtp(c) => &c.prices,
            ProviderConfig::MetaWhatsapp(c) => &c.prices,
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
            ProviderConfig::Smpp(c) => c.max_tps,
            ProviderConfig::Smtp(c) => c.max_tps,
            ProviderConfig::MetaWhatsapp(c) => c.max_tps,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every credential below contains `s3cr3t`; no other value does.
    const KINDS: [&str; 11] = [
        r#"kind = "webhook"
url = "https://hooks.example/sms"
signing_secret = "s3cr3t-whsec""#,
        r#"kind = "twilio"
account_sid = "AC0123456789abcdef0123456789abcdef"
auth_token = "s3cr3t-auth"
api_key_sid = "SK0123456789abcdef0123456789abcdef"
api_key_secret = "s3cr3t-key"
from = "+15005550006"
status_callback_url = "https://gw.example/v1/receipts/tw""#,
        r#"kind = "vonage"
api_key = "abcd1234"
api_secret = "s3cr3t-api"
from = "Acme"
callback_url = "https://gw.example/v1/receipts/vg"
receipt_token = "s3cr3t-0123456789""#,
        r#"kind = "sinch"
service_plan_id = "a1b2c3d4"
api_token = "s3cr3t-api"
callback_url = "https://gw.example/v1/receipts/sn"
receipt_token = "s3cr3t-0123456789""#,
        r#"kind = "telnyx"
api_key = "KEYs3cr3t"
from = "+15005550006""#,
        r#"kind = "plivo"
auth_id = "MA0123"
auth_token = "s3cr3t-token"
src = "+15005550006""#,
        r#"kind = "messagebird"
access_key = "live_s3cr3t"
originator = "Acme"
report_url = "https://gw.example/v1/receipts/mb"
signing_key = "s3cr3t-signing""#,
        r#"kind = "aws_sns"
region = "us-east-1"
access_key_id = "AKIDEXAMPLE"
secret_access_key = "s3cr3t-sak"
session_token = "s3cr3t-session""#,
        r#"kind = "smpp"
host = "smsc.example"
system_id = "acme"
password = "s3cr3t"
source = "Acme""#,
        r#"kind = "smtp"
host = "smtp.example.net"
username = "otp@acme.example"
password = "s3cr3t-smtp"
from = "otp@acme.example"
from_name = "Acme""#,
        r#"kind = "meta_whatsapp"
phone_number_id = "106540352242922"
access_token = "EAAs3cr3t"
template_name = "otp_code"
languages = { en = "en_US", pt-BR = "pt_BR" }
app_secret = "s3cr3t-app"
verify_token = "s3cr3t-verify""#,
    ];

    /// `Debug` of the adapter built from `c`.
    fn built(c: &ProviderConfig) -> String {
        match c {
            ProviderConfig::Console(_) => String::new(),
            ProviderConfig::Webhook(c) => {
                format!("{:?}", webhook::WebhookProvider::new(c).unwrap())
            }
            ProviderConfig::Twilio(c) => format!("{:?}", twilio::TwilioProvider::new(c).unwrap()),
            ProviderConfig::Vonage(c) => format!("{:?}", vonage::VonageProvider::new(c).unwrap()),
            ProviderConfig::Sinch(c) => format!("{:?}", sinch::SinchProvider::new(c).unwrap()),
            ProviderConfig::Telnyx(c) => format!("{:?}", telnyx::TelnyxProvider::new(c).unwrap()),
            ProviderConfig::Plivo(c) => format!("{:?}", plivo::PlivoProvider::new(c).unwrap()),
            ProviderConfig::Messagebird(c) => {
                format!("{:?}", messagebird::MessageBirdProvider::new(c).unwrap())
            }
            ProviderConfig::AwsSns(c) => format!("{:?}", aws_sns::SnsProvider::new(c).unwrap()),
            ProviderConfig::MetaWhatsapp(c) => {
                format!("{:?}", meta::MetaWhatsappProvider::new(c).unwrap())
            }
            ProviderConfig::Smpp(c) => {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .build()
                    .unwrap();
                let _in = rt.enter();
                format!(
                    "{:?}",
                    smpp::SmppProvider::new("s", c, ReceiptSink::default()).unwrap()
                )
            }
            ProviderConfig::Smtp(c) => format!("{:?}", smtp::SmtpProvider::new(c).unwrap()),
        }
    }

    /// The commented example `[providers.<name>]` of `config/default.toml`, uncommented
    /// (its sub-tables included), as the instance's settings.
    fn example(name: &str) -> ProviderConfig {
        let header = format!("# [providers.{name}]");
        // Read as a file: providers import nothing from `config`.
        let lines: Vec<&str> = include_str!("../../config/default.toml")
            .lines()
            .skip_while(|l| l.trim() != header)
            .take_while(|l| l.starts_with("# "))
            .map(|l| &l[2..])
            .collect();
        assert!(!lines.is_empty(), "no {header} in default.toml");
        let t: toml::Table = toml::from_str(&lines.join("\n")).expect("the example parses");
        t["providers"][name]
            .clone()
            .try_into()
            .expect("valid settings")
    }

    #[test]
    fn the_whatsapp_examples_of_default_toml_are_valid_settings() {
        let ProviderConfig::MetaWhatsapp(meta) = example("meta") else {
            panic!("meta is meta_whatsapp");
        };
        assert!(meta.problems().is_empty(), "{:?}", meta.problems());
        assert_eq!(meta.language_for("pt-AO"), "pt_PT");
        let tw = example("tw");
        assert!(tw.problems().is_empty(), "{:?}", tw.problems());
        let ProviderConfig::Twilio(tw) = tw else {
            panic!("tw is twilio");
        };
        assert_eq!(tw.whatsapp.expect("a [whatsapp] table").code_variable, "1");
    }

    /// The voice tables: the Vonage one holds the throwaway test key (it must load for
    /// the adapter to build), checked not to show either.
    fn voice_kinds() -> Vec<String> {
        let key = include_str!("vonage/testdata/throwaway_rsa2048.pem");
        vec![
            r#"kind = "twilio"
account_sid = "AC0123456789abcdef0123456789abcdef"
auth_token = "s3cr3t-auth"
status_callback_url = "https://gw.example/v1/receipts/tw"
[voice]
from = "+15005550006""#
                .to_string(),
            format!(
                r#"kind = "vonage"
[voice]
application_id = "aaaaaaaa-bbbb-cccc-dddd-0123456789ab"
private_key = """{key}"""
from = "447700900001"
event_url = "https://gw.example/v1/receipts/vg"
signature_secret = "s3cr3t-signature""#
            ),
        ]
    }

    #[test]
    fn no_settings_or_adapter_debug_shows_a_credential() {
        let key = include_str!("vonage/testdata/throwaway_rsa2048.pem");
        let key_line = key.lines().nth(5).unwrap();
        for toml_text in KINDS.iter().map(|k| k.to_string()).chain(voice_kinds()) {
            let toml_text = toml_text.as_str();
            let c: ProviderConfig = toml::from_str(toml_text).unwrap();
            assert!(c.problems().is_empty(), "{toml_text}: {:?}", c.problems());
            for shown in [format!("{c:?}"), built(&c)] {
                assert!(shown.contains("<redacted>") || shown.contains("Sensitive"));
                assert!(!shown.contains("s3cr3t"), "{shown}");
                assert!(!shown.contains(key_line), "{shown}");
            }
        }
    }
}
