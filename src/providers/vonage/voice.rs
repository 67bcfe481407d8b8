//! The Vonage Voice API: a call that says the code (`POST {voice.base_url}/v1/calls`),
//! and its events ([`super::voice_events`]).
//!
//! **Request.** `Authorization: Bearer <JWT>` signed RS256 with the application's
//! private key ([`super::jwt`]), and a JSON body:
//!
//! ```json
//! {"to": [{"type": "phone", "number": "14155550123"}],
//!  "from": {"type": "phone", "number": "447700900001"},
//!  "ncco": [{"action": "talk", "text": "<speak><prosody rate='slow'>Your Acme
//!            verification code is: 1, 2, 3, 4, 5, 6.</prosody><break time='1s'/></speak>",
//!            "language": "en-US", "style": 0, "premium": false, "loop": 2}],
//!  "event_url": ["https://otp.example.com/v1/receipts/vg"], "event_method": "POST"}
//! ```
//!
//! Numbers are the E.164 digits without `+` (the API's pattern is `\d{7,15}`). The
//! `talk` action says the text twice (`loop`: "the number of times `text` is repeated
//! before the Call is closed"), each time followed by a one-second `break`, slowly
//! (SSML `prosody`, unless `slow = false`; "a single comma in `text` adds a short
//! pause", so the spaced digits pause either way), in the `language` and `style` of
//! the message's locale ([`super::voice_config`]). The text is XML-escaped inside the
//! `<speak>` element; Vonage takes "a string of up to 1,500 characters (excluding
//! SSML tags)", and a longer text is refused here before any request. `event_url` and
//! `event_method` are sent when `voice.event_url` is set, `ringing_timer` when
//! `voice.ringing_timer_secs` is, `machine_detection: "hangup"` with
//! `hang_up_on_machines`.
//!
//! **Answer.** `201` with `{"uuid", "status", "direction", "conversation_uuid"}`; the
//! `uuid` (the call leg) is the message id, and call events carry it. Errors:
//! [`super::voice_error`].

use super::voice_config::{digits, Talker, VoiceConfig};
use crate::providers::http::{self, Auth, Body};
use crate::providers::{
    speech, ErrorKind, OutboundMessage, ProviderError, Receipt, ReceiptError, ReceiptRequest,
};
use crate::secret::Secret;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fmt;

/// The longest text a `talk` action takes, in characters.
pub const MAX_TALK: usize = 1500;

/// The application's private key; its `Debug` shows nothing of it.
struct Key(ring::signature::RsaKeyPair);

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// The calling side of a Vonage instance with voice settings.
#[derive(Debug)]
pub(crate) struct Voice {
    calls_url: String,
    application_id: String,
    key: Key,
    from: String,
    event_url: Option<String>,
    signature_secret: Option<Secret>,
    ringing_timer: Option<u32>,
    hang_up_on_machines: bool,
    slow: bool,
    premium: bool,
    talkers: BTreeMap<String, Talker>,
}

/// The NCCO that says `text` twice in `talker`'s language and style.
pub fn ncco(talker: &Talker, slow: bool, premium: bool, text: &str) -> Value {
    let escaped = speech::xml_escape(text.trim());
    let spoken = if slow {
        format!("<prosody rate='slow'>{escaped}</prosody>")
    } else {
        escaped
    };
    json!([{
        "action": "talk",
        "text": format!("<speak>{spoken}<break time='1s'/></speak>"),
        "language": talker.language.trim(),
        "style": talker.style,
        "premium": premium,
        "loop": 2,
    }])
}

impl Voice {
    /// The calling side for these settings (the key loaded and checked).
    pub fn new(v: &VoiceConfig) -> anyhow::Result<Self> {
        let key = v.load_key().map_err(|e| anyhow::anyhow!("vonage: {e}"))?;
        Ok(Voice {
            calls_url: format!("{}/v1/calls", v.base_url.trim_end_matches('/')),
            application_id: v.application_id.trim().to_string(),
            key: Key(key),
            from: digits(&v.from).to_string(),
            event_url: crate::providers::settings::nonblank(&v.event_url),
            signature_secret: v.signature_secret.clone().filter(|s| !s.trim().is_empty()),
            ringing_timer: v.ringing_timer_secs,
            hang_up_on_machines: v.hang_up_on_machines,
            slow: v.slow,
            premium: v.premium,
            talkers: v.talkers(),
        })
    }

    /// The request body for `msg`.
    pub fn body_for(&self, msg: &OutboundMessage) -> Result<Value, ProviderError> {
        if msg.body.trim().chars().count() > MAX_TALK {
            return Err(ProviderError::new(
                ErrorKind::RejectedContent,
                format!("the call's text is over Vonage's {MAX_TALK} characters"),
            ));
        }
        let talker = speech::pick(&self.talkers, &msg.locale).expect("the table has `en`");
        let mut body = json!({
            "to": [{"type": "phone", "number": digits(msg.to.as_str())}],
            "from": {"type": "phone", "number": self.from},
            "ncco": ncco(talker, self.slow, self.premium, &msg.body),
        });
        if let Some(url) = &self.event_url {
            body["event_url"] = json!([url]);
            body["event_method"] = json!("POST");
        }
        if let Some(t) = self.ringing_timer {
            body["ringing_timer"] = json!(t);
        }
        if self.hang_up_on_machines {
            body["machine_detection"] = json!("hangup");
        }
        Ok(body)
    }

    /// Places the call; its `uuid` is the message id.
    pub async fn call(
        &self,
        client: &reqwest::Client,
        msg: &OutboundMessage,
    ) -> Result<String, ProviderError> {
        let body = Body::json(&self.body_for(msg)?)?;
        let token = super::jwt::sign_rs256(&self.key.0, &self.application_id, http::unix_now())
            .map_err(|e| ProviderError::new(ErrorKind::Auth, e))?;
        let post = http::post(
            client,
            &self.calls_url,
            Auth::Bearer(&token),
            body,
            super::voice_error::from_answer,
        );
        http::accepted("vonage", post, |a| http::json_id(a, "/uuid"), msg).await
    }

    /// A call event's receipts, once its signature is checked.
    pub fn parse_event(&self, req: &ReceiptRequest<'_>) -> Result<Vec<Receipt>, ReceiptError> {
        let secret = self.signature_secret.as_deref().map(str::as_bytes);
        super::voice_events::parse(secret, &self.application_id, req, http::unix_now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ncco_says_the_escaped_text_twice_slowly() {
        let talker = Talker {
            language: "fr-FR".into(),
            style: 2,
        };
        let n = ncco(&talker, true, false, "A&B <Shop>: 1, 2.");
        assert_eq!(
            n,
            json!([{
                "action": "talk",
                "text": "<speak><prosody rate='slow'>A&amp;B &lt;Shop&gt;: 1, 2.</prosody><break time='1s'/></speak>",
                "language": "fr-FR",
                "style": 2,
                "premium": false,
                "loop": 2,
            }])
        );
        let plain = ncco(&talker, false, true, "1, 2");
        assert_eq!(plain[0]["text"], "<speak>1, 2<break time='1s'/></speak>");
        assert_eq!(plain[0]["premium"], true);
    }
}
