//! Amazon SNS: `Publish` over the Query API, form-encoded and signed with SigV4; the
//! `MessageId` of the XML answer back; errors as `Error/Code`. Against the recording
//! stand-in (exact request, an independent SigV4 check) and against a local SNS (moto),
//! which verifies the signature itself and records what was published.

use crate::checks::shared::Vendor;
use crate::checks::{check_errors, Case};
use crate::moto::{moto, published};
use crate::server::{message, Canned, MockProvider, Recorded};
use hmac::{KeyInit, Mac};
use otpgw::providers::aws_sns::{self, SnsProvider};
use otpgw::providers::{ErrorKind::*, ProviderConfig, ReceiptError, SmsProvider};
use sha2::Digest;
use std::time::Duration;

const AKID: &str = "AKIAIOSFODNN7EXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
/// The documented answer of Publish.
const PUBLISHED: &str = r#"<PublishResponse xmlns="https://sns.amazonaws.com/doc/2010-03-31/">
    <PublishResult>
        <MessageId>567910cd-659e-55d4-8ccb-5aaf14679dc0</MessageId>
    </PublishResult>
    <ResponseMetadata>
        <RequestId>d74b8436-ae13-5ab4-a9ff-ce54dfea72a0</RequestId>
    </ResponseMetadata>
</PublishResponse>"#;

fn config(base: &str) -> aws_sns::Config {
    aws_sns::Config {
        region: "eu-west-1".into(),
        base_url: Some(base.into()),
        access_key_id: AKID.into(),
        secret_access_key: SECRET.into(),
        timeout_ms: 2_000,
        ..Default::default()
    }
}

fn provider(base: &str) -> SnsProvider {
    SnsProvider::new(&config(base)).unwrap()
}

/// Amazon SNS for the cases every adapter shares (`checks::shared`).
pub fn vendor() -> Vendor {
    Vendor {
        kind: "aws_sns",
        build: |base, timeout_ms| {
            Box::new(
                SnsProvider::new(&aws_sns::Config {
                    timeout_ms,
                    ..config(base)
                })
                .unwrap(),
            )
        },
        to: "+14155550123",
        text: "Your code is 123456",
        accepted: Canned::xml(200, PUBLISHED),
        without_id: vec![
            Canned::xml(
                200,
                "<PublishResponse><PublishResult></PublishResult></PublishResponse>",
            ),
            Canned::xml(
                200,
                "<PublishResponse><PublishResult><MessageId></MessageId></PublishResult></PublishResponse>",
            ),
        ],
    }
}

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    m.update(data.as_bytes());
    m.finalize().into_bytes().to_vec()
}

/// Checks the recorded request's SigV4 signature from scratch (canonical request,
/// string to sign, derived key), independently of the signer the adapter uses.
fn check_sigv4(r: &Recorded, host: &str, region: &str, secret: &str, token: Option<&str>) {
    let auth = r.header("authorization").expect("an Authorization header");
    let amz_date = r.header("x-amz-date").expect("x-amz-date");
    assert_eq!(amz_date.len(), 16, "{amz_date}");
    assert!(
        amz_date.ends_with('Z') && amz_date.as_bytes()[8] == b'T',
        "{amz_date}"
    );
    let date = &amz_date[..8];
    let signed_headers = match token {
        Some(_) => "content-type;host;x-amz-date;x-amz-security-token",
        None => "content-type;host;x-amz-date",
    };
    let prefix = format!(
        "AWS4-HMAC-SHA256 Credential={AKID}/{date}/{region}/sns/aws4_request, SignedHeaders={signed_headers}, Signature="
    );
    assert!(
        auth.starts_with(&prefix),
        "{auth}\nexpected to start with\n{prefix}"
    );
    let signature = &auth[prefix.len()..];
    assert_eq!(signature.len(), 64);
    assert!(signature
        .bytes()
        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    let mut canonical_headers = format!(
        "content-type:{}\nhost:{host}\nx-amz-date:{amz_date}\n",
        r.header("content-type").unwrap()
    );
    if let Some(t) = token {
        assert_eq!(r.header("x-amz-security-token").as_deref(), Some(t));
        canonical_headers.push_str(&format!("x-amz-security-token:{t}\n"));
    }
    let canonical = format!(
        "POST\n/\n\n{canonical_headers}\n{signed_headers}\n{}",
        hex::encode(sha2::Sha256::digest(&r.body))
    );
    let scope = format!("{date}/{region}/sns/aws4_request");
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex::encode(sha2::Sha256::digest(canonical.as_bytes()))
    );
    let k = hmac(format!("AWS4{secret}").as_bytes(), date);
    let k = hmac(&k, region);
    let k = hmac(&k, "sns");
    let k = hmac(&k, "aws4_request");
    assert_eq!(
        signature,
        hex::encode(hmac(&k, &to_sign)),
        "the signature does not verify"
    );
}

