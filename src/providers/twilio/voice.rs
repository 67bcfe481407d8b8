//! Twilio Programmable Voice: a call that says the code, through the Call resource of
//! API 2010-04-01, and its status callbacks.
//!
//! **Request.** `POST {base_url}/2010-04-01/Accounts/{AccountSid}/Calls.json`,
//! form-encoded, with the same HTTP Basic credentials as messages:
//!
//! | field | value |
//! |---|---|
//! | `To` | the destination in E.164 |
//! | `From` | `voice.from`, the caller id |
//! | `Twiml` | the TwiML below ("TwiML instructions for the call Twilio will use without fetching Twiml from url parameter … Max 4000 characters"); a longer one is refused here, as a rejected content, before any request |
//! | `StatusCallback` | `status_callback_url`, when set, with `StatusCallbackEvent` = `initiated`, `ringing`, `answered`, `completed` (one field each, as Twilio asks) and `StatusCallbackMethod` = `POST` |
//! | `Timeout` | `voice.ring_timeout_secs`, when set |
//!
//! **TwiML.** The message text (the digits already spaced by commas, "1, 2, 3") said
//! twice with a one-second pause between, in the language and voice of the message's
//! locale ([`super::voice_config`]), slowly where the voice takes SSML:
//!
//! ```xml
//! <Response><Say voice="Polly.Joanna" language="en-US"><prosody rate="slow">Your Acme
//! verification code is: 1, 2, 3, 4, 5, 6.</prosody></Say><Pause length="1"/><Say …>…</Say></Response>
//! ```
//!
//! Everything that comes from settings or the text is XML-escaped. Answering machine
//! detection (`MachineDetection`) is not offered: Twilio runs inline TwiML whoever
//! answers, so it would only add a charge and seconds of silence before the code.
//!
//! **Answer.** `201` with the Call resource; its `sid` (`CA…`) is the message id.
//! Errors: [`super::voice_error`].
//!
//! **Status callbacks** come to the same receipts URL as message callbacks and are
//! signed the same way (`X-Twilio-Signature`, checked in `mod.rs`); a call callback is
//! told from a message one by its `CallSid`. `CallStatus`:
//!
//! | `CallStatus` | receipt |
//! |---|---|
//! | `completed` ("the call was answered and has ended normally") | `Delivered` |
//! | `busy`, `no-answer`, `failed`, `canceled` | `Undelivered`, with the status (and `SipResponseCode`) as the detail: a workflow moves on at once |
//! | `initiated`, `ringing`, `in-progress` | `Sent`: the call is under way. `send` already recorded `sent`, and statuses never move backwards, so these change nothing once the call was accepted; each is applied once and counted with the receipts |
//! | `queued`, others | ignored |
//!
//! `completed` means the call was answered, by a person or by voicemail: Twilio cannot
//! tell which without machine detection.

use super::voice_config::{Speaker, VoiceConfig};
use crate::domain::DeliveryStatus;
use crate::providers::callback::non_empty;
use crate::providers::http::{self, Auth, Body};
use crate::providers::{speech, ErrorKind, OutboundMessage, ProviderError, Receipt, ReceiptError};
use std::collections::BTreeMap;

/// The longest `Twiml` Twilio takes, in characters.
pub const MAX_TWIML: usize = 4000;

/// The events a call reports to `StatusCallback`.
pub const EVENTS: [&str; 4] = ["initiated", "ringing", "answered", "completed"];

/// The calling side of a Twilio instance with voice settings.
#[derive(Debug)]
pub(crate) struct Voice {
    calls_url: String,
    from: String,
    ring_timeout: Option<String>,
    slow: bool,
    speakers: BTreeMap<String, Speaker>,
    status_callback: Option<String>,
}

/// Whether `voice` takes SSML inside `<Say>` (Amazon Polly and Google voices).
pub fn takes_ssml(voice: &str) -> bool {
    voice.starts_with("Polly.") || voice.starts_with("Google.")
}

/// The TwiML that says `text` twice in `speaker`'s language and voice, slowly when
/// `slow` and the voice takes SSML.
pub fn twiml(speaker: &Speaker, slow: bool, text: &str) -> String {
    let text = speech::xml_escape(text.trim());
    let inner = if slow && takes_ssml(&speaker.voice) {
        format!("<prosody rate=\"slow\">{text}</prosody>")
    } else {
        text
    };
    let say = format!(
        "<Say voice=\"{}\" language=\"{}\">{inner}</Say>",
        speech::xml_escape(speaker.voice.trim()),
        speech::xml_escape(speaker.language.trim())
    );
    format!("<Response>{say}<Pause length=\"1\"/>{say}</Response>")
}

impl Voice {
    /// The calling side for these settings; `base` is the API root, `status_callback`
    /// the instance's `status_callback_url`.
    pub fn new(
        base: &str,
        account_sid: &str,
        v: &VoiceConfig,
        status_callback: Option<String>,
    ) -> Self {
        Voice {
            calls_url: format!(
                "{}/2010-04-01/Accounts/{account_sid}/Calls.json",
                base.trim_end_matches('/')
            ),
            from: v.from.trim().to_string(),
            ring_timeout: v.ring_timeout_secs.map(|t| t.to_string()),
            slow: v.slow,
            speakers: v.speakers(),
            status_callback,
        }
    }

