//! What the guard answers: a send's verdict (go ahead, challenge, blocked) with every
//! level that tripped and the numbers its rule compared, and the block records kept for
//! the admin API and for strikes.

use super::{Action, Level};
use crate::domain::Millis;
use serde::Serialize;

/// Which rule fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// Recent window against the level's own baseline.
    Recent,
    /// Long window against the parent's expectation (slow drip).
    Long,
}

/// Why a level tripped: the numbers the rule compared.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Explain {
    /// The rule.
    pub rule: Rule,
    /// Sends in the rule's window (decayed), this one included.
    pub sends: f64,
    /// Approvals in the rule's window (decayed).
    pub approvals: f64,
    /// Conversion expected of the level now.
    pub expected: f64,
    /// Sends the baseline predicts for the recent window.
    pub baseline_sends: f64,
    /// Unconverted sends tolerated.
    pub tolerance: f64,
}

/// One level's part in a decision.
#[derive(Debug, Clone, PartialEq)]
pub struct Trip {
    /// The level.
    pub level: Level,
    /// Its keyed name.
    pub field: String,
    /// What operators see.
    pub label: String,
    /// The action taken (the block's own for an existing block).
    pub action: Action,
    /// A new trip (false: an existing block refused the send).
    pub new: bool,
    /// End of the block (0 for shadow).
    pub until_ms: Millis,
    /// Blocks of this level so far, this one included.
    pub strikes: u32,
    /// The rule's numbers.
    pub explain: Explain,
}

/// What came of a send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Counted; go ahead.
    Allowed,
    /// Refused until the end user passes a challenge.
    Challenge,
    /// Refused by a block.
    Blocked,
}

/// The guard's answer about one send.
#[derive(Debug, Clone, PartialEq)]
pub struct PumpVerdict {
    /// Go ahead or not.
    pub outcome: Outcome,
    /// Every level that tripped or refused, with its explanation; shadow trips and
    /// passed challenges included.
    pub trips: Vec<Trip>,
    /// New levels that fell into the overflow entry because their level was full.
    pub overflowed: u32,
}

impl PumpVerdict {
    /// Counted, nothing to say.
    pub fn ok() -> Self {
        PumpVerdict {
            outcome: Outcome::Allowed,
            trips: Vec::new(),
            overflowed: 0,
        }
    }

    /// Whether the send is refused.
    pub fn refuses(&self) -> bool {
        self.outcome != Outcome::Allowed
    }

    /// The trip the refusal names: an enforce one first, in level order.
    pub fn cause(&self) -> Option<&Trip> {
        let want = match self.outcome {
            Outcome::Allowed => return None,
            Outcome::Blocked => Action::Enforce,
            Outcome::Challenge => Action::Challenge,
        };
        self.trips.iter().find(|t| t.action == want)
    }
}

/// A block, active or remembered for its strikes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Block {
    /// Tenant id.
    pub tenant: String,
    /// Channel.
    pub channel: String,
    /// Level.
    pub level: Level,
    /// Keyed name of the level (the admin API's handle for lifting it).
    pub field: String,
    /// What operators see.
    pub label: String,
    /// ISO country of the send that tripped it.
    pub country: String,
    /// `enforce` or `challenge`.
    pub action: Action,
    /// End, ms since the epoch.
    pub until_ms: Millis,
    /// Blocks of this level so far.
    pub strikes: u32,
    /// When it tripped.
    pub since_ms: Millis,
    /// Why.
    pub explain: Explain,
}