#[tokio::test]
async fn sns_publishes_a_signed_form_and_returns_message_id() {
    let mock = MockProvider::start(vec![Canned::xml(200, PUBLISHED)]).await;
    let text = "Your code is 123456 & more: ünïcode ✓";
    let id = provider(&mock.base_url())
        .send(&message("+14155550123", text))
        .await
        .unwrap();
    assert_eq!(id, "567910cd-659e-55d4-8ccb-5aaf14679dc0");
    let r = mock.single();
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/");
    assert_eq!(r.query, None);
    assert_eq!(
        r.header("content-type").unwrap(),
        "application/x-www-form-urlencoded; charset=utf-8"
    );
    let pairs = |v: &[(&str, &str)]| {
        v.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        r.form(),
        pairs(&[
            ("Action", "Publish"),
            ("Version", "2010-03-31"),
            ("PhoneNumber", "+14155550123"),
            ("Message", text),
            ("MessageAttributes.entry.1.Name", "AWS.SNS.SMS.SMSType"),
            ("MessageAttributes.entry.1.Value.DataType", "String"),
            (
                "MessageAttributes.entry.1.Value.StringValue",
                "Transactional"
            ),
        ])
    );
    assert!(
        r.text().contains("PhoneNumber=%2B14155550123"),
        "the + is percent-encoded: {}",
        r.text()
    );
    check_sigv4(&r, &mock.addr.to_string(), "eu-west-1", SECRET, None);
}

#[tokio::test]
async fn sns_sends_sender_id_origination_number_and_session_token() {
    let mock = MockProvider::start(vec![Canned::xml(200, PUBLISHED)]).await;
    let cfg = aws_sns::Config {
        region: "ap-southeast-2".into(),
        session_token: Some("FwoGZXIvYXdzEXAMPLETOKEN==".into()),
        sms_type: "Promotional".into(),
        sender_id: Some("ACME".into()),
        origination_number: Some("+12065550100".into()),
        ..config(&mock.base_url())
    };
    SnsProvider::new(&cfg)
        .unwrap()
        .send(&message("+61491570156", "Code 4821"))
        .await
        .unwrap();
    let r = mock.single();
    let form = r.form();
    let entries: Vec<(String, String)> = form
        .into_iter()
        .filter(|(k, _)| k.starts_with("MessageAttributes."))
        .collect();
    let expected: Vec<(String, String)> = [
        ("1.Name", "AWS.SNS.SMS.SMSType"),
        ("1.Value.DataType", "String"),
        ("1.Value.StringValue", "Promotional"),
        ("2.Name", "AWS.SNS.SMS.SenderID"),
        ("2.Value.DataType", "String"),
        ("2.Value.StringValue", "ACME"),
        ("3.Name", "AWS.MM.SMS.OriginationNumber"),
        ("3.Value.DataType", "String"),
        ("3.Value.StringValue", "+12065550100"),
    ]
    .iter()
    .map(|(k, v)| (format!("MessageAttributes.entry.{k}"), v.to_string()))
    .collect();
    assert_eq!(entries, expected);
    assert_eq!(r.field("PhoneNumber").as_deref(), Some("+61491570156"));
    check_sigv4(
        &r,
        &mock.addr.to_string(),
        "ap-southeast-2",
        SECRET,
        Some("FwoGZXIvYXdzEXAMPLETOKEN=="),
    );
}

