//! Checks of `[receipts]` against the providers that take receipts.
//!
//! Twilio, Plivo and MessageBird sign a receipt over the full URL they called. The
//! gateway rebuilds that URL from `receipts.public_base_url`, or, when it is unset, as
//! `http://<Host header>`, which is wrong behind TLS termination or any proxy that
//! rewrites the request: every receipt then fails its signature check. So when such a
//! provider has a callback URL configured and `public_base_url` is unset, that is a
//! warning in `dev` mode (at startup and in `otpgw config check`) and a problem that
//! stops the gateway in `production` mode (where it is always a misconfiguration, and
//! a URL rebuilt from a caller's `Host` header should not decide what a signature
//! covers). A callback URL that does not start with `<public_base_url>/v1/receipts/`
//! is a warning in both modes.

use super::{Config, Mode};

/// The fix quoted in every message.
const HINT: &str = "set receipts.public_base_url to the gateway's public base URL as providers call it (e.g. https://otp.example.com)";

/// Providers whose receipts are signed over their callback URL: (name, URL).
fn url_signed(c: &Config) -> Vec<(&str, &str)> {
    c.providers
        .iter()
        .filter_map(|(name, p)| Some((name.as_str(), p.url_signed_receipts()?)))
        .collect()
}

fn base(c: &Config) -> Option<&str> {
    c.receipts
        .public_base_url
        .as_deref()
        .map(str::trim)
        .filter(|b| !b.is_empty())
}

fn unset_base(name: &str, url: &str) -> String {
    format!(
        "providers.{name}: receipts are signed over the callback URL ({url}), but \
         receipts.public_base_url is not set, so the gateway would rebuild that URL as \
         http://<Host header> and refuse every receipt behind TLS or a proxy: {HINT}"
    )
}

/// Problems that stop the gateway.
pub fn problems(c: &Config) -> Vec<String> {
    let mut p = Vec::new();
    if c.receipts.body_limit_bytes < 256 {
        p.push("receipts.body_limit_bytes must be at least 256".into());
    }
    if let Some(b) = base(c) {
        if !crate::providers::http::is_http_url(b) {
            p.push("receipts.public_base_url must be an http:// or https:// URL".into());
        }
    } else if c.mode == Mode::Production {
        p.extend(url_signed(c).into_iter().map(|(n, u)| unset_base(n, u)));
    }
    p
}

/// Warnings: printed by `otpgw config check` and logged at startup.
pub fn warnings(c: &Config) -> Vec<String> {
    let signed = url_signed(c);
    match base(c) {
        None if c.mode != Mode::Production => {
            signed.into_iter().map(|(n, u)| unset_base(n, u)).collect()
        }
        None => Vec::new(),
        Some(b) => {
            let expected = format!("{}/v1/receipts/", b.trim_end_matches('/'));
            signed
                .into_iter()
                .filter(|(_, u)| !u.starts_with(&expected))
                .map(|(n, u)| {
                    format!(
                        "providers.{n}: the callback URL {u} does not start with {expected}, \
                         where receipts.public_base_url says this gateway is reached; its \
                         receipts will not verify unless a proxy maps one onto the other"
                    )
                })
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(extra: &str) -> Config {
        Config::from_toml(&format!(
            r#"
            mode = "dev"
            [tenants.acme]
            api_keys = ["sha256:0000000000000000000000000000000000000000000000000000000000000000"]
            [providers.tw]
            kind = "twilio"
            account_sid = "AC0123456789abcdef0123456789abcdef"
            auth_token = "token"
            from = "+15005550006"
            status_callback_url = "https://otp.example.com/v1/receipts/tw"
            {extra}
            "#
        ))
        .unwrap()
    }

    #[test]
    fn a_url_signed_provider_without_a_public_base_url_warns_in_dev_and_stops_production() {
        let dev = cfg("");
        let w = warnings(&dev).join("\n");
        assert!(
            w.contains("providers.tw") && w.contains("receipts.public_base_url"),
            "{w}"
        );
        assert!(problems(&dev).is_empty(), "{:?}", problems(&dev));

        let mut prod = cfg("");
        prod.mode = Mode::Production;
        assert!(warnings(&prod).is_empty());
        let p = problems(&prod).join("\n");
        assert!(
            p.contains("providers.tw") && p.contains("public_base_url"),
            "{p}"
        );
    }

    #[test]
    fn a_public_base_url_that_does_not_match_the_callback_url_warns() {
        let mut c = cfg("");
        c.receipts.public_base_url = Some("https://otp.example.com/".into());
        assert!(warnings(&c).is_empty(), "{:?}", warnings(&c));
        c.mode = Mode::Production;
        assert!(problems(&c).is_empty(), "{:?}", problems(&c));
        c.receipts.public_base_url = Some("https://other.example.com".into());
        assert!(warnings(&c).join("\n").contains("does not start with"));
    }

    #[test]
    fn providers_that_do_not_sign_the_url_need_no_base_url() {
        let mut c = cfg("");
        c.providers.clear();
        c.mode = Mode::Production;
        assert!(problems(&c).is_empty());
        assert!(warnings(&c).is_empty());
        let c = cfg("");
        let mut no_callback = c.clone();
        if let Some(crate::providers::ProviderConfig::Twilio(t)) =
            no_callback.providers.get_mut("tw")
        {
            t.status_callback_url = None;
        }
        assert!(warnings(&no_callback).is_empty());
    }

    #[test]
    fn the_receipt_limit_and_base_url_are_checked() {
        let mut c = cfg("");
        c.receipts.body_limit_bytes = 10;
        c.receipts.public_base_url = Some("otp.example.com".into());
        let p = problems(&c).join("\n");
        assert!(
            p.contains("body_limit_bytes") && p.contains("http://"),
            "{p}"
        );
    }
}
