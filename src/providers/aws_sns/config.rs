//! Amazon SNS provider settings.

use crate::providers::settings::{timeout_problem, url_problem, DEFAULT_TIMEOUT_MS};
use crate::secret::Secret;
use serde::Deserialize;

/// `[providers.<name>]` with `kind = "aws_sns"`.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// AWS region (`us-east-1`, `eu-west-1`, …): where messages are published, and the
    /// region requests are signed for.
    pub region: String,
    /// Endpoint. Unset: `https://sns.<region>.amazonaws.com` (`.amazonaws.com.cn` in the
    /// China regions). Set it for a VPC endpoint or a test double.
    pub base_url: Option<String>,
    /// Access key ID of an IAM identity allowed `sns:Publish`.
    #[serde(deserialize_with = "crate::secret::text::string")]
    pub access_key_id: String,
    /// Its secret access key.
    pub secret_access_key: Secret,
    /// Session token, for temporary credentials.
    pub session_token: Option<Secret>,
    /// `AWS.SNS.SMS.SMSType`: `Transactional` (default: highest reliability, what
    /// one-time codes are) or `Promotional`.
    pub sms_type: String,
    /// `AWS.SNS.SMS.SenderID`: an alphanumeric sender ID, where the destination country
    /// supports them (1-11 letters and digits, at least one letter).
    #[serde(deserialize_with = "crate::secret::text::option")]
    pub sender_id: Option<String>,
    /// `AWS.MM.SMS.OriginationNumber`: an origination number of the account, E.164.
    #[serde(deserialize_with = "crate::secret::text::option")]
    pub origination_number: Option<String>,
    /// Per-attempt timeout, in milliseconds.
    pub timeout_ms: u64,
    /// Sends per second this instance may make through this provider (none: no cap).
    pub max_tps: Option<u32>,
    /// `[providers.<name>.prices]`: price of one message per ISO 3166 country code,
    /// `default` for the rest, in the account's currency (spend in the fleet numbers).
    pub prices: crate::providers::settings::PriceTable,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            prices: Default::default(),
            region: String::new(),
            base_url: None,
            access_key_id: String::new(),
            secret_access_key: Secret::default(),
            session_token: None,
            sms_type: "Transactional".into(),
            sender_id: None,
            origination_number: None,
            timeout_ms: DEFAULT_TIMEOUT_MS,
            max_tps: None,
        }
    }
}

impl Config {
    /// The endpoint requests go to: `base_url`, or the region's public endpoint.
    pub fn endpoint(&self) -> String {
        match &self.base_url {
            Some(u) => u.trim().trim_end_matches('/').to_string(),
            None if self.region.starts_with("cn-") => {
                format!("https://sns.{}.amazonaws.com.cn", self.region)
            }
            None => format!("https://sns.{}.amazonaws.com", self.region),
        }
    }

    /// Problems with these settings, one sentence each.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        let r = &self.region;
        if r.is_empty()
            || !r
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            || !r.contains('-')
        {
            p.push("region must be an AWS region such as us-east-1".into());
        }
        if let Some(u) = &self.base_url {
            url_problem(&mut p, "base_url", u);
        }
        if self.access_key_id.trim().is_empty() {
            p.push("access_key_id is required".into());
        }
        if self.secret_access_key.trim().is_empty() {
            p.push("secret_access_key is required".into());
        }
        if !matches!(self.sms_type.as_str(), "Transactional" | "Promotional") {
            p.push("sms_type must be Transactional or Promotional".into());
        }
        if let Some(s) = &self.sender_id {
            let ok = (1..=11).contains(&s.len())
                && s.bytes().all(|b| b.is_ascii_alphanumeric())
                && s.bytes().any(|b| b.is_ascii_alphabetic());
            if !ok {
                p.push(
                    "sender_id must be 1-11 letters and digits, with at least one letter".into(),
                );
            }
        }
        if let Some(n) = &self.origination_number {
            let digits = n.strip_prefix('+').unwrap_or("");
            if digits.is_empty() || digits.len() > 15 || !digits.bytes().all(|b| b.is_ascii_digit())
            {
                p.push("origination_number must be E.164 (+ and digits)".into());
            }
        }
        timeout_problem(&mut p, self.timeout_ms);
        p
    }
}
