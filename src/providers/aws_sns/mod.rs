//! The Amazon SNS provider: `Publish` to a phone number over the Query API.
//!
//! **Send.** `POST {endpoint}/` (by default `https://sns.<region>.amazonaws.com/`) with
//! `Content-Type: application/x-www-form-urlencoded; charset=utf-8` and the form
//! `Action=Publish&Version=2010-03-31&PhoneNumber=<+E.164>&Message=<text>` followed by
//! `MessageAttributes.entry.N.Name`, `….Value.DataType` (`String`) and
//! `….Value.StringValue` for `AWS.SNS.SMS.SMSType` (always; `Transactional` unless
//! configured), then `AWS.SNS.SMS.SenderID` and `AWS.MM.SMS.OriginationNumber` when
//! configured. AWS: "PhoneNumber: The phone number to which you want to deliver an SMS
//! message. Use E.164 format"; "Message: … For SMS, each message can contain up to 140
//! characters" (longer texts are split by SNS). The text is UTF-8, percent-encoded.
//!
//! The request is signed with Signature Version 4 (`aws-sigv4`, service `sns`, the
//! configured region, the body's SHA-256 in the signature), from the configured access
//! key, secret and optional session token; the signer adds `x-amz-date`,
//! `Authorization: AWS4-HMAC-SHA256 Credential=<key>/<date>/<region>/sns/aws4_request,
//! SignedHeaders=content-type;host;x-amz-date, Signature=<hex>` and, with a session
//! token, `x-amz-security-token`. No AWS SDK: one pooled reqwest client like every
//! other adapter.
//!
//! The answer is XML, `<PublishResponse><PublishResult><MessageId>…</MessageId>
//! </PublishResult>…`: `MessageId` is the message id. Errors: see `error.rs`.
//!
//! **Receipts.** SNS makes no per-message HTTP callback for SMS: delivery status comes
//! from SNS's SMS delivery-status logging (CloudWatch Logs), outside the gateway. This
//! adapter keeps the trait's default (`NotSupported`, answered 404).

mod config;
pub mod error;

pub use config::Config;

use super::http::{self, Answer, Auth, Body};
use super::{ErrorKind, OutboundMessage, ProviderError, SmsProvider};
use async_trait::async_trait;
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use std::time::SystemTime;

/// The body's content type (signed).
pub const CONTENT_TYPE: &str = "application/x-www-form-urlencoded; charset=utf-8";

/// Publishes through Amazon SNS.
pub struct SnsProvider {
    client: reqwest::Client,
    url: String,
    region: String,
    identity: Identity,
    attributes: Vec<(&'static str, String)>,
}

impl std::fmt::Debug for SnsProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnsProvider")
            .field("url", &self.url)
            .field("region", &self.region)
            .field("credentials", &"<redacted>")
            .field("attributes", &self.attributes)
            .finish()
    }
}

impl SnsProvider {
    /// Builds the HTTP client (pooled, rustls, per-attempt timeout) and the signing
    /// identity.
    pub fn new(cfg: &Config) -> anyhow::Result<Self> {
        anyhow::ensure!(!cfg.region.trim().is_empty(), "aws_sns region is required");
        let credentials = Credentials::new(
            cfg.access_key_id.trim(),
            cfg.secret_access_key.trim(),
            super::settings::nonblank(&cfg.session_token),
            None,
            "otpgw-config",
        );
        let mut attributes = vec![("AWS.SNS.SMS.SMSType", cfg.sms_type.trim().to_string())];
        if let Some(s) = super::settings::nonblank(&cfg.sender_id) {
            attributes.push(("AWS.SNS.SMS.SenderID", s));
        }
        if let Some(n) = super::settings::nonblank(&cfg.origination_number) {
            attributes.push(("AWS.MM.SMS.OriginationNumber", n));
        }
        Ok(SnsProvider {
            client: super::settings::client(cfg.timeout_ms)?,
            url: format!("{}/", cfg.endpoint()),
            region: cfg.region.trim().to_string(),
            identity: credentials.into(),
            attributes,
        })
    }

    /// The form body of `Publish` for `msg`.
    pub fn publish_form(&self, msg: &OutboundMessage) -> String {
        let mut f = form_urlencoded::Serializer::new(String::new());
        f.append_pair("Action", "Publish")
            .append_pair("Version", "2010-03-31")
            .append_pair("PhoneNumber", msg.to.as_str())
            .append_pair("Message", &msg.body);
        for (i, (name, value)) in self.attributes.iter().enumerate() {
            let n = i + 1;
            f.append_pair(&format!("MessageAttributes.entry.{n}.Name"), name)
                .append_pair(
                    &format!("MessageAttributes.entry.{n}.Value.DataType"),
                    "String",
                )
                .append_pair(
                    &format!("MessageAttributes.entry.{n}.Value.StringValue"),
                    value,
                );
        }
        f.finish()
    }

    /// SigV4 headers for a POST of `body` at `time`.
    fn signature_headers(
        &self,
        body: &[u8],
        time: SystemTime,
    ) -> Result<Vec<(String, String)>, String> {
        let params = v4::SigningParams::builder()
            .identity(&self.identity)
            .region(&self.region)
            .name("sns")
            .time(time)
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| e.to_string())?
            .into();
        let signable = SignableRequest::new(
            "POST",
            &self.url,
            std::iter::once(("content-type", CONTENT_TYPE)),
            SignableBody::Bytes(body),
        )
        .map_err(|e| e.to_string())?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| e.to_string())?
            .into_parts();
        Ok(instructions
            .headers()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect())
    }
}

fn message_id(a: &Answer) -> Option<String> {
    error::xml_text(&a.body, "MessageId").filter(|id| !id.is_empty())
}

#[async_trait]
impl SmsProvider for SnsProvider {
    fn kind(&self) -> &'static str {
        "aws_sns"
    }

    async fn send(&self, msg: &OutboundMessage) -> Result<String, ProviderError> {
        let body = Body::encoded(CONTENT_TYPE, self.publish_form(msg).into_bytes());
        let sign = |bytes: &[u8]| {
            self.signature_headers(bytes, SystemTime::now())
                .map_err(|e| {
                    ProviderError::new(ErrorKind::Auth, format!("cannot sign the request: {e}"))
                })
        };
        let auth = Auth::Signed(&sign);
        let post = http::post(&self.client, &self.url, auth, body, error::from_answer);
        http::accepted("aws_sns", post, message_id, msg).await
    }
}
