//! Twilio voice: the exact Calls request, its TwiML parsed and checked (the digits said
//! twice, slowly, in the locale's language and voice, hostile text escaped), the
//! documented error answers, and Prism on Twilio's Calls document. Call status
//! callbacks are in `twilio_voice_receipts`.

use crate::checks::*;
use crate::prism::{PrismProxy, Spec};
use crate::server::{Canned, MockProvider};
use crate::voice_support::*;
use otpgw::providers::twilio::{Config, Speaker, TwilioProvider, VoiceConfig};
use otpgw::providers::{ErrorKind, SmsProvider};
use std::time::Duration;

pub(crate) const ACCOUNT: &str = "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
pub(crate) const TOKEN: &str = "9d6c2b1e0f4a4b5c8d7e6f5a4b3c2d1e";
pub(crate) const CALLER_ID: &str = "+15005550006";
pub(crate) const TO: &str = "+14155550123";
pub(crate) const CALLBACK: &str = "https://gw.example.com/v1/receipts/tw";
pub(crate) const SID: &str = "CAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

/// The `201` answer of Twilio's API reference ("Create a Call resource"), trimmed.
const CREATED: &str = r#"{"account_sid":"ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","answered_by":null,"api_version":"2010-04-01","caller_name":null,"date_created":"Tue, 31 Aug 2010 20:36:28 +0000","direction":"outbound-api","duration":null,"from":"+15005550006","parent_call_sid":null,"sid":"CAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","status":"queued","to":"+14155550123","uri":"/2010-04-01/Accounts/ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Calls/CAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.json"}"#;

fn voice(ring_timeout_secs: Option<u32>) -> VoiceConfig {
    VoiceConfig {
        from: CALLER_ID.into(),
        ring_timeout_secs,
        ..VoiceConfig::default()
    }
}

/// A Twilio instance that only calls, with status callbacks.
pub(crate) fn config(base_url: &str) -> Config {
    Config {
        base_url: base_url.into(),
        account_sid: ACCOUNT.into(),
        auth_token: Some(TOKEN.into()),
        status_callback_url: Some(CALLBACK.into()),
        voice: Some(voice(Some(30))),
        ..Config::default()
    }
}

pub(crate) fn provider(cfg: &Config) -> TwilioProvider {
    TwilioProvider::new(cfg).expect("a valid config")
}

/// Sends `msg` to a fresh stand-in answering `201`; the request it made.
async fn sent(
    cfg: impl FnOnce(&str) -> Config,
    msg: &otpgw::providers::OutboundMessage,
) -> crate::server::Recorded {
    let server = MockProvider::start(vec![Canned::json(201, CREATED)]).await;
    let id = provider(&cfg(&server.base_url()))
        .send(msg)
        .await
        .expect("sent");
    assert_eq!(id, SID);
    server.single()
}

#[tokio::test]
async fn twilio_voice_places_the_documented_call_request() {
    let r = sent(config, &voice_message(TO, SPOKEN, "en")).await;
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, format!("/2010-04-01/Accounts/{ACCOUNT}/Calls.json"));
    assert_eq!(
        basic_credentials(&r),
        (ACCOUNT.to_string(), TOKEN.to_string())
    );
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    let mut names: Vec<String> = r.form().into_iter().map(|(k, _)| k).collect();
    names.dedup();
    names.sort();
    assert_eq!(
        names,
        [
            "From",
            "StatusCallback",
            "StatusCallbackEvent",
            "StatusCallbackMethod",
            "Timeout",
            "To",
            "Twiml"
        ]
    );
    assert_eq!(r.field("To").as_deref(), Some(TO));
    assert_eq!(r.field("From").as_deref(), Some(CALLER_ID));
    assert_eq!(r.field("StatusCallback").as_deref(), Some(CALLBACK));
    assert_eq!(r.field("StatusCallbackMethod").as_deref(), Some("POST"));
    assert_eq!(r.field("Timeout").as_deref(), Some("30"));
    let events: Vec<String> = r
        .form()
        .into_iter()
        .filter(|(k, _)| k == "StatusCallbackEvent")
        .map(|(_, v)| v)
        .collect();
    assert_eq!(events, ["initiated", "ringing", "answered", "completed"]);
    assert!(r.text().contains("To=%2B14155550123"), "{}", r.text());

    // Without a callback URL or a ring timeout, none of their fields.
    let bare = |b: &str| Config {
        status_callback_url: None,
        voice: Some(voice(None)),
        ..config(b)
    };
    let r = sent(bare, &voice_message(TO, SPOKEN, "en")).await;
    let mut names: Vec<String> = r.form().into_iter().map(|(k, _)| k).collect();
    names.sort();
    assert_eq!(names, ["From", "To", "Twiml"]);
}

