//! The events queue in process ([`crate::queue::events`]): one line per verification
//! under one lock, the same states as on Redis (a line's due time doubles as its lease
//! and its retry time). Nothing survives the process.

use crate::domain::VerificationId;
use crate::queue::events::{ClaimedEvent, DeadEvent, EventQueue, EventsDepth};
use crate::queue::{QueueError, QueueResult};
use async_trait::async_trait;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// Dead letters kept (the oldest are dropped beyond).
pub const DEAD_CAP: usize = 10_000;

/// Events waiting at most; an append beyond is refused (the emitter logs and counts it).
pub const WAITING_CAP: usize = 100_000;

/// A verification's `seq` counter is forgotten this long after its last event.
const SEQ_KEEP_MS: i64 = 8 * 24 * 3_600_000;

#[derive(Default)]
struct Line {
    events: VecDeque<(u64, String)>,
    due: i64,
    attempts: u32,
    first_ms: i64,
}

#[derive(Default)]
struct State {
    lines: HashMap<VerificationId, Line>,
    seqs: HashMap<VerificationId, (u64, i64)>,
    timers: HashMap<VerificationId, (i64, String)>,
    dead: VecDeque<DeadEvent>,
    /// When the `seq` counters were last pruned.
    pruned_at: i64,
    /// Events in the lines.
    waiting: usize,
}

impl State {
    fn append(&mut self, v: &VerificationId, text: &str, now: i64) -> u64 {
        // old counters go at most once a minute, so appends stay O(1)
        if now - self.pruned_at > 60_000 {
            self.pruned_at = now;
            self.seqs.retain(|_, (_, at)| now - *at < SEQ_KEEP_MS);
        }
        let seq = self.seqs.entry(v.clone()).or_insert((0, now));
        seq.0 += 1;
        seq.1 = now;
        let n = seq.0;
        let line = self.lines.entry(v.clone()).or_insert_with(|| Line {
            due: now,
            ..Default::default()
        });
        line.events.push_back((n, text.to_string()));
        self.waiting += 1;
        n
    }

    fn bury(&mut self, d: DeadEvent) {
        self.dead.push_front(d);
        self.dead.truncate(DEAD_CAP);
    }
}

/// The events queue in process.
#[derive(Default)]
pub struct MemoryEvents {
    state: Mutex<State>,
}

impl MemoryEvents {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Whether `line`'s head is `seq`.
fn head_is(line: Option<&Line>, seq: u64) -> bool {
    line.and_then(|l| l.events.front())
        .is_some_and(|(s, _)| *s == seq)
}

#[async_trait]
impl EventQueue for MemoryEvents {
    async fn append(&self, v: &VerificationId, text: &str, now: i64) -> QueueResult<u64> {
        let mut s = self.lock();
        if s.waiting >= WAITING_CAP {
            return Err(QueueError(format!(
                "the in-process events queue holds {WAITING_CAP} events"
            )));
        }
        Ok(s.append(v, text, now))
    }

    async fn claim(&self, now: i64, lease_ms: u64, max: usize) -> QueueResult<Vec<ClaimedEvent>> {
        let mut s = self.lock();
        s.fire(now, max);
        let mut due: Vec<(i64, VerificationId)> = s
            .lines
            .iter()
            .filter(|(_, l)| l.due <= now)
            .map(|(v, l)| (l.due, v.clone()))
            .collect();
        due.sort_by_key(|(d, _)| *d);
        due.truncate(max);
        let mut out = Vec::with_capacity(due.len());
        for (_, v) in due {
            let Some(line) = s.lines.get_mut(&v) else {
                continue;
            };
            let Some((seq, text)) = line.events.front().cloned() else {
                s.lines.remove(&v);
                continue;
            };
            line.due = now + lease_ms as i64;
            out.push(ClaimedEvent {
                verification: v,
                seq,
                text,
                attempts: line.attempts,
                first_ms: line.first_ms,
            });
        }
        Ok(out)
    }

