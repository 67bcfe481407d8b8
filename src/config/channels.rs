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

/// Problems with a tenant's channels, workflows and channel templates, one sentence
/// each (the caller prefixes `tenants.<id>: `). `served` says whether routing has a
/// provider for a channel.
pub fn problems(
    enabled: &[String],
    settings: &BTreeMap<String, ChannelSettings>,
    workflows: &BTreeMap<String, WorkflowConfig>,
    sms_templates: &BTreeMap<String, TemplateSet>,
    default_locale: &str,
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
    // every template the tenant names must have a text on each channel it enabled
    let names: Vec<&String> = sms_templates.keys().filter(|n| *n != "default").collect();
    for c in on.iter().filter(|c| **c != Channel::Sms) {
        let own = settings.get(c.as_str());
        for n in &names {
            let has = own
                .and_then(|s| s.templates.get(*n))
                .is_some_and(|set| set.contains_key(default_locale) || set.contains_key("en"));
            let shared = *c == Channel::Whatsapp; // WhatsApp falls back to the SMS text
            if !has && !shared {
                p.push(format!(
                    "channel.{}.templates.{n}: template `{n}` has no {} text in `{default_locale}` or `en`",
                    c.as_str(),
                    c.as_str()
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
                Some(c) if on.contains(&c) => kinds.push(c.is_phone()),
                Some(_) => p.push(at(format!(
                    "step {} uses `{}`, which the tenant has not enabled",
                    i + 1,
                    s.channel
                ))),
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
        let p = problems(
            &enabled,
            &BTreeMap::new(),
            &flows,
            &BTreeMap::new(),
            "en",
            |c| c != Channel::Email,
        );
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
    fn a_named_template_needs_a_text_on_each_enabled_channel() {
        let sms: BTreeMap<String, TemplateSet> =
            toml::from_str("[login]\nen = \"{code}\"").unwrap();
        let enabled: Vec<String> = ["sms", "voice"].map(String::from).to_vec();
        let p = problems(
            &enabled,
            &BTreeMap::new(),
            &BTreeMap::new(),
            &sms,
            "en",
            |_| true,
        );
        assert_eq!(
            p,
            ["channel.voice.templates.login: template `login` has no voice text in `en` or `en`"]
        );
        let own: BTreeMap<String, ChannelSettings> =
            toml::from_str("[voice.templates.login]\nen = \"Code {code}\"").unwrap();
        assert!(problems(&enabled, &own, &BTreeMap::new(), &sms, "en", |_| true).is_empty());
    }
}
