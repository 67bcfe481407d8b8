//! Plivo's callback signatures: V3 (`X-Plivo-Signature-V3`, HMAC-SHA256 over the method,
//! URL and sorted parameters with a nonce) and V2 (URL and nonce), and the check of a
//! callback against them.

use crate::providers::http;
use crate::providers::{ReceiptError, ReceiptRequest};
use base64::Engine as _;
use std::collections::BTreeMap;

/// Parameters by name, each name's values sorted (how the SDKs order them).
fn grouped(pairs: &[(String, String)]) -> BTreeMap<&str, Vec<&str>> {
    let mut m: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (k, v) in pairs {
        m.entry(k.as_str()).or_default().push(v.as_str());
    }
    for vs in m.values_mut() {
        vs.sort_unstable();
    }
    m
}

fn query_pairs(url: &str) -> (&str, Vec<(String, String)>) {
    let url = url.split('#').next().unwrap_or(url);
    match url.split_once('?') {
        Some((base, q)) => (
            base,
            form_urlencoded::parse(q.as_bytes()).into_owned().collect(),
        ),
        None => (url, Vec::new()),
    }
}

/// The string Plivo signs (V3) for a callback, before `.<nonce>` is appended.
pub fn signed_string_v3(method: &str, url: &str, form: &[(String, String)]) -> String {
    let (base, query) = query_pairs(url);
    let sorted_query = grouped(&query)
        .into_iter()
        .flat_map(|(k, vs)| vs.into_iter().map(move |v| format!("{k}={v}")))
        .collect::<Vec<_>>()
        .join("&");
    let mut s = base.to_string();
    if method.eq_ignore_ascii_case("GET") {
        if !sorted_query.is_empty() {
            s.push('?');
            s.push_str(&sorted_query);
        }
        return s;
    }
    if !sorted_query.is_empty() || !form.is_empty() {
        s.push('?');
        s.push_str(&sorted_query);
    }
    if !sorted_query.is_empty() && !form.is_empty() {
        s.push('.');
    }
    for (k, vs) in grouped(form) {
        for v in vs {
            s.push_str(k);
            s.push_str(v);
        }
    }
    s
}

/// `X-Plivo-Signature-V3` for a callback: base64(HMAC-SHA256(auth_token,
/// `<signed string>.<nonce>`)).
pub fn signature_v3(
    auth_token: &str,
    method: &str,
    url: &str,
    form: &[(String, String)],
    nonce: &str,
) -> String {
    let signed = format!("{}.{nonce}", signed_string_v3(method, url, form));
    b64(&crate::crypto::hmac_sha256(
        auth_token.as_bytes(),
        signed.as_bytes(),
    ))
}

/// `X-Plivo-Signature-V2`: base64(HMAC-SHA256(auth_token, `<url without query><nonce>`)).
pub fn signature_v2(auth_token: &str, url: &str, nonce: &str) -> String {
    let (base, _) = query_pairs(url);
    b64(&crate::crypto::hmac_sha256(
        auth_token.as_bytes(),
        format!("{base}{nonce}").as_bytes(),
    ))
}

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// Whether any comma-separated value of the named headers equals `expected`
/// (compared in constant time).
fn any_matches(headers: &::http::HeaderMap, names: &[&str], expected: &str) -> bool {
    names
        .iter()
        .filter_map(|n| http::header(headers, n))
        .flat_map(|v| v.split(','))
        .fold(false, |ok, candidate| {
            ok | crate::crypto::ct_eq(candidate.trim().as_bytes(), expected.as_bytes())
        })
}

/// Checks a callback's signature (V3, or V2 when `accept_v2`) and returns its fields
/// (the form for POST, the query for GET).
pub fn verify_callback(
    auth_token: &str,
    req: &ReceiptRequest<'_>,
    accept_v2: bool,
) -> Result<Vec<(String, String)>, ReceiptError> {
    let get = req.method.eq_ignore_ascii_case("GET");
    let form: Vec<(String, String)> = if get {
        Vec::new()
    } else {
        form_urlencoded::parse(req.body).into_owned().collect()
    };
    let h = req.headers;
    const V3: [&str; 2] = ["x-plivo-signature-v3", "x-plivo-signature-ma-v3"];
    const V2: [&str; 2] = ["x-plivo-signature-v2", "x-plivo-signature-ma-v2"];
    let has = |names: &[&str]| names.iter().any(|n| http::header(h, n).is_some());
    if has(&V3) {
        let nonce = http::header(h, "x-plivo-signature-v3-nonce").ok_or(ReceiptError::Unsigned)?;
        let expected = signature_v3(auth_token, req.method, req.url, &form, nonce);
        if !any_matches(h, &V3, &expected) {
            return Err(ReceiptError::Forged);
        }
    } else if accept_v2 && has(&V2) {
        let nonce = http::header(h, "x-plivo-signature-v2-nonce").ok_or(ReceiptError::Unsigned)?;
        if !any_matches(h, &V2, &signature_v2(auth_token, req.url, nonce)) {
            return Err(ReceiptError::Forged);
        }
    } else {
        return Err(ReceiptError::Unsigned);
    }
    Ok(if get { query_pairs(req.url).1 } else { form })
}
