//! SMPP provider settings (`[providers.<name>]` with `kind = "smpp"`): where the SMSC
//! is, the bind's credentials, how many binds and how much in flight on each, how a
//! text goes on the air, and the timers of the session. `password` is a
//! [`Secret`]: the derived `Debug` prints `<redacted>`.

use crate::secret::Secret;
use serde::Deserialize;

pub use super::ids::ReceiptId;
pub use super::version::{version_name, InterfaceVersion};

/// How a text longer than one segment is sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Concatenation {
    /// One `submit_sm` per part, each with a concatenation user data header
    /// (8-bit reference, `esm_class` UDHI bit set): what handsets reassemble.
    #[default]
    Udh,
    /// One `submit_sm` per part, each with the `sar_msg_ref_num`, `sar_total_segments`
    /// and `sar_segment_seqnum` TLVs: the SMSC builds the headers.
    Sar,
    /// One `submit_sm` with the whole text in the `message_payload` TLV (empty
    /// `short_message`): the SMSC splits it.
    Payload,
}

/// `[providers.<name>]` with `kind = "smpp"`.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The SMSC's host name or address.
    pub host: String,
    /// The SMSC's port (2775 is the usual plain port, 3550 or 8775 often TLS).
    pub port: u16,
    /// Connect over TLS (rustls; the system's trust store unless `tls_ca_file`).
    pub tls: bool,
    /// A PEM file of CA certificates to trust for the SMSC's certificate instead of the
    /// system's trust store (an operator's private CA, or a self-signed SMSC); needs
    /// `tls = true`. Read at each connection.
    pub tls_ca_file: Option<String>,
    /// `system_id` of the bind (the account name the SMSC gave you).
    #[serde(deserialize_with = "crate::secret::text::string")]
    pub system_id: String,
    /// `password` of the bind (at most 8 characters in SMPP 3.4).
    pub password: Secret,
    /// `system_type` of the bind; empty unless the SMSC asks for one.
    #[serde(deserialize_with = "crate::secret::text::string")]
    pub system_type: String,
    /// `address_range` of the bind; empty unless the SMSC asks for one.
    #[serde(deserialize_with = "crate::secret::text::string")]
    pub address_range: String,
    /// How the ids of text receipts relate to `submit_sm_resp` ids: `"exact"`,
    /// `"hex_to_dec"` (answers in hexadecimal, receipts in decimal) or `"dec_to_hex"`.
    pub receipt_id: ReceiptId,
    /// The version the bind announces: `"3.4"`, `"5.0"`, or `"auto"` (announce 5.0,
    /// speak what the SMSC's bind response names; 3.4 when it names none).
    pub interface_version: InterfaceVersion,
    /// Binds (sessions) this instance keeps open, each a `bind_transceiver`.
    pub sessions: u32,
    /// Outstanding `submit_sm` per bind (sent, no `submit_sm_resp` yet).
    pub window: u32,
    /// Sends per second this instance may make through all its binds (none: no cap).
    pub max_tps: Option<u32>,
    /// Sender: `+` and digits (international), up to 8 digits (short code), or up to
    /// 11 letters and digits (alphanumeric); the source TON/NPI follow from it.
    #[serde(deserialize_with = "crate::secret::text::string")]
    pub source: String,
    /// `service_type` of each `submit_sm`; empty is the SMSC's default.
    #[serde(deserialize_with = "crate::secret::text::string")]
    pub service_type: String,
    /// Ask for delivery receipts (`registered_delivery` 1).
    pub registered_delivery: bool,
    /// GSM-7 texts packed 8 septets to 7 octets (some SMSCs want this for
    /// `data_coding` 0); unpacked (one septet per octet) otherwise.
    pub gsm7_packed: bool,
    /// How a long text is sent: `"udh"`, `"sar"` or `"payload"`.
    pub concatenation: Concatenation,
    /// Longest wait for the TCP (and TLS) connection, in milliseconds.
    pub connect_timeout_ms: u64,
    /// Longest wait for a `submit_sm_resp` (and the bind's answer), in milliseconds.
    pub response_timeout_ms: u64,
    /// Seconds between `enquire_link`s on an idle bind (0: never).
    pub enquire_link_secs: u64,
    /// First delay before reconnecting a dropped bind, in milliseconds (doubles per
    /// failed attempt, with jitter).
    pub reconnect_initial_ms: u64,
    /// Longest delay between reconnection attempts, in milliseconds; a refused bind
    /// (wrong password, unknown system id) waits this long at once.
    pub reconnect_max_ms: u64,
    /// How often one part is tried again on its bind after `ESME_RTHROTTLED` or
    /// `ESME_RMSGQFUL` before the send fails over.
    pub throttle_retries: u32,
    /// First delay after a throttling answer, in milliseconds (doubles per retry,
    /// with jitter).
    pub throttle_backoff_ms: u64,
    /// Longest a send waits for room in a bind's window, in milliseconds.
    pub window_wait_ms: u64,
    /// `[providers.<name>.prices]`: price of one message per ISO 3166 country code,
    /// `default` for the rest, in the account's currency (spend in the fleet numbers).
    pub prices: crate::providers::settings::PriceTable,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            prices: Default::default(),
            host: String::new(),
            port: 2775,
            tls: false,
            tls_ca_file: None,
            system_id: String::new(),
            password: Secret(String::new()),
            system_type: String::new(),
            address_range: String::new(),
            receipt_id: ReceiptId::Exact,
            interface_version: InterfaceVersion::V34,
            sessions: 1,
            window: 10,
            max_tps: None,
            source: String::new(),
            service_type: String::new(),
            registered_delivery: true,
            gsm7_packed: false,
            concatenation: Concatenation::Udh,
            connect_timeout_ms: 5_000,
            response_timeout_ms: 5_000,
            enquire_link_secs: 30,
            reconnect_initial_ms: 1_000,
            reconnect_max_ms: 60_000,
            throttle_retries: 3,
            throttle_backoff_ms: 200,
            window_wait_ms: 2_000,
        }
    }
}

