//! The guard's decision, as one pure function over the state of a send's levels, so
//! the memory backend, the simulator and the tests run exactly what `guard.lua` runs
//! on Redis (the script mirrors this file line by line; `tests/pumping_parity.rs` feeds
//! both the same traffic and requires the same verdicts).
//!
//! Counts are kept in thousandths of a send ([`Tally`]) and rounded after each decay,
//! so both sides compute on the same integers; the float arithmetic below is written in
//! the script's order.

pub use super::rules::{block_len, expected, judge_long, judge_recent, scale};
pub use super::tally::Tally;
use super::{Action, Explain, GuardPolicy, Level, Outcome, Probe, PumpVerdict, Trip};
use crate::domain::Millis;

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
