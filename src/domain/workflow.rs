//! Workflows as a verification carries them: the steps it was started with (copied from
//! the tenant's settings, so a change of settings never moves a running one), which
//! step is current, and what became of the steps before it.

use super::{Channel, DeliveryStatus, Millis};
use crate::error::Error;

/// A workflow's name as a request gives it: 1..64 of `[A-Za-z0-9_-]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkflowName(String);

impl WorkflowName {
    /// Checks the shape (whether the tenant has one of that name is the service's to say).
    pub fn parse(s: &str) -> Result<Self, Error> {
        let ok = (1..=64).contains(&s.len())
            && s.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-');
        if ok {
            Ok(WorkflowName(s.to_string()))
        } else {
            Err(Error::InvalidRequest(
                "`workflow` must be 1..64 of [A-Za-z0-9_-]".into(),
            ))
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One step: a channel and how long it may go without a `delivered` receipt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    /// The step's channel.
    pub channel: Channel,
    /// Milliseconds from the step's start to the next step (none: the last step, which
    /// runs until the code expires).
    pub timeout_ms: Option<i64>,
}

/// The workflow a verification runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Workflow {
    /// Its name in the tenant's settings.
    pub name: String,
    /// Its steps (at least one).
    pub steps: Vec<Step>,
    /// Index of the current step.
    pub current: u8,
    /// When the current step started (was queued).
    pub step_started_at: Millis,
}

impl Workflow {
    /// The current step.
    pub fn step(&self) -> Step {
        self.steps[(self.current as usize).min(self.steps.len() - 1)]
    }

    /// Whether a step follows the current one.
    pub fn has_next(&self) -> bool {
        (self.current as usize) + 1 < self.steps.len()
    }

    /// The steps in their stored form: `channel:timeout_ms` joined by `,` (a last step
    /// without a timeout has `0`).
    pub fn encode_steps(&self) -> String {
        let parts: Vec<String> = self
            .steps
            .iter()
            .map(|s| format!("{}:{}", s.channel.as_str(), s.timeout_ms.unwrap_or(0)))
            .collect();
        parts.join(",")
    }

    /// Steps from their stored form; `None` when unreadable.
    pub fn decode_steps(s: &str) -> Option<Vec<Step>> {
        s.split(',')
            .map(|p| {
                let (c, t) = p.split_once(':')?;
                let t: i64 = t.parse().ok()?;
                Some(Step {
                    channel: Channel::from_name(c)?,
                    timeout_ms: (t > 0).then_some(t),
                })
            })
            .collect::<Option<Vec<_>>>()
            .filter(|v| !v.is_empty())
    }
}

/// What became of a step that is over (the current step's state is the record's
/// `channel` and `delivery`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepRecord {
    /// The step's channel.
    pub channel: Channel,
    /// The provider that last handled it.
    pub provider: Option<String>,
    /// Its delivery status when the next step began.
    pub status: DeliveryStatus,
    /// When it started.
    pub started_at: Millis,
    /// When it ended (the next step began).
    pub ended_at: Millis,
    /// Why the next step began: `failed`, `undelivered`, `timeout` or `requested`.
    pub why_next: String,
}

impl StepRecord {
    /// The stored form: `channel|provider|status|started|ended|why` (no field holds `|`
    /// or `;`: provider names and the reasons are our own words).
    pub fn encode(&self) -> String {
        format!(
            "{}|{}|{}|{}|{}|{}",
            self.channel.as_str(),
            self.provider.as_deref().unwrap_or(""),
            self.status.as_str(),
            self.started_at,
            self.ended_at,
            self.why_next
        )
    }

    /// A list of records from its stored form (`;`-joined); unreadable entries skipped.
    pub fn decode_all(s: &str) -> Vec<StepRecord> {
        s.split(';')
            .filter_map(|e| {
                let f: Vec<&str> = e.split('|').collect();
                if f.len() != 6 {
                    return None;
                }
                Some(StepRecord {
                    channel: Channel::from_name(f[0])?,
                    provider: (!f[1].is_empty()).then(|| f[1].to_string()),
                    status: DeliveryStatus::from_name(f[2])?,
                    started_at: f[3].parse().ok()?,
                    ended_at: f[4].parse().ok()?,
                    why_next: f[5].to_string(),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_and_records_round_trip() {
        let w = Workflow {
            name: "fallback".into(),
            steps: vec![
                Step {
                    channel: Channel::Sms,
                    timeout_ms: Some(60_000),
                },
                Step {
                    channel: Channel::Voice,
                    timeout_ms: None,
                },
            ],
            current: 0,
            step_started_at: 5,
        };
        assert_eq!(w.encode_steps(), "sms:60000,voice:0");
        assert_eq!(Workflow::decode_steps(&w.encode_steps()).unwrap(), w.steps);
        assert!(Workflow::decode_steps("fax:1").is_none());
        let r = StepRecord {
            channel: Channel::Sms,
            provider: Some("tw".into()),
            status: DeliveryStatus::Sent,
            started_at: 1,
            ended_at: 2,
            why_next: "timeout".into(),
        };
        let both = format!("{};{}", r.encode(), r.encode());
        assert_eq!(StepRecord::decode_all(&both), vec![r.clone(), r]);
        assert!(WorkflowName::parse("sms-then-voice").is_ok());
        assert!(WorkflowName::parse("a b").is_err());
    }
}
