//! Encryption of personal data at rest: ChaCha20-Poly1305 under a key derived from the
//! server secret (label `otpgw/v1/seal`).
//!
//! Sealed form: version byte `1`, a 96-bit random nonce, the ciphertext and the 128-bit
//! tag. The associated data binds a sealed value to its place (for a record: the
//! verification id and the tenant), so a value copied into another record does not open.
//! Random nonces are safe for far more values than a key ever seals here (the collision
//! risk stays below 2^-32 up to 2^32 values). A value sealed under another server secret
//! does not open: rotating the secret makes stored records unreadable, as it already
//! makes their code MACs unmatchable.
//!
//! A delivery-only send's code, made elsewhere, is sealed the same way for its record
//! ([`super::Keys::seal_code`]).

use crate::domain::OtpCode;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};
use std::fmt;

const VERSION: u8 = 1;
const TAG_LEN: usize = 16;

/// Seals and opens values under one key. `Debug` prints nothing of it.
#[derive(Clone)]
pub struct Sealer(LessSafeKey);

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sealer(<redacted>)")
    }
}

fn aad(context: &[&[u8]]) -> Vec<u8> {
    let mut a = Vec::new();
    for part in context {
        a.extend_from_slice(&(part.len() as u32).to_be_bytes());
        a.extend_from_slice(part);
    }
    a
}

impl Sealer {
    /// A sealer over a 256-bit key.
    pub fn new(key: &[u8; 32]) -> Self {
        let k = UnboundKey::new(&CHACHA20_POLY1305, key).expect("a 32-byte key fits");
        Sealer(LessSafeKey::new(k))
    }

    /// `plain` sealed for the place `context` names.
    pub fn seal(&self, context: &[&[u8]], plain: &[u8]) -> Vec<u8> {
        let nonce = super::random_bytes::<NONCE_LEN>();
        let mut body = plain.to_vec();
        self.0
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad(context)),
                &mut body,
            )
            .expect("values far below the AEAD's length limit");
        let mut out = Vec::with_capacity(1 + NONCE_LEN + body.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&body);
        out
    }

    /// The plain value, if `sealed` was sealed by this key for `context` and unchanged.
    pub fn open(&self, context: &[&[u8]], sealed: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() < 1 + NONCE_LEN + TAG_LEN || sealed[0] != VERSION {
            return None;
        }
        let nonce = Nonce::try_assume_unique_for_key(&sealed[1..1 + NONCE_LEN]).ok()?;
        let mut body = sealed[1 + NONCE_LEN..].to_vec();
        let plain = self
            .0
            .open_in_place(nonce, Aad::from(aad(context)), &mut body)
            .ok()?;
        Some(plain.to_vec())
    }
}

impl super::Keys {
    /// A code made elsewhere (a delivery-only send), sealed for the record `id` of
    /// `tenant`: the worker opens it to render the message; at rest it is ciphertext
    /// bound to that record, like the number.
    pub fn seal_code(&self, id: &str, tenant: &str, code: &OtpCode) -> Vec<u8> {
        self.seal.seal(
            &[id.as_bytes(), tenant.as_bytes(), b"code"],
            code.expose().as_bytes(),
        )
    }

    /// The code [`Self::seal_code`] sealed for this record, if it opens.
    pub fn open_code(&self, id: &str, tenant: &str, sealed: &[u8]) -> Option<OtpCode> {
        let plain = self
            .seal
            .open(&[id.as_bytes(), tenant.as_bytes(), b"code"], sealed)?;
        OtpCode::parse(std::str::from_utf8(&plain).ok()?).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_only_what_it_sealed_for_the_same_place() {
        let s = Sealer::new(&[1; 32]);
        let sealed = s.seal(&[b"vrf_1", b"t"], b"+14155550123");
        assert!(!sealed.windows(11).any(|w| w == b"14155550123"));
        assert_eq!(s.open(&[b"vrf_1", b"t"], &sealed).unwrap(), b"+14155550123");
        assert_ne!(
            sealed,
            s.seal(&[b"vrf_1", b"t"], b"+14155550123"),
            "fresh nonce"
        );
        assert!(s.open(&[b"vrf_2", b"t"], &sealed).is_none(), "other record");
        assert!(
            s.open(&[b"vrf_1t", b""], &sealed).is_none(),
            "parts are framed"
        );
        assert!(Sealer::new(&[2; 32])
            .open(&[b"vrf_1", b"t"], &sealed)
            .is_none());
        let mut flipped = sealed.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(s.open(&[b"vrf_1", b"t"], &flipped).is_none(), "tampered");
        assert!(s.open(&[b"vrf_1", b"t"], &sealed[..20]).is_none(), "short");
        assert!(!format!("{s:?}").contains('1'));
    }
}
