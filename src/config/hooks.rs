//! `[tenants.<id>.hooks]`: the auth servers that may ask this tenant to send their codes
//! (see `docs/hooks.md`), and the checks `otpgw config check` runs on them.
//!
//! A hook authenticates by its signature, not an API key: each hook names the secrets
//! its calls are signed with, so a tenant without a hook section has no hook endpoint.

use crate::secret::Secret;
use serde::Deserialize;

/// The hooks of one tenant.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HooksConfig {
    /// The Supabase Auth Send SMS hook (`POST /v1/hooks/supabase/send-sms/<tenant>`);
    /// absent: that endpoint answers 404 for this tenant.
    pub supabase: Option<SupabaseHookConfig>,
}

/// The Supabase Auth Send SMS hook of a tenant.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SupabaseHookConfig {
    /// Standard Webhooks secrets, as Supabase shows them (`v1,whsec_<base64>`); a call
    /// signed under any of them is accepted, so a new secret is added before the old
    /// one is removed (rotation). Never printed.
    pub secrets: Vec<Secret>,
    /// The tenant's template the code is sent with (`default` when unset).
    pub template: Option<String>,
    /// How far a call's `webhook-timestamp` may be from now, either way, in seconds
    /// (0: the default, 300).
    pub tolerance_secs: u64,
    /// Largest call body read, in bytes (0: the default, 65536); a larger one is
    /// refused with 413 before it is read.
    pub body_limit_bytes: usize,
}

/// Default body limit of a hook call: Supabase sends the whole user object.
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;

/// Default tolerance: five minutes, as the Standard Webhooks libraries use.
pub const DEFAULT_TOLERANCE_SECS: u64 = 300;

impl SupabaseHookConfig {
    /// The keys of the secrets (the ones that parse; [`problems`] reports the rest).
    pub fn keys(&self) -> Vec<Vec<u8>> {
        self.secrets
            .iter()
            .filter_map(|s| crate::crypto::webhook_sig::parse_secret(s).ok())
            .collect()
    }

    /// The body limit in bytes (the default when 0).
    pub fn body_limit(&self) -> usize {
        match self.body_limit_bytes {
            0 => DEFAULT_BODY_LIMIT,
            n => n.min(1 << 20),
        }
    }

    /// The tolerance in seconds (the default when 0).
    pub fn tolerance(&self) -> i64 {
        match self.tolerance_secs {
            0 => DEFAULT_TOLERANCE_SECS as i64,
            n => n.min(86_400) as i64,
        }
    }
}

/// Problems of one tenant's hooks, each a sentence (prefixed by the caller); `templates`
/// are the tenant's (`default` is built in).
pub fn problems(
    h: &HooksConfig,
    templates: &std::collections::BTreeMap<String, super::TemplateSet>,
) -> Vec<String> {
    let mut p = Vec::new();
    if let Some(s) = &h.supabase {
        if let Some(t) = s.template.as_deref() {
            if t != "default" && !templates.contains_key(t) {
                p.push(format!(
                    "hooks.supabase.template `{t}` is not one of the tenant's templates"
                ));
            }
        }
        if s.secrets.is_empty() {
            p.push("hooks.supabase.secrets is empty, so no call can be verified".into());
        }
        for (i, secret) in s.secrets.iter().enumerate() {
            if let Err(e) = crate::crypto::webhook_sig::parse_secret(secret) {
                p.push(format!("hooks.supabase.secrets[{i}]: {e}"));
            }
        }
        if s.body_limit_bytes > 1 << 20 {
            p.push("hooks.supabase.body_limit_bytes must be at most 1048576".into());
        }
        if s.tolerance_secs > 86_400 {
            p.push("hooks.supabase.tolerance_secs must be at most 86400".into());
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    #[test]
    fn hook_secrets_are_checked_and_never_printed() {
        let c = Config::from_toml(
            r#"
            mode = "dev"
            [tenants.acme]
            api_keys = ["sha256:0000000000000000000000000000000000000000000000000000000000000000"]
            [tenants.acme.hooks.supabase]
            secrets = ["v1,whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtMTIzNDU2", "hunter2-plain", "v1,whsec_%%%"]
            tolerance_secs = 90000
            template = "nope"
        "#,
        )
        .unwrap();
        let all = crate::config::problems(&c).join("\n");
        for want in [
            "tenants.acme: hooks.supabase.secrets[1]: a Standard Webhooks secret is written",
            "secrets[2]: the part after `whsec_` is not base64",
            "tolerance_secs must be at most 86400",
            "hooks.supabase.template `nope` is not one of the tenant's templates",
        ] {
            assert!(all.contains(want), "{want}: {all}");
        }
        assert!(!all.contains("hunter2"), "{all}");
        let hook = c.tenants["acme"].hooks.supabase.clone().unwrap();
        assert_eq!(hook.keys().len(), 1);
        assert!(!format!("{c:?}").contains("hunter2"));
        assert!(!format!("{c:?}").contains("c2VjcmV0"));
    }
}
