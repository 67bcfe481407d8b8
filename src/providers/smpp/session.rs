//! One bind: a task that connects, binds as a transceiver, serves what the SMSC sends
//! on the session, and after a drop binds again, for as long as the provider lives.
//!
//! **Life of a bind.** `connecting` (TCP, TLS, `bind_transceiver`, each within its
//! timeout) → `bound` (senders take it; `enquire_link` every `enquire_link_secs` on the
//! idle session, answered within `response_timeout_ms` or the session is dropped) →
//! `down` on a drop, an `unbind` from the SMSC (answered with `unbind_resp`), a
//! `generic_nack`, an unreadable PDU (the session is reset, the gateway runs on), or an
//! unanswered `enquire_link`; then a wait of `reconnect_initial_ms` doubling per failed
//! attempt up to `reconnect_max_ms`, each with ±25 % jitter so that many binds do not
//! come back in step. A bind the SMSC refuses (wrong password, unknown `system_id`:
//! any non-zero status on `bind_transceiver_resp`) is `refused`: it is logged once per
//! attempt with the status, senders fail over (`Auth`, which the breaker counts), and
//! the next attempt waits `reconnect_max_ms` at once: no tight loop against an SMSC that
//! will block the account for it. An SMSC that accepts TCP and never answers the bind
//! is a timeout, and backs off like a drop.
//!
//! **What the SMSC sends.** `deliver_sm`: read ([`super::receipt`]), a receipt handed
//! to the [`ReceiptSink`], and always answered with `deliver_sm_resp` (status 0), a
//! mobile-originated message counted and answered the same. `enquire_link` is answered
//! by the client library. Responses that come after their request timed out are
//! counted (`late`) and dropped. Any other request is answered `generic_nack` with
//! `ESME_RINVCMDID`.

use super::bind::{Bind, State};
use super::receipt::{self, Inbound, Kind};
use super::{c_text, Shared};
use futures_util::StreamExt;
use rusmpp::pdus::{BindTransceiver, DeliverSm, DeliverSmResp};
use rusmpp::tlvs::TlvValue;
use rusmpp::values::{InterfaceVersion, Npi, Ton};
use rusmpp::{CommandId, Pdu};
use rusmppc::{Client, ConnectionBuilder, Event};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// Why a bind attempt failed.
enum BindFailure {
    /// The SMSC answered the bind with this non-zero status.
    Refused(u32),
    /// Anything else: no connection, TLS, no answer in time.
    Other(String),
}

/// `d` with ±25 % jitter.
pub(super) fn jitter(d: Duration) -> Duration {
    let r = u16::from_be_bytes(crate::crypto::random_bytes::<2>()) as f64 / 65535.0;
    d.mul_f64(0.75 + r * 0.5)
}

/// Connects and binds once.
async fn bind_once(
    s: &Shared,
) -> Result<(Client, impl futures_util::Stream<Item = Event> + Unpin), BindFailure> {
    let c = &s.cfg;
    let scheme = if c.tls { "ssmpp" } else { "smpp" };
    let url = format!("{scheme}://{}:{}", c.host.trim(), c.port);
    let response = Duration::from_millis(c.response_timeout_ms);
    let builder = ConnectionBuilder::new()
        .response_timeout(response)
        .enquire_link_response_timeout(response)
        .disable_interface_version_check()
        .with_enquire_link_interval(
            (c.enquire_link_secs > 0).then(|| Duration::from_secs(c.enquire_link_secs)),
        );
    let (client, events) = tokio::time::timeout(
        Duration::from_millis(c.connect_timeout_ms),
        builder.connect(url),
    )
    .await
    .map_err(|_| BindFailure::Other("no connection within connect_timeout_ms".into()))?
    .map_err(|e| BindFailure::Other(format!("connect: {e}")))?;
    let bind = BindTransceiver::builder()
        .system_id(c_text(&c.system_id))
        .password(c_text(&c.password))
        .system_type(c_text(&c.system_type))
        .interface_version(match c.interface_version {
            super::config::InterfaceVersion::V34 => InterfaceVersion::Smpp3_4,
            super::config::InterfaceVersion::V50 => InterfaceVersion::Smpp5_0,
        })
        .addr_ton(Ton::Unknown)
        .addr_npi(Npi::Unknown)
        .address_range(c_text(&c.address_range))
        .build();
    match client.bind_transceiver(bind).await {
        Ok(resp) => {
            // SMPP 3.4 §5.3.2.25: an SMSC that speaks 5.0 may say so in the answer;
            // the session stays at the version configured.
            tracing::debug!(sc_interface_version = ?resp.sc_interface_version(), "bind_transceiver_resp");
            Ok((client, events))
        }
        Err(rusmppc::error::Error::UnexpectedResponse { response }) => {
            let _ = tokio::time::timeout(Duration::from_secs(1), client.close()).await;
            Err(BindFailure::Refused(u32::from(response.status())))
        }
        Err(e) => {
            let _ = tokio::time::timeout(Duration::from_secs(1), client.close()).await;
            Err(BindFailure::Other(format!("bind: {e}")))
        }
    }
}

