//! A tenant's Twilio Verify v2 facade (`/v2/Services/{ServiceSid}/…`): the Account SID
//! and Service SIDs it answers as, and the credentials Twilio's SDKs send as HTTP Basic.
//!
//! Only hashes of secrets are kept, as for `api_keys`: an Auth Token or an API key
//! secret is hashed (`sha256:<hex>`, `otpgw api-key hash`) and compared in constant time
//! by `tenants`. The shapes are checked by `otpgw config check` ([`problems`]); a SID
//! listed under two tenants is refused, so a SID has one owner.

use serde::Deserialize;
use std::collections::BTreeMap;

/// `[tenants.<id>.twilio]`: what lets Twilio's SDKs call this tenant unchanged.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TwilioConfig {
    /// The Account SID callers authenticate as (`AC` + 32 hex), shown as `account_sid`.
    pub account_sid: String,
    /// The Verify Service SIDs (`VA` + 32 hex) of this tenant; any other Service SID in a
    /// path answers `20404`.
    pub service_sids: Vec<String>,
    /// Hashes (`sha256:<hex>`) of the Auth Tokens accepted with `account_sid` as the Basic
    /// user name; make one with `otpgw api-key hash`.
    pub auth_token_hashes: Vec<String>,
    /// API keys (`SK…` SID as the Basic user name, its secret as the password).
    pub api_keys: Vec<TwilioApiKey>,
}

/// One Twilio API key of a tenant.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TwilioApiKey {
    /// The API key SID (`SK` + 32 hex).
    pub sid: String,
    /// Hash (`sha256:<hex>`) of the key's secret; make one with `otpgw api-key hash`.
    pub secret_hash: String,
}

/// Whether `s` is `prefix` and 32 hex digits, as Twilio writes SIDs.
pub fn is_sid(s: &str, prefix: &str) -> bool {
    s.len() == 34 && s.starts_with(prefix) && s[2..].bytes().all(|b| b.is_ascii_hexdigit())
}

/// Every problem of the tenants' `twilio` sections, one sentence each.
pub fn problems(tenants: &BTreeMap<String, super::TenantConfig>) -> Vec<String> {
    let mut p = Vec::new();
    let mut owners: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for (id, t) in tenants {
        let Some(tw) = &t.twilio else { continue };
        let at = |what: &str| format!("tenants.{id}.twilio: {what}");
        if !is_sid(&tw.account_sid, "AC") {
            p.push(at("account_sid must be `AC` and 32 hex digits"));
        }
        if tw.service_sids.is_empty() {
            p.push(at("service_sids is empty, so no path reaches this tenant"));
        }
        if tw.service_sids.iter().any(|s| !is_sid(s, "VA")) {
            p.push(at("service_sids must each be `VA` and 32 hex digits"));
        }
        if tw.auth_token_hashes.is_empty() && tw.api_keys.is_empty() {
            p.push(at(
                "neither auth_token_hashes nor api_keys is set, so no one can call",
            ));
        }
        let hashes = tw
            .auth_token_hashes
            .iter()
            .chain(tw.api_keys.iter().map(|k| &k.secret_hash));
        if hashes.clone().any(|h| !super::keys::is_key_hash(h)) {
            p.push(at("auth_token_hashes and api_keys.secret_hash must hold `sha256:<64 hex>` hashes (see `otpgw api-key hash`), never raw secrets"));
        }
        if tw.api_keys.iter().any(|k| !is_sid(&k.sid, "SK")) {
            p.push(at("api_keys.sid must be `SK` and 32 hex digits"));
        }
        let sids = tw
            .service_sids
            .iter()
            .chain(std::iter::once(&tw.account_sid))
            .chain(tw.api_keys.iter().map(|k| &k.sid));
        for s in sids.filter(|s| !s.is_empty()) {
            let list = owners.entry(s.to_ascii_lowercase()).or_default();
            if !list.contains(&id.as_str()) {
                list.push(id);
            }
        }
    }
    for (sid, ids) in &owners {
        if ids.len() > 1 {
            p.push(format!(
                "the Twilio SID {}… is listed under tenants {}: a SID belongs to one tenant",
                &sid[..sid.len().min(10)],
                ids.join(" and ")
            ));
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TenantConfig;

    fn tenant(tw: TwilioConfig) -> TenantConfig {
        TenantConfig {
            twilio: Some(tw),
            ..Default::default()
        }
    }

    fn good() -> TwilioConfig {
        TwilioConfig {
            account_sid: format!("AC{}", "a".repeat(32)),
            service_sids: vec![format!("VA{}", "b".repeat(32))],
            auth_token_hashes: vec![crate::crypto::hash_api_key("token")],
            api_keys: vec![TwilioApiKey {
                sid: format!("SK{}", "c".repeat(32)),
                secret_hash: crate::crypto::hash_api_key("secret"),
            }],
        }
    }

    #[test]
    fn a_well_formed_section_has_no_problems() {
        let map = BTreeMap::from([("a".to_string(), tenant(good()))]);
        assert!(problems(&map).is_empty(), "{:?}", problems(&map));
    }

    #[test]
    fn every_shape_is_checked_and_a_sid_has_one_owner() {
        let bad = TwilioConfig {
            account_sid: "AC123".into(),
            service_sids: vec!["VE0123456789abcdef0123456789abcdef".into()],
            auth_token_hashes: vec!["the-raw-token".into()],
            api_keys: vec![TwilioApiKey {
                sid: "AK0123".into(),
                secret_hash: "sha256:00".into(),
            }],
        };
        let p = problems(&BTreeMap::from([("a".to_string(), tenant(bad))]));
        let text = p.join("\n");
        for what in [
            "account_sid",
            "service_sids",
            "never raw secrets",
            "api_keys.sid",
        ] {
            assert!(text.contains(what), "{what} not reported in {text}");
        }
        let empty = TwilioConfig::default();
        let p = problems(&BTreeMap::from([("a".to_string(), tenant(empty))])).join("\n");
        assert!(
            p.contains("no one can call") && p.contains("no path reaches"),
            "{p}"
        );
        let twice = BTreeMap::from([
            ("a".to_string(), tenant(good())),
            ("b".to_string(), tenant(good())),
        ]);
        let p = problems(&twice).join("\n");
        assert!(p.contains("listed under tenants a and b"), "{p}");
    }

    #[test]
    fn the_documented_section_of_the_default_config_parses() {
        // config/default.toml carries the section commented out; uncommented, it parses.
        let text: String = crate::config::DEFAULT_TOML
            .lines()
            .skip_while(|l| !l.starts_with("# [tenants.demo.twilio]"))
            .filter_map(|l| l.strip_prefix("# "))
            .filter(|l| l.starts_with('[') || l.contains(" = "))
            .collect::<Vec<_>>()
            .join("\n");
        let parsed: BTreeMap<String, BTreeMap<String, BTreeMap<String, TwilioConfig>>> =
            toml::from_str(&text).expect("the documented keys parse");
        let tw = &parsed["tenants"]["demo"]["twilio"];
        assert!(is_sid(&tw.account_sid, "AC"));
        assert_eq!(tw.api_keys.len(), 1);
    }
}
