//! Vonage's webhook signatures ("Signing Messages"): the signing string over the sorted
//! parameters and the digest of each signature method, with the vectors of Vonage's own
//! client library as tests.

use super::SignatureMethod;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Digest;

/// The signing string of Vonage's guide: `&name=value…` over the parameters sorted by
/// name, `sig` left out, `&` and `=` in values replaced with `_`.
fn signing_string(params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().filter(|(k, _)| k != "sig").collect();
    sorted.sort();
    let mut s = String::new();
    for (k, v) in sorted {
        s.push('&');
        s.push_str(k);
        s.push('=');
        s.extend(
            v.chars()
                .map(|c| if c == '&' || c == '=' { '_' } else { c }),
        );
    }
    s
}

fn hmac<M: Mac + KeyInit>(secret: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = <M as KeyInit>::new_from_slice(secret).expect("any key length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// The raw digest Vonage puts (hex-encoded) in `sig` for these parameters.
pub fn signature(method: SignatureMethod, secret: &[u8], params: &[(String, String)]) -> Vec<u8> {
    let s = signing_string(params);
    match method {
        SignatureMethod::Md5hash => {
            let mut h = md5::Md5::new();
            h.update(s.as_bytes());
            h.update(secret);
            h.finalize().to_vec()
        }
        SignatureMethod::Md5 => hmac::<Hmac<md5::Md5>>(secret, s.as_bytes()),
        SignatureMethod::Sha1 => hmac::<Hmac<sha1::Sha1>>(secret, s.as_bytes()),
        SignatureMethod::Sha256 => hmac::<Hmac<sha2::Sha256>>(secret, s.as_bytes()),
        SignatureMethod::Sha512 => hmac::<Hmac<sha2::Sha512>>(secret, s.as_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// The inbound-message vectors of Vonage's PHP client library tests.
    #[test]
    fn signatures_match_vonage_client_library_vectors() {
        let params = p(&[
            ("message-timestamp", "2013-11-21 15:27:30"),
            ("messageId", "020000001B0FE827"),
            ("msisdn", "14843472194"),
            ("text", "Test again"),
            ("timestamp", "1385047698"),
            ("to", "13239877404"),
            ("type", "text"),
        ]);
        let secret = b"my_secret_key_for_testing";
        let hex_of = |m| hex::encode(signature(m, secret, &params));
        assert_eq!(
            hex_of(SignatureMethod::Md5hash),
            "d2e7b1dc968737c5998ad624e02f90b7"
        );
        assert_eq!(
            hex_of(SignatureMethod::Md5),
            "ddebd46008c2d4e93cce578a332a52d5"
        );
        assert_eq!(
            hex_of(SignatureMethod::Sha1),
            "27d0d05c2876c7cb1720dbcdba4d492e1e55c09a"
        );
        assert_eq!(
            hex_of(SignatureMethod::Sha256),
            "ddb8397c2b90aac7f3882d306475c9a5058c92322eef43c92b298b6e0fc0d330"
        );
    }

    #[test]
    fn ampersands_and_equals_in_values_become_underscores() {
        let params = p(&[("b", "x&y=z"), ("a", "1"), ("sig", "ignored")]);
        assert_eq!(signing_string(&params), "&a=1&b=x_y_z");
    }
}
