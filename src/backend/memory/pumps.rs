//! The guard's state in process (the embedded mode, the simulator): [`model::decide`]
//! over maps laid out like the Redis keys, generations and overflow included, so both
//! backends keep the same state and give the same verdicts.
//!
//! Tallies of one (tenant, channel, level) live in two generations of `baseline_ms`
//! each: a level untouched for a whole generation is dropped, and a generation holds at
//! most `max_tracked` levels; new ones beyond that share the overflow entry `~`.

use crate::domain::Millis;
use crate::error::StoreResult;
use crate::ratelimit::pumping::model::{self, Prior, Tally};
use crate::ratelimit::pumping::{active_blocks, Target, OVERFLOW, STRIKE_MEMORY_MS};
use crate::ratelimit::pumping::{Block, GuardPolicy, Level, Probe, PumpStore, PumpVerdict};
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::Mutex;

#[derive(Default)]
struct Gens {
    gen: i64,
    cur: HashMap<String, Tally>,
    prev: HashMap<String, Tally>,
}

impl Gens {
    fn roll(&mut self, gen: i64) {
        // A clock behind the last writer's (another instance's) rolls nothing back.
        if gen <= self.gen {
            return;
        }
        self.prev = if gen == self.gen + 1 {
            std::mem::take(&mut self.cur)
        } else {
            HashMap::new()
        };
        self.cur.clear();
        self.gen = gen;
    }

    /// The stored tally of `field`, or where a new one goes: `(field, tally)`.
    fn find(&self, field: &str, cap: u32) -> (String, Option<Tally>) {
        if let Some(t) = self.cur.get(field).or_else(|| self.prev.get(field)) {
            return (field.to_string(), Some(*t));
        }
        if self.cur.len() >= cap as usize {
            let t = self
                .cur
                .get(OVERFLOW)
                .or_else(|| self.prev.get(OVERFLOW))
                .copied();
            return (OVERFLOW.to_string(), t);
        }
        (field.to_string(), None)
    }
}

type GenKey = (String, String, Level);
type BlockKey = (String, Level, String);

/// In-process guard state.
#[derive(Default)]
pub struct MemoryPumps {
    inner: Mutex<State>,
}

#[derive(Default)]
struct State {
    tallies: HashMap<GenKey, Gens>,
    blocks: HashMap<String, HashMap<BlockKey, Block>>,
}

fn gen_of(now: Millis, p: &GuardPolicy) -> i64 {
    now.div_euclid(p.baseline_ms.max(1) as i64)
}

impl State {
    fn gens(&mut self, probe: &Probe, level: Level, gen: i64) -> &mut Gens {
        let g = self
            .tallies
            .entry((probe.tenant.clone(), probe.channel.clone(), level))
            .or_default();
        g.roll(gen);
        g
    }

    /// Each target as stored: the field it counts under (overflow maybe) and its tally.
    fn lookup(
        &mut self,
        probe: &Probe,
        p: &GuardPolicy,
        now: Millis,
    ) -> Vec<(Target, Option<Tally>)> {
        let gen = gen_of(now, p);
        probe
            .targets
            .iter()
            .map(|tg| {
                let (field, t) = self
                    .gens(probe, tg.level, gen)
                    .find(&tg.field, p.max_tracked);
                let label = if field == OVERFLOW {
                    "(overflow)".to_string()
                } else {
                    tg.label.clone()
                };
                (
                    Target {
                        level: tg.level,
                        field,
                        label,
                    },
                    t,
                )
            })
            .collect()
    }
}

