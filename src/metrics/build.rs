//! The collectors' construction: every series with its name, help text and labels,
//! registered once. `NAMES` in `mod.rs` lists them for the docs test.

use super::{Collectors, Metrics};
use prometheus::{
    Gauge, GaugeVec, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts,
    Registry,
};
use std::sync::Arc;

fn counter(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
    r.register(Box::new(c.clone())).expect("unique metric");
    c
}

fn histogram(
    r: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
    buckets: Vec<f64>,
) -> HistogramVec {
    let h = HistogramVec::new(HistogramOpts::new(name, help).buckets(buckets), labels)
        .expect("valid metric");
    r.register(Box::new(h.clone())).expect("unique metric");
    h
}

const LATENCY: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

impl Metrics {
    /// A fresh registry with every series.
    pub fn new() -> Self {
        let r = Registry::new();
        let build = GaugeVec::new(
            Opts::new("otpgw_build_info", "Build information."),
            &["version"],
        )
        .expect("valid");
        build
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1.0);
        r.register(Box::new(build)).expect("unique");
        let lat = LATENCY.to_vec();
        let int_gauge = |name: &str, help: &str| {
            let g = IntGauge::new(name, help).expect("valid");
            r.register(Box::new(g.clone())).expect("unique");
            g
        };
        let queue_oldest_age = Gauge::new(
            "otpgw_queue_oldest_age_seconds",
            "Age of the oldest queued send.",
        )
        .expect("valid");
        r.register(Box::new(queue_oldest_age.clone()))
            .expect("unique");
        let redeliveries = IntCounter::new(
            "otpgw_queue_redeliveries_total",
            "Sends taken over from a silent worker.",
        )
        .expect("valid");
        r.register(Box::new(redeliveries.clone())).expect("unique");
        let dead_letters = IntCounter::new(
            "otpgw_dead_letters_total",
            "Sends dead-lettered by this process.",
        )
        .expect("valid");
        r.register(Box::new(dead_letters.clone())).expect("unique");
        let breaker = GaugeVec::new(
            Opts::new(
                "otpgw_breaker_state",
                "Circuit breaker per provider: 0 closed, 1 half-open, 2 open.",
            ),
            &["provider"],
        )
        .expect("valid");
        r.register(Box::new(breaker.clone())).expect("unique");
        let pumping_blocks = prometheus::IntGaugeVec::new(
            Opts::new(
                "otpgw_pumping_blocks_active",
                "Active SMS-pumping guard blocks.",
            ),
            &["tenant", "level"],
        )
        .expect("valid");
        r.register(Box::new(pumping_blocks.clone()))
            .expect("unique");
        Metrics(Arc::new(Collectors {
            local_shed: counter(
                &r,
                "otpgw_local_shed_total",
                "Requests shed by this instance before any store call.",
                &["scope"],
            ),
            destination_blocked: counter(
                &r,
                "otpgw_destination_blocked_total",
                "Sends refused by geo permissions or the pumping guard.",
                &["tenant", "reason"],
            ),
            pumping: counter(
                &r,
                "otpgw_pumping_decisions_total",
                "SMS-pumping guard decisions that were not a plain go-ahead.",
                &["tenant", "level", "action", "decision"],
            ),
            pumping_blocks,
            pumping_overflow: counter(
                &r,
                "otpgw_pumping_overflow_total",
                "New levels counted in the overflow entry of a full pumping-guard level.",
                &["tenant"],
            ),
            pumping_unavailable: counter(
                &r,
                "otpgw_pumping_unavailable_total",
                "Sends whose pumping-guard state could not be reached.",
                &["tenant", "outcome"],
            ),
            http_requests: counter(
                &r,
                "otpgw_http_requests_total",
                "HTTP requests.",
                &["route", "method", "status"],
            ),
            http_duration: histogram(
                &r,
                "otpgw_http_request_duration_seconds",
                "HTTP request latency.",
                &["route", "method"],
                lat.clone(),
            ),
            grpc_requests: counter(
                &r,
                "otpgw_grpc_requests_total",
                "gRPC calls.",
                &["method", "code"],
            ),
            grpc_duration: histogram(
                &r,
                "otpgw_grpc_request_duration_seconds",
                "gRPC call latency.",
                &["method"],
                lat.clone(),
            ),
            started: counter(
                &r,
                "otpgw_verifications_started_total",
                "New verifications.",
                &["tenant", "channel", "country"],
            ),
            resent: counter(
                &r,
                "otpgw_verifications_resent_total",
                "Resends.",
                &["tenant", "channel", "country"],
            ),
            finished: counter(
                &r,
                "otpgw_verifications_finished_total",
                "Finished verifications by outcome.",
                &["tenant", "channel", "country", "outcome"],
            ),
            workflow_steps: counter(
                &r,
                "otpgw_workflow_steps_total",
                "Workflow steps begun after the first, by the new step's channel and why the last ended.",
                &["tenant", "channel", "reason"],
            ),
            checks: counter(
                &r,
                "otpgw_checks_total",
                "Check outcomes.",
                &["tenant", "outcome"],
            ),
            deliveries: counter(
                &r,
                "otpgw_deliveries_total",
                "Delivery-only sends of codes made elsewhere, by source and outcome.",
                &["tenant", "source", "outcome"],
            ),
            hook_calls: counter(
                &r,
                "otpgw_hook_calls_total",
                "Auth servers' hook calls by hook and outcome.",
                &["hook", "outcome"],
            ),
            events: counter(
                &r,
                "otpgw_events_total",
                "Events to tenants by outcome (sent, failed attempt, dead-lettered).",
                &["tenant", "outcome"],
            ),
            rate_limited: counter(
                &r,
                "otpgw_rate_limited_total",
                "Requests refused by a limit.",
                &["scope"],
            ),
            sends: counter(
                &r,
                "otpgw_sends_total",
                "Provider send attempts by outcome.",
                &["provider", "outcome"],
            ),
            send_duration: histogram(
                &r,
                "otpgw_send_duration_seconds",
                "Provider send latency.",
                &["provider"],
                lat.clone(),
            ),
            segments: histogram(
                &r,
                "otpgw_message_segments",
                "SMS segments per message.",
                &["encoding"],
                vec![1.0, 2.0, 3.0, 4.0, 6.0, 10.0],
            ),
            receipts: counter(
                &r,
                "otpgw_delivery_receipts_total",
                "Delivery receipts.",
                &["provider", "status"],
            ),
            delivery_latency: histogram(
                &r,
                "otpgw_delivery_latency_seconds",
                "From a send's queueing to its delivered receipt.",
                &["provider"],
                super::stats::LATENCY_BOUNDS_SECS
                    .iter()
                    .map(|s| *s as f64)
                    .collect(),
            ),
            queue_depth: int_gauge("otpgw_queue_depth", "Sends queued or in flight."),
            queue_oldest_age,
            queue_dead: int_gauge("otpgw_queue_dead_letters", "Sends in the dead letters."),
            events_waiting: int_gauge(
                "otpgw_events_queue_depth",
                "Verifications with events to tenants waiting.",
            ),
            events_dead: int_gauge(
                "otpgw_events_dead_letters",
                "Events to tenants in the dead letters.",
            ),
            redeliveries,
            dead_letters,
            store_duration: histogram(
                &r,
                "otpgw_store_operation_duration_seconds",
                "Store operation latency.",
                &["op"],
                lat,
            ),
            store_errors: counter(
                &r,
                "otpgw_store_errors_total",
                "Store operation errors.",
                &["op"],
            ),
            breaker,
            evictions: int_gauge(
                "otpgw_memory_store_evictions_total",
                "Memory-store evictions (store full).",
            ),
            smpp: super::smpp::Smpp::new(&r),
            stats: super::stats::Recorder::with_spend(super::spend::Spend::new(&r)),
            registry: r,
        }))
    }
}