fn err(status: u16, code: &str, message: &str) -> Canned {
    Canned::xml(
        status,
        format!(
            r#"<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>9ae4f6f8-0a3c-5ef9-8f4c-3b0e5e0a4a1b</RequestId></ErrorResponse>"#
        ),
    )
}

#[tokio::test]
async fn sns_maps_documented_errors() {
    let cases = vec![
        Case::new(
            "invalid phone number",
            err(
                400,
                "InvalidParameter",
                "Invalid parameter: PhoneNumber Reason: +14155550123 is not valid to publish to",
            ),
            InvalidDestination,
            false,
        ),
        Case::new(
            "invalid message",
            err(
                400,
                "InvalidParameter",
                "Invalid parameter: Message too long",
            ),
            RejectedContent,
            false,
        ),
        Case::new(
            "invalid attribute value",
            err(
                400,
                "InvalidParameterValue",
                "The message attribute 'AWS.SNS.SMS.SMSType' has an invalid value",
            ),
            RejectedContent,
            false,
        ),
        Case::new(
            "opted out",
            err(400, "OptedOut", "Phone number is opted out"),
            InvalidDestination,
            false,
        ),
        Case::new(
            "authorization error",
            err(
                403,
                "AuthorizationError",
                "User is not authorized to perform: SNS:Publish",
            ),
            Auth,
            false,
        ),
        Case::new(
            "sandbox number",
            err(
                403,
                "AuthorizationError",
                "Phone number &lt;+14155550123&gt; is not verified",
            ),
            Auth,
            false,
        ),
        Case::new(
            "unknown key",
            err(
                403,
                "InvalidClientTokenId",
                "The security token included in the request is invalid.",
            ),
            Auth,
            false,
        ),
        Case::new(
            "bad signature",
            err(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match",
            ),
            Auth,
            false,
        ),
        Case::new(
            "clock skew",
            err(400, "RequestExpired", "Request has expired."),
            Auth,
            false,
        ),
        Case::new(
            "throttling (400)",
            err(400, "Throttling", "Rate exceeded"),
            RateLimited,
            true,
        ),
        Case::new(
            "throttled (429)",
            err(429, "Throttled", "Rate exceeded").header("retry-after", "3"),
            RateLimited,
            true,
        )
        .retry_after(Duration::from_secs(3)),
        Case::new(
            "internal error",
            err(500, "InternalError", "Internal failure"),
            Unavailable,
            true,
        ),
        Case::new(
            "service unavailable",
            err(503, "ServiceUnavailable", "Service is unavailable"),
            Unavailable,
            true,
        ),
        Case::new(
            "not XML",
            Canned::json(502, "bad gateway"),
            Unavailable,
            true,
        ),
    ];
    check_errors(cases, provider, "+14155550123", "Your code is 123456").await;
}