/// The `<Say>`s of a TwiML document, checked for its shape: Say, a one-second Pause,
/// Say, the two Says alike.
pub(crate) fn says(twiml: &str) -> Element {
    let root = parse_xml(twiml);
    assert_eq!(root.name, "Response");
    let verbs = root.elements();
    let names: Vec<&str> = verbs.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["Say", "Pause", "Say"], "{twiml}");
    assert_eq!(verbs[1].attr("length"), Some("1"));
    assert_eq!(verbs[0], verbs[2], "said twice, the same way");
    verbs[0].clone()
}

#[tokio::test]
async fn twilio_voice_twiml_says_the_spaced_digits_twice_in_the_locales_voice() {
    let cases = [
        ("en", "en-US", "Polly.Joanna"),
        ("en-GB", "en-GB", "Polly.Amy"),
        ("es", "es-ES", "Polly.Lucia"),
        ("fr-FR", "fr-FR", "Polly.Celine"),
        ("de", "de-DE", "Polly.Marlene"),
        ("pt-BR", "pt-BR", "Polly.Camila"),
        ("pt_PT", "pt-PT", "Polly.Ines"),
        ("xx", "en-US", "Polly.Joanna"),
    ];
    for (locale, language, voice_name) in cases {
        let r = sent(config, &voice_message(TO, SPOKEN, locale)).await;
        let say = says(&r.field("Twiml").unwrap());
        assert_eq!(say.attr("language"), Some(language), "{locale}");
        assert_eq!(say.attr("voice"), Some(voice_name), "{locale}");
        let prosody = say.elements();
        assert_eq!(prosody.len(), 1, "{locale}");
        assert_eq!(prosody[0].name, "prosody");
        assert_eq!(prosody[0].attr("rate"), Some("slow"));
        assert_eq!(say.text(), SPOKEN);
        assert!(say.text().contains("1, 2, 3, 4, 5, 6"));
    }
    // A configured locale wins; a basic voice takes no SSML; `slow = false` none either.
    let custom = |b: &str| {
        let mut v = voice(None);
        v.locales.insert(
            "es".into(),
            Speaker {
                language: "es-MX".into(),
                voice: "Polly.Mia".into(),
            },
        );
        v.locales.insert(
            "en".into(),
            Speaker {
                language: "en-GB".into(),
                voice: "woman".into(),
            },
        );
        Config {
            voice: Some(v),
            ..config(b)
        }
    };
    let say = says(
        &sent(custom, &voice_message(TO, SPOKEN, "es-AR"))
            .await
            .field("Twiml")
            .unwrap(),
    );
    assert_eq!(
        (say.attr("language"), say.attr("voice")),
        (Some("es-MX"), Some("Polly.Mia"))
    );
    let say = says(
        &sent(custom, &voice_message(TO, SPOKEN, "en"))
            .await
            .field("Twiml")
            .unwrap(),
    );
    assert_eq!(say.attr("voice"), Some("woman"));
    assert!(say.elements().is_empty() && say.text() == SPOKEN);
    let fast = |b: &str| Config {
        voice: Some(VoiceConfig {
            slow: false,
            ..voice(None)
        }),
        ..config(b)
    };
    let say = says(
        &sent(fast, &voice_message(TO, SPOKEN, "en"))
            .await
            .field("Twiml")
            .unwrap(),
    );
    assert!(say.elements().is_empty() && say.text() == SPOKEN);
}

#[tokio::test]
async fn twilio_voice_escapes_hostile_text_and_settings_in_the_twiml() {
    let hostile = "Your A&B <Shop></Say><Dial>+19005550000</Dial><Say> \"x\" 'y' code is: 1, 2, 3.";
    let odd_voice = |b: &str| {
        let mut v = voice(None);
        v.locales.insert(
            "en".into(),
            Speaker {
                language: "en-US\"><Hangup/><Say a=\"".into(),
                voice: "Polly.Joanna".into(),
            },
        );
        Config {
            voice: Some(v),
            ..config(b)
        }
    };
    let r = sent(odd_voice, &voice_message(TO, hostile, "en")).await;
    let say = says(&r.field("Twiml").unwrap());
    assert_eq!(say.attr("language"), Some("en-US\"><Hangup/><Say a=\""));
    let prosody = say.elements();
    assert_eq!(prosody.len(), 1);
    assert!(prosody[0].elements().is_empty(), "no markup from the text");
    assert_eq!(say.text(), hostile);
}

