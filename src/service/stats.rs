//! The fleet numbers on the service's side: starts, refusals (with the spend the pumping
//! guard avoided) and approvals counted into the per-process [`Recorder`] (reached
//! through [`crate::metrics::Metrics`]), the task that flushes it to the shared
//! [`FleetStats`] every `stats.flush_ms`, and the admin API's read ([`Service::stats`],
//! shaped in `stats_report.rs`).

use super::{Service, Started};
use crate::domain::{now_millis, Channel, Destination, Verification};
use crate::error::{Error, Result};
use crate::metrics::stats::{Dims, Recorder};
use crate::metrics::Metrics;
use crate::store::FleetStats;
use std::sync::Arc;
use std::time::Duration;

pub use super::stats_report::{By, Report, Window};

/// The word a refused start counts under, and whether the pumping guard refused it;
/// `None` for outcomes that are not refusals (bad input, an unavailable store).
fn refusal(e: &Error) -> Option<(String, bool)> {
    Some(match e {
        Error::RateLimited { reason, .. } => (reason.to_string(), false),
        Error::MaxSendsReached { .. } => ("max_sends".into(), false),
        Error::ChallengeRequired { .. } => ("challenge_required".into(), true),
        Error::DestinationBlocked { reason } => {
            let guard = reason.ends_with("_blocked") || reason.ends_with("_suspended");
            (reason.clone(), guard)
        }
        _ => return None,
    })
}

/// The reason of a refusal by the pumping guard (`prefix_blocked`, …), if `e` is one.
pub(super) fn guard_refusal(e: &Error) -> Option<String> {
    refusal(e).filter(|(_, guard)| *guard).map(|(r, _)| r)
}

impl Service {
    /// Counts a start's outcome: `starts` for a new verification, the refusal's reason
    /// otherwise (a guard refusal priced by the route's first provider).
    pub(super) fn count_start(
        &self,
        tenant: &str,
        channel: Channel,
        to: &Destination,
        r: std::result::Result<&Started, &Error>,
    ) {
        let rec = &self.inner.metrics.stats;
        let country = to.country();
        let now = now_millis();
        match r {
            Ok(Started::Created(_)) => {
                let d = dims(tenant, channel, country, "-");
                rec.add(now, &d, "starts", 1);
            }
            Ok(Started::Resent(_)) => {}
            Err(e) => {
                let Some((reason, guard)) = refusal(e) else {
                    return;
                };
                let first = guard
                    .then(|| self.fleet().router.plan(channel, to).first().cloned())
                    .flatten();
                let provider = first.as_ref().map_or("-", |s| s.name.as_str());
                rec.refused(
                    now,
                    &dims(tenant, channel, country, provider),
                    &reason,
                    guard,
                );
            }
        }
    }

    /// Reads the fleet numbers of every tenant for `window`, grouped `by`.
    pub async fn stats(&self, window: Window, by: By) -> Result<Report> {
        let (from, bumps) = self.read_fleet(window).await?;
        Ok(Report::build(window, by, from, &bumps))
    }

    /// Reads the fleet numbers once and shapes them for each of `bys` (the console's
    /// tables by country, provider and channel from one read of the store).
    pub async fn stats_by(&self, window: Window, bys: &[By]) -> Result<Vec<Report>> {
        let (from, bumps) = self.read_fleet(window).await?;
        Ok(bys
            .iter()
            .map(|by| Report::build(window, *by, from, &bumps))
            .collect())
    }

    /// Every tenant's buckets of `window`, and its first minute.
    async fn read_fleet(&self, window: Window) -> Result<(i64, Vec<crate::store::stats::Bump>)> {
        let now_min = now_millis().div_euclid(60_000);
        let from = now_min - window.minutes() + 1;
        let tenants = self.tenants().ids();
        let bumps = self
            .fleet()
            .stats
            .read(&tenants, from, now_min)
            .await
            .map_err(|e| Error::StoreUnavailable {
                detail: format!("the fleet numbers cannot be read: {e}"),
                retry_after: Duration::from_secs(1),
            })?;
        Ok((from, bumps))
    }
}

/// Counts an approval (a right code, or an approval without one).
pub(super) fn count_approval(m: &Metrics, tenant: &str, v: &Verification) {
    let d = dims(tenant, v.channel, v.to.country(), "-");
    m.stats.add(now_millis(), &d, "approvals", 1);
}

fn dims<'a>(tenant: &'a str, channel: Channel, country: &'a str, provider: &'a str) -> Dims<'a> {
    Dims {
        tenant,
        channel: channel.as_str(),
        country,
        provider,
    }
}

/// Writes what `rec` buffered to `store` once; on failure the counts go back to the
/// buffer for the next flush.
pub async fn flush(rec: &Recorder, store: &dyn FleetStats) {
    let bumps = rec.take();
    if bumps.is_empty() {
        return;
    }
    if let Err(e) = store.add(&bumps).await {
        tracing::warn!(error = %e, entries = bumps.len(), "could not write the fleet numbers; keeping them for the next flush");
        rec.restore(bumps);
    }
}

/// Flushes `rec` to `store` every `every` until the process ends (start-up spawns it;
/// the shutdown flushes once more).
pub fn spawn_flusher(
    rec: Recorder,
    store: Arc<dyn FleetStats>,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            flush(&rec, &*store).await;
        }
    })
}
