//! The guard's decision, as one pure function over the state of a send's levels, so
//! the memory backend, the simulator and the tests run exactly what `guard.lua` runs
//! on Redis (the script mirrors this file line by line; `tests/pumping_parity.rs` feeds
//! both the same traffic and requires the same verdicts).
//!
//! Counts are kept in thousandths of a send ([`Tally`]) and rounded after each decay,
//! so both sides compute on the same integers; the float arithmetic below is written in
//! the script's order.

use super::{Action, Explain, GuardPolicy, Level, Outcome, Probe, PumpVerdict, Rule, Trip};
use crate::domain::Millis;

/// Weight, in sends, of the parent's expectation in a level's own.
const PRIOR_WEIGHT: f64 = 10.0;
/// Recent sends the rest of the tenant needs before its conversion scales the others.
const REST_MIN: f64 = 30.0;
/// Highest conversion ever expected.
const CEILING: f64 = 0.98;

/// Decayed counts of one level, in thousandths of a send.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Recent sends.
    pub rs: i64,
    /// Recent approvals.
    pub ra: i64,
    /// Long sends (the baseline; includes the recent ones).
    pub ls: i64,
    /// Long approvals.
    pub la: i64,
    /// When last decayed, ms.
    pub t: Millis,
}

fn decay(x: i64, factor: f64) -> i64 {
    (x as f64 * factor + 0.5).floor() as i64
}

impl Tally {
    /// A level seen for the first time.
    pub fn new(now: Millis) -> Self {
        Tally {
            t: now,
            ..Tally::default()
        }
    }

    /// Decays the counts to `now` (a clock behind `t` decays nothing).
    pub fn decayed(mut self, now: Millis, p: &GuardPolicy) -> Self {
        if now > self.t {
            let dt = (now - self.t) as f64;
            let fr = (-dt / p.recent_ms as f64).exp();
            let fl = (-dt / p.baseline_ms as f64).exp();
            self.rs = decay(self.rs, fr);
            self.ra = decay(self.ra, fr);
            self.ls = decay(self.ls, fl);
            self.la = decay(self.la, fl);
            self.t = now;
        }
        self
    }

    /// Stored form: `rs,ra,ls,la,t`.
    pub fn encode(&self) -> String {
        format!("{},{},{},{},{}", self.rs, self.ra, self.ls, self.la, self.t)
    }

    /// Reads [`Tally::encode`].
    pub fn decode(s: &str) -> Option<Self> {
        let mut it = s.split(',').map(|x| x.parse::<i64>().ok());
        Some(Tally {
            rs: it.next()??,
            ra: it.next()??,
            ls: it.next()??,
            la: it.next()??,
            t: it.next()??,
        })
    }

    fn f(x: i64) -> f64 {
        x as f64 / 1000.0
    }
}

/// What the backend knows of a level's block before the send.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prior {
    /// End of the block.
    pub until_ms: Millis,
    /// Strikes so far.
    pub strikes: u32,
    /// The block's action.
    pub action: Action,
    /// The block's explanation (for a refusal by it).
    pub explain: Explain,
}

/// What the backend must write after a send.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// The answer.
    pub verdict: PumpVerdict,
    /// Counts to store per target, decayed to `now` with this send counted; all `None`
    /// when the send is refused (a refused send is not counted).
    pub tallies: Vec<Option<Tally>>,
}

fn clamp(x: f64, lo: f64, hi: f64) -> f64 {
    if x < lo {
        lo
    } else if x > hi {
        hi
    } else {
        x
    }
}

/// Conversion expected of a level from its own older history, shrunk to its parent's,
/// and never below half of `anchor` (the tenant's expectation; the prior for the
/// tenant itself): an attack that has run for a while is in a level's older history
/// too, and must not teach the guard that the level never converts.
pub fn expected(t: &Tally, parent: f64, anchor: f64, p: &GuardPolicy) -> f64 {
    let old_s = Tally::f((t.ls - t.rs).max(0));
    let old_a = Tally::f((t.la - t.ra).max(0));
    let low = (anchor * 0.5).max(p.floor);
    clamp(
        (old_a + PRIOR_WEIGHT * parent) / (old_s + PRIOR_WEIGHT),
        low,
        CEILING,
    )
}

/// Share of the recent counts still within the typing lag.
fn pending_share(p: &GuardPolicy) -> f64 {
    1.0 - (-(p.lag_ms as f64) / p.recent_ms as f64).exp()
}