#[tokio::test]
async fn twilio_voice_refuses_a_twiml_over_4000_characters_without_a_request() {
    let server = MockProvider::start(vec![Canned::json(201, CREATED)]).await;
    let long = format!("Your code is: 1, 2, 3. {}", "Acme ".repeat(500));
    let e = provider(&config(&server.base_url()))
        .send(&voice_message(TO, &long, "en"))
        .await
        .unwrap_err();
    assert_eq!((e.kind, e.retryable), (ErrorKind::RejectedContent, false));
    assert!(server.requests().is_empty());
}

/// Twilio's error body for `code`, repeating the number as Twilio does.
fn error_body(code: u32, status: u16) -> String {
    format!(
        r#"{{"code":{code},"message":"The 'To' number {TO} is not valid.","more_info":"https://www.twilio.com/docs/errors/{code}","status":{status}}}"#
    )
}

#[tokio::test]
async fn twilio_voice_error_answers_map_to_kinds() {
    use ErrorKind::*;
    let coded = [
        (400, 21211, InvalidDestination, false),
        (400, 21214, InvalidDestination, false),
        (400, 21215, InvalidDestination, false),
        (400, 21216, InvalidDestination, false),
        (400, 21219, InvalidDestination, false),
        (400, 13223, InvalidDestination, false),
        (400, 13224, InvalidDestination, false),
        (400, 21210, Auth, false),
        (400, 21212, Auth, false),
        (401, 20003, Auth, false),
        (404, 20404, Auth, false),
        (500, 20500, Unavailable, true),
        (400, 29999, RejectedContent, false),
    ];
    let mut cases: Vec<Case> = coded
        .into_iter()
        .map(|(status, code, kind, retryable)| {
            let answer = Canned::json(status, error_body(code, status));
            Case::new(format!("{status} code {code}"), answer, kind, retryable)
        })
        .collect();
    cases.push(
        Case::new(
            "429 code 20429 with Retry-After",
            Canned::json(429, error_body(20429, 429)).header("retry-after", "5"),
            RateLimited,
            true,
        )
        .retry_after(Duration::from_secs(5)),
    );
    cases.push(Case::new(
        "503 page",
        Canned::json(503, "<html>down</html>"),
        Unavailable,
        true,
    ));
    check_errors_for(
        cases,
        |b| provider(&config(b)),
        &voice_message(TO, SPOKEN, "en"),
    )
    .await;
}

#[tokio::test]
async fn twilio_voice_requests_conform_to_twilios_calls_document() {
    let prism = PrismProxy::start(Spec::TwilioCalls).await;
    let p = provider(&config(&prism.base_url()));
    let id = p
        .send(&voice_message(TO, SPOKEN, "fr"))
        .await
        .expect("Prism accepts it");
    assert_eq!(id, SID, "the document's example answer");
    let bare = provider(&Config {
        status_callback_url: None,
        voice: Some(voice(None)),
        ..config(&prism.base_url())
    });
    bare.send(&voice_message(TO, SPOKEN, "en"))
        .await
        .expect("Prism accepts it");
    prism.assert_all_accepted();
    assert_eq!(prism.exchanges().len(), 2);
    // The check can fail: a call without `From` breaks the document.
    let url = format!(
        "{}/2010-04-01/Accounts/{ACCOUNT}/Calls.json",
        prism.base_url()
    );
    let no_from = reqwest::Client::new()
        .post(&url)
        .basic_auth(ACCOUNT, Some(TOKEN))
        .form(&[("To", TO), ("Twiml", "<Response/>")]);
    assert_eq!(no_from.send().await.unwrap().status(), 422);
}

#[test]
fn twilio_voice_channels_follow_the_settings() {
    use otpgw::domain::Channel;
    assert_eq!(
        provider(&config("http://127.0.0.1:1")).channels(),
        [Channel::Voice]
    );
    let both = Config {
        from: Some(CALLER_ID.into()),
        ..config("http://127.0.0.1:1")
    };
    assert_eq!(provider(&both).channels(), [Channel::Sms, Channel::Voice]);
    let sms = Config {
        voice: None,
        ..both
    };
    assert_eq!(provider(&sms).channels(), [Channel::Sms]);
}