    /// The TwiML for `msg`.
    pub fn twiml_for(&self, msg: &OutboundMessage) -> String {
        let speaker = speech::pick(&self.speakers, &msg.locale).expect("the table has `en`");
        twiml(speaker, self.slow, &msg.body)
    }

    /// Places the call; its `sid` is the message id.
    pub async fn call(
        &self,
        client: &reqwest::Client,
        auth: Auth<'_>,
        msg: &OutboundMessage,
    ) -> Result<String, ProviderError> {
        let twiml = self.twiml_for(msg);
        if twiml.chars().count() > MAX_TWIML {
            return Err(ProviderError::new(
                ErrorKind::RejectedContent,
                format!("the call's TwiML is over Twilio's {MAX_TWIML} characters"),
            ));
        }
        let mut form: Vec<(&str, &str)> = vec![
            ("To", msg.to.as_str()),
            ("From", &self.from),
            ("Twiml", &twiml),
        ];
        if let Some(cb) = &self.status_callback {
            form.push(("StatusCallback", cb));
            form.extend(EVENTS.map(|e| ("StatusCallbackEvent", e)));
            form.push(("StatusCallbackMethod", "POST"));
        }
        if let Some(t) = &self.ring_timeout {
            form.push(("Timeout", t));
        }
        let post = http::post(client, &self.calls_url, auth, Body::form(&form), |a| {
            super::voice_error::from_response(a.status, a.body.as_bytes(), a.retry_after)
        });
        http::accepted("twilio", post, |a| http::json_id(a, "/sid"), msg).await
    }
}

/// Our status for a Twilio `CallStatus`; `None` for the ones we ignore.
fn call_status(s: &str) -> Option<DeliveryStatus> {
    Some(match s {
        "completed" => DeliveryStatus::Delivered,
        "busy" | "no-answer" | "failed" | "canceled" => DeliveryStatus::Undelivered,
        "initiated" | "ringing" | "in-progress" => DeliveryStatus::Sent,
        _ => return None,
    })
}

/// The receipt in a (verified) call status callback with `CallSid` `sid`.
pub(crate) fn call_receipts(
    sid: &str,
    params: &[(String, String)],
) -> Result<Vec<Receipt>, ReceiptError> {
    let status = non_empty(params, "CallStatus")
        .ok_or_else(|| ReceiptError::Malformed("no CallStatus".into()))?;
    let Some(delivery) = call_status(status.trim()) else {
        return Ok(Vec::new());
    };
    let detail = (delivery == DeliveryStatus::Undelivered).then(|| {
        let mut d = http::code(status);
        if let Some(sip) = non_empty(params, "SipResponseCode") {
            d.push_str(&format!(", SIP {}", http::code(sip)));
        }
        if let Some(code) = non_empty(params, "ErrorCode") {
            d.push_str(&format!(", error {}", http::code(code)));
        }
        d
    });
    Ok(vec![Receipt {
        message_id: sid.to_string(),
        status: delivery,
        detail,
    }])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn polly() -> Speaker {
        Speaker {
            language: "en-US".into(),
            voice: "Polly.Joanna".into(),
        }
    }

    #[test]
    fn twiml_says_the_text_twice_slowly_and_escaped() {
        let t = twiml(&polly(), true, "A<B> & \"C\": 1, 2.");
        assert_eq!(
            t,
            "<Response><Say voice=\"Polly.Joanna\" language=\"en-US\"><prosody rate=\"slow\">\
             A&lt;B&gt; &amp; &quot;C&quot;: 1, 2.</prosody></Say><Pause length=\"1\"/>\
             <Say voice=\"Polly.Joanna\" language=\"en-US\"><prosody rate=\"slow\">\
             A&lt;B&gt; &amp; &quot;C&quot;: 1, 2.</prosody></Say></Response>"
        );
        let basic = Speaker {
            language: "en-GB".into(),
            voice: "woman".into(),
        };
        assert!(!twiml(&basic, true, "1, 2").contains("prosody"));
        assert!(!twiml(&polly(), false, "1, 2").contains("prosody"));
    }

    #[test]
    fn call_statuses_map_to_receipts() {
        let p = |s: &str| vec![("CallStatus".to_string(), s.to_string())];
        let status = |s: &str| {
            call_receipts("CA1", &p(s))
                .unwrap()
                .first()
                .map(|r| r.status)
        };
        assert_eq!(status("completed"), Some(DeliveryStatus::Delivered));
        for s in ["busy", "no-answer", "failed", "canceled"] {
            assert_eq!(status(s), Some(DeliveryStatus::Undelivered), "{s}");
        }
        for s in ["initiated", "ringing", "in-progress"] {
            assert_eq!(status(s), Some(DeliveryStatus::Sent), "{s}");
        }
        assert_eq!(status("queued"), None);
        let mut busy = p("busy");
        busy.push(("SipResponseCode".into(), "486".into()));
        let r = call_receipts("CA1", &busy).unwrap();
        assert_eq!(r[0].detail.as_deref(), Some("busy, SIP 486"));
        assert!(matches!(
            call_receipts("CA1", &[]),
            Err(ReceiptError::Malformed(_))
        ));
    }
}
