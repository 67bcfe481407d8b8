//! The SMPP provider: binds to an operator's or aggregator's SMSC, `submit_sm` per
//! message (or per part), delivery receipts as `deliver_sm` on the same binds.
//!
//! **Library.** `rusmppc` 0.4 (MIT or Apache-2.0) owns each TCP/TLS session: the
//! codec (`rusmpp`), sequence numbers, matching responses to requests with a response
//! timeout, `enquire_link` on a timer and answering the SMSC's. It does not reconnect,
//! keep several binds, bound what is in flight, pace, retry, encode long texts in
//! anything but UDH parts, or read receipts; that is this folder, on rusmpp's PDU types
//! (no second codec):
//!
//! | file | what |
//! |---|---|
//! | `config.rs` | the settings, the sender's TON/NPI |
//! | `session.rs` | one bind's life: bind, serve `deliver_sm`/`unbind`/`generic_nack`, reconnect with backoff and jitter |
//! | `bind.rs` | one bind's handle: state, client, window, counters |
//! | `encode.rs` | `data_coding` (GSM-7 or UCS-2), GSM-7 packing, parts with UDH, `sar_*` TLVs or `message_payload` |
//! | `receipt.rs` | a `deliver_sm` read as a receipt (TLVs or the text of Appendix B) or a mobile-originated message |
//! | `submit.rs` | one part's `submit_sm`, its place in the window, throttling retries on the bind |
//! | `status.rs` | each command status mapped to a kind and retryability, with the specification's wording |
//!
//! **A send.** The text is encoded ([`encode`]); a bound bind is taken in turn
//! (round-robin over the `sessions` binds), and each part waits for a place in that
//! bind's `window` (at most `window_wait_ms`, else the send fails over as rate
//! limited); `submit_sm` carries source TON/NPI from the sender ([`config::SourceKind`]),
//! the destination as international E.164 digits (TON 1, NPI 1), `registered_delivery`
//! 1 when receipts are asked for. `ESME_RTHROTTLED` and `ESME_RMSGQFUL` are retried on
//! the same bind after `throttle_backoff_ms` (doubling, jittered) up to
//! `throttle_retries` times, then fail over as `RateLimited`; the other statuses map as
//! [`status`] says. The message id is the first part's `submit_sm_resp` id: receipts
//! are matched to it, and a failure after the first part was accepted is still a send
//! (sending again would repeat the parts already taken). A `generic_nack` for a
//! `submit_sm` resets its bind. No `submit_sm_resp` within `response_timeout_ms` is a
//! `Timeout` (the router may try elsewhere; the SMSC may still deliver it).
//! `max_tps` is the router's per-provider cap, across all binds.
//!
//! **No bind up.** A send with no bound bind waits up to `window_wait_ms` while a bind
//! is connecting; then it fails: `Auth` when a bind was refused (the account's problem:
//! failover, and the breaker opens), `Unavailable` otherwise (failover).
//!
//! **Shutdown.** [`SmsProvider::close`] (called once the queue is drained) stops the
//! binds' tasks and `unbind`s each bound session.
//!
//! **Receipts** arrive on the binds and go through the [`ReceiptSink`] to
//! `delivery::receipts`, the same matching and once-only rule as a receipt posted over
//! HTTP; `POST /v1/receipts/<name>` is not used for this kind.

mod bind;
pub mod config;
pub mod encode;
pub mod receipt;
mod session;
pub mod status;
mod submit;

pub use config::Config;

use super::{BindView, ErrorKind, OutboundMessage, ProviderError, ReceiptSink, SmsProvider};
use async_trait::async_trait;
use bind::{Bind, State};
use rusmpp::types::COctetString;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the binds of one provider share.
#[derive(Debug)]
pub(crate) struct Shared {
    /// Instance name.
    pub name: String,
    /// Settings.
    pub cfg: Config,
    /// Where receipts go.
    pub sink: ReceiptSink,
}

/// Sends through an SMSC over SMPP.
#[derive(Debug)]
pub struct SmppProvider {
    shared: Arc<Shared>,
    binds: Vec<Arc<Bind>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    next: AtomicUsize,
    source: (u8, u8),
}

