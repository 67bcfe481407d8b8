//! The SMS-pumping guard's settings (`[tenants.<id>.pumping]`): the model's constants
//! and one `[…pumping.levels.<level>]` table per level. What each number means, and how
//! the defaults were chosen, is in `docs/abuse.md`.

use serde::Deserialize;

/// The guard as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum PumpingMode {
    /// Every level acts as its `action` says.
    #[default]
    Enforce,
    /// Every level only counts, logs and exports metrics, whatever its `action`.
    Shadow,
    /// No counting at all.
    Off,
}

/// What a trip at one level does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LevelMode {
    /// The level is not counted.
    Off,
    /// Count and report (metrics, log, `would_block`), never refuse.
    Shadow,
    /// Block: `403 destination_blocked` with the level's reason.
    Enforce,
    /// `403 challenge_required` unless `risk_context.challenge_passed` is true.
    Challenge,
}

/// One level's thresholds (`[tenants.<id>.pumping.levels.<level>]`).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LevelConfig {
    /// `off`, `shadow`, `enforce` or `challenge`.
    pub action: LevelMode,
    /// Unconverted sends beyond what the level is expected to convert, tolerated on top
    /// of noise and codes still being typed; a level with no history starts on this.
    pub budget: f64,
    /// Trips only while the level converts below this share of what it is expected to
    /// (0..1).
    pub drop: f64,
}

impl LevelConfig {
    const fn new(action: LevelMode, budget: f64, drop: f64) -> Self {
        LevelConfig {
            action,
            budget,
            drop,
        }
    }
}

/// The levels (`[tenants.<id>.pumping.levels]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LevelsConfig {
    /// The destination country (reason `country_suspended`).
    pub country: LevelConfig,
    /// 100 000 numbers, E.164 minus 5 digits (reason `area_blocked`).
    pub area: LevelConfig,
    /// 10 000 numbers, minus 4 digits (reason `range_blocked`).
    pub range: LevelConfig,
    /// 1 000 numbers, minus 3 digits (reason `prefix_blocked`).
    pub prefix: LevelConfig,
    /// The request's `client_ip` (IPv6: its network; reason `client_ip_blocked`).
    pub ip: LevelConfig,
    /// `risk_context.session_id` (reason `session_blocked`).
    pub session: LevelConfig,
    /// `risk_context.device_id`, else `client_ip` with `risk_context.user_agent`
    /// (reason `device_blocked`).
    pub device: LevelConfig,
}

impl Default for LevelsConfig {
    fn default() -> Self {
        use LevelMode::{Challenge, Enforce};
        LevelsConfig {
            country: LevelConfig::new(Challenge, 30.0, 0.75),
            area: LevelConfig::new(Enforce, 8.0, 0.5),
            range: LevelConfig::new(Enforce, 6.0, 0.5),
            prefix: LevelConfig::new(Enforce, 4.0, 0.5),
            ip: LevelConfig::new(Challenge, 4.0, 0.5),
            session: LevelConfig::new(Challenge, 4.0, 0.5),
            device: LevelConfig::new(Challenge, 4.0, 0.5),
        }
    }
}

/// The SMS-pumping guard of one tenant (`[tenants.<id>.pumping]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PumpingConfig {
    /// `enforce` (each level acts as its `action` says), `shadow` or `off`.
    pub mode: PumpingMode,
    /// When the guard's state cannot be reached but the rest of a start can (Redis
    /// Cluster, the guard's node down): `true` lets the send through uncounted,
    /// `false` answers `503`. Counted in `otpgw_pumping_unavailable_total`.
    pub fail_open: bool,
    /// Time constant of the recent counts, in seconds (`window_secs` is accepted too).
    #[serde(alias = "window_secs")]
    pub recent_secs: u64,
    /// Time constant of the baseline, in seconds; levels untouched this long are
    /// forgotten.
    pub baseline_secs: u64,
    /// Conversion (approvals / sends) expected of a tenant with no history yet.
    pub expected_conversion: f64,
    /// Expected conversion is never taken below this, however low history is.
    pub conversion_floor: f64,
    /// Standard deviations of random variation tolerated on top of a level's budget.
    pub noise_sigmas: f64,
    /// Seconds a real user may take to type a code back.
    pub approval_lag_secs: u64,
    /// Recent volume over baseline a country must reach to trip when the rest of the
    /// tenant is too small to compare with.
    pub volume_jump: f64,
    /// First block, in seconds; each repeat doubles it.
    pub block_secs: u64,
    /// Longest block, in seconds.
    pub max_block_secs: u64,
    /// Blocks, ranges or sources tracked per level before new ones share one overflow
    /// entry (counted in `otpgw_pumping_overflow_total`). Keep it above what a level
    /// sees in `baseline_secs`: about first sends per day times baseline days.
    pub max_tracked: u32,
    /// A `risk_context.captcha_score` below this halves the budgets of the request's
    /// sources.
    pub low_captcha_score: f64,
    /// Numbers (E.164) and prefixes (`+44770090`) never counted or blocked.
    pub safe_list: Vec<String>,
    /// Per-level thresholds and actions.
    pub levels: LevelsConfig,
}

impl Default for PumpingConfig {
    fn default() -> Self {
        PumpingConfig {
            mode: PumpingMode::Enforce,
            fail_open: true,
            recent_secs: 3600,
            baseline_secs: 3 * 24 * 3600,
            expected_conversion: 0.6,
            conversion_floor: 0.2,
            noise_sigmas: 3.0,
            approval_lag_secs: 120,
            volume_jump: 3.0,
            block_secs: 24 * 3600,
            max_block_secs: 7 * 24 * 3600,
            max_tracked: 1_000_000,
            low_captcha_score: 0.3,
            safe_list: Vec::new(),
            levels: LevelsConfig::default(),
        }
    }
}

impl PumpingConfig {
    /// Problems `config check` and startup refuse.
    pub fn problems(&self, tenant: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut bad = |what: &str, ok: bool| {
            if !ok {
                out.push(format!("tenants.{tenant}.pumping.{what}"));
            }
        };
        bad(
            "expected_conversion must be in (0, 1]",
            self.expected_conversion > 0.0 && self.expected_conversion <= 1.0,
        );
        bad(
            "conversion_floor must be in [0, expected_conversion]",
            (0.0..=self.expected_conversion).contains(&self.conversion_floor),
        );
        bad("recent_secs must be at least 60", self.recent_secs >= 60);
        bad(
            "baseline_secs must be at least recent_secs",
            self.baseline_secs >= self.recent_secs,
        );
        bad("max_tracked must be at least 1", self.max_tracked >= 1);
        for (name, c) in self.level_list() {
            bad(
                &format!("levels.{name}.budget must be 0 or more"),
                c.budget >= 0.0 && c.budget.is_finite(),
            );
            bad(
                &format!("levels.{name}.drop must be in (0, 1]"),
                c.drop > 0.0 && c.drop <= 1.0,
            );
        }
        out
    }

    fn level_list(&self) -> [(&'static str, &LevelConfig); 7] {
        let l = &self.levels;
        [
            ("country", &l.country),
            ("area", &l.area),
            ("range", &l.range),
            ("prefix", &l.prefix),
            ("ip", &l.ip),
            ("session", &l.session),
            ("device", &l.device),
        ]
    }
}
