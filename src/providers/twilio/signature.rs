//! Twilio's request signature (`X-Twilio-Signature`), which covers status callbacks for
//! messages and calls alike: the same HMAC-SHA1 over the callback URL and the sorted POST
//! parameters, compared in constant time by the receipt parsers.

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};

/// `X-Twilio-Signature` for a request to `url` with POST parameters `params`:
/// Base64(HMAC-SHA1(auth_token, url + name1 + value1 + name2 + value2 …)), names sorted.
pub fn signature(auth_token: &[u8], url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(auth_token).expect("any key length");
    mac.update(url.as_bytes());
    for (k, v) in sorted {
        mac.update(k.as_bytes());
        mac.update(v.as_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_the_example_in_twilio_security_docs() {
        let p = |k: &str, v: &str| (k.to_string(), v.to_string());
        let params = [
            p("CallSid", "CA1234567890ABCDE"),
            p("Caller", "+12349013030"),
            p("Digits", "1234"),
            p("From", "+12349013030"),
            p("To", "+18005551212"),
        ];
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        assert_eq!(
            signature(b"12345", url, &params),
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        );
    }
}
