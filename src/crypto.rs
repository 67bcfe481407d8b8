//! Keyed hashing: code MACs, code derivation, number keys, store shards and API keys.
//!
//! Everything secret derives from one server secret through HMAC-SHA256 with a distinct
//! label per use, so no two uses share a key:
//!
//! - **code MAC** = HMAC(k_mac, len-prefixed tenant ‖ number ‖ code). The only form of a
//!   code the store ever holds. Compared in constant time (here with `subtle`, in the
//!   Redis scripts with an xor-accumulate loop).
//! - **code derivation**: a resend must repeat the same code, yet the store must not hold
//!   it. Each verification gets a 128-bit seed from the OS CSPRNG; its code is
//!   HMAC(k_gen, seed ‖ counter) read as 64-bit words and mapped onto 0..10^n by rejection
//!   sampling, so every code is equally likely. Without the server secret the seed says
//!   nothing about the code.
//! - **number key** = HMAC(k_num, tenant ‖ number), hex: names a number's store keys so
//!   that phone numbers never appear in key names; its first two bytes pick the shard.
//! - **API keys** are random `otpgw_…` strings; config holds only `sha256:<hex>` of each.
//! - **personal data at rest** (a record's number and metadata in Redis) is sealed with
//!   ChaCha20-Poly1305 under k_seal (see [`seal`]).
//! - **idempotency**: the key a client sends and the request it came with are stored
//!   only as HMAC(k_idem, tenant ‖ …), so neither a client's key (which may hold an
//!   email address) nor a guessable request (a number) can be confirmed from a copy of
//!   the store.
//! - **a code made elsewhere** (a delivery-only send) cannot be derived: it is sealed
//!   like the number, bound to its record ([`Keys::seal_code`]), and opened only by the
//!   worker that renders its message.
//! - **Standard Webhooks** signatures of the auth servers' hooks: [`webhook_sig`].

mod seal;
pub mod webhook_sig;

pub use seal::Sealer;

use crate::domain::{CodeLength, OtpCode};
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use std::fmt;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// Shortest server secret accepted outside development, in bytes.
pub const MIN_SECRET_LEN: usize = 32;

/// The server secret. `Debug` prints nothing of it.
#[derive(Clone)]
pub struct ServerSecret(Vec<u8>);

impl ServerSecret {
    /// Wraps secret bytes.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        ServerSecret(bytes.into())
    }

    /// A fresh random secret (development default, lost on restart).
    pub fn random() -> Self {
        ServerSecret(random_bytes::<32>().to_vec())
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for ServerSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ServerSecret(<redacted>)")
    }
}

/// `N` bytes from the OS CSPRNG. Panics only if the OS has no entropy source at all.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).expect("the operating system's random source failed");
    b
}

fn mac_parts(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(key).expect("hmac takes any key length");
    for p in parts {
        mac.update(&(p.len() as u32).to_be_bytes());
        mac.update(p);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(&mac.finalize().into_bytes());
    out
}

/// Keys derived from the server secret, one per use.
#[derive(Clone)]
pub struct Keys {
    k_mac: [u8; 32],
    k_gen: [u8; 32],
    k_num: [u8; 32],
    k_idem: [u8; 32],
    seal: Sealer,
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Keys(<redacted>)")
    }
}

impl Keys {
    /// Derives the per-use keys.
    pub fn derive(secret: &ServerSecret) -> Self {
        Keys {
            k_mac: mac_parts(&secret.0, &[b"otpgw/v1/code-mac"]),
            k_gen: mac_parts(&secret.0, &[b"otpgw/v1/code-gen"]),
            k_num: mac_parts(&secret.0, &[b"otpgw/v1/number"]),
            k_idem: mac_parts(&secret.0, &[b"otpgw/v1/idempotency"]),
            seal: Sealer::new(&mac_parts(&secret.0, &[b"otpgw/v1/seal"])),
        }
    }

    /// Seals personal data at rest.
    pub fn sealer(&self) -> &Sealer {
        &self.seal
    }

    /// Hex name under which a tenant's `Idempotency-Key` is stored.
    pub fn idempotency_key(&self, tenant: &str, key: &[u8]) -> String {
        hex::encode(mac_parts(&self.k_idem, &[b"key", tenant.as_bytes(), key]))
    }

    /// Hex fingerprint of a request (its canonical form), stored with its
    /// idempotency key to tell a retry from another request.
    pub fn request_fingerprint(&self, tenant: &str, canonical: &[u8]) -> String {
        hex::encode(mac_parts(
            &self.k_idem,
            &[b"request", tenant.as_bytes(), canonical],
        ))
    }

    /// MAC of a code for (tenant, number).
    pub fn code_mac(&self, tenant: &str, number: &str, code: &OtpCode) -> [u8; 32] {
        mac_parts(
            &self.k_mac,
            &[
                tenant.as_bytes(),
                number.as_bytes(),
                code.expose().as_bytes(),
            ],
        )
    }

    /// The code a seed stands for, uniform over 10^len.
    pub fn derive_code(&self, seed: &[u8], len: CodeLength) -> OtpCode {
        for counter in 0u32.. {
            let block = mac_parts(&self.k_gen, &[seed, &counter.to_be_bytes()]);
            let words = block
                .chunks_exact(8)
                .map(|c| u64::from_be_bytes(c.try_into().expect("8-byte chunk")));
            if let Some(v) = crate::domain::uniform_below(words, len.space()) {
                return OtpCode::from_value(v, len);
            }
        }
        unreachable!("a u32 counter of rejections cannot all fail")
    }

    /// Hex key naming a number's store entries, and the shard (0..shards) it lives in.
    pub fn number_key(&self, tenant: &str, number: &str, shards: u16) -> (String, u16) {
        let m = mac_parts(&self.k_num, &[tenant.as_bytes(), number.as_bytes()]);
        let shard = u16::from_be_bytes([m[0], m[1]]) % shards.max(1);
        (hex::encode(&m[..16]), shard)
    }

    /// Hex key naming an abuse-control counter: a keyed hash of (tenant, scope, value),
    /// so limit and guard keys hold no number, prefix or IP address.
    pub fn scope_key(&self, tenant: &str, scope: &str, value: &str) -> String {
        let m = mac_parts(
            &self.k_num,
            &[
                b"scope",
                tenant.as_bytes(),
                scope.as_bytes(),
                value.as_bytes(),
            ],
        );
        hex::encode(&m[..12])
    }
}

/// Constant-time equality of two byte strings (length is not secret).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// A fresh API key: `otpgw_` and 32 random bytes in hex.
pub fn new_api_key() -> String {
    format!("otpgw_{}", hex::encode(random_bytes::<32>()))
}

/// The form config keeps of an API key: `sha256:<hex>`.
pub fn hash_api_key(key: &str) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(key.as_bytes())))
}

/// SHA-256 of arbitrary bytes, hex.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// HMAC-SHA256 of `data` under `key`, hex (webhook signatures).
pub fn hmac_hex(key: &[u8], data: &[u8]) -> String {
    hex::encode(hmac_sha256(key, data))
}

/// HMAC-SHA256 of `data` under `key` (provider callback signatures).
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(key).expect("hmac takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests;
