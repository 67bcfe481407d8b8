//! The SMS-pumping guard's state: sends and approvals per (tenant, country, prefix)
//! over a rolling window, and prefix blocks.
//!
//! # Model
//! SMS pumping (artificially inflated traffic) sends codes to number ranges the
//! attacker is paid for; nobody ever types those codes back. So the signal is
//! **conversion per prefix**: a prefix (E.164 minus its last 3 digits, a block of 1000
//! numbers) with at least `min_sends` sends in the rolling `window_secs` and
//! approvals / sends under `min_conversion` is blocked for `block_secs`, doubling on
//! each repeat (strikes are remembered 30 days) up to `max_block_secs`. The send that
//! tips the prefix over is refused too.
//!
//! The window is a sliding-window counter: counts for the current and the previous
//! slot of `window` length, the previous one weighted by how much of it still overlaps
//! the window. Two integers per prefix and kind, no per-send entries.
//!
//! In `shadow` mode the guard counts and logs (`otpgw_pumping_decisions_total{decision
//! ="would_block"}`) but never blocks, to tune thresholds on live traffic first.
//! Numbers and prefixes in `safe_list` are neither counted nor blocked.

mod redis;

pub use self::redis::RedisPumps;
pub(crate) use self::redis::{approval_key, decode_send, send_parts, PUMP};

use crate::domain::Millis;
use crate::store::StoreResult;
use async_trait::async_trait;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Mutex;

/// The prefix of a number: E.164 minus its last 3 digits (`+14155550123` → `+14155550`).
pub fn prefix_of(e164: &str) -> &str {
    &e164[..e164.len().saturating_sub(3).max(1.min(e164.len()))]
}

/// Which counters a send or approval goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    /// Tenant id.
    pub tenant: String,
    /// ISO country of the prefix.
    pub country: String,
    /// The prefix itself (kept only inside block records, for operators).
    pub prefix: String,
    /// Keyed hash of the prefix: names the counters.
    pub field: String,
}

/// The thresholds, in ms.
#[derive(Debug, Clone, PartialEq)]
pub struct PumpPolicy {
    /// Rolling window.
    pub window_ms: u64,
    /// Sends before conversion is judged.
    pub min_sends: u32,
    /// Lowest acceptable approvals / sends.
    pub min_conversion: f64,
    /// First block.
    pub block_ms: u64,
    /// Longest block.
    pub max_block_ms: u64,
    /// Count and log, never block.
    pub shadow: bool,
}

/// What the guard says about one send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PumpVerdict {
    /// Counted; go ahead.
    Ok,
    /// The prefix is blocked for `ms` more.
    Blocked(u64),
    /// This send tipped the prefix over: blocked for `ms` from now.
    BlockedNow {
        /// Block length.
        ms: u64,
        /// Sends in the window.
        sends: u32,
        /// Approvals in the window.
        approvals: u32,
    },
    /// Shadow mode: this send would have blocked the prefix.
    WouldBlock {
        /// Sends in the window.
        sends: u32,
        /// Approvals in the window.
        approvals: u32,
    },
}

impl PumpVerdict {
    /// Whether the send is refused (a block, old or new; not shadow mode's report).
    pub fn refuses(&self) -> bool {
        matches!(
            self,
            PumpVerdict::Blocked(_) | PumpVerdict::BlockedNow { .. }
        )
    }
}

/// An active block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Block {
    /// Tenant id.
    pub tenant: String,
    /// ISO country.
    pub country: String,
    /// The blocked prefix.
    pub prefix: String,
    /// End of the block, ms since the epoch.
    pub until_ms: Millis,
    /// How many times the prefix has been blocked (the block doubles each time).
    pub strikes: u32,
    /// Sends in the window when it was blocked.
    pub sends: u32,
    /// Approvals in the window when it was blocked.
    pub approvals: u32,
}

/// Guard state contract.
#[async_trait]
pub trait PumpStore: Send + Sync + 'static {
    /// Checks the prefix's block, counts the send, and blocks the prefix if it now
    /// looks pumped.
    async fn record_send(
        &self,
        b: &Bucket,
        p: &PumpPolicy,
        now: Millis,
    ) -> StoreResult<PumpVerdict>;
    /// Counts an approval.
    async fn record_approval(&self, b: &Bucket, window_ms: u64, now: Millis) -> StoreResult<()>;
    /// Active blocks of a tenant.
    async fn blocks(&self, tenant: &str, now: Millis) -> StoreResult<Vec<Block>>;
    /// Lifts a block (`field` is the hashed prefix); true if there was one.
    async fn lift(&self, tenant: &str, field: &str) -> StoreResult<bool>;
}

fn slot(now: Millis, window_ms: u64) -> (i64, f64) {
    let w = window_ms.max(1) as i64;
    (now.div_euclid(w), now.rem_euclid(w) as f64 / w as f64)
}

#[derive(Default, Clone, Copy)]
struct Counts {
    slot: i64,
    s_cur: u64,
    s_prev: u64,
    a_cur: u64,
    a_prev: u64,
}

impl Counts {
    fn roll(&mut self, slot: i64) {
        if slot == self.slot {
            return;
        }
        if slot == self.slot + 1 {
            self.s_prev = self.s_cur;
            self.a_prev = self.a_cur;
        } else {
            self.s_prev = 0;
            self.a_prev = 0;
        }
        self.s_cur = 0;
        self.a_cur = 0;
        self.slot = slot;
    }
}

