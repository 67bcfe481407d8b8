//! Standard Webhooks signatures (<https://www.standardwebhooks.com/>), checked by hand:
//! what the Supabase Auth hooks sign their calls with.
//!
//! A call carries `webhook-id`, `webhook-timestamp` (Unix seconds) and
//! `webhook-signature`: space-separated `v1,<base64>` entries, each the HMAC-SHA256 of
//! `{id}.{timestamp}.{body}` under a secret (Supabase Auth joins its entries with `, `). Secrets are written `v1,whsec_<base64>` as
//! Supabase shows them (`whsec_<base64>` is taken too); the key is the base64-decoded
//! part. A call is genuine when any entry matches under any configured secret (several
//! secrets: rotation), compared in constant time, and its timestamp is within the
//! tolerance of now, both ways (a stale call and one from the future are refused alike).
//! Replays within the tolerance are the caller's to refuse (the hook remembers ids).
//!
//! [`sign`] is the other side, for the events sent to tenants (`docs/events.md`): one
//! `v1,<base64>` entry under the tenant's one secret, over the exact bytes sent.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

/// Why a call's signature was refused. None of them says which secret nearly matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigError {
    /// A header is missing or not text.
    MissingHeader(&'static str),
    /// The timestamp is not a number of seconds.
    BadTimestamp,
    /// The timestamp is further from now than the tolerance.
    OutOfTolerance,
    /// No entry matches under any secret.
    NoMatch,
}

impl SigError {
    /// A short reason for the answer and the metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            SigError::MissingHeader(_) => "missing_header",
            SigError::BadTimestamp => "bad_timestamp",
            SigError::OutOfTolerance => "stale",
            SigError::NoMatch => "bad_signature",
        }
    }
}

/// The key of a secret written `v1,whsec_<base64>` (or `whsec_<base64>`); an error
/// that never repeats the secret.
pub fn parse_secret(s: &str) -> Result<Vec<u8>, String> {
    let s = s.trim();
    let body = s.strip_prefix("v1,").unwrap_or(s);
    let b64 = body
        .strip_prefix("whsec_")
        .ok_or("a Standard Webhooks secret is written `v1,whsec_<base64>`")?;
    let key = STANDARD
        .decode(b64)
        .map_err(|_| "the part after `whsec_` is not base64")?;
    if key.len() < 16 {
        return Err("the secret is shorter than 16 bytes".into());
    }
    Ok(key)
}

/// The headers of one call, as text.
#[derive(Debug, Clone, Copy)]
pub struct SignedCall<'a> {
    /// `webhook-id`.
    pub id: Option<&'a str>,
    /// `webhook-timestamp`.
    pub timestamp: Option<&'a str>,
    /// `webhook-signature`.
    pub signature: Option<&'a str>,
}

/// Checks a call signed under one of `keys`, at `now_secs`, within `tolerance_secs`;
/// returns its `webhook-id`.
pub fn verify<'a>(
    keys: &[Vec<u8>],
    call: SignedCall<'a>,
    body: &[u8],
    now_secs: i64,
    tolerance_secs: i64,
) -> Result<&'a str, SigError> {
    let id = call
        .id
        .filter(|s| !s.is_empty())
        .ok_or(SigError::MissingHeader("webhook-id"))?;
    let ts_text = call
        .timestamp
        .ok_or(SigError::MissingHeader("webhook-timestamp"))?;
    let sigs = call
        .signature
        .ok_or(SigError::MissingHeader("webhook-signature"))?;
    let ts: i64 = ts_text.trim().parse().map_err(|_| SigError::BadTimestamp)?;
    if (now_secs - ts).abs() > tolerance_secs {
        return Err(SigError::OutOfTolerance);
    }
    // Entries are separated by spaces; Supabase Auth joins them with ", ".
    let given: Vec<Vec<u8>> = sigs
        .split(' ')
        .map(|e| e.trim_end_matches(','))
        .filter_map(|e| e.strip_prefix("v1,"))
        .filter_map(|b| STANDARD.decode(b).ok())
        .collect();
    let mut signed = Vec::with_capacity(id.len() + ts_text.len() + body.len() + 2);
    signed.extend_from_slice(id.as_bytes());
    signed.push(b'.');
    signed.extend_from_slice(ts_text.as_bytes());
    signed.push(b'.');
    signed.extend_from_slice(body);
    let mut ok = false;
    for key in keys {
        let mac = super::hmac_sha256(key, &signed);
        for g in &given {
            ok |= super::ct_eq(&mac, g);
        }
    }
    if ok {
        Ok(id)
    } else {
        Err(SigError::NoMatch)
    }
}

