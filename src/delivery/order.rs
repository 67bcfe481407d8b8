//! The order providers are tried in: weighted random for the first choice (the rest
//! stay as failover), and the backoff between rounds.

use super::router::{Plan, Slot};
use std::sync::Arc;
use std::time::Duration;

/// Delay before retry round `round` (1-based): exponential, capped, jittered in [½, 1].
pub fn backoff(initial: Duration, max: Duration, round: u32) -> Duration {
    let exp = initial.saturating_mul(1u32 << round.saturating_sub(1).min(16));
    let cap = exp.min(max);
    let r = u32::from_be_bytes(crate::crypto::random_bytes::<4>()) as f64 / u32::MAX as f64;
    cap.mul_f64(0.5 + r / 2.0)
}

pub(super) fn weighted_order(entries: &Plan) -> Vec<Arc<Slot>> {
    let mut pool: Vec<(Arc<Slot>, u32)> = entries.clone();
    let mut out = Vec::with_capacity(pool.len());
    while !pool.is_empty() {
        let total: u64 = pool.iter().map(|(_, w)| *w as u64).sum();
        if total == 0 {
            out.extend(pool.drain(..).map(|(s, _)| s));
            break;
        }
        let mut pick = u64::from_be_bytes(crate::crypto::random_bytes::<8>()) % total;
        let i = pool
            .iter()
            .position(|(_, w)| {
                if pick < *w as u64 {
                    true
                } else {
                    pick -= *w as u64;
                    false
                }
            })
            .unwrap_or(0);
        out.push(pool.remove(i).0);
    }
    out
}