/// How the rest of the tenant (all but this country) converts now against its
/// baseline: `(factor in 0.05..=1, whether there was enough of it to tell)`.
pub fn scale(tenant: &Tally, country: &Tally, p: &GuardPolicy) -> (f64, bool) {
    let rest_s = Tally::f(tenant.rs - country.rs);
    if rest_s < REST_MIN {
        return (1.0, false);
    }
    let rest_a = Tally::f((tenant.ra - country.ra).max(0));
    let old_s = Tally::f(((tenant.ls - tenant.rs) - (country.ls - country.rs)).max(0));
    let old_a = Tally::f(((tenant.la - tenant.ra) - (country.la - country.ra)).max(0));
    let base = clamp(
        (old_a + PRIOR_WEIGHT * p.prior) / (old_s + PRIOR_WEIGHT),
        p.floor,
        CEILING,
    );
    let now_conv = rest_a / (rest_s * (1.0 - pending_share(p)));
    (clamp(now_conv / base, 0.05, 1.0), true)
}

/// The recent rule of a level whose own expectation is `own` (this send counted).
#[allow(clippy::too_many_arguments)]
pub fn judge_recent(
    t: &Tally,
    own: f64,
    f: f64,
    budget: f64,
    drop: f64,
    jump_needed: bool,
    p: &GuardPolicy,
) -> Option<Explain> {
    let rs1 = Tally::f(t.rs) + 1.0;
    let ra = Tally::f(t.ra);
    let pe = (own * f).max(0.01);
    let pending = rs1 * pending_share(p) * pe;
    let deficit = rs1 * pe - ra;
    let tol = budget + p.z * (rs1 * pe * (1.0 - pe)).sqrt() + pending;
    let old_s = Tally::f((t.ls - t.rs).max(0));
    let base_recent = if p.baseline_ms > p.recent_ms {
        old_s * p.recent_ms as f64 / (p.baseline_ms - p.recent_ms) as f64
    } else {
        old_s
    };
    let jumped = !jump_needed || rs1 > p.jump * base_recent + budget;
    (deficit > tol && ra < drop * pe * rs1 && jumped).then_some(Explain {
        rule: Rule::Recent,
        sends: rs1,
        approvals: ra,
        expected: pe,
        baseline_sends: base_recent,
        tolerance: tol,
    })
}

/// The long rule of a numbering level against its parent's expectation (this send
/// counted): a slow drip that no recent window sees.
pub fn judge_long(
    t: &Tally,
    parent: f64,
    f: f64,
    budget: f64,
    drop: f64,
    p: &GuardPolicy,
) -> Option<Explain> {
    let rs1 = Tally::f(t.rs) + 1.0;
    let ls1 = Tally::f(t.ls) + 1.0;
    let la = Tally::f(t.la);
    let pl = (parent * f).max(0.01);
    let pending = rs1 * pending_share(p) * pl;
    let deficit = ls1 * pl - la;
    let tol = 0.5 * budget + p.z * (ls1 * pl * (1.0 - pl)).sqrt() + pending;
    (deficit > tol && la < drop * pl * ls1).then_some(Explain {
        rule: Rule::Long,
        sends: ls1,
        approvals: la,
        expected: pl,
        baseline_sends: 0.0,
        tolerance: tol,
    })
}

/// Length of a block with `strikes` strikes.
pub fn block_len(p: &GuardPolicy, strikes: u32) -> u64 {
    let mut d = p.block_ms;
    for _ in 1..strikes.min(64) {
        d = d.saturating_mul(2);
        if d >= p.max_block_ms {
            break;
        }
    }
    d.min(p.max_block_ms)
}

