//! The SMS-pumping guard: what it counts, the rules that block, and the state contract
//! its backends keep ([`PumpStore`]; in process and over `guard.lua` in Redis, both in
//! [`crate::backend`], both running the one decision of [`model`]).
//!
//! # Model (the whole argument is in `docs/abuse.md`)
//! Pumping sends codes to number ranges an attacker is paid for; nobody types those
//! codes back. Every send is counted at several [`Level`]s at once: the tenant, the
//! country, the 100 000-block (`area`), the 10 000-block (`range`), the 1 000-block
//! (`prefix`), and the sources the caller named (client IP, session, device). Each
//! level keeps decayed counts of sends and approvals ([`model::Tally`]): a recent one
//! (time constant `recent_secs`, an hour) and a long one (`baseline_secs`, days).
//!
//! What a level is expected to convert is learned from its own older history, shrunk
//! towards its parent's (prefix → range → area → country → tenant → the configured
//! prior), and scaled by how the rest of the tenant converts right now (a drop
//! everywhere at once is delivery trouble, not pumping). A level trips when its
//! unconverted sends exceed what that expectation allows by more than its budget plus
//! noise and the codes still being typed, while it converts far below expectation
//! (`drop`); the country must also jump in volume when there is no rest of the tenant to
//! compare with. Area, range and prefix are also judged over the long window against
//! their parent, which catches a slow drip. A level with no history starts on its
//! budget, which grows as codes come back.
//!
//! A trip does what the level's [`Action`] says: `shadow` reports, `enforce` blocks,
//! `challenge` refuses unless the caller says its end user passed a challenge. Blocks
//! double on each repeat, and counts are never reset by a block, so a level that is
//! still pumped when its block ends trips again at once. Refused sends are not counted.

mod level;
pub mod model;
mod rules;
mod tally;
mod verdict;

pub use level::{Action, Level};
pub use verdict::{Block, Explain, Outcome, PumpVerdict, Rule, Trip};

use crate::domain::Millis;
use crate::error::StoreResult;
use async_trait::async_trait;

/// Field of the shared entry new levels fall into when their level is full (every
/// backend's name for it).
pub const OVERFLOW: &str = "~";
/// Strikes are remembered this long after a block ends.
pub const STRIKE_MEMORY_MS: i64 = 30 * 24 * 3600 * 1000;

/// Thresholds of one level.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LevelPolicy {
    /// What a trip does.
    pub action: Action,
    /// Unconverted sends beyond expectation tolerated before noise (the budget a
    /// level with no history starts on).
    pub budget: f64,
    /// Trips only while conversion is under this share of the expected one.
    pub drop: f64,
}

/// The guard's settings for one tenant, in the units the model uses.
#[derive(Debug, Clone, PartialEq)]
pub struct GuardPolicy {
    /// Time constant of the recent counts (ms).
    pub recent_ms: u64,
    /// Time constant of the long counts, the baseline (ms).
    pub baseline_ms: u64,
    /// Expected conversion of a tenant with no history.
    pub prior: f64,
    /// Expected conversion is never taken below this (an attack cannot teach the guard
    /// that nobody ever converts).
    pub floor: f64,
    /// Standard deviations of noise tolerated.
    pub z: f64,
    /// How long a real user may take to type a code (ms): sends younger than this are
    /// not yet missing their approval.
    pub lag_ms: u64,
    /// Volume jump (recent over baseline) a country needs to trip when the rest of the
    /// tenant is too small to tell pumping from delivery trouble.
    pub jump: f64,
    /// First block (ms); doubles per strike.
    pub block_ms: u64,
    /// Longest block (ms).
    pub max_block_ms: u64,
    /// Levels tracked per tenant, channel and level before new ones share one overflow
    /// entry.
    pub max_tracked: u32,
    /// Per level in [`Level::ALL`] order; `None` turns a level off (never for tenant).
    pub levels: [Option<LevelPolicy>; 8],
}

/// One place a send counts: a level and its keyed name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The level.
    pub level: Level,
    /// Keyed hash naming the counters (no number or address in it).
    pub field: String,
    /// What operators see: `+1415555`, `US`, a masked address; never a whole number.
    pub label: String,
}

/// A send or approval as the guard sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    /// Tenant id.
    pub tenant: String,
    /// Channel (`sms`); counters are per channel.
    pub channel: String,
    /// ISO country of the destination (for block records).
    pub country: String,
    /// The levels it counts at, in [`Level`] order, tenant and country first.
    pub targets: Vec<Target>,
    /// The caller says its end user passed a challenge.
    pub challenge_passed: bool,
    /// The caller's risk score is low: source budgets are halved.
    pub low_score: bool,
}

/// Guard state contract, one implementation per backend.
#[async_trait]
pub trait PumpStore: Send + Sync + 'static {
    /// Checks the probe's blocks, judges every level with this send counted, records
    /// new blocks, and counts the send unless it is refused.
    async fn record_send(
        &self,
        probe: &Probe,
        p: &GuardPolicy,
        now: Millis,
    ) -> StoreResult<PumpVerdict>;
    /// Counts an approval at every level of the probe.
    async fn record_approval(&self, probe: &Probe, p: &GuardPolicy, now: Millis)
        -> StoreResult<()>;
    /// Active blocks of a tenant.
    async fn blocks(&self, tenant: &str, now: Millis) -> StoreResult<Vec<Block>>;
    /// Lifts a block and forgets the level's counts and strikes; true if there was one.
    async fn lift(
        &self,
        tenant: &str,
        level: Level,
        field: &str,
        p: &GuardPolicy,
        now: Millis,
    ) -> StoreResult<bool>;
}

/// The blocks still in force at `now`, by level then label: what every backend's
/// [`PumpStore::blocks`] answers.
pub fn active_blocks(all: impl IntoIterator<Item = Block>, now: Millis) -> Vec<Block> {
    let mut v: Vec<Block> = all.into_iter().filter(|b| b.until_ms > now).collect();
    v.sort_by(|a, b| (a.level, &a.label).cmp(&(b.level, &b.label)));
    v
}

/// The block of a number at a level: E.164 minus [`Level::cut`] digits.
pub fn block_of(e164: &str, level: Level) -> Option<&str> {
    let cut = level.cut()?;
    let keep = e164.len().checked_sub(cut)?;
    (keep >= 2).then(|| &e164[..keep])
}

/// The 1 000-block of a number (E.164 minus its last 3 digits).
pub fn prefix_of(e164: &str) -> &str {
    block_of(e164, Level::Prefix).unwrap_or(e164)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_drop_the_last_digits() {
        assert_eq!(prefix_of("+14155550123"), "+14155550");
        assert_eq!(block_of("+14155550123", Level::Range), Some("+1415555"));
        assert_eq!(block_of("+14155550123", Level::Area), Some("+141555"));
        assert_eq!(block_of("+1234", Level::Area), None);
        assert_eq!(block_of("+14155550123", Level::Country), None);
    }

    #[test]
    fn levels_and_actions_round_trip() {
        for l in Level::ALL {
            assert_eq!(Level::parse(l.as_str()), Some(l));
            assert_eq!(Level::ALL[l.index()], l);
        }
        for a in [Action::Shadow, Action::Enforce, Action::Challenge] {
            assert_eq!(Action::from_index(a.index() as i64), Some(a));
        }
    }
}
