//! Vonage voice: the Voice API request (its RS256 JWT verified with the public half of a
//! throwaway key pair made with `openssl`, independently of the adapter; the NCCO and
//! its SSML parsed and checked; the numbers; the key from a file or inline) and the
//! documented error answers. Call events are in `vonage_voice_events`.

use crate::checks::*;
use crate::server::{Canned, MockProvider, Recorded};
use crate::voice_support::*;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use otpgw::domain::Channel;
use otpgw::providers::vonage::{Config, Talker, VoiceConfig, VonageProvider};
use otpgw::providers::{ErrorKind, SmsProvider};
use serde_json::{json, Value};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

pub(crate) const APP_ID: &str = "aaaaaaaa-bbbb-cccc-dddd-0123456789ab";
pub(crate) const CALLER_ID: &str = "+447700900001";
pub(crate) const TO: &str = "+14155550123";
pub(crate) const SECRET: &str = "vonage-signature-secret-0123456789";
pub(crate) const EVENT_URL: &str = "https://gw.example.com/v1/receipts/vg";
pub(crate) const UUID: &str = "63f61863-4a51-4f6b-86e1-46edebcf9356";
/// The `201` answer of the Voice API reference ("Create an outbound call").
const CREATED: &str = r#"{"uuid":"63f61863-4a51-4f6b-86e1-46edebcf9356","status":"started","direction":"outbound","conversation_uuid":"CON-f972836a-550f-45fa-956c-12a2ab5b7d22"}"#;

/// A throwaway RSA key pair made with `openssl` once per test run, kept in memory:
/// the private key as PKCS#8 and as PKCS#1, and the public key, all PEM.
struct Keys {
    pkcs8: String,
    pkcs1: String,
    public: String,
}

fn openssl(args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl must be on PATH (scripts/test installs it)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let file = |n: &str| dir.path().join(n).to_string_lossy().into_owned();
        let (pkcs8, pkcs1, public) = (file("key.pem"), file("key-pkcs1.pem"), file("public.pem"));
        openssl(&[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            &pkcs8,
        ]);
        openssl(&["rsa", "-in", &pkcs8, "-traditional", "-out", &pkcs1]);
        openssl(&["pkey", "-in", &pkcs8, "-pubout", "-out", &public]);
        let read = |f: &str| std::fs::read_to_string(f).unwrap();
        Keys {
            pkcs8: read(&pkcs8),
            pkcs1: read(&pkcs1),
            public: read(&public),
        }
    })
}

/// Whether `signature` is `openssl`'s RS256 signature of `input` under the public key.
fn openssl_verifies(input: &str, signature: &[u8]) -> bool {
    let dir = tempfile::tempdir().unwrap();
    let (data, sig, public) = (
        dir.path().join("input"),
        dir.path().join("sig"),
        dir.path().join("public.pem"),
    );
    std::fs::write(&data, input).unwrap();
    std::fs::write(&sig, signature).unwrap();
    std::fs::write(&public, &keys().public).unwrap();
    let out = Command::new("openssl")
        .args(["dgst", "-sha256", "-verify"])
        .arg(&public)
        .arg("-signature")
        .arg(&sig)
        .arg(&data)
        .output()
        .unwrap();
    out.status.success() && String::from_utf8_lossy(&out.stdout).contains("Verified OK")
}

pub(crate) fn voice() -> VoiceConfig {
    VoiceConfig {
        application_id: APP_ID.into(),
        private_key: Some(keys().pkcs8.as_str().into()),
        from: CALLER_ID.into(),
        event_url: Some(EVENT_URL.into()),
        signature_secret: Some(SECRET.into()),
        ..VoiceConfig::default()
    }
}

/// A Vonage instance that only calls, against `base`.
pub(crate) fn config(base: &str) -> Config {
    Config {
        voice: Some(VoiceConfig {
            base_url: base.into(),
            ..voice()
        }),
        ..Config::default()
    }
}

pub(crate) fn provider(cfg: &Config) -> VonageProvider {
    VonageProvider::new(cfg).expect("a valid config")
}

async fn sent(
    cfg: &Config,
    msg: &otpgw::providers::OutboundMessage,
    server: &MockProvider,
) -> Recorded {
    let id = provider(cfg).send(msg).await.expect("sent");
    assert_eq!(id, UUID);
    server.requests().pop().unwrap()
}

/// The JWT of a request: header, claims, signing input and signature.
fn bearer_jwt(r: &Recorded) -> (Value, Value, String, Vec<u8>) {
    let h = r.header("authorization").expect("an Authorization header");
    let token = h.strip_prefix("Bearer ").expect("the Bearer scheme");
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "{token}");
    let json_of =
        |p: &str| serde_json::from_slice::<Value>(&URL_SAFE_NO_PAD.decode(p).unwrap()).unwrap();
    (
        json_of(parts[0]),
        json_of(parts[1]),
        format!("{}.{}", parts[0], parts[1]),
        URL_SAFE_NO_PAD.decode(parts[2]).unwrap(),
    )
}

pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[tokio::test]
async fn vonage_voice_places_the_documented_call_with_an_rs256_jwt() {
    let server = MockProvider::start(vec![Canned::json(201, CREATED)]).await;
    let cfg = Config {
        voice: Some(VoiceConfig {
            ringing_timer_secs: Some(45),
            hang_up_on_machines: true,
            ..config(&server.base_url()).voice.unwrap()
        }),
        ..Config::default()
    };
    let r = sent(&cfg, &voice_message(TO, SPOKEN, "en"), &server).await;
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/v1/calls");
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/json")
    );

    let (header, claims, input, signature) = bearer_jwt(&r);
    assert_eq!(header, json!({"alg": "RS256", "typ": "JWT"}));
    assert!(
        openssl_verifies(&input, &signature),
        "openssl verifies the RS256 signature"
    );
    assert_eq!(claims["application_id"], APP_ID);
    let iat = claims["iat"].as_i64().unwrap();
    assert!((iat - now()).abs() <= 5, "{claims}");
    assert_eq!(claims["exp"].as_i64().unwrap(), iat + 300);
    assert_eq!(claims["jti"].as_str().unwrap().len(), 36);
    let again = sent(&cfg, &voice_message(TO, SPOKEN, "en"), &server).await;
    assert_ne!(
        bearer_jwt(&again).1["jti"],
        claims["jti"],
        "a fresh jti each call"
    );

    let speak = "<speak><prosody rate='slow'>Your Acme verification code is: 1, 2, 3, 4, 5, 6.</prosody><break time='1s'/></speak>";
    assert_eq!(
        r.json(),
        json!({
            "to": [{"type": "phone", "number": "14155550123"}],
            "from": {"type": "phone", "number": "447700900001"},
            "ncco": [{"action": "talk", "text": speak, "language": "en-US", "style": 0, "premium": false, "loop": 2}],
            "event_url": [EVENT_URL],
            "event_method": "POST",
            "ringing_timer": 45,
            "machine_detection": "hangup",
        })
    );
}

/// The `talk` action of a request, with its SSML parsed: `<speak>` holding the text
/// (slowly) and a one-second break.
fn talk(r: &Recorded) -> (Value, Element) {
    let ncco = r.json()["ncco"].clone();
    assert_eq!(ncco.as_array().unwrap().len(), 1);
    let talk = ncco[0].clone();
    assert_eq!(
        (talk["action"].as_str(), talk["loop"].as_i64()),
        (Some("talk"), Some(2)),
        "said twice"
    );
    let speak = parse_xml(talk["text"].as_str().unwrap());
    assert_eq!(speak.name, "speak");
    let parts = speak.elements();
    let names: Vec<&str> = parts.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["prosody", "break"]);
    assert_eq!(parts[0].attr("rate"), Some("slow"));
    assert_eq!(parts[1].attr("time"), Some("1s"));
    (talk, parts[0].clone())
}

#[tokio::test]
async fn vonage_voice_ncco_says_the_spaced_digits_twice_in_the_locales_language() {
    let server = MockProvider::start(vec![Canned::json(201, CREATED)]).await;
    let mut cfg = config(&server.base_url());
    for (locale, language) in [
        ("en", "en-US"),
        ("es", "es-ES"),
        ("fr-CA", "fr-CA"),
        ("de-DE", "de-DE"),
        ("pt-BR", "pt-BR"),
        ("ja", "ja-JP"),
        ("xx", "en-US"),
    ] {
        let r = sent(&cfg, &voice_message(TO, SPOKEN, locale), &server).await;
        let (talk, spoken) = talk(&r);
        assert_eq!(talk["language"], language, "{locale}");
        assert_eq!(spoken.text(), SPOKEN);
        assert!(spoken.text().contains("1, 2, 3, 4, 5, 6"));
    }
    let v = cfg.voice.as_mut().unwrap();
    v.locales.insert(
        "es".into(),
        Talker {
            language: "es-MX".into(),
            style: 1,
        },
    );
    v.premium = true;
    let r = sent(&cfg, &voice_message(TO, SPOKEN, "es-AR"), &server).await;
    let (talk, _) = talk(&r);
    assert_eq!(
        (
            talk["language"].as_str(),
            talk["style"].as_i64(),
            talk["premium"].as_bool()
        ),
        (Some("es-MX"), Some(1), Some(true))
    );
}

