//! The spend series, per instance: what accepted sends cost (priced by
//! `[providers.<name>.prices]`, corrected by prices a provider reports), what the
//! pumping guard's refusals would have cost, and the reads of reported prices.
//!
//! Prometheus counters only go up, and a reported price may be below the estimate, so
//! spend is three parts of one counter: `part="estimate"` (the config price of every
//! accepted send), `part="reported"` (prices providers reported) and `part="replaced"`
//! (the estimates of the sends whose price was reported). Spend is
//! `estimate + reported - replaced`; the recording rule `otpgw:spend:increase1h` in
//! `deploy/prometheus/alerts.yml` says so once for dashboards and alerts.
//!
//! Labels are provider and channel only: a country label would multiply the series by
//! up to ~250 per provider and channel on every instance; spend per country is in the
//! fleet numbers (`GET /v1/admin/stats`), which are kept per country already.

use prometheus::{CounterVec, IntCounterVec, Opts, Registry};

/// The spend series.
#[derive(Clone)]
pub struct Spend {
    /// Spend in the price unit by provider, channel and part (`estimate`, `reported`,
    /// `replaced`).
    pub total: CounterVec,
    /// What sends the pumping guard refused would have cost, by the route's first
    /// provider and channel.
    pub avoided: CounterVec,
    /// Reads of reported prices by provider and outcome: `priced`, `unpriced` (no
    /// price after the last read), `failed` (an error the vendor will not get over),
    /// `skipped` (too many reads waiting), `in_receipt` (the receipt carried it),
    /// `other_currency` (reported in another currency than `stats.currency`: not used).
    pub price_fetches: IntCounterVec,
}

/// The outcomes of [`Spend::price_fetches`].
pub const FETCH_OUTCOMES: [&str; 6] = [
    "priced",
    "unpriced",
    "failed",
    "skipped",
    "in_receipt",
    "other_currency",
];

impl Spend {
    /// Registers the series in `r`.
    pub fn new(r: &Registry) -> Self {
        let float = |name: &str, help: &str, labels: &[&str]| {
            let c = CounterVec::new(Opts::new(name, help), labels).expect("valid metric");
            r.register(Box::new(c.clone())).expect("unique metric");
            c
        };
        let price_fetches = IntCounterVec::new(
            Opts::new(
                "otpgw_price_fetches_total",
                "Reads of a provider's reported price after a final receipt, by outcome.",
            ),
            &["provider", "outcome"],
        )
        .expect("valid metric");
        r.register(Box::new(price_fetches.clone()))
            .expect("unique metric");
        Spend {
            total: float(
                "otpgw_spend_total",
                "Spend in the price unit; spend = estimate + reported - replaced.",
                &["provider", "channel", "part"],
            ),
            avoided: float(
                "otpgw_spend_avoided_total",
                "What sends the pumping guard refused would have cost, in the price unit.",
                &["provider", "channel"],
            ),
            price_fetches,
        }
    }

    /// Adds `micro` millionths of the price unit to `part` of the spend of (`provider`, `channel`).
    pub fn add(&self, provider: &str, channel: &str, part: &str, micro: i64) {
        if micro > 0 {
            self.total
                .with_label_values(&[provider, channel, part])
                .inc_by(micro as f64 / 1e6);
        }
    }
}
