//! The guard's rules over tallies: the conversion a level is expected to show, the
//! scaling by how the rest of the tenant converts now, the recent and long rules that
//! trip a level, and the length of a block. [`super::model::decide`] applies them;
//! `guard.lua` mirrors them in the same order.

use super::tally::Tally;
use super::{Explain, GuardPolicy, Rule};

/// Weight, in sends, of the parent's expectation in a level's own.
const PRIOR_WEIGHT: f64 = 10.0;
/// Recent sends the rest of the tenant needs before its conversion scales the others.
const REST_MIN: f64 = 30.0;
/// Highest conversion ever expected.
const CEILING: f64 = 0.98;

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
