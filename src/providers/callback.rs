//! What delivery-receipt parsers share: reading a callback's parameters (query string,
//! form body, flat JSON object), the `token` query parameter that authenticates vendors
//! with no signature scheme, and constant-time comparison.
//!
//! A receipt is never accepted unauthenticated: each adapter either verifies the vendor's
//! signature or requires `?token=<receipt_token>` on the callback URL (compared in
//! constant time), and answers `NotSupported` when neither is configured.

use super::ReceiptError;
use subtle::ConstantTimeEq;

/// Name of the query parameter that carries a receipt token.
pub const TOKEN_PARAM: &str = "token";

/// Decoded `application/x-www-form-urlencoded` pairs, in order (`+` is a space).
pub fn form_params(bytes: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(bytes).into_owned().collect()
}

/// Decoded query-string pairs of a URL (nothing after `#`).
pub fn query_params(url: &str) -> Vec<(String, String)> {
    let without_fragment = url.split('#').next().unwrap_or("");
    match without_fragment.split_once('?') {
        Some((_, q)) => form_params(q.as_bytes()),
        None => Vec::new(),
    }
}

/// The first value of `name`.
pub fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The first non-empty value of `name`.
pub fn non_empty<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    param(pairs, name).filter(|v| !v.trim().is_empty())
}

/// The fields of a flat JSON object as text pairs (numbers and booleans as written,
/// `null` left out). Anything else is malformed. The error never quotes the body: a
/// receipt may be parsed before its signature is checked (Vonage signs the parameters
/// themselves), and a field name is the sender's text.
pub fn json_params(body: &[u8]) -> Result<Vec<(String, String)>, ReceiptError> {
    let v: serde_json::Value = serde_json::from_slice(body)
        .map_err(|_| ReceiptError::Malformed("body is not JSON".into()))?;
    let obj = v
        .as_object()
        .ok_or_else(|| ReceiptError::Malformed("body is not a JSON object".into()))?;
    let mut out = Vec::with_capacity(obj.len());
    for (k, v) in obj {
        let text = match v {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::Bool(b) => b.to_string(),
            serde_json::Value::Null => continue,
            _ => {
                return Err(ReceiptError::Malformed(
                    "a field is not a string, number or boolean".into(),
                ))
            }
        };
        out.push((k.clone(), text));
    }
    Ok(out)
}

/// True when the request says its body is JSON.
pub fn is_json(headers: &::http::HeaderMap) -> bool {
    headers
        .get(::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("json"))
}

/// Equal bytes, compared in time that depends only on the lengths.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// Checks `?token=` on the URL the vendor called against `expected`: missing is
/// `Unsigned`, different is `Forged`.
pub fn check_token(url: &str, expected: &[u8]) -> Result<(), ReceiptError> {
    let pairs = query_params(url);
    let given = non_empty(&pairs, TOKEN_PARAM).ok_or(ReceiptError::Unsigned)?;
    if ct_eq(given.as_bytes(), expected) {
        Ok(())
    } else {
        Err(ReceiptError::Forged)
    }
}

/// `url` with `token=<token>` appended to its query (form-encoded).
pub fn with_token(url: &str, token: &str) -> String {
    let encoded: String = form_urlencoded::Serializer::new(String::new())
        .append_pair(TOKEN_PARAM, token)
        .finish();
    let (base, fragment) = match url.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (url, None),
    };
    let sep = if !base.contains('?') {
        "?"
    } else if base.ends_with('?') || base.ends_with('&') {
        ""
    } else {
        "&"
    };
    let mut out = format!("{base}{sep}{encoded}");
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    out
}

/// True for an `http://` or `https://` URL with something after the scheme.
pub fn is_http_url(url: &str) -> bool {
    ["http://", "https://"]
        .iter()
        .any(|s| url.len() > s.len() && url[..s.len()].eq_ignore_ascii_case(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_is_appended_with_the_right_separator() {
        assert_eq!(with_token("https://a/r", "t k"), "https://a/r?token=t+k");
        assert_eq!(
            with_token("https://a/r?x=1", "t"),
            "https://a/r?x=1&token=t"
        );
        assert_eq!(with_token("https://a/r?", "t"), "https://a/r?token=t");
        assert_eq!(with_token("https://a/r#f", "t"), "https://a/r?token=t#f");
    }

    #[test]
    fn token_check_tells_missing_from_wrong() {
        assert_eq!(check_token("https://a/r?token=abc", b"abc"), Ok(()));
        assert_eq!(
            check_token("https://a/r", b"abc"),
            Err(ReceiptError::Unsigned)
        );
        assert_eq!(
            check_token("https://a/r?token=", b"abc"),
            Err(ReceiptError::Unsigned)
        );
        assert_eq!(
            check_token("https://a/r?token=abd", b"abc"),
            Err(ReceiptError::Forged)
        );
        assert_eq!(
            check_token("https://a/r?token=abcd", b"abc"),
            Err(ReceiptError::Forged)
        );
    }

    #[test]
    fn json_params_flatten_scalars_only() {
        let p = json_params(br#"{"a":"x","n":12,"b":true,"z":null}"#).unwrap();
        assert_eq!(param(&p, "a"), Some("x"));
        assert_eq!(param(&p, "n"), Some("12"));
        assert_eq!(param(&p, "b"), Some("true"));
        assert_eq!(param(&p, "z"), None);
        assert_eq!(
            json_params(b"{\"a\\nINFO forged\":{\"b\":1}}"),
            Err(ReceiptError::Malformed(
                "a field is not a string, number or boolean".into()
            )),
            "the sender's field name is not quoted back"
        );
        assert!(json_params(b"[1]").is_err());
        assert!(json_params(b"not json").is_err());
    }
}