/// What kind of sender `source` is, with the TON and NPI it is sent with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// `+` and 7 to 15 digits: TON 1 (international), NPI 1 (E.164).
    International,
    /// 3 to 8 digits: TON 3 (network specific), NPI 0 (unknown).
    ShortCode,
    /// 1 to 11 characters with a letter: TON 5 (alphanumeric), NPI 0.
    Alphanumeric,
}

impl SourceKind {
    /// The kind of `source`, or `None` when it is none of the three.
    pub fn of(source: &str) -> Option<SourceKind> {
        if let Some(d) = source.strip_prefix('+') {
            let ok = (7..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit());
            return ok.then_some(SourceKind::International);
        }
        if (3..=8).contains(&source.len()) && source.bytes().all(|b| b.is_ascii_digit()) {
            return Some(SourceKind::ShortCode);
        }
        let ok = (1..=11).contains(&source.len())
            && source
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b' ')
            && source.bytes().any(|b| b.is_ascii_alphabetic());
        ok.then_some(SourceKind::Alphanumeric)
    }

    /// `(source_addr_ton, source_addr_npi)`.
    pub fn ton_npi(self) -> (u8, u8) {
        match self {
            SourceKind::International => (1, 1),
            SourceKind::ShortCode => (3, 0),
            SourceKind::Alphanumeric => (5, 0),
        }
    }
}

impl Config {
    /// Problems with these settings, one sentence each.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.host.trim().is_empty() {
            p.push("host must name the SMSC".into());
        }
        if self.port == 0 {
            p.push("port must be 1 to 65535".into());
        }
        if let Some(f) = &self.tls_ca_file {
            if !self.tls {
                p.push("tls_ca_file needs tls = true".into());
            }
            if let Err(e) = super::tls::client_config(f) {
                p.push(e);
            }
        }
        if self.system_id.is_empty() || self.system_id.len() > 15 {
            p.push("system_id must be 1 to 15 characters (SMPP 3.4 §4.1.1)".into());
        }
        if self.password.len() > 8 && self.interface_version == InterfaceVersion::V34 {
            p.push("password must be at most 8 characters in SMPP 3.4 (§4.1.1)".into());
        }
        if self.system_type.len() > 12 {
            p.push("system_type must be at most 12 characters".into());
        }
        if self.address_range.len() > 40 {
            p.push("address_range must be at most 40 characters".into());
        }
        if self.service_type.len() > 5 {
            p.push("service_type must be at most 5 characters".into());
        }
        if !(1..=64).contains(&self.sessions) {
            p.push("sessions must be 1 to 64".into());
        }
        if !(1..=1000).contains(&self.window) {
            p.push("window must be 1 to 1000".into());
        }
        if SourceKind::of(&self.source).is_none() {
            p.push(
                "source must be +digits (international), 3 to 8 digits (short code) or up to \
                 11 letters and digits (alphanumeric)"
                    .into(),
            );
        }
        for (name, v) in [
            ("connect_timeout_ms", self.connect_timeout_ms),
            ("response_timeout_ms", self.response_timeout_ms),
            ("reconnect_initial_ms", self.reconnect_initial_ms),
            ("throttle_backoff_ms", self.throttle_backoff_ms),
            ("window_wait_ms", self.window_wait_ms),
        ] {
            if v == 0 {
                p.push(format!("{name} must be at least 1"));
            }
        }
        if self.reconnect_max_ms < self.reconnect_initial_ms {
            p.push("reconnect_max_ms must be at least reconnect_initial_ms".into());
        }
        if self.gsm7_packed && self.concatenation == Concatenation::Udh {
            // Packed parts with a UDH need fill bits before the first septet; the
            // encoder here packs only whole messages (sar or payload).
            p.push("gsm7_packed works with concatenation = \"sar\" or \"payload\"".into());
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_kinds_and_their_ton_npi() {
        assert_eq!(
            SourceKind::of("+447700900123"),
            Some(SourceKind::International)
        );
        assert_eq!(SourceKind::of("72345"), Some(SourceKind::ShortCode));
        assert_eq!(SourceKind::of("Acme Bank"), Some(SourceKind::Alphanumeric));
        assert_eq!(SourceKind::of("TooLongSender1"), None);
        assert_eq!(SourceKind::of("+12"), None);
        assert_eq!(SourceKind::Alphanumeric.ton_npi(), (5, 0));
    }

    #[test]
    fn defaults_need_the_account_and_nothing_else() {
        let c: Config = toml::from_str(
            "host = \"smsc.example\"\nsystem_id = \"acme\"\npassword = \"pw\"\nsource = \"Acme\"",
        )
        .unwrap();
        assert!(c.problems().is_empty(), "{:?}", c.problems());
        let empty = Config::default().problems();
        assert!(empty.iter().any(|p| p.starts_with("host")));
        assert!(empty.iter().any(|p| p.starts_with("system_id")));
    }
}