/// The `webhook-signature` value of a call: `v1,<base64 HMAC-SHA256(key, id.timestamp.body)>`,
/// as the Standard Webhooks libraries check it. `key` is a parsed secret ([`parse_secret`]).
pub fn sign(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    let ts = timestamp.to_string();
    let mut signed = Vec::with_capacity(id.len() + ts.len() + body.len() + 2);
    signed.extend_from_slice(id.as_bytes());
    signed.push(b'.');
    signed.extend_from_slice(ts.as_bytes());
    signed.push(b'.');
    signed.extend_from_slice(body);
    format!("v1,{}", STANDARD.encode(super::hmac_sha256(key, &signed)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(key: &[u8], id: &str, ts: i64, body: &[u8]) -> String {
        let mut m = format!("{id}.{ts}.").into_bytes();
        m.extend_from_slice(body);
        format!(
            "v1,{}",
            STANDARD.encode(crate::crypto::hmac_sha256(key, &m))
        )
    }

    #[test]
    fn a_signed_call_verifies_under_its_secret_and_not_under_another() {
        let key = parse_secret(&format!("whsec_{}", STANDARD.encode([7u8; 32]))).unwrap();
        let other = parse_secret(&format!("whsec_{}", STANDARD.encode([8u8; 32]))).unwrap();
        let body = br#"{"type":"verification.approved"}"#;
        // `super::sign` is the signer; the test module's own `sign` is an independent
        // reading of the scheme it must agree with.
        let sig = super::sign(&key, "evt_1", 1000, body);
        assert_eq!(sig, sign(&key, "evt_1", 1000, body));
        let call = SignedCall {
            id: Some("evt_1"),
            timestamp: Some("1000"),
            signature: Some(&sig),
        };
        assert_eq!(
            verify(std::slice::from_ref(&key), call, body, 1000, 300),
            Ok("evt_1")
        );
        assert_eq!(
            verify(&[other], call, body, 1000, 300),
            Err(SigError::NoMatch)
        );
        assert_eq!(
            verify(&[key], call, b"{}", 1000, 300),
            Err(SigError::NoMatch)
        );
    }

    #[test]
    fn accepts_any_configured_secret_and_refuses_the_rest() {
        let k1 = parse_secret(&format!("v1,whsec_{}", STANDARD.encode([1u8; 24]))).unwrap();
        let k2 = parse_secret(&format!("whsec_{}", STANDARD.encode([2u8; 24]))).unwrap();
        let body = br#"{"user":{}}"#;
        let sig = sign(&k2, "msg_1", 1000, body);
        let both = format!("v1,AAAA, {sig}");
        let call = SignedCall {
            id: Some("msg_1"),
            timestamp: Some("1000"),
            signature: Some(&both),
        };
        let (one, two) = (std::slice::from_ref(&k1), std::slice::from_ref(&k2));
        assert_eq!(
            verify(&[k1.clone(), k2.clone()], call, body, 1000, 300),
            Ok("msg_1")
        );
        assert_eq!(verify(one, call, body, 1000, 300), Err(SigError::NoMatch));
        assert_eq!(verify(two, call, b"{}", 1000, 300), Err(SigError::NoMatch));
        assert_eq!(
            verify(two, call, body, 1301, 300),
            Err(SigError::OutOfTolerance)
        );
        assert_eq!(
            verify(two, call, body, 699, 300),
            Err(SigError::OutOfTolerance)
        );
        assert!(parse_secret("v1,whsec_!!").is_err());
        assert!(parse_secret("plain").is_err());
        let missing = SignedCall {
            signature: None,
            ..call
        };
        assert_eq!(
            verify(two, missing, body, 1000, 300),
            Err(SigError::MissingHeader("webhook-signature"))
        );
        assert!(parse_secret(&format!("v1,whsec_{}", STANDARD.encode([1u8; 4]))).is_err());
    }
}
