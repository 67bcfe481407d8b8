//! The two JSON Web Tokens of the Voice API (RFC 7519, compact form): the one we sign
//! to call it, and the one Vonage signs its call events with.
//!
//! - **Requests**: "You must use JWT authentication with the Voice API": RS256 with the
//!   application's private key, claims `application_id`, `iat`, `exp` and `jti` (a
//!   fresh random id each time). Each call gets its own token, valid for
//!   [`REQUEST_TTL_S`]; signing is `ring`'s RSASSA-PKCS1-v1_5 with SHA-256.
//! - **Events**: "Webhooks will include a JWT in the Authorization header", HS256 keyed
//!   with the account's signature secret. [`verify_hs256`] accepts only `HS256` (any
//!   other `alg`, `none` included, is refused before the MAC), compares the MAC in
//!   constant time and returns the claims for the caller to check.

use crate::providers::ReceiptError;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use serde_json::{json, Value};

/// How long a request token is valid, in seconds.
pub const REQUEST_TTL_S: i64 = 300;

/// A random UUID (version 4) as text: the `jti` of a request token.
fn random_uuid() -> String {
    let mut b = crate::crypto::random_bytes::<16>();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// The `Authorization: Bearer` token for a Voice API request of `application_id`,
/// signed with `key` at `now` (Unix seconds).
pub fn sign_rs256(key: &RsaKeyPair, application_id: &str, now: i64) -> Result<String, String> {
    let header = json!({"alg": "RS256", "typ": "JWT"});
    let claims = json!({
        "application_id": application_id,
        "iat": now,
        "exp": now + REQUEST_TTL_S,
        "jti": random_uuid(),
    });
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut sig = vec![0; key.public().modulus_len()];
    let rng = ring::rand::SystemRandom::new();
    key.sign(&RSA_PKCS1_SHA256, &rng, input.as_bytes(), &mut sig)
        .map_err(|_| "the voice JWT could not be signed".to_string())?;
    Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig)))
}

/// The claims of `token` when it is an HS256 JWT whose MAC verifies under `secret`;
/// `Forged` for anything else (not three Base64url parts, not JSON, another `alg`, a
/// MAC that does not verify).
pub fn verify_hs256(secret: &[u8], token: &str) -> Result<Value, ReceiptError> {
    let token = token.trim();
    let mut parts = token.split('.');
    let (Some(h64), Some(c64), Some(s64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ReceiptError::Forged);
    };
    let decode = |p: &str| URL_SAFE_NO_PAD.decode(p).map_err(|_| ReceiptError::Forged);
    let header: Value = serde_json::from_slice(&decode(h64)?).map_err(|_| ReceiptError::Forged)?;
    if header.get("alg").and_then(Value::as_str) != Some("HS256") {
        return Err(ReceiptError::Forged);
    }
    let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret).expect("any key length");
    mac.update(&token.as_bytes()[..h64.len() + 1 + c64.len()]);
    mac.verify_slice(&decode(s64)?)
        .map_err(|_| ReceiptError::Forged)?;
    let claims: Value = serde_json::from_slice(&decode(c64)?).map_err(|_| ReceiptError::Forged)?;
    if claims.is_object() {
        Ok(claims)
    } else {
        Err(ReceiptError::Forged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An HS256 token over `claims` under `secret`, written here apart from the
    /// verifier.
    fn hs256(secret: &[u8], alg: &str, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(json!({"alg": alg, "typ": "JWT"}).to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let tag = crate::crypto::hmac_sha256(secret, input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag))
    }

    #[test]
    fn hs256_tokens_verify_and_anything_else_is_forged() {
        let claims = json!({"iat": 1, "payload_hash": "ab"});
        let good = hs256(b"secret", "HS256", &claims);
        assert_eq!(verify_hs256(b"secret", &good), Ok(claims.clone()));
        assert_eq!(verify_hs256(b"other", &good), Err(ReceiptError::Forged));
        let none = hs256(b"secret", "none", &claims);
        assert_eq!(verify_hs256(b"secret", &none), Err(ReceiptError::Forged));
        for bad in ["", "a.b", "a.b.c.d", "!!.!!.!!", &good[1..]] {
            assert_eq!(
                verify_hs256(b"secret", bad),
                Err(ReceiptError::Forged),
                "{bad}"
            );
        }
    }

    #[test]
    fn request_tokens_are_rs256_with_the_documented_claims() {
        let cfg = super::super::VoiceConfig {
            private_key: Some(include_str!("testdata/throwaway_rsa2048.pem").into()),
            ..Default::default()
        };
        let key = cfg.load_key().unwrap();
        let token = sign_rs256(&key, "app-id", 1_700_000_000).unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        let part = |i: usize| -> Value {
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[i]).unwrap()).unwrap()
        };
        assert_eq!(part(0), json!({"alg": "RS256", "typ": "JWT"}));
        let c = part(1);
        assert_eq!(c["application_id"], "app-id");
        assert_eq!(c["iat"], 1_700_000_000);
        assert_eq!(c["exp"], 1_700_000_000 + REQUEST_TTL_S);
        assert_eq!(c["jti"].as_str().unwrap().len(), 36);
        let public = ring::signature::UnparsedPublicKey::new(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            ring::signature::KeyPair::public_key(&key).as_ref().to_vec(),
        );
        let signed = &token[..parts[0].len() + 1 + parts[1].len()];
        let sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        assert!(public.verify(signed.as_bytes(), &sig).is_ok());
    }

    #[test]
    fn request_ids_are_version_4_uuids() {
        let a = random_uuid();
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert_ne!(a, random_uuid());
    }
}
