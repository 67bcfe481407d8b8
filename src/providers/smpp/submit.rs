//! One part on the wire: the `submit_sm` built from the settings and an encoded part
//! (source TON/NPI from the sender, destination TON 1/NPI 1, `esm_class`, `data_coding`,
//! `registered_delivery`, `message_payload` or `sar_*` TLVs), and its submission on a
//! bind: a place in the window, the answer mapped by [`super::status`], and the
//! throttling retries on the same bind.

use super::bind::Bind;
use super::{c_text, encode, status, SmppProvider};
use crate::providers::{ErrorKind, ProviderError};
use rusmpp::pdus::SubmitSm;
use rusmpp::tlvs::MessageSubmissionRequestTlvValue as Tlv;
use rusmpp::types::{AnyOctetString, OctetString};
use rusmpp::values::{
    DataCoding, EsmClass, MessagePayload, Npi, RegisteredDelivery, ServiceType, Ton,
};
use rusmpp::CommandId;
use std::time::Duration;

impl SmppProvider {
    /// The `submit_sm` for one part.
    pub(super) fn submit_sm(&self, to: &str, dc: u8, part: &encode::Part) -> SubmitSm {
        let c = self.cfg();
        // Default mode, default message type; bit 6 is the UDH indicator (§5.2.12).
        let esm = EsmClass::from(if part.udhi { 0x40 } else { 0x00 });
        let mut sm = SubmitSm::builder()
            .service_type(ServiceType::new(c_text(&c.service_type)))
            .source_addr_ton(Ton::from(self.source.0))
            .source_addr_npi(Npi::from(self.source.1))
            .source_addr(c_text(c.source.trim_start_matches('+')))
            .dest_addr_ton(Ton::International)
            .dest_addr_npi(Npi::Isdn)
            .destination_addr(c_text(to.trim_start_matches('+')))
            .esm_class(esm)
            .registered_delivery(RegisteredDelivery::from(u8::from(c.registered_delivery)))
            .data_coding(DataCoding::from(dc))
            .short_message(
                OctetString::from_vec(part.short_message.clone())
                    .unwrap_or_else(|_| OctetString::empty()),
            )
            .build();
        if let Some(p) = &part.payload {
            sm.push_tlv(Tlv::MessagePayload(MessagePayload::new(
                AnyOctetString::from_vec(p.clone()),
            )));
        }
        if let Some((r, total, seq)) = part.sar {
            sm.push_tlv(Tlv::SarMsgRefNum(r));
            sm.push_tlv(Tlv::SarTotalSegments(total));
            sm.push_tlv(Tlv::SarSegmentSeqnum(seq));
        }
        sm
    }

    /// Submits one part on `bind`, retrying throttling answers there; its message id.
    pub(super) async fn submit(&self, bind: &Bind, sm: SubmitSm) -> Result<String, ProviderError> {
        let c = self.cfg();
        let window_wait = Duration::from_millis(c.window_wait_ms);
        for attempt in 0..=c.throttle_retries {
            let Some(client) = bind.client() else {
                return Err(ProviderError::new(
                    ErrorKind::Unavailable,
                    "smpp: the bind went down",
                ));
            };
            let permit = match tokio::time::timeout(
                window_wait,
                bind.window.clone().acquire_owned(),
            )
            .await
            {
                Ok(Ok(p)) => p,
                _ => {
                    bind.failed("window_full");
                    let mut e = ProviderError::new(
                        ErrorKind::RateLimited,
                        format!(
                            "smpp: the window ({}) stayed full for {} ms",
                            c.window, c.window_wait_ms
                        ),
                    );
                    e.retry_after = Some(Duration::from_millis(c.throttle_backoff_ms));
                    return Err(e);
                }
            };
            // The library times the answer from when the PDU is written; a session that
            // cannot write (the SMSC stopped reading) would hold the send for ever: the
            // whole call is bounded too, and such a bind is reset.
            let whole = Duration::from_millis(c.response_timeout_ms.saturating_mul(2));
            let Ok(result) = tokio::time::timeout(whole, client.submit_sm(sm.clone())).await else {
                drop(permit);
                bind.failed("timeout");
                bind.reset();
                return Err(ProviderError::new(
                    ErrorKind::Timeout,
                    format!(
                        "smpp: submit_sm not written and answered within {} ms",
                        whole.as_millis()
                    ),
                ));
            };
            drop(permit);
            let status = match result {
                Ok(resp) => {
                    bind.accepted();
                    return Ok(resp.message_id().as_str().to_string());
                }
                Err(rusmppc::error::Error::UnexpectedResponse { response }) => {
                    if response.id() == CommandId::GenericNack {
                        bind.failed("generic_nack");
                        bind.reset();
                        return Err(ProviderError::new(
                            ErrorKind::Unavailable,
                            format!(
                                "smpp: generic_nack ({}) for submit_sm",
                                status::name(u32::from(response.status()))
                            ),
                        ));
                    }
                    u32::from(response.status())
                }
                Err(rusmppc::error::Error::ResponseTimeout { .. }) => {
                    bind.failed("timeout");
                    return Err(ProviderError::new(
                        ErrorKind::Timeout,
                        format!(
                            "smpp: no submit_sm_resp within {} ms",
                            c.response_timeout_ms
                        ),
                    ));
                }
                Err(e) => {
                    bind.failed("closed");
                    return Err(ProviderError::new(
                        ErrorKind::Unavailable,
                        format!("smpp: {e}"),
                    ));
                }
            };
            bind.failed(status::name(status));
            if !status::is_throttle(status) || attempt == c.throttle_retries {
                let mut e = status::error(status);
                if status::is_throttle(status) {
                    e.retry_after = Some(Duration::from_millis(c.throttle_backoff_ms));
                }
                return Err(e);
            }
            let wait =
                Duration::from_millis(c.throttle_backoff_ms).saturating_mul(1 << attempt.min(16));
            tracing::info!(provider = %self.shared.name, bind = bind.index, status = status::name(status), wait_ms = wait.as_millis() as u64, "SMSC throttling; backing off");
            tokio::time::sleep(super::session::jitter(wait)).await;
        }
        unreachable!("the last attempt returns")
    }
}
