//! A rolling last-hour view of starts and approvals per key (a country, or a channel),
//! for the ops page.
//!
//! Per process (each instance shows what it handled): one-minute buckets, 60 of them,
//! per country. Prometheus has the fleet-wide view; this answers "what is happening
//! here right now" without one.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

const MINUTES: usize = 60;

#[derive(Debug, Clone, Copy, Default)]
struct Bucket {
    minute: i64,
    started: u64,
    approved: u64,
}

/// Last-hour counts per key (the service keeps one by country, one by channel).
#[derive(Debug, Clone, Default)]
pub struct Activity(Arc<Mutex<BTreeMap<String, [Bucket; MINUTES]>>>);

/// One key's last hour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HourCounts {
    /// ISO country code (`unknown`, `email`), or a channel name.
    pub key: String,
    /// Verifications started.
    pub started: u64,
    /// Verifications approved.
    pub approved: u64,
}

impl Activity {
    fn bump(&self, country: &str, now_ms: i64, f: impl Fn(&mut Bucket)) {
        let minute = now_ms / 60_000;
        let mut g = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let buckets = g
            .entry(country.to_string())
            .or_insert([Bucket::default(); MINUTES]);
        let b = &mut buckets[(minute as usize) % MINUTES];
        if b.minute != minute {
            *b = Bucket {
                minute,
                ..Bucket::default()
            };
        }
        f(b);
    }

    /// A verification started.
    pub fn started(&self, country: &str, now_ms: i64) {
        self.bump(country, now_ms, |b| b.started += 1);
    }

    /// A verification was approved.
    pub fn approved(&self, country: &str, now_ms: i64) {
        self.bump(country, now_ms, |b| b.approved += 1);
    }

    /// Totals over the last 60 minutes, countries sorted by starts (most first).
    pub fn last_hour(&self, now_ms: i64) -> Vec<HourCounts> {
        let minute = now_ms / 60_000;
        let g = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<HourCounts> = g
            .iter()
            .map(|(c, buckets)| {
                let live = buckets
                    .iter()
                    .filter(|b| minute - b.minute < MINUTES as i64);
                let (started, approved) =
                    live.fold((0, 0), |(s, a), b| (s + b.started, a + b.approved));
                HourCounts {
                    key: c.clone(),
                    started,
                    approved,
                }
            })
            .filter(|c| c.started + c.approved > 0)
            .collect();
        out.sort_by(|a, b| b.started.cmp(&a.started).then(a.key.cmp(&b.key)));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_the_last_hour_and_forgets_older_minutes() {
        let a = Activity::default();
        let t0 = 1_000 * 60_000;
        a.started("US", t0);
        a.started("US", t0 + 1);
        a.approved("US", t0 + 2);
        a.started("GB", t0 + 30 * 60_000);
        let h = a.last_hour(t0 + 30 * 60_000);
        assert_eq!(
            h[0],
            HourCounts {
                key: "US".into(),
                started: 2,
                approved: 1
            }
        );
        assert_eq!(h[1].key, "GB");
        let later = a.last_hour(t0 + 61 * 60_000);
        assert_eq!(
            later,
            vec![HourCounts {
                key: "GB".into(),
                started: 1,
                approved: 0
            }]
        );
    }
}