impl MemoryPumps {
    /// [`PumpStore::record_send`], synchronously (the simulator).
    pub fn send_now(&self, probe: &Probe, p: &GuardPolicy, now: Millis) -> PumpVerdict {
        let mut s = self.inner.lock().expect("pump lock");
        let found = s.lookup(probe, p, now);
        let overflowed = found
            .iter()
            .zip(&probe.targets)
            .filter(|((t, _), tg)| t.field != tg.field)
            .count() as u32;
        let mut seen = probe.clone();
        seen.targets = found.iter().map(|(t, _)| t.clone()).collect();
        let tallies: Vec<Option<Tally>> = found.iter().map(|(_, t)| *t).collect();
        let blocks = s.blocks.entry(probe.tenant.clone()).or_default();
        let priors: Vec<Option<Prior>> = seen
            .targets
            .iter()
            .map(|tg| {
                blocks
                    .get(&(probe.channel.clone(), tg.level, tg.field.clone()))
                    .map(|b| Prior {
                        until_ms: b.until_ms,
                        strikes: b.strikes,
                        action: b.action,
                        explain: b.explain,
                    })
            })
            .collect();
        let d = model::decide(p, &seen, &tallies, &priors, now);
        for trip in d.verdict.trips.iter().filter(|t| t.new && t.until_ms > 0) {
            blocks.insert(
                (probe.channel.clone(), trip.level, trip.field.clone()),
                Block {
                    tenant: probe.tenant.clone(),
                    channel: probe.channel.clone(),
                    level: trip.level,
                    field: trip.field.clone(),
                    label: trip.label.clone(),
                    country: probe.country.clone(),
                    action: trip.action,
                    until_ms: trip.until_ms,
                    strikes: trip.strikes,
                    since_ms: now,
                    explain: trip.explain,
                },
            );
        }
        if blocks.len() > 4096 {
            blocks.retain(|_, b| b.until_ms + STRIKE_MEMORY_MS > now);
        }
        let gen = gen_of(now, p);
        for (tg, t) in seen.targets.iter().zip(d.tallies) {
            if let Some(t) = t {
                s.gens(probe, tg.level, gen).cur.insert(tg.field.clone(), t);
            }
        }
        PumpVerdict {
            overflowed,
            ..d.verdict
        }
    }

    /// [`PumpStore::record_approval`], synchronously (the simulator). A level not yet
    /// tracked whose level is full is skipped.
    pub fn approve_now(&self, probe: &Probe, p: &GuardPolicy, now: Millis) {
        let mut s = self.inner.lock().expect("pump lock");
        let gen = gen_of(now, p);
        for tg in &probe.targets {
            let g = s.gens(probe, tg.level, gen);
            let (field, t) = g.find(&tg.field, p.max_tracked);
            if field == tg.field || t.is_some() {
                g.cur.insert(field, model::approve(t, p, now));
            }
        }
    }
}

#[async_trait]
impl PumpStore for MemoryPumps {
    async fn record_send(
        &self,
        probe: &Probe,
        p: &GuardPolicy,
        now: Millis,
    ) -> StoreResult<PumpVerdict> {
        Ok(self.send_now(probe, p, now))
    }

    async fn record_approval(
        &self,
        probe: &Probe,
        p: &GuardPolicy,
        now: Millis,
    ) -> StoreResult<()> {
        self.approve_now(probe, p, now);
        Ok(())
    }

    async fn blocks(&self, tenant: &str, now: Millis) -> StoreResult<Vec<Block>> {
        let s = self.inner.lock().expect("pump lock");
        let all = s.blocks.get(tenant).into_iter().flat_map(|m| m.values());
        Ok(active_blocks(all.cloned(), now))
    }

    async fn lift(
        &self,
        tenant: &str,
        level: Level,
        field: &str,
        _p: &GuardPolicy,
        _now: Millis,
    ) -> StoreResult<bool> {
        let channel = "sms";
        let mut s = self.inner.lock().expect("pump lock");
        let had = s
            .blocks
            .get_mut(tenant)
            .and_then(|m| m.remove(&(channel.to_string(), level, field.to_string())))
            .is_some();
        if let Some(g) = s
            .tallies
            .get_mut(&(tenant.to_string(), channel.to_string(), level))
        {
            g.cur.remove(field);
            g.prev.remove(field);
        }
        Ok(had)
    }
}
