//! Form bodies as Twilio reads them (`application/x-www-form-urlencoded`, PascalCase
//! names), parsed strictly into the existing domain types.
//!
//! A body of another content type (JSON, say) is read as no parameters at all, which is
//! what Twilio does: the answer is then the `60200` of the first required parameter. A
//! name this endpoint does not take, a name given twice and a value over
//! [`MAX_VALUE_BYTES`] each answer `60200 Invalid parameter: <Name>`; a body over the
//! server's body limit answers `20413`.

use super::error::invalid;
use crate::api::http::extract::read_limited;
use crate::domain::{AppHash, Channel, Destination, EmailAddress, Locale, OtpCode, PhoneNumber};
use crate::error::{Error, Result};
use axum::body::Body;
use axum::http::{header, HeaderMap};

/// Longest value of any parameter.
pub const MAX_VALUE_BYTES: usize = 1024;

/// The parameters of one request, each name once.
#[derive(Debug, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// Reads the body (at most `limit` bytes) and keeps the names in `allowed`.
    pub async fn read(
        headers: &HeaderMap,
        body: Body,
        limit: usize,
        allowed: &[&str],
    ) -> Result<Self> {
        let bytes = read_limited(headers, body, limit).await?;
        let mime = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .unwrap_or("")
            .trim();
        if !mime.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
            return Ok(Params::default());
        }
        let mut out: Vec<(String, String)> = Vec::new();
        for (k, v) in form_urlencoded::parse(&bytes) {
            let name: String = k
                .chars()
                .take(64)
                .filter(|c| c.is_ascii_graphic())
                .collect();
            if !allowed.contains(&k.as_ref())
                || out.iter().any(|(n, _)| *n == k)
                || v.len() > MAX_VALUE_BYTES
            {
                return Err(invalid(&name));
            }
            out.push((k.into_owned(), v.into_owned()));
        }
        Ok(Params(out))
    }

    /// The request in one canonical form (names sorted), the fingerprint of an
    /// idempotent start: the same form whatever its order.
    pub fn canonical(&self) -> Vec<u8> {
        let mut pairs: Vec<&(String, String)> = self.0.iter().collect();
        pairs.sort();
        let mut out = form_urlencoded::Serializer::new(String::from("twilio-v2:"));
        for (k, v) in pairs {
            out.append_pair(k, v);
        }
        out.finish().into_bytes()
    }

    /// A parameter's value, when given and not empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    /// A required parameter.
    pub fn need(&self, name: &str) -> Result<&str> {
        self.get(name).ok_or_else(|| invalid(name))
    }

    /// An optional parameter parsed with `f`; a failure names the parameter.
    pub fn parse<T>(&self, name: &str, f: impl Fn(&str) -> Result<T>) -> Result<Option<T>> {
        self.get(name)
            .map(|v| f(v).map_err(|_| invalid(name)))
            .transpose()
    }
}

/// `To`: strict E.164 (`+` and digits), a valid number, as Twilio Verify asks.
pub fn to(v: &str) -> Result<Destination> {
    if v.contains('@') {
        return EmailAddress::parse(v)
            .map(Destination::Email)
            .map_err(|_| invalid("To"));
    }
    PhoneNumber::parse(v)
        .map(Destination::Phone)
        .map_err(|_| invalid("To"))
}

/// `To` as `channel` sends: a number for `sms`, `whatsapp` and `call`, an address for
/// `email`; the wrong kind is an invalid `To` (`60200`), as a malformed one is.
pub fn to_for(channel: Channel, d: Destination) -> Result<Destination> {
    if !d.suits(channel) {
        return Err(invalid("To"));
    }
    Ok(d)
}

/// `Channel`: Twilio's channel names onto ours (`call` is our `voice`). Channels we do
/// not deliver (`sna`, `auto`, `rcs`, anything else) answer `60200`.
pub fn channel(v: &str) -> Result<Channel> {
    match v {
        "sms" => Ok(Channel::Sms),
        "whatsapp" => Ok(Channel::Whatsapp),
        "call" => Ok(Channel::Voice),
        "email" => Ok(Channel::Email),
        _ => Err(invalid("Channel")),
    }
}

/// Twilio's name of our channel (`voice` is `call`).
pub fn channel_name(c: Channel) -> &'static str {
    match c {
        Channel::Voice => "call",
        other => other.as_str(),
    }
}

/// `Code`: 4 to 10 digits.
pub fn code(v: &str) -> Result<OtpCode> {
    OtpCode::parse(v).map_err(|_| invalid("Code"))
}

/// `Locale`: a BCP 47 tag.
pub fn locale(v: &str) -> Result<Locale> {
    Locale::parse(v)
}

/// `AppHash`: the 11-character Android SMS Retriever hash.
pub fn app_hash(v: &str) -> Result<AppHash> {
    AppHash::parse(v)
}

/// `RateLimits` and `ChannelConfiguration`: JSON objects. Nothing in them maps onto
/// this gateway's settings yet (its limits and templates are per tenant), so only an
/// empty object is taken; anything else is refused rather than ignored.
pub fn empty_object(name: &str, v: &str) -> Result<()> {
    match serde_json::from_str::<serde_json::Value>(v) {
        Ok(serde_json::Value::Object(o)) if o.is_empty() => Ok(()),
        _ => Err(invalid(name)),
    }
}

/// `RiskCheck`: `enable` (the default) only; the pumping guard is the tenant's policy,
/// not the caller's to switch off.
pub fn risk_check(v: &str) -> Result<()> {
    match v {
        "enable" => Ok(()),
        _ => Err(Error::InvalidRequest("Invalid parameter: RiskCheck".into())),
    }
}
