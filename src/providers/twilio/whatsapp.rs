//! WhatsApp through Twilio: the `[providers.<name>.whatsapp]` settings of a Twilio
//! instance and the fields of a WhatsApp send.
//!
//! WhatsApp goes through the same Messages resource as SMS, with channel addresses
//! (Twilio: "`To` … or channel address, e.g. `whatsapp:+15552229999`") and an approved
//! Content Template instead of a body, since a business-initiated WhatsApp message must
//! be a template. We send:
//!
//! | field | value |
//! |---|---|
//! | `To` | `whatsapp:` + the destination in E.164 |
//! | `From` | `whatsapp:` + the configured WhatsApp sender |
//! | `ContentSid` | `content_sid` (`HX` + 32 hex digits: "The SID of the Content Template") |
//! | `ContentVariables` | JSON text `{"<code_variable>": "<code>"}` ("Key-value pairs of Template variables and their substitution values") |
//! | `StatusCallback` | as for SMS, when set |
//!
//! and no `Body` (the template's text is the one approved at WhatsApp). Status
//! callbacks are the SMS ones, signed the same way, with `whatsapp:` addresses in `To`
//! and `From` (which receipts do not read) and `read` among the statuses.

use super::config::is_sid;
use serde::Deserialize;

/// Twilio's channel prefix for WhatsApp addresses.
pub const PREFIX: &str = "whatsapp:";

/// `[providers.<name>.whatsapp]`: WhatsApp settings of a Twilio instance. When present,
/// the instance sends on the `whatsapp` channel too.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhatsappConfig {
    /// The WhatsApp sender registered with Twilio, in E.164 (`+15005550006`; a leading
    /// `whatsapp:` is accepted too).
    #[serde(deserialize_with = "crate::secret::text::string")]
    pub from: String,
    /// An approved Content Template (`HX` + 32 hex digits) whose text holds the code as
    /// a variable; for an authentication template with a copy-code button, the code.
    pub content_sid: String,
    /// The template variable the code fills (the key in `ContentVariables`).
    /// Any scalar is its text, so `1` set in the environment is the key `"1"`.
    #[serde(
        default = "default_code_variable",
        deserialize_with = "crate::secret::text::string"
    )]
    pub code_variable: String,
}

fn default_code_variable() -> String {
    "1".into()
}

impl WhatsappConfig {
    /// The sender without its channel prefix.
    fn number(&self) -> &str {
        self.from
            .trim()
            .strip_prefix(PREFIX)
            .unwrap_or(self.from.trim())
    }

    /// Problems with these settings, one sentence each (prefixed `whatsapp.`).
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        let digits = self.number().strip_prefix('+').unwrap_or("");
        if !(8..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
            p.push("whatsapp.from must be the WhatsApp sender in E.164 (+15005550006)".into());
        }
        if !is_sid(&self.content_sid, "HX") {
            p.push("whatsapp.content_sid must be HX followed by 32 hex digits".into());
        }
        let var = &self.code_variable;
        if var.is_empty()
            || var.len() > 32
            || !var.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            p.push("whatsapp.code_variable must be a template variable name such as 1".into());
        }
        p
    }
}

/// A configured WhatsApp sender, ready to fill requests.
#[derive(Debug, Clone)]
pub struct Whatsapp {
    from: String,
    content_sid: String,
    code_variable: String,
}

impl Whatsapp {
    /// From checked settings.
    pub fn new(cfg: &WhatsappConfig) -> Self {
        Whatsapp {
            from: format!("{PREFIX}{}", cfg.number()),
            content_sid: cfg.content_sid.clone(),
            code_variable: cfg.code_variable.clone(),
        }
    }

    /// The form fields of a send of `code` to the E.164 number `to`, without
    /// `StatusCallback` (the caller adds it as for SMS). The values hold the code.
    pub fn fields(&self, to: &str, code: &str) -> Vec<(&'static str, String)> {
        let vars = serde_json::json!({ &self.code_variable: code }).to_string();
        vec![
            ("To", format!("{PREFIX}{to}")),
            ("From", self.from.clone()),
            ("ContentSid", self.content_sid.clone()),
            ("ContentVariables", vars),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> WhatsappConfig {
        WhatsappConfig {
            from: "+15005550006".into(),
            content_sid: format!("HX{}", "d".repeat(32)),
            code_variable: "1".into(),
        }
    }

    #[test]
    fn an_instance_for_whatsapp_only_needs_no_sms_sender() {
        use crate::providers::SmsProvider;
        let c = super::super::Config {
            account_sid: format!("AC{}", "0".repeat(32)),
            auth_token: Some("t".into()),
            whatsapp: Some(cfg()),
            ..Default::default()
        };
        assert!(c.problems().is_empty(), "{:?}", c.problems());
        let p = super::super::TwilioProvider::new(&c).unwrap();
        assert_eq!(p.channels(), [crate::domain::Channel::Whatsapp]);
        let none = super::super::Config {
            whatsapp: None,
            ..c
        };
        assert!(none.problems().iter().any(|p| p.contains("set from")));
    }

    #[test]
    fn settings_are_checked() {
        assert!(cfg().problems().is_empty(), "{:?}", cfg().problems());
        let prefixed = WhatsappConfig {
            from: "whatsapp:+15005550006".into(),
            ..cfg()
        };
        assert!(prefixed.problems().is_empty());
        for bad in [
            WhatsappConfig {
                from: "15005550006".into(),
                ..cfg()
            },
            WhatsappConfig {
                content_sid: "HX1".into(),
                ..cfg()
            },
            WhatsappConfig {
                code_variable: "a b".into(),
                ..cfg()
            },
        ] {
            assert_eq!(bad.problems().len(), 1, "{bad:?}");
        }
    }

    #[test]
    fn fields_use_channel_addresses_and_the_code_as_a_json_variable() {
        let w = Whatsapp::new(&WhatsappConfig {
            from: "whatsapp:+15005550006".into(),
            ..cfg()
        });
        let f = w.fields("+14155550123", "012345");
        assert_eq!(f[0], ("To", "whatsapp:+14155550123".to_string()));
        assert_eq!(f[1], ("From", "whatsapp:+15005550006".to_string()));
        assert_eq!(f[3], ("ContentVariables", r#"{"1":"012345"}"#.to_string()));
    }
}