#[tokio::test]
async fn vonage_voice_escapes_hostile_text_in_the_ssml() {
    let server = MockProvider::start(vec![Canned::json(201, CREATED)]).await;
    let hostile = "Your A&B <Shop></prosody><break time='60s'/> \"x\" 'y' code is: 1, 2, 3.";
    let r = sent(
        &config(&server.base_url()),
        &voice_message(TO, hostile, "en"),
        &server,
    )
    .await;
    let (_, spoken) = talk(&r);
    assert!(spoken.elements().is_empty(), "no markup from the text");
    assert_eq!(spoken.text(), hostile);
}

#[tokio::test]
async fn vonage_voice_takes_the_key_from_a_file_or_inline_as_pkcs8_or_pkcs1() {
    let server = MockProvider::start(vec![Canned::json(201, CREATED)]).await;
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &keys().pkcs8).unwrap();
    let from_file = VoiceConfig {
        private_key: None,
        private_key_file: Some(file.path().to_string_lossy().into_owned()),
        ..config(&server.base_url()).voice.unwrap()
    };
    // As an environment variable holds it: one line, `\n` written out.
    let one_line = keys().pkcs8.trim_end().replace('\n', "\\n");
    let inline = |key: &str| VoiceConfig {
        private_key: Some(key.into()),
        ..config(&server.base_url()).voice.unwrap()
    };
    for voice in [from_file, inline(&keys().pkcs1), inline(&one_line)] {
        let cfg = Config {
            voice: Some(voice),
            ..Config::default()
        };
        assert!(cfg.problems().is_empty(), "{:?}", cfg.problems());
        let r = sent(&cfg, &voice_message(TO, SPOKEN, "en"), &server).await;
        let (_, _, input, signature) = bearer_jwt(&r);
        assert!(openssl_verifies(&input, &signature));
    }
}

#[tokio::test]
async fn vonage_voice_refuses_an_overlong_text_without_a_request() {
    let server = MockProvider::start(vec![Canned::json(201, CREATED)]).await;
    let long = format!("Code: 1, 2, 3. {}", "Acme ".repeat(400));
    let e = provider(&config(&server.base_url()))
        .send(&voice_message(TO, &long, "en"))
        .await
        .unwrap_err();
    assert_eq!((e.kind, e.retryable), (ErrorKind::RejectedContent, false));
    assert!(server.requests().is_empty());
}

fn problem(status: u16, code: &str, extra: &str) -> Canned {
    Canned::json(
        status,
        format!(
            r#"{{"type":"https://developer.nexmo.com/api-errors#{code}","title":"Refused","detail":"The number {TO} was refused"{extra},"instance":"bf0ca0bf927b3b52e3cb03217e1a1ddf"}}"#
        ),
    )
}

#[tokio::test]
async fn vonage_voice_error_answers_map_to_kinds() {
    use ErrorKind::*;
    let to_param =
        r#","invalid_parameters":[{"name":"to[0].number","reason":"does not match pattern"}]"#;
    let other_param = r#","invalid_parameters":[{"name":"ncco[0].language","reason":"unknown"}]"#;
    let cases = vec![
        Case::new(
            "401 unauthorized",
            problem(401, "unauthorized", ""),
            Auth,
            false,
        ),
        Case::new(
            "401 jwt-expired",
            problem(401, "jwt-expired", ""),
            Auth,
            false,
        ),
        Case::new("403 forbidden", problem(403, "forbidden", ""), Auth, false),
        Case::new(
            "403 low-balance",
            problem(403, "low-balance", ""),
            Auth,
            false,
        ),
        Case::new("404 not-found", problem(404, "not-found", ""), Auth, false),
        Case::new(
            "400 invalid to",
            problem(400, "invalid-params", to_param),
            InvalidDestination,
            false,
        ),
        Case::new(
            "400 invalid language",
            problem(400, "invalid-params", other_param),
            RejectedContent,
            false,
        ),
        Case::new(
            "400 invalid-json",
            problem(400, "invalid-json", ""),
            RejectedContent,
            false,
        ),
        Case::new(
            "429 with Retry-After",
            problem(429, "throttled", "").header("retry-after", "3"),
            RateLimited,
            true,
        )
        .retry_after(Duration::from_secs(3)),
        Case::new("500", problem(500, "internal-error", ""), Unavailable, true),
        Case::new(
            "503 page",
            Canned::json(503, "<html>down</html>"),
            Unavailable,
            true,
        ),
    ];
    check_errors_for(
        cases,
        |b| provider(&config(b)),
        &voice_message(TO, SPOKEN, "en"),
    )
    .await;
}

#[test]
fn vonage_voice_channels_follow_the_settings() {
    assert_eq!(
        provider(&config("http://127.0.0.1:1")).channels(),
        [Channel::Voice]
    );
    let both = Config {
        api_key: "abcd1234".into(),
        api_secret: "abcdef0123456789".into(),
        from: "Acme".into(),
        ..config("http://127.0.0.1:1")
    };
    assert_eq!(provider(&both).channels(), [Channel::Sms, Channel::Voice]);
}
