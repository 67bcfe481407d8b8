//! Prometheus metrics: one registry per gateway, every series named `otpgw_…`.
//!
//! Labels are bounded by construction: tenants and providers come from config, countries
//! are ISO 3166 codes (or `unknown`), routes are matched templates, outcomes and scopes
//! are fixed words. No number, id, code or raw path is ever a label. Conversion is not a
//! series of its own: dashboards divide `verifications_approved` by `verifications_started`
//! per country.

use prometheus::{
    Encoder, Gauge, GaugeVec, HistogramVec, IntCounter, IntCounterVec, IntGauge, Registry,
    TextEncoder,
};
use std::sync::Arc;

mod build;
pub mod smpp;
pub mod spend;
pub mod stats;

/// Every series this module defines (the deploy files are tested against this list).
pub const NAMES: &[&str] = &[
    "otpgw_build_info",
    "otpgw_http_requests_total",
    "otpgw_http_request_duration_seconds",
    "otpgw_grpc_requests_total",
    "otpgw_grpc_request_duration_seconds",
    "otpgw_verifications_started_total",
    "otpgw_verifications_resent_total",
    "otpgw_verifications_finished_total",
    "otpgw_workflow_steps_total",
    "otpgw_checks_total",
    "otpgw_deliveries_total",
    "otpgw_hook_calls_total",
    "otpgw_rate_limited_total",
    "otpgw_sends_total",
    "otpgw_send_duration_seconds",
    "otpgw_message_segments",
    "otpgw_delivery_receipts_total",
    "otpgw_delivery_latency_seconds",
    "otpgw_queue_depth",
    "otpgw_queue_oldest_age_seconds",
    "otpgw_queue_dead_letters",
    "otpgw_queue_redeliveries_total",
    "otpgw_dead_letters_total",
    "otpgw_events_total",
    "otpgw_events_queue_depth",
    "otpgw_events_dead_letters",
    "otpgw_store_operation_duration_seconds",
    "otpgw_store_errors_total",
    "otpgw_breaker_state",
    "otpgw_memory_store_evictions_total",
    "otpgw_local_shed_total",
    "otpgw_destination_blocked_total",
    "otpgw_pumping_decisions_total",
    "otpgw_pumping_blocks_active",
    "otpgw_pumping_overflow_total",
    "otpgw_pumping_unavailable_total",
    "otpgw_smpp_bind_state",
    "otpgw_smpp_window_in_use",
    "otpgw_smpp_submits_total",
    "otpgw_smpp_errors_total",
    "otpgw_smpp_inbound_total",
    "otpgw_smpp_reconnects_total",
    "otpgw_smpp_bind_version",
    "otpgw_spend_total",
    "otpgw_spend_avoided_total",
    "otpgw_price_fetches_total",
];

/// The metrics handle: one shared set of collectors, cheap to clone (handlers and
/// middleware take it by value on every request).
#[derive(Clone)]
pub struct Metrics(Arc<Collectors>);

impl std::ops::Deref for Metrics {
    type Target = Collectors;
    fn deref(&self) -> &Collectors {
        &self.0
    }
}

