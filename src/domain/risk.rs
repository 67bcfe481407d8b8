//! What a caller may tell the pumping guard about the end user behind a start or a
//! check (`risk_context`): the signals it already has. Every field is optional and
//! bounded; the guard uses what is present (see `docs/abuse.md`).

use super::ClientSession;
use crate::error::{Error, Result};
use std::fmt;

/// Longest `user_agent` accepted, in characters.
pub const MAX_USER_AGENT: usize = 512;

/// The end user's context, parsed and bounded. Identifiers are only ever stored as
/// keyed hashes; `Debug` shows none of them.
#[derive(Clone, Default, PartialEq)]
pub struct RiskContext {
    /// Browser or app user agent (1..=512 characters, none a control character).
    pub user_agent: Option<String>,
    /// The end user's session (the same rules as `client_session`).
    pub session_id: Option<ClientSession>,
    /// The end user's device (the same rules as `client_session`).
    pub device_id: Option<ClientSession>,
    /// A CAPTCHA or bot score the caller already has, 0 (bot) ..= 1 (human).
    pub captcha_score: Option<f64>,
    /// The end user just passed a challenge the caller showed after a
    /// `challenge_required` answer.
    pub challenge_passed: bool,
}

impl RiskContext {
    /// Checks and builds one from its raw parts (the transports' shared edge).
    pub fn parse(
        user_agent: Option<&str>,
        session_id: Option<&str>,
        device_id: Option<&str>,
        captcha_score: Option<f64>,
        challenge_passed: Option<bool>,
    ) -> Result<Self> {
        let bad = |m: &str| Error::InvalidRequest(format!("`risk_context.{m}"));
        let user_agent = match user_agent {
            Some(u)
                if u.is_empty() || u.len() > MAX_USER_AGENT || u.chars().any(char::is_control) =>
            {
                return Err(bad(
                    "user_agent` must be 1..512 bytes without control characters",
                ))
            }
            u => u.map(str::to_string),
        };
        let id = |v: Option<&str>, name: &str| {
            v.map(|s| {
                ClientSession::parse(s)
                    .map_err(|_| bad(&format!("{name}` must be 1..255 visible ASCII characters")))
            })
            .transpose()
        };
        let session_id = id(session_id, "session_id")?;
        let device_id = id(device_id, "device_id")?;
        if let Some(s) = captcha_score {
            if !(0.0..=1.0).contains(&s) {
                return Err(bad("captcha_score` must be a number from 0 to 1"));
            }
        }
        Ok(RiskContext {
            user_agent,
            session_id,
            device_id,
            captcha_score,
            challenge_passed: challenge_passed.unwrap_or(false),
        })
    }
}

impl fmt::Debug for RiskContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RiskContext")
            .field("user_agent", &self.user_agent.as_ref().map(|_| ".."))
            .field("session_id", &self.session_id.as_ref().map(|_| ".."))
            .field("device_id", &self.device_id.as_ref().map(|_| ".."))
            .field("captcha_score", &self.captcha_score)
            .field("challenge_passed", &self.challenge_passed)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_enforced_and_nothing_leaks_in_debug() {
        let ok = RiskContext::parse(
            Some("Mozilla/5.0"),
            Some("s-1"),
            Some("d-1"),
            Some(0.9),
            Some(true),
        )
        .unwrap();
        assert!(ok.challenge_passed);
        let dbg = format!("{ok:?}");
        assert!(
            !dbg.contains("Mozilla") && !dbg.contains("s-1") && !dbg.contains("d-1"),
            "{dbg}"
        );
        let long = "a".repeat(513);
        for bad in [
            RiskContext::parse(Some(&long), None, None, None, None),
            RiskContext::parse(Some("a\nb"), None, None, None, None),
            RiskContext::parse(None, Some("has space"), None, None, None),
            RiskContext::parse(None, None, Some(""), None, None),
            RiskContext::parse(None, None, None, Some(1.5), None),
            RiskContext::parse(None, None, None, Some(f64::NAN), None),
        ] {
            assert!(matches!(bad, Err(Error::InvalidRequest(_))), "{bad:?}");
        }
    }
}