impl Drop for SmppProvider {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// A C-octet string field from text the settings checked; empty if it does not fit.
pub(crate) fn c_text<const MIN: usize, const MAX: usize>(v: &str) -> COctetString<MIN, MAX> {
    v.parse().unwrap_or_else(|_| COctetString::empty())
}

impl SmppProvider {
    /// Checks the settings and starts one task per bind (on the current Tokio runtime).
    pub fn new(name: &str, cfg: &Config, sink: ReceiptSink) -> anyhow::Result<Self> {
        let problems = cfg.problems();
        anyhow::ensure!(problems.is_empty(), "smpp: {}", problems.join("; "));
        let source = config::SourceKind::of(&cfg.source)
            .expect("checked")
            .ton_npi();
        let shared = Arc::new(Shared {
            name: name.to_string(),
            cfg: cfg.clone(),
            sink,
        });
        let binds: Vec<Arc<Bind>> = (0..cfg.sessions as usize)
            .map(|i| Arc::new(Bind::new(i, cfg.window)))
            .collect();
        let rt = tokio::runtime::Handle::try_current()
            .map_err(|_| anyhow::anyhow!("smpp: binds need a Tokio runtime"))?;
        let tasks = binds
            .iter()
            .map(|b| rt.spawn(session::run(shared.clone(), b.clone())))
            .collect();
        Ok(SmppProvider {
            shared,
            binds,
            tasks,
            next: AtomicUsize::new(0),
            source,
        })
    }

    fn cfg(&self) -> &Config {
        &self.shared.cfg
    }

    /// A bound bind, in turn; waits up to `window_wait_ms` while one is connecting.
    async fn pick(&self) -> Result<Arc<Bind>, ProviderError> {
        let until = Instant::now() + Duration::from_millis(self.cfg().window_wait_ms);
        loop {
            let start = self.next.fetch_add(1, Ordering::Relaxed);
            let n = self.binds.len();
            let bound: Vec<&Arc<Bind>> = (0..n)
                .map(|i| &self.binds[(start + i) % n])
                .filter(|b| b.state() == State::Bound)
                .collect();
            // Prefer a bind with room in its window; else the first bound one.
            if let Some(b) = bound
                .iter()
                .find(|b| b.window.available_permits() > 0)
                .or(bound.first())
            {
                return Ok((*b).clone());
            }
            let connecting = self.binds.iter().any(|b| b.state() == State::Connecting);
            let now = Instant::now();
            if !connecting || now >= until {
                return Err(self.none_bound());
            }
            let changed = self.binds.iter().map(|b| Box::pin(b.changed.notified()));
            let _ = tokio::time::timeout(
                (until - now).min(Duration::from_millis(50)),
                futures_util::future::select_all(changed),
            )
            .await;
        }
    }

    fn none_bound(&self) -> ProviderError {
        let refused = self.binds.iter().find(|b| b.state() == State::Refused);
        match refused {
            Some(b) => ProviderError::new(
                ErrorKind::Auth,
                format!(
                    "smpp: no bind is up: {}",
                    b.last_error().unwrap_or_else(|| "bind refused".into())
                ),
            ),
            None => ProviderError::new(
                ErrorKind::Unavailable,
                format!(
                    "smpp: no bind is up{}",
                    self.binds
                        .iter()
                        .find_map(|b| b.last_error())
                        .map(|e| format!(" ({e})"))
                        .unwrap_or_default()
                ),
            ),
        }
    }
}

#[async_trait]
impl SmsProvider for SmppProvider {
    fn kind(&self) -> &'static str {
        "smpp"
    }

    async fn send(&self, msg: &OutboundMessage) -> Result<String, ProviderError> {
        let c = self.cfg();
        let reference = u16::from_be_bytes(crate::crypto::random_bytes::<2>());
        let enc = encode::encode(&msg.body, c.concatenation, c.gsm7_packed, reference)
            .map_err(|e| ProviderError::new(ErrorKind::RejectedContent, format!("smpp: {e}")))?;
        let bind = self.pick().await?;
        let mut first: Option<String> = None;
        for (i, part) in enc.parts.iter().enumerate() {
            let sm = self.submit_sm(msg.to.as_str(), enc.data_coding, part);
            match self.submit(&bind, sm).await {
                Ok(id) => {
                    first.get_or_insert(id);
                }
                Err(e) => match &first {
                    None => return Err(e),
                    Some(_) => {
                        tracing::warn!(id = msg.id.as_str(), provider = %self.shared.name, part = i + 1, error = %e, "a later part was refused; the message counts as sent");
                        break;
                    }
                },
            }
        }
        Ok(first.unwrap_or_default())
    }

    fn binds(&self) -> Vec<BindView> {
        self.binds.iter().map(|b| b.view()).collect()
    }

    /// Stops the binds' tasks (no reconnecting), then `unbind`s each bound session and
    /// closes it, each step within a second.
    async fn close(&self) {
        for t in &self.tasks {
            t.abort();
        }
        for b in &self.binds {
            if let Some(client) = b.client() {
                let second = Duration::from_secs(1);
                let unbound = tokio::time::timeout(second, client.unbind()).await;
                let _ = tokio::time::timeout(second, client.close()).await;
                tracing::info!(provider = %self.shared.name, bind = b.index, unbound = matches!(unbound, Ok(Ok(()))), "SMPP bind closed");
            }
        }
    }
}