/// The fields a receipt is read from.
fn inbound(d: &DeliverSm) -> Inbound {
    let mut i = Inbound {
        esm_class: u8::from(d.esm_class),
        text: d.short_message().as_ref().to_vec(),
        ..Inbound::default()
    };
    for t in d.tlvs() {
        match t.value() {
            Some(TlvValue::ReceiptedMessageId(id)) => {
                i.receipted_message_id = Some(id.as_str().to_string())
            }
            Some(TlvValue::MessageState(s)) => i.message_state = Some(u8::from(*s)),
            Some(TlvValue::NetworkErrorCode(n)) => i.network_error = Some(format!("{n:?}")),
            Some(TlvValue::MessagePayload(p)) if i.text.is_empty() => {
                i.text = p.value.as_ref().to_vec()
            }
            _ => {}
        }
    }
    i
}

/// Serves one bound session until it ends; why it ended.
async fn serve(
    s: &Shared,
    bind: &Bind,
    client: &Client,
    mut events: impl futures_util::Stream<Item = Event> + Unpin,
) -> String {
    loop {
        let event = tokio::select! {
            e = events.next() => e,
            _ = bind.reset.notified() => return "reset after a generic_nack".into(),
        };
        let cmd = match event {
            Some(Event::Incoming(cmd)) => cmd,
            Some(Event::Error(e)) => return format!("{e}"),
            None => return "connection closed".into(),
        };
        let seq = cmd.sequence_number();
        match (cmd.id(), cmd.pdu()) {
            (CommandId::DeliverSm, Some(Pdu::DeliverSm(d))) => {
                match receipt::read(&inbound(d)) {
                    Kind::Receipt(r) => {
                        bind.receipts.fetch_add(1, Ordering::Relaxed);
                        if !s.sink.push(&s.name, r).await {
                            tracing::warn!(provider = %s.name, "an SMPP receipt has nowhere to go");
                        }
                    }
                    Kind::Ignored => {
                        bind.receipts.fetch_add(1, Ordering::Relaxed);
                    }
                    Kind::MobileOriginated => {
                        bind.mobile_originated.fetch_add(1, Ordering::Relaxed);
                        tracing::info!(provider = %s.name, bind = bind.index, "mobile-originated message acknowledged, not processed");
                    }
                }
                if let Err(e) = client.deliver_sm_resp(seq, DeliverSmResp::default()).await {
                    return format!("deliver_sm_resp: {e}");
                }
            }
            (CommandId::Unbind, _) => {
                let _ = client.unbind_resp(seq).await;
                return "the SMSC unbound".into();
            }
            (CommandId::GenericNack, _) => {
                return format!(
                    "generic_nack ({})",
                    super::status::name(u32::from(cmd.status()))
                );
            }
            (id, _) if id.is_response() => {
                bind.failed("late");
                tracing::debug!(provider = %s.name, bind = bind.index, ?id, "response after its request timed out");
            }
            (id, _) => {
                tracing::debug!(provider = %s.name, bind = bind.index, ?id, "request not handled: generic_nack");
                let _ = client.generic_nack(seq).await;
            }
        }
    }
}

/// The bind's task: bind, serve, back off, bind again, until aborted.
pub async fn run(s: Arc<Shared>, bind: Arc<Bind>) {
    let initial = Duration::from_millis(s.cfg.reconnect_initial_ms);
    let max = Duration::from_millis(s.cfg.reconnect_max_ms);
    let mut failures: u32 = 0;
    loop {
        bind.set(State::Connecting, None);
        let wait = match bind_once(&s).await {
            Ok((client, events)) => {
                failures = 0;
                tracing::info!(provider = %s.name, bind = bind.index, host = %s.cfg.host, "SMPP bind up");
                bind.set(State::Bound, Some(client.clone()));
                let why = serve(&s, &bind, &client, events).await;
                bind.set(State::Down, None);
                bind.reconnects.fetch_add(1, Ordering::Relaxed);
                // The library's close waits for its connection task, which may be gone.
                let _ = tokio::time::timeout(Duration::from_secs(1), client.close()).await;
                tracing::warn!(provider = %s.name, bind = bind.index, reason = %why, "SMPP bind down; binding again");
                bind.went_down(why);
                initial
            }
            Err(BindFailure::Refused(status)) => {
                let why = format!(
                    "bind refused: {} ({status:#010x})",
                    super::status::name(status)
                );
                tracing::error!(provider = %s.name, bind = bind.index, system_id = %s.cfg.system_id, reason = %why, retry_in_ms = max.as_millis() as u64, "the SMSC refused the SMPP bind: check system_id, password and system_type");
                bind.went_down(why);
                bind.set(State::Refused, None);
                bind.reconnects.fetch_add(1, Ordering::Relaxed);
                max
            }
            Err(BindFailure::Other(why)) => {
                failures = failures.saturating_add(1);
                let wait = initial
                    .saturating_mul(1u32 << failures.min(16).saturating_sub(1))
                    .min(max);
                tracing::warn!(provider = %s.name, bind = bind.index, reason = %why, retry_in_ms = wait.as_millis() as u64, "SMPP bind failed");
                bind.went_down(why);
                bind.set(State::Down, None);
                bind.reconnects.fetch_add(1, Ordering::Relaxed);
                wait
            }
        };
        tokio::time::sleep(jitter(wait)).await;
    }
}
