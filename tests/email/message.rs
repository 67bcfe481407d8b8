//! The message as the server received and parsed it, over each kind of connection:
//! STARTTLS with AUTH PLAIN, implicit TLS with AUTH LOGIN, plain text to loopback.

use super::server::{header, part, secured, Smtpd};
use super::support::certs::certs;
use super::{provider, secured_provider, send, BRAND, FROM};
use otpgw::providers::smtp::config::Security;
use serde_json::json;
use std::time::Duration;

const T: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_over_starttls_has_every_header_both_parts_and_the_code_in_each() {
    let c = certs();
    let s = secured("starttls", &c, json!({})).await;
    let cfg = secured_provider(s.port, Security::Starttls, &c.ca);
    let id = send(&cfg, "ann.lee@example.com", "482913").await.unwrap();
    let m = s.wait_for("message", 1, T).await.remove(0);

    // the envelope, the connection: encrypted and authenticated before MAIL FROM
    assert_eq!(m["mail_from"], FROM);
    assert_eq!(m["rcpt_tos"], json!(["ann.lee@example.com"]));
    assert_eq!(
        (m["tls"].as_bool(), m["authenticated"].as_bool()),
        (Some(true), Some(true))
    );
    assert_eq!(s.all("auth")[0]["mechanism"], "PLAIN");
    // the headers, decoded by Python's email package
    assert_eq!(header(&m, "From").unwrap(), format!("{BRAND} <{FROM}>"));
    assert_eq!(header(&m, "To").unwrap(), "ann.lee@example.com");
    assert_eq!(
        header(&m, "Subject").unwrap(),
        format!("Your {BRAND} verification code")
    );
    assert_eq!(header(&m, "Message-ID").unwrap(), format!("<{id}>"));
    assert!(id.starts_with("vrf_00aa0123456789abcdef01234567.") && id.ends_with("@acme.example"));
    let date = header(&m, "Date").unwrap();
    assert!(date.contains(" +0000") || date.contains(" -0000"), "{date}");
    assert_eq!(header(&m, "Auto-Submitted").unwrap(), "auto-generated");
    assert_eq!(header(&m, "MIME-Version").unwrap(), "1.0");
    assert!(
        header(&m, "List-Unsubscribe").is_none(),
        "transactional: no List-Unsubscribe"
    );
    assert!(
        !header(&m, "Subject").unwrap().contains("482913"),
        "no code in the subject"
    );
    // the body: multipart/alternative, plain then HTML, both UTF-8 with the code
    assert_eq!(m["content_type"], "multipart/alternative");
    let types: Vec<&str> = m["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["text/plain", "text/html"]);
    for p in m["parts"].as_array().unwrap() {
        assert_eq!(p["charset"], "utf-8", "{p}");
    }
    let text = part(&m, "text/plain").unwrap();
    let html = part(&m, "text/html").unwrap();
    assert!(text.contains("482913") && text.contains(BRAND), "{text}");
    assert!(
        html.contains(">482913</strong>") && html.contains(BRAND),
        "{html}"
    );
    // the raw message is ASCII on the wire (encoded words, transfer encodings) and was
    // written to the server's directory as received
    assert_eq!(m["ascii"], true);
    let raw = std::fs::read(m["file"].as_str().unwrap()).unwrap();
    assert!(raw.is_ascii() && String::from_utf8_lossy(&raw).contains("=?utf-8?"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn implicit_tls_with_auth_login_delivers_the_message() {
    let c = certs();
    let s = secured("tls", &c, json!({"exclude": ["PLAIN"]})).await;
    let cfg = secured_provider(s.port, Security::Tls, &c.ca);
    send(&cfg, "bo@example.org", "551203").await.unwrap();
    let m = s.wait_for("message", 1, T).await.remove(0);
    assert_eq!(
        (m["tls"].as_bool(), m["authenticated"].as_bool()),
        (Some(true), Some(true))
    );
    let auth = s.all("auth");
    assert_eq!(
        (auth[0]["mechanism"].as_str(), auth[0]["ok"].as_bool()),
        (Some("LOGIN"), Some(true))
    );
    assert!(part(&m, "text/plain").unwrap().contains("551203"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_text_to_a_loopback_relay_without_auth_delivers_the_message() {
    let s = Smtpd::plain().await;
    send(&provider(s.port), "cy@example.net", "730114")
        .await
        .unwrap();
    let m = s.wait_for("message", 1, T).await.remove(0);
    assert_eq!(
        (m["tls"].as_bool(), m["authenticated"].as_bool()),
        (Some(false), Some(false))
    );
    assert!(s.all("auth").is_empty());
    assert!(part(&m, "text/html").unwrap().contains("730114"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reply_to_and_hello_name_are_sent_when_set_and_ehlo_defaults_to_the_sender_domain() {
    let s = Smtpd::plain().await;
    send(&provider(s.port), "di@example.net", "100200")
        .await
        .unwrap();
    let set = otpgw::providers::smtp::Config {
        reply_to: Some("support@acme.example".into()),
        hello_name: Some("gw1.acme.example".into()),
        ..provider(s.port)
    };
    send(&set, "di@example.net", "100201").await.unwrap();
    let m = s.wait_for("message", 2, T).await;
    assert_eq!(m[0]["helo"], "acme.example");
    assert!(header(&m[0], "Reply-To").is_none());
    assert_eq!(m[1]["helo"], "gw1.acme.example");
    assert_eq!(header(&m[1], "Reply-To").unwrap(), "support@acme.example");
}
