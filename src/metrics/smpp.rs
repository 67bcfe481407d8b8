//! The SMPP provider's series, per provider instance and bind (`bind` is the bind's
//! index, bounded by `sessions`; `status` is an SMPP status name from a fixed list or
//! `other`; `state` and `kind` are fixed words). They are read from the binds' own
//! counters at scrape time ([`Smpp::observe`]); counters move by the difference since
//! the last scrape, so they stay counters.

use prometheus::{IntCounterVec, IntGaugeVec, Opts, Registry};

/// The SMPP series.
pub struct Smpp {
    /// 1 for the state each bind is in (`connecting`, `bound`, `down`, `refused`), 0 for
    /// the others.
    pub bind_state: IntGaugeVec,
    /// `submit_sm`s sent and not yet answered, per bind.
    pub window_in_use: IntGaugeVec,
    /// `submit_sm`s accepted, per bind (its rate is the bind's throughput).
    pub submits: IntCounterVec,
    /// Failed `submit_sm`s per bind and status (`timeout`, `closed`, `window_full`,
    /// `generic_nack`, `late` for answers after their timeout).
    pub errors: IntCounterVec,
    /// `deliver_sm`s per bind and kind (`receipt`, `mobile_originated`).
    pub inbound: IntCounterVec,
    /// Binds lost or refused, per bind.
    pub reconnects: IntCounterVec,
}

/// The states a bind shows.
pub const STATES: [&str; 4] = ["connecting", "bound", "down", "refused"];

/// What one bind reports at a scrape.
pub struct BindCounts<'a> {
    /// Provider instance.
    pub provider: &'a str,
    /// Bind index.
    pub bind: usize,
    /// Its state (one of [`STATES`]).
    pub state: &'a str,
    /// Window in use.
    pub window_in_use: u32,
    /// Accepted submits so far.
    pub submitted: u64,
    /// Failures by status name so far.
    pub errors: &'a [(&'static str, u64)],
    /// Receipts so far.
    pub receipts: u64,
    /// Mobile-originated messages so far.
    pub mobile_originated: u64,
    /// Reconnects so far.
    pub reconnects: u64,
}

fn up_to(c: &prometheus::IntCounter, total: u64) {
    let now = c.get();
    if total > now {
        c.inc_by(total - now);
    }
}

impl Smpp {
    pub(super) fn new(r: &Registry) -> Self {
        let gauge = |name: &str, help: &str, labels: &[&str]| {
            let g = IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric");
            r.register(Box::new(g.clone())).expect("unique metric");
            g
        };
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
            r.register(Box::new(c.clone())).expect("unique metric");
            c
        };
        Smpp {
            bind_state: gauge(
                "otpgw_smpp_bind_state",
                "SMPP bind state (1 for the current state).",
                &["provider", "bind", "state"],
            ),
            window_in_use: gauge(
                "otpgw_smpp_window_in_use",
                "SMPP submit_sm sent and not yet answered.",
                &["provider", "bind"],
            ),
            submits: counter(
                "otpgw_smpp_submits_total",
                "SMPP submit_sm accepted by the SMSC.",
                &["provider", "bind"],
            ),
            errors: counter(
                "otpgw_smpp_errors_total",
                "SMPP submit_sm that failed, by command status.",
                &["provider", "bind", "status"],
            ),
            inbound: counter(
                "otpgw_smpp_inbound_total",
                "SMPP deliver_sm received, by kind.",
                &["provider", "bind", "kind"],
            ),
            reconnects: counter(
                "otpgw_smpp_reconnects_total",
                "SMPP binds lost or refused.",
                &["provider", "bind"],
            ),
        }
    }

    /// Brings one bind's series up to its counters.
    pub fn observe(&self, b: &BindCounts<'_>) {
        let bind = b.bind.to_string();
        let pb = [b.provider, bind.as_str()];
        for s in STATES {
            self.bind_state
                .with_label_values(&[b.provider, &bind, s])
                .set(i64::from(s == b.state));
        }
        self.window_in_use
            .with_label_values(&pb)
            .set(i64::from(b.window_in_use));
        up_to(&self.submits.with_label_values(&pb), b.submitted);
        for (status, n) in b.errors {
            up_to(
                &self.errors.with_label_values(&[b.provider, &bind, status]),
                *n,
            );
        }
        up_to(
            &self
                .inbound
                .with_label_values(&[b.provider, &bind, "receipt"]),
            b.receipts,
        );
        up_to(
            &self
                .inbound
                .with_label_values(&[b.provider, &bind, "mobile_originated"]),
            b.mobile_originated,
        );
        up_to(&self.reconnects.with_label_values(&pb), b.reconnects);
    }
}