/// In-process guard state.
#[derive(Default)]
pub struct MemoryPumps {
    inner: Mutex<MemState>,
}

#[derive(Default)]
struct MemState {
    counts: HashMap<(String, String), Counts>,
    blocks: HashMap<(String, String), Block>,
    strikes: HashMap<(String, String), u32>,
    purge_at: usize,
}

#[async_trait]
impl PumpStore for MemoryPumps {
    async fn record_send(
        &self,
        b: &Bucket,
        p: &PumpPolicy,
        now: Millis,
    ) -> StoreResult<PumpVerdict> {
        Ok(self.send_now(b, p, now))
    }

    async fn record_approval(&self, b: &Bucket, window_ms: u64, now: Millis) -> StoreResult<()> {
        self.approve_now(b, window_ms, now);
        Ok(())
    }

    async fn blocks(&self, tenant: &str, now: Millis) -> StoreResult<Vec<Block>> {
        let s = self.inner.lock().expect("pump lock");
        let mut v: Vec<Block> = s
            .blocks
            .values()
            .filter(|b| b.tenant == tenant && b.until_ms > now)
            .cloned()
            .collect();
        v.sort_by(|a, b| a.prefix.cmp(&b.prefix));
        Ok(v)
    }

    async fn lift(&self, tenant: &str, field: &str) -> StoreResult<bool> {
        let mut s = self.inner.lock().expect("pump lock");
        Ok(s.blocks
            .remove(&(tenant.to_string(), field.to_string()))
            .is_some())
    }
}

impl MemoryPumps {
    /// [`PumpStore::record_approval`], synchronously (the simulator).
    pub fn approve_now(&self, b: &Bucket, window_ms: u64, now: Millis) {
        let (sl, _) = slot(now, window_ms);
        let mut s = self.inner.lock().expect("pump lock");
        let c = s
            .counts
            .entry((b.tenant.clone(), b.field.clone()))
            .or_insert(Counts {
                slot: sl,
                ..Default::default()
            });
        c.roll(sl);
        c.a_cur += 1;
    }

    /// [`PumpStore::record_send`], synchronously (the simulator).
    pub fn send_now(&self, b: &Bucket, p: &PumpPolicy, now: Millis) -> PumpVerdict {
        let (sl, frac) = slot(now, p.window_ms);
        let id = (b.tenant.clone(), b.field.clone());
        let mut s = self.inner.lock().expect("pump lock");
        if let Some(bl) = s.blocks.get(&id) {
            if bl.until_ms > now {
                return PumpVerdict::Blocked((bl.until_ms - now) as u64);
            }
            s.blocks.remove(&id);
        }
        if s.counts.len() > s.purge_at.max(4096) {
            s.counts.retain(|_, c| c.slot + 1 >= sl);
            s.purge_at = s.counts.len() * 2;
        }
        let c = s.counts.entry(id.clone()).or_insert(Counts {
            slot: sl,
            ..Default::default()
        });
        c.roll(sl);
        c.s_cur += 1;
        let keep = 1.0 - frac;
        let sends = c.s_cur as f64 + c.s_prev as f64 * keep;
        let approvals = c.a_cur as f64 + c.a_prev as f64 * keep;
        let (si, ai) = (
            (sends + 0.5).floor() as u32,
            (approvals + 0.5).floor() as u32,
        );
        if sends < p.min_sends as f64 || approvals >= p.min_conversion * sends {
            return PumpVerdict::Ok;
        }
        if p.shadow {
            return PumpVerdict::WouldBlock {
                sends: si,
                approvals: ai,
            };
        }
        *c = Counts {
            slot: sl,
            ..Default::default()
        };
        let strikes = {
            let st = s.strikes.entry(id.clone()).or_insert(0);
            *st += 1;
            *st
        };
        let ms = block_len(p, strikes);
        s.blocks.insert(
            id,
            Block {
                tenant: b.tenant.clone(),
                country: b.country.clone(),
                prefix: b.prefix.clone(),
                until_ms: now + ms as i64,
                strikes,
                sends: si,
                approvals: ai,
            },
        );
        PumpVerdict::BlockedNow {
            ms,
            sends: si,
            approvals: ai,
        }
    }
}

fn block_len(p: &PumpPolicy, strikes: u32) -> u64 {
    let factor = 1u64 << strikes.saturating_sub(1).min(40);
    p.block_ms.saturating_mul(factor).min(p.max_block_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_drops_the_last_three_digits() {
        assert_eq!(prefix_of("+14155550123"), "+14155550");
        assert_eq!(prefix_of("+447700900123"), "+447700900");
    }

    #[test]
    fn block_doubles_up_to_the_cap() {
        let p = PumpPolicy {
            window_ms: 1,
            min_sends: 1,
            min_conversion: 0.1,
            block_ms: 1000,
            max_block_ms: 5000,
            shadow: false,
        };
        assert_eq!(
            (1..=5).map(|s| block_len(&p, s)).collect::<Vec<_>>(),
            [1000, 2000, 4000, 5000, 5000]
        );
    }
}
