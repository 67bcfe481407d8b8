//! Unit tests of the shared HTTP helpers: scrubbing, redirects, accepted answers.

use super::*;

#[test]
fn scrub_hides_numbers_and_codes_but_keeps_short_digits() {
    assert_eq!(
        scrub("to +14155550123: code 123456 in 3 s"),
        "to +#: code # in 3 s"
    );
    assert_eq!(scrub("error 42"), "error 42");
    assert_eq!(scrub(&"a".repeat(300)).len(), 200);
}

#[test]
fn a_redirect_names_the_target_origin_only() {
    let mut h = reqwest::header::HeaderMap::new();
    h.insert(
        reqwest::header::LOCATION,
        "https://elsewhere.example:8443/steal?token=abc"
            .parse()
            .unwrap(),
    );
    let e = redirect_error(307, &h).unwrap();
    assert_eq!((e.kind, e.retryable), (ErrorKind::Redirected, false));
    assert_eq!(
        e.detail,
        "provider answered a redirect (307) to https://elsewhere.example:8443; redirects are not followed"
    );
    assert!(redirect_error(200, &h).is_none());
    assert!(redirect_error(404, &h).is_none());
    let relative = redirect_error(302, &reqwest::header::HeaderMap::new()).unwrap();
    assert!(
        relative.detail.contains("(302) to an unnamed location"),
        "{}",
        relative.detail
    );
}

#[test]
fn an_accepted_answer_without_a_readable_id_is_sent_under_the_verification_id() {
    let msg = crate::providers::OutboundMessage {
        id: crate::domain::VerificationId::parse("vrf_00aa0123456789abcdef01234567").unwrap(),
        tenant: "acme".into(),
        to: crate::domain::PhoneNumber::parse("+14155550123")
            .unwrap()
            .into(),
        body: "Your code is 123456".into(),
        locale: "en".into(),
        metadata: None,
        expires_at: 0,
        request_id: None,
        channel: crate::domain::Channel::Sms,
        code: "123456".into(),
        subject: None,
        html: None,
    };
    assert_eq!(accepted_id("x", 201, Some("SM1".into()), &msg), "SM1");
    for none in [None, Some(String::new()), Some("  ".into())] {
        assert_eq!(accepted_id("x", 201, none, &msg), msg.id.as_str());
    }
}
