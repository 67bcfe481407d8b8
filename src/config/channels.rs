//! A tenant's channels: which are on (`channels`), each one's templates and limits
//! (`[tenants.<id>.channel.<name>]`), and named workflows
//! (`[tenants.<id>.workflows.<name>]`), with the problems `config check` reports.

use super::TemplateSet;
use crate::domain::Channel;
use serde::Deserialize;
use std::collections::BTreeMap;

/// Most steps a workflow may have.
pub const MAX_STEPS: usize = 6;

/// `[tenants.<id>.channel.<name>]`: one channel's settings for a tenant.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChannelSettings {
    /// Texts by template name and locale, as the tenant's `templates` for SMS (which
    /// are SMS's own and stay at the tenant's top level). For `voice` the text is what
    /// the call says (`{code}` is spoken digit by digit); for `email` it is the
    /// plain-text part. Where a name or locale is missing the built-in text of the
    /// channel is used (`config check` names the templates that have none).
    pub templates: BTreeMap<String, TemplateSet>,
    /// `email` only: subject lines by template name and locale (`{brand}`,
    /// `{minutes}`; never `{code}`, which would show in inbox previews and logs).
    pub subjects: BTreeMap<String, TemplateSet>,
    /// `email` only: HTML parts by template name and locale (placeholders are
    /// HTML-escaped).
    pub html_templates: BTreeMap<String, TemplateSet>,
    /// Sends on this channel per destination per hour, across verifications (0: only
    /// the tenant-wide per-number limits apply). Refusals name `<channel>_destination`.
    pub destination_sends_per_hour: u32,
    /// Sends on this channel per hour for the whole tenant (0: no cap): a ceiling on
    /// what a channel can cost (calls are dear). Refusals name `<channel>_tenant`.
    pub tenant_sends_per_hour: u32,
}

/// `[tenants.<id>.workflows.<name>]`: channels tried in turn under one code.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkflowConfig {
    /// The steps, in order (1..6).
    pub steps: Vec<StepConfig>,
}

/// One step of a workflow.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepConfig {
    /// The step's channel (enabled for the tenant).
    pub channel: String,
    /// How long to wait for a `delivered` receipt before the next step, in seconds
    /// (every step but the last needs one; the last runs until the code expires).
    #[serde(default)]
    pub timeout_secs: Option<u64>,
}

/// The built-in texts of a channel (English); SMS's live in [`crate::template`].
pub fn builtin(channel: Channel) -> Option<&'static str> {
    match channel {
        Channel::Sms | Channel::Whatsapp => None,
        Channel::Voice => Some("Your {brand} verification code is: {code}."),
        Channel::Email => Some(
            "Your {brand} verification code is {code}.\n\nIt expires in {minutes} minutes. If you did not ask for it, you can ignore this email.",
        ),
    }
}

/// Problems with a tenant's channels and workflows, one sentence each (the caller
/// prefixes `tenants.<id>: `). `served` says whether routing has a provider for a
/// channel.
pub fn problems(
    enabled: &[String],
    settings: &BTreeMap<String, ChannelSettings>,
    workflows: &BTreeMap<String, WorkflowConfig>,
    served: impl Fn(Channel) -> bool,
) -> Vec<String> {
    let mut p = Vec::new();
    let mut on = Vec::new();
    for name in enabled {
        match Channel::from_name(name) {
            Some(c) if !served(c) => p.push(format!(
                "channels: `{name}` is enabled but routing names no provider for it ([routing.channels.{name}] default)"
            )),
            Some(c) => on.push(c),
            None => p.push(format!(
                "channels: `{name}` is not a channel (sms, whatsapp, voice, email)"
            )),
        }
    }
    for (name, s) in settings {
        let Some(c) = Channel::from_name(name) else {
            p.push(format!(
                "channel.{name}: not a channel (sms, whatsapp, voice, email)"
            ));
            continue;
        };
        if c != Channel::Email && !(s.subjects.is_empty() && s.html_templates.is_empty()) {
            p.push(format!(
                "channel.{name}: subjects and html_templates are for email only"
            ));
        }
        if c == Channel::Sms && !s.templates.is_empty() {
            p.push("channel.sms.templates: SMS texts are the tenant's `templates`".into());
        }
        for (t, set) in &s.subjects {
            if set.values().any(|v| v.contains("{code}")) {
                p.push(format!(
                    "channel.email.subjects.{t}: a subject must not hold {{code}}"
                ));
            }
        }
    }
    for (name, w) in workflows {
        let at = |what: String| format!("workflows.{name}: {what}");
        if w.steps.is_empty() || w.steps.len() > MAX_STEPS {
            p.push(at(format!("a workflow has 1 to {MAX_STEPS} steps")));
        }
        let mut kinds = Vec::new();
        for (i, s) in w.steps.iter().enumerate() {
            let last = i + 1 == w.steps.len();
            match Channel::from_name(&s.channel) {
                Some(c) => {
                    kinds.push(c.is_phone());
                    if !on.contains(&c) {
                        p.push(at(format!(
                            "step {} uses `{}`, which the tenant has not enabled",
                            i + 1,
                            s.channel
                        )));
                    }
                }
                None => p.push(at(format!(
                    "step {} names `{}`, not a channel",
                    i + 1,
                    s.channel
                ))),
            }
            match s.timeout_secs {
                None | Some(0) if !last => p.push(at(format!(
                    "step {} needs timeout_secs (only the last step may wait until the code expires)",
                    i + 1
                ))),
                Some(t) if t > 86_400 => {
                    p.push(at(format!("step {} timeout_secs is over a day", i + 1)))
                }
                _ => {}
            }
        }
        if kinds.windows(2).any(|k| k[0] != k[1]) {
            p.push(at(
                "mixes email with phone channels; a verification has one destination".into(),
            ));
        }
    }
    p
}

