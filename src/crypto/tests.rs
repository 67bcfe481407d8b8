//! Unit tests of the keyed hashes, derived codes and secret handling.

use super::*;

fn keys() -> Keys {
    Keys::derive(&ServerSecret::new(vec![7u8; 32]))
}

#[test]
fn code_mac_binds_tenant_number_and_code() {
    let k = keys();
    let c = OtpCode::parse("123456").unwrap();
    let base = k.code_mac("t", "+14155550123", &c);
    assert_eq!(base, k.code_mac("t", "+14155550123", &c));
    assert_ne!(base, k.code_mac("u", "+14155550123", &c));
    assert_ne!(base, k.code_mac("t", "+14155550124", &c));
    assert_ne!(
        base,
        k.code_mac("t", "+14155550123", &OtpCode::parse("123457").unwrap())
    );
}

#[test]
fn derived_codes_are_stable_per_seed_and_cover_leading_zeros() {
    let k = keys();
    let len = CodeLength::new(4).unwrap();
    assert_eq!(k.derive_code(b"seed", len), k.derive_code(b"seed", len));
    let mut seen = std::collections::HashSet::new();
    let mut leading_zero = false;
    for i in 0u32..20_000 {
        let c = k.derive_code(&i.to_be_bytes(), len);
        assert_eq!(c.expose().len(), 4);
        leading_zero |= c.expose().starts_with('0');
        seen.insert(c.expose().to_string());
    }
    assert!(leading_zero);
    // 20k draws over 10^4 values: a uniform source misses ~13.5 % of them.
    assert!(seen.len() > 8_000 && seen.len() < 9_000, "{}", seen.len());
}

#[test]
fn digit_frequencies_are_flat() {
    let k = keys();
    let len = CodeLength::new(6).unwrap();
    let mut counts = [0u32; 10];
    for i in 0u32..10_000 {
        for d in k.derive_code(&i.to_le_bytes(), len).expose().bytes() {
            counts[(d - b'0') as usize] += 1;
        }
    }
    // 60k digits, 6k expected each; chi-square with 9 dof stays far below 40.
    let chi: f64 = counts
        .iter()
        .map(|&c| (c as f64 - 6000.0).powi(2) / 6000.0)
        .sum();
    assert!(chi < 40.0, "chi-square {chi} for {counts:?}");
}

#[test]
fn api_key_hash_is_stable_and_keys_differ() {
    let a = new_api_key();
    assert!(a.starts_with("otpgw_") && a.len() == 70);
    assert_ne!(a, new_api_key());
    assert_eq!(hash_api_key("x"), hash_api_key("x"));
    assert!(hash_api_key("x").starts_with("sha256:"));
}

#[test]
fn secrets_stay_out_of_debug() {
    let s = ServerSecret::new(b"super-secret-value".to_vec());
    assert!(!format!("{s:?}").contains("super"));
    assert!(!format!("{:?}", Keys::derive(&s)).contains('['));
}

#[test]
fn idempotency_names_are_keyed_per_tenant() {
    let k = keys();
    let other = Keys::derive(&ServerSecret::new(vec![8u8; 32]));
    let key = k.idempotency_key("t", b"signup:alice@example.com");
    assert_ne!(key, sha256_hex(b"signup:alice@example.com"));
    assert_ne!(key, k.idempotency_key("u", b"signup:alice@example.com"));
    assert_ne!(key, other.idempotency_key("t", b"signup:alice@example.com"));
    let fp = k.request_fingerprint("t", br#"{"to":"+14155550123"}"#);
    assert_ne!(fp, sha256_hex(br#"{"to":"+14155550123"}"#));
    assert_ne!(
        fp,
        other.request_fingerprint("t", br#"{"to":"+14155550123"}"#)
    );
    assert_eq!(fp, k.request_fingerprint("t", br#"{"to":"+14155550123"}"#));
}

#[test]
fn number_key_spreads_over_shards() {
    let k = keys();
    let mut shards = std::collections::HashSet::new();
    for i in 0..200 {
        let (key, shard) = k.number_key("t", &format!("+1415555{i:04}"), 16);
        assert_eq!(key.len(), 32);
        shards.insert(shard);
    }
    assert_eq!(shards.len(), 16);
}
