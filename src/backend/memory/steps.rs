//! The memory store's workflow steps: [`crate::store::advance`] applied under the lock,
//! the next step's send queued and its timer set in the same section (as `advance.lua`).

use super::store::MemoryStore;
use super::verify::queued;
use crate::domain::{Millis, VerificationId};
use crate::store::StoreResult;
use crate::store::{advance, parse_timer, timer_member, EnqueueSpec, NextStep, NextWhy, Steps};
use async_trait::async_trait;

impl MemoryStore {
    fn next_locked(
        &self,
        g: &mut super::state::Inner,
        id: &VerificationId,
        from: Option<u8>,
        why: NextWhy,
        now: Millis,
    ) -> NextStep {
        let Some(r) = g.records.get_mut(id.as_str(), now) else {
            return NextStep::NotPending;
        };
        match advance(&r.v, from, why, now) {
            Err(no) => no,
            Ok((v, due)) => {
                r.v = v.clone();
                let seq = v.send_count;
                let step = v.workflow.as_ref().map_or(0, |w| w.current);
                if let Some(due) = due {
                    g.timers.insert((due, timer_member(id, step)));
                }
                g.queue.push(queued(&v, EnqueueSpec::default()));
                self.doorbell.ring(id.shard());
                NextStep::Advanced(Box::new(v), seq)
            }
        }
    }
}

#[async_trait]
impl Steps for MemoryStore {
    async fn next_step(
        &self,
        id: &VerificationId,
        from: Option<u8>,
        why: NextWhy,
        now: Millis,
    ) -> StoreResult<NextStep> {
        let mut g = self.lock();
        Ok(self.next_locked(&mut g, id, from, why, now))
    }

    async fn due_steps(
        &self,
        now: Millis,
        max: usize,
    ) -> StoreResult<Vec<(VerificationId, NextStep)>> {
        let mut g = self.lock();
        let mut out = Vec::new();
        while out.len() < max {
            let Some(first) = g.timers.first().cloned() else {
                break;
            };
            if first.0 > now {
                break;
            }
            g.timers.remove(&first);
            let Some((id, step)) = parse_timer(&first.1) else {
                continue;
            };
            let moved = self.next_locked(&mut g, &id, Some(step), NextWhy::Timeout, now);
            out.push((id, moved));
        }
        Ok(out)
    }
}