#[test]
fn sns_config_endpoint_defaults_problems_and_no_receipts() {
    let c: ProviderConfig = toml::from_str(
        "kind = \"aws_sns\"\nregion = \"us-east-1\"\naccess_key_id = \"AKID\"\nsecret_access_key = \"s3cr3t\"\nsession_token = \"t0ken\"",
    )
    .unwrap();
    let ProviderConfig::AwsSns(s) = &c else {
        panic!("{c:?}")
    };
    assert_eq!(s.endpoint(), "https://sns.us-east-1.amazonaws.com");
    assert_eq!(
        (s.sms_type.as_str(), s.timeout_ms),
        ("Transactional", 5_000)
    );
    assert!(c.problems().is_empty(), "{:?}", c.problems());
    let dbg = format!("{c:?}");
    assert!(
        !dbg.contains("s3cr3t") && !dbg.contains("t0ken"),
        "Debug shows a secret: {dbg}"
    );
    let cn = aws_sns::Config {
        region: "cn-north-1".into(),
        ..Default::default()
    };
    assert_eq!(cn.endpoint(), "https://sns.cn-north-1.amazonaws.com.cn");
    let bad = aws_sns::Config {
        region: "US East".into(),
        sms_type: "Urgent".into(),
        sender_id: Some("TOO-LONG-SENDER".into()),
        origination_number: Some("2065550100".into()),
        ..Default::default()
    };
    let p = bad.problems().join("\n");
    for needle in [
        "region",
        "access_key_id",
        "secret_access_key",
        "sms_type",
        "sender_id",
        "origination_number",
    ] {
        assert!(p.contains(needle), "{needle} missing from: {p}");
    }
    // SNS has no per-message callback: receipts are not supported.
    let h = http::HeaderMap::new();
    let req = crate::checks::receipt("POST", "https://otp.example/v1/receipts/sns", &h, b"{}");
    assert_eq!(
        provider("http://unused").parse_receipt(&req),
        Err(ReceiptError::NotSupported)
    );
}

// ---- against a local SNS (moto) ----

/// A number nobody else in this run publishes to.
fn unique_number() -> String {
    let mut b = [0u8; 4];
    getrandom::fill(&mut b).unwrap();
    format!("+1415{:07}", u32::from_be_bytes(b) % 10_000_000)
}

fn moto_config(m: &crate::moto::Moto) -> aws_sns::Config {
    aws_sns::Config {
        region: "us-east-1".into(),
        base_url: Some(m.base_url.clone()),
        access_key_id: m.access_key_id.clone(),
        secret_access_key: m.secret_access_key.clone().into(),
        sender_id: Some("OTPGW".into()),
        origination_number: Some("+12065550100".into()),
        timeout_ms: 10_000,
        ..Default::default()
    }
}

#[tokio::test]
async fn sns_publish_reaches_a_local_sns_exactly_once() {
    let m = moto();
    let to = unique_number();
    let text = format!("Your code is 482913 ({to}) & ünïcode ✓");
    let id = SnsProvider::new(&moto_config(&m))
        .unwrap()
        .send(&message(&to, &text))
        .await
        .expect("moto accepts the signed publish");
    let mine: Vec<_> = published(&m.base_url)
        .await
        .into_iter()
        .filter(|(n, _, _)| n == &to)
        .collect();
    assert_eq!(
        mine,
        vec![(to.clone(), text, id)],
        "published exactly once, as sent"
    );
}

#[tokio::test]
async fn sns_local_sns_refuses_a_wrong_secret_and_an_unknown_key() {
    let m = moto();
    for (name, cfg, code) in [
        (
            "wrong secret",
            aws_sns::Config {
                secret_access_key: "not-the-secret".into(),
                ..moto_config(&m)
            },
            "SignatureDoesNotMatch",
        ),
        (
            "unknown key",
            aws_sns::Config {
                access_key_id: "AKIAUNKNOWNKEY000000".into(),
                ..moto_config(&m)
            },
            "InvalidClientTokenId",
        ),
    ] {
        let to = unique_number();
        let e = SnsProvider::new(&cfg)
            .unwrap()
            .send(&message(&to, "Your code is 000000"))
            .await
            .unwrap_err();
        assert_eq!((e.kind, e.retryable), (Auth, false), "{name}: {e:?}");
        assert!(e.detail.contains(code), "{name}: {}", e.detail);
        assert!(
            published(&m.base_url)
                .await
                .iter()
                .all(|(n, _, _)| n != &to),
            "{name}: nothing published"
        );
    }
}