/// All collectors.
pub struct Collectors {
    registry: Registry,
    /// HTTP requests by matched route, method and status.
    pub http_requests: IntCounterVec,
    /// HTTP latency by route and method.
    pub http_duration: HistogramVec,
    /// gRPC calls by method and status code.
    pub grpc_requests: IntCounterVec,
    /// gRPC latency by method.
    pub grpc_duration: HistogramVec,
    /// New verifications by tenant, channel, country.
    pub started: IntCounterVec,
    /// Resends by tenant, channel, country.
    pub resent: IntCounterVec,
    /// Finished verifications by tenant, channel, country and outcome (approved,
    /// canceled, max_attempts, and expired: a code that expired before any provider
    /// accepted its message; codes that expire after delivery without a check are
    /// `started - approved - canceled - max_attempts`).
    pub finished: IntCounterVec,
    /// Workflow steps begun after the first, by tenant, the new step's channel and why
    /// the last one ended (`failed`, `undelivered`, `timeout`, `requested`).
    pub workflow_steps: IntCounterVec,
    /// Check outcomes by tenant (approved, wrong, not_found, max_attempts, rate_limited).
    pub checks: IntCounterVec,
    /// Delivery-only sends (codes made elsewhere) by tenant, source (`api`, `supabase`)
    /// and outcome (`accepted`, `refused`, `confirmed`).
    pub deliveries: IntCounterVec,
    /// Auth servers' hook calls by hook and outcome (`accepted`, `bad_signature`,
    /// `stale`, `missing_header`, `bad_timestamp`, `replayed`, `invalid`, `refused`).
    pub hook_calls: IntCounterVec,
    /// Events to tenants by tenant and outcome: `sent` (delivered), `failed` (an
    /// attempt that will be retried or end dead), `dead` (dead-lettered), `unqueued`
    /// (the queue did not take it: lost).
    pub events: IntCounterVec,
    /// Verifications with events to tenants waiting (the whole queue's).
    pub events_waiting: IntGauge,
    /// Events to tenants in the dead letters (the whole queue's).
    pub events_dead: IntGauge,
    /// Requests refused by a limit, by scope.
    pub rate_limited: IntCounterVec,
    /// Provider attempts by provider and outcome (accepted, rejected, failed, timeout,
    /// rate_limited).
    pub sends: IntCounterVec,
    /// Provider attempt latency by provider.
    pub send_duration: HistogramVec,
    /// Segments per message by encoding (gsm7, ucs2).
    pub segments: HistogramVec,
    /// Delivery receipts by provider and status.
    pub receipts: IntCounterVec,
    /// From a send's queueing to its `delivered` receipt, by provider (the fleet
    /// numbers' latency buckets as histogram bounds).
    pub delivery_latency: HistogramVec,
    /// Sends queued or in flight.
    pub queue_depth: IntGauge,
    /// Age of the oldest queued send, seconds.
    pub queue_oldest_age: Gauge,
    /// Sends in the dead letters.
    pub queue_dead: IntGauge,
    /// Sends taken over from a silent worker.
    pub redeliveries: IntCounter,
    /// Sends dead-lettered by this process.
    pub dead_letters: IntCounter,
    /// Store operation latency by operation.
    pub store_duration: HistogramVec,
    /// Store errors by operation.
    pub store_errors: IntCounterVec,
    /// Breaker state per provider: 0 closed, 1 half-open, 2 open.
    pub breaker: GaugeVec,
    /// Memory-store evictions (store full).
    pub evictions: IntGauge,
    /// Requests refused by this instance's local shedding, by scope.
    pub local_shed: IntCounterVec,
    /// Sends refused by policy (`destination_blocked`), by tenant and reason.
    pub destination_blocked: IntCounterVec,
    /// Pumping-guard decisions other than "go ahead", by tenant, level, action and
    /// decision (`tripped`, `refused`, `challenge_passed`, `would_block`).
    pub pumping: IntCounterVec,
    /// Active pumping-guard blocks per tenant and level (refreshed on an interval).
    pub pumping_blocks: prometheus::IntGaugeVec,
    /// New blocks, ranges or sources that fell into a level's overflow entry because
    /// the level tracked `max_tracked` already, by tenant.
    pub pumping_overflow: IntCounterVec,
    /// Sends whose guard state could not be reached, by tenant and what was done
    /// (`fail_open`, `fail_closed`).
    pub pumping_unavailable: IntCounterVec,
    /// The SMPP provider's binds.
    pub smpp: smpp::Smpp,
    /// The fleet numbers' per-minute buffer (flushed to the shared store; `stats.rs`).
    pub stats: stats::Recorder,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// The text exposition.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_name_is_registered_and_nothing_else() {
        let m = Metrics::new();
        // Touch every vector so it appears in the output.
        m.http_requests
            .with_label_values(&["r", "GET", "200"])
            .inc();
        m.http_duration
            .with_label_values(&["r", "GET"])
            .observe(0.1);
        m.grpc_requests.with_label_values(&["Start", "Ok"]).inc();
        m.grpc_duration.with_label_values(&["Start"]).observe(0.1);
        m.started.with_label_values(&["t", "sms", "US"]).inc();
        m.resent.with_label_values(&["t", "sms", "US"]).inc();
        m.finished
            .with_label_values(&["t", "sms", "US", "approved"])
            .inc();
        m.workflow_steps
            .with_label_values(&["t", "voice", "timeout"])
            .inc();
        m.checks.with_label_values(&["t", "approved"]).inc();
        m.events.with_label_values(&["t", "sent"]).inc();
        m.deliveries
            .with_label_values(&["t", "supabase", "accepted"])
            .inc();
        m.hook_calls
            .with_label_values(&["supabase", "accepted"])
            .inc();
        m.rate_limited.with_label_values(&["resend_cooldown"]).inc();
        m.sends.with_label_values(&["p", "accepted"]).inc();
        m.send_duration.with_label_values(&["p"]).observe(0.1);
        m.segments.with_label_values(&["gsm7"]).observe(1.0);
        m.receipts.with_label_values(&["p", "delivered"]).inc();
        m.delivery_latency.with_label_values(&["p"]).observe(3.0);
        m.store_duration
            .with_label_values(&["start"])
            .observe(0.001);
        m.store_errors.with_label_values(&["start"]).inc();
        m.breaker.with_label_values(&["p"]).set(0.0);
        m.local_shed.with_label_values(&["client_ip"]).inc();
        m.destination_blocked
            .with_label_values(&["t", "prefix_blocked"])
            .inc();
        m.pumping
            .with_label_values(&["t", "prefix", "enforce", "tripped"])
            .inc();
        m.pumping_blocks.with_label_values(&["t", "prefix"]).set(1);
        m.pumping_overflow.with_label_values(&["t"]).inc();
        m.pumping_unavailable
            .with_label_values(&["t", "fail_open"])
            .inc();
        m.stats.spend().unwrap().add("p", "sms", "estimate", 50_000);
        m.stats
            .spend()
            .unwrap()
            .avoided
            .with_label_values(&["p", "sms"])
            .inc();
        m.stats
            .spend()
            .unwrap()
            .price_fetches
            .with_label_values(&["p", "priced"])
            .inc();
        m.smpp.observe(&smpp::BindCounts {
            provider: "p",
            bind: 0,
            state: "bound",
            window_in_use: 1,
            submitted: 1,
            errors: &[("ESME_RTHROTTLED", 1)],
            receipts: 1,
            mobile_originated: 1,
            reconnects: 1,
            version: Some("5.0"),
        });
        let text = m.render();
        let mut found: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .map(|l| l.split(' ').next().unwrap())
            .collect();
        found.sort();
        let mut listed = NAMES.to_vec();
        listed.sort();
        assert_eq!(found, listed);
    }

    /// Every series named in the sources that build collectors is listed, whether or
    /// not the test above touches it: a new series cannot miss `NAMES` (and with it
    /// the dashboard test) by being left out of the list above.
    #[test]
    fn every_series_the_builders_name_is_listed() {
        // Every file of this module but this one (which holds the list).
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/metrics");
        let sources: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "rs") && !p.ends_with("mod.rs"))
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect();
        let mut named: Vec<&str> = sources
            .iter()
            .flat_map(|s| s.split("\"otpgw_").skip(1))
            .filter_map(|rest| rest.split_once('"'))
            .map(|(name, _)| name)
            .collect();
        named.sort();
        named.dedup();
        let mut listed: Vec<&str> = NAMES.iter().map(|n| &n["otpgw_".len()..]).collect();
        listed.sort();
        assert_eq!(named, listed);
    }
}
