//! The guard's levels (where a send is counted, parents first) and actions (what a trip
//! at a level does), with the names config, metrics, the admin API and the scripts use.

use serde::Serialize;

/// Where a send is counted. The order is the evaluation order (parents first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// The whole tenant (per channel): the reference the others are scaled by; never
    /// blocks.
    Tenant,
    /// The destination country.
    Country,
    /// 100 000 numbers: E.164 minus its last 5 digits.
    Area,
    /// 10 000 numbers: minus its last 4 digits.
    Range,
    /// 1 000 numbers: minus its last 3 digits.
    Prefix,
    /// The end user's IP address (IPv6: its network).
    Ip,
    /// The end user's session, as the caller names it.
    Session,
    /// The end user's device (the caller's device id, else IP and user agent together).
    Device,
}

impl Level {
    /// Every level, in evaluation order.
    pub const ALL: [Level; 8] = [
        Level::Tenant,
        Level::Country,
        Level::Area,
        Level::Range,
        Level::Prefix,
        Level::Ip,
        Level::Session,
        Level::Device,
    ];

    /// Name in config, metrics and the admin API.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Tenant => "tenant",
            Level::Country => "country",
            Level::Area => "area",
            Level::Range => "range",
            Level::Prefix => "prefix",
            Level::Ip => "ip",
            Level::Session => "session",
            Level::Device => "device",
        }
    }

    /// Parses [`Level::as_str`].
    pub fn parse(s: &str) -> Option<Level> {
        Level::ALL.into_iter().find(|l| l.as_str() == s)
    }

    /// Position in [`Level::ALL`] (the scripts' level number).
    pub fn index(self) -> usize {
        self as usize
    }

    /// The `reason` of a refusal at this level.
    pub fn reason(self) -> &'static str {
        match self {
            Level::Tenant => "tenant_suspended",
            Level::Country => "country_suspended",
            Level::Area => "area_blocked",
            Level::Range => "range_blocked",
            Level::Prefix => "prefix_blocked",
            Level::Ip => "client_ip_blocked",
            Level::Session => "session_blocked",
            Level::Device => "device_blocked",
        }
    }

    /// A source of requests rather than a part of the numbering plan.
    pub fn is_source(self) -> bool {
        matches!(self, Level::Ip | Level::Session | Level::Device)
    }

    /// Digits a number loses to name its block at this level.
    pub fn cut(self) -> Option<usize> {
        match self {
            Level::Area => Some(5),
            Level::Range => Some(4),
            Level::Prefix => Some(3),
            _ => None,
        }
    }
}

/// What a trip at a level does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Count and report (metrics, log), never refuse.
    Shadow,
    /// Block: `403 destination_blocked` with the level's reason.
    #[default]
    Enforce,
    /// `403 challenge_required` unless the request says the end user passed a challenge.
    Challenge,
}

impl Action {
    /// Name in config, metrics and the admin API.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Shadow => "shadow",
            Action::Enforce => "enforce",
            Action::Challenge => "challenge",
        }
    }

    /// The scripts' number for it.
    pub fn index(self) -> u8 {
        match self {
            Action::Shadow => 0,
            Action::Enforce => 1,
            Action::Challenge => 2,
        }
    }

    /// Parses [`Action::index`].
    pub fn from_index(i: i64) -> Option<Action> {
        [Action::Shadow, Action::Enforce, Action::Challenge]
            .get(usize::try_from(i).ok()?)
            .copied()
    }
}