/// Templates a tenant's enabled channels have no text for, one sentence each (printed
/// by `otpgw config check` and logged at startup): for every (template, locale) the
/// tenant has an SMS text for, a voice or email channel without its own text in that
/// locale falls back (its own text in the default locale or `en`, then the built-in
/// text), which may be another language than the SMS. WhatsApp falls back to the SMS
/// text itself, so it is never reported; nor is `default` in `en`, which has built-in
/// texts on every channel.
pub fn template_warnings(id: &str, t: &super::TenantConfig) -> Vec<String> {
    let mut out = Vec::new();
    for c in [Channel::Voice, Channel::Email] {
        if !t.channel_on(c) {
            continue;
        }
        let own = t.channel_settings(c);
        for (name, set) in &t.templates {
            for locale in set.keys() {
                // the built-in texts of a channel are English ones for `default`
                let builtin = name == "default" && locale == "en";
                let has = builtin
                    || own
                        .templates
                        .get(name)
                        .is_some_and(|s| s.contains_key(locale));
                if !has {
                    out.push(format!(
                        "tenants.{id}: template {name}/{locale} has no {} text (channel.{}.templates.{name}.{locale}); such sends use the channel's fallback text",
                        c.as_str(),
                        c.as_str()
                    ));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wf(toml_text: &str) -> BTreeMap<String, WorkflowConfig> {
        toml::from_str(toml_text).unwrap()
    }

    #[test]
    fn reports_unknown_unrouted_and_mixed() {
        let enabled: Vec<String> = ["sms", "voice", "email", "fax"].map(String::from).to_vec();
        let flows = wf(r#"
            [a]
            steps = [{channel = "sms"}, {channel = "voice", timeout_secs = 30}]
            [b]
            steps = [{channel = "sms", timeout_secs = 60}, {channel = "email"}]
            [c]
            steps = [{channel = "whatsapp"}]
        "#);
        let p = problems(&enabled, &BTreeMap::new(), &flows, |c| c != Channel::Email);
        let all = p.join("\n");
        assert!(all.contains("`fax` is not a channel"), "{all}");
        assert!(
            all.contains("`email` is enabled but routing names no provider"),
            "{all}"
        );
        assert!(
            all.contains("workflows.a: step 1 needs timeout_secs"),
            "{all}"
        );
        assert!(all.contains("workflows.b: mixes email"), "{all}");
        assert!(all.contains("workflows.c: step 1 uses `whatsapp`"), "{all}");
    }

    #[test]
    fn a_template_without_a_voice_text_in_its_locale_is_reported() {
        let mut t: super::super::TenantConfig =
            toml::from_str("channels = [\"sms\", \"voice\"]\n[templates.login]\npt = \"{code}\"")
                .unwrap();
        let w = template_warnings("acme", &t);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].contains("template login/pt has no voice text"),
            "{w:?}"
        );
        t.channel = toml::from_str("[voice.templates.login]\npt = \"Código {code}\"").unwrap();
        assert!(template_warnings("acme", &t).is_empty());
    }
}