/// Decides one send. `tallies[i]` and `priors[i]` belong to `probe.targets[i]`; the
/// tallies are as stored (decayed here), `None` for a level not seen before.
pub fn decide(
    p: &GuardPolicy,
    probe: &Probe,
    tallies: &[Option<Tally>],
    priors: &[Option<Prior>],
    now: Millis,
) -> Decision {
    let n = probe.targets.len();
    if n == 0 {
        return Decision {
            verdict: PumpVerdict::ok(),
            tallies: Vec::new(),
        };
    }
    let mut trips = Vec::new();
    let mut outcome = Outcome::Allowed;
    for (i, tg) in probe.targets.iter().enumerate() {
        let (Some(b), Some(lp)) = (priors[i], p.levels[tg.level.index()]) else {
            continue;
        };
        // A level now in shadow (the tenant switched) reports rather than refuses.
        if b.until_ms <= now || b.action == Action::Shadow || lp.action == Action::Shadow {
            continue;
        }
        if b.action == Action::Enforce {
            outcome = Outcome::Blocked;
        } else if !probe.challenge_passed && outcome == Outcome::Allowed {
            outcome = Outcome::Challenge;
        }
        trips.push(Trip {
            level: tg.level,
            field: tg.field.clone(),
            label: tg.label.clone(),
            action: b.action,
            new: false,
            until_ms: b.until_ms,
            strikes: b.strikes,
            explain: b.explain,
        });
    }
    if outcome != Outcome::Allowed {
        return Decision {
            verdict: PumpVerdict {
                outcome,
                trips,
                overflowed: 0,
            },
            tallies: vec![None; n],
        };
    }
    let now_t: Vec<Tally> = tallies
        .iter()
        .map(|t| t.unwrap_or(Tally::new(now)).decayed(now, p))
        .collect();
    let (f, has_rest) = scale(&now_t[0], &now_t[1.min(n - 1)], p);
    let mut parent = p.prior;
    let mut anchor = p.prior;
    let mut country_p = p.prior;
    for (i, tg) in probe.targets.iter().enumerate() {
        let t = &now_t[i];
        let own = if tg.level.is_source() {
            country_p
        } else {
            expected(t, parent, anchor, p)
        };
        if tg.level == Level::Tenant {
            anchor = own;
        }
        let lp = p.levels[tg.level.index()];
        // A level under an active block was answered above (a passed challenge).
        let active = priors[i].is_some_and(|b| b.until_ms > now && b.action != Action::Shadow)
            && lp.is_some_and(|l| l.action != Action::Shadow);
        // The overflow entry pools every newcomer of a full level, whose sends arrive
        // with their codes not yet typed: it is counted, never judged.
        let pooled = tg.field == super::OVERFLOW;
        let judged = match lp {
            Some(lp) if tg.level != Level::Tenant && !active && !pooled => {
                // A level blocked before (strikes are remembered) is on probation:
                // its budget is spent, only noise is tolerated.
                let budget = if priors[i].is_some_and(|b| b.strikes > 0) {
                    0.0
                } else if tg.level.is_source() && probe.low_score {
                    lp.budget / 2.0
                } else {
                    lp.budget
                };
                let jump = tg.level == Level::Country && !has_rest;
                judge_recent(t, own, f, budget, lp.drop, jump, p).or_else(|| {
                    (tg.level.cut().is_some())
                        .then(|| judge_long(t, parent, f, budget, lp.drop, p))
                        .flatten()
                })
            }
            _ => None,
        };
        if !tg.level.is_source() {
            parent = own;
            if tg.level == Level::Country {
                country_p = own;
            }
        }
        let (Some(explain), Some(lp)) = (judged, lp) else {
            continue;
        };
        let strikes = priors[i].map_or(0, |b| b.strikes);
        let (strikes, until_ms) = if lp.action == Action::Shadow {
            (strikes, 0)
        } else {
            (strikes + 1, now + block_len(p, strikes + 1) as Millis)
        };
        match lp.action {
            Action::Enforce => outcome = Outcome::Blocked,
            Action::Challenge if !probe.challenge_passed && outcome == Outcome::Allowed => {
                outcome = Outcome::Challenge
            }
            _ => {}
        }
        trips.push(Trip {
            level: tg.level,
            field: tg.field.clone(),
            label: tg.label.clone(),
            action: lp.action,
            new: true,
            until_ms,
            strikes,
            explain,
        });
    }
    let allowed = outcome == Outcome::Allowed;
    let tallies = now_t
        .into_iter()
        .map(|mut t| {
            t.rs += 1000;
            t.ls += 1000;
            allowed.then_some(t)
        })
        .collect();
    Decision {
        verdict: PumpVerdict {
            outcome,
            trips,
            overflowed: 0,
        },
        tallies,
    }
}

/// Counts an approval on a level's stored tally (`None`: not seen before).
pub fn approve(t: Option<Tally>, p: &GuardPolicy, now: Millis) -> Tally {
    let mut t = t.unwrap_or(Tally::new(now)).decayed(now, p);
    t.ra += 1000;
    t.la += 1000;
    t
}

#[cfg(test)]
#[path = "model_tests.rs"]
mod tests;