    async fn delivered(&self, v: &VerificationId, seq: u64, now: i64) -> QueueResult<bool> {
        let mut s = self.lock();
        if !head_is(s.lines.get(v), seq) {
            return Ok(false);
        }
        s.waiting -= 1;
        let line = s.lines.get_mut(v).expect("checked above");
        line.events.pop_front();
        (line.due, line.attempts, line.first_ms) = (now, 0, 0);
        if line.events.is_empty() {
            s.lines.remove(v);
        }
        Ok(true)
    }

    async fn retry(
        &self,
        v: &VerificationId,
        seq: u64,
        attempts: u32,
        first_ms: i64,
        at_ms: i64,
    ) -> QueueResult<()> {
        let mut s = self.lock();
        if head_is(s.lines.get(v), seq) {
            let line = s.lines.get_mut(v).expect("checked above");
            (line.due, line.attempts, line.first_ms) = (at_ms, attempts, first_ms);
        }
        Ok(())
    }

    async fn dead(
        &self,
        v: &VerificationId,
        seq: u64,
        attempts: u32,
        reason: &str,
        behind: &str,
        now: i64,
    ) -> QueueResult<usize> {
        let mut s = self.lock();
        if !head_is(s.lines.get(v), seq) {
            return Ok(0);
        }
        let line = s.lines.remove(v).expect("checked above");
        let n = line.events.len();
        s.waiting -= n;
        for (i, (seq, text)) in line.events.into_iter().enumerate() {
            let (attempts, reason) = if i == 0 {
                (attempts, reason)
            } else {
                (0, behind)
            };
            s.bury(DeadEvent {
                at_ms: now,
                attempts,
                reason: reason.to_string(),
                seq,
                text,
            });
        }
        Ok(n)
    }

    async fn dead_letters(&self, limit: usize) -> QueueResult<Vec<DeadEvent>> {
        Ok(self.lock().dead.iter().take(limit).cloned().collect())
    }

    async fn arm(&self, v: &VerificationId, text: &str, at_ms: i64) -> QueueResult<()> {
        self.lock()
            .timers
            .insert(v.clone(), (at_ms, text.to_string()));
        Ok(())
    }

    async fn disarm(&self, v: &VerificationId) -> QueueResult<()> {
        self.lock().timers.remove(v);
        Ok(())
    }

    async fn depth(&self) -> QueueResult<EventsDepth> {
        let s = self.lock();
        Ok(EventsDepth {
            lines: s.lines.len() as u64,
            dead: s.dead.len() as u64,
        })
    }
}

impl State {
    fn fire(&mut self, now: i64, max: usize) {
        let s = self;
        let due: Vec<VerificationId> = s
            .timers
            .iter()
            .filter(|(_, (at, _))| *at <= now)
            .map(|(v, _)| v.clone())
            .take(max)
            .collect();
        for v in &due {
            if let Some((_, text)) = s.timers.remove(v) {
                s.append(v, &text, now);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn appends_beyond_the_cap_are_refused_until_one_leaves() {
        let q = MemoryEvents::default();
        let v = VerificationId::generate(0).unwrap();
        for _ in 0..WAITING_CAP {
            q.append(&v, "e", 0).await.unwrap();
        }
        let refused = q.append(&v, "e", 0).await.unwrap_err();
        assert!(refused.0.contains("100000 events"), "{}", refused.0);
        assert!(q.delivered(&v, 1, 0).await.unwrap());
        assert_eq!(q.append(&v, "e", 0).await.unwrap(), WAITING_CAP as u64 + 1);
        let dead = q.dead(&v, 2, 1, "r", "b", 0).await.unwrap();
        assert_eq!(dead, WAITING_CAP);
        assert_eq!(
            q.depth().await.unwrap(),
            EventsDepth {
                lines: 0,
                dead: DEAD_CAP as u64
            }
        );
        q.append(&v, "e", 0).await.unwrap();
    }
}
