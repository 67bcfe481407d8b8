//! What a `deliver_sm` from the SMSC is: a delivery receipt (to move
//! `delivery.status`), or a mobile-originated message (acknowledged and counted, never
//! processed: this gateway sends codes, it takes no replies).
//!
//! A receipt is a `deliver_sm` whose `esm_class` message type (bits 5–2) is "SMSC
//! Delivery Receipt" (`xx0001xx`) or "Intermediate Delivery Notification"
//! (`xx1000xx`) (SMPP 3.4 §5.2.12). Its message id and state come from the
//! `receipted_message_id` and `message_state` TLVs (§5.3.2.12, §5.3.2.35) when present,
//! else from the text of Appendix B, `id:IIIIIIIIII sub:SSS dlvrd:DDD submit date:YYMMDDhhmm
//! done date:YYMMDDhhmm stat:DDDDDDD err:E Text: …` (read in `short_message`, or in
//! `message_payload`). The id is matched as the SMSC wrote it to the one `submit_sm_resp`
//! returned. States:
//!
//! | `message_state` | `stat:` | delivery status |
//! |---|---|---|
//! | 2 `DELIVERED` | `DELIVRD` | `delivered` |
//! | 1 `ENROUTE`, 6 `ACCEPTED` | `ENROUTE`, `ACCEPTD` | `sent` |
//! | 3 `EXPIRED`, 5 `UNDELIVERABLE` | `EXPIRED`, `UNDELIV` | `undelivered` |
//! | 4 `DELETED`, 8 `REJECTED` | `DELETED`, `REJECTD` | `failed` |
//! | 0 `SCHEDULED`, 7 `UNKNOWN`, 9 `SKIPPED` | `UNKNOWN`, others | no change |

use crate::domain::DeliveryStatus;
use crate::providers::Receipt;

/// A `deliver_sm` as the session read it: the fields a receipt is read from.
#[derive(Debug, Default, Clone)]
pub struct Inbound {
    /// `esm_class`.
    pub esm_class: u8,
    /// `short_message`, or `message_payload` when `short_message` is empty.
    pub text: Vec<u8>,
    /// The `receipted_message_id` TLV.
    pub receipted_message_id: Option<String>,
    /// The `message_state` TLV.
    pub message_state: Option<u8>,
    /// The `network_error_code` TLV (3 octets: network type, error code).
    pub network_error: Option<String>,
}

/// What a `deliver_sm` was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A receipt with a state that moves `delivery.status`.
    Receipt(Receipt),
    /// A receipt whose state moves nothing (`UNKNOWN`, `SCHEDULED`), or that names no id.
    Ignored,
    /// A mobile-originated message (or an SME acknowledgement).
    MobileOriginated,
}

/// Our status for an SMPP `message_state`.
fn from_state(s: u8) -> Option<DeliveryStatus> {
    Some(match s {
        2 => DeliveryStatus::Delivered,
        1 | 6 => DeliveryStatus::Sent,
        3 | 5 => DeliveryStatus::Undelivered,
        4 | 8 => DeliveryStatus::Failed,
        _ => return None,
    })
}

/// Our status for a text receipt's `stat:`.
fn from_stat(s: &str) -> Option<DeliveryStatus> {
    from_state(match s.to_ascii_uppercase().as_str() {
        "DELIVRD" | "DELIVERED" => 2,
        "ENROUTE" => 1,
        "ACCEPTD" | "ACCEPTED" => 6,
        "EXPIRED" => 3,
        "UNDELIV" | "UNDELIVERABLE" => 5,
        "DELETED" => 4,
        "REJECTD" | "REJECTED" => 8,
        _ => return None,
    })
}

/// The value after `key:` in a text receipt (keys case-insensitive; `submit date` and
/// `done date` hold a space, so keys are found by name rather than by splitting).
fn field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let lower = text.to_ascii_lowercase();
    let mut from = 0;
    while let Some(at) = lower[from..].find(key) {
        let start = from + at;
        let boundary = start == 0 || lower.as_bytes()[start - 1] == b' ';
        let after = start + key.len();
        if boundary && lower.as_bytes().get(after) == Some(&b':') {
            let v = &text[after + 1..];
            return Some(v.split(' ').next().unwrap_or(""));
        }
        from = start + 1;
    }
    None
}

/// Reads a `deliver_sm`.
pub fn read(d: &Inbound) -> Kind {
    let message_type = (d.esm_class >> 2) & 0x0F;
    if message_type != 0b0001 && message_type != 0b1000 {
        return Kind::MobileOriginated;
    }
    // Text receipts are ASCII; anything else is read byte for byte.
    let text: String = d.text.iter().map(|&b| b as char).collect();
    let id = d
        .receipted_message_id
        .clone()
        .filter(|s| !s.is_empty())
        .or_else(|| field(&text, "id").map(str::to_string))
        .filter(|s| !s.is_empty());
    let status = match d.message_state {
        Some(s) => from_state(s),
        None => field(&text, "stat").and_then(from_stat),
    };
    let err = field(&text, "err")
        .filter(|e| !e.chars().all(|c| c == '0'))
        .map(|e| format!("err:{e}"))
        .or_else(|| d.network_error.clone());
    match (id, status) {
        (Some(message_id), Some(status)) => Kind::Receipt(Receipt {
            message_id,
            status,
            detail: err,
        }),
        _ => Kind::Ignored,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(esm: u8, t: &str) -> Inbound {
        Inbound {
            esm_class: esm,
            text: t.as_bytes().to_vec(),
            ..Inbound::default()
        }
    }

    #[test]
    fn text_receipts_of_appendix_b() {
        let t = "id:0123456789 sub:001 dlvrd:001 submit date:2612061200 done date:2612061201 stat:DELIVRD err:000 text:Your code";
        assert_eq!(
            read(&text(0x04, t)),
            Kind::Receipt(Receipt {
                message_id: "0123456789".into(),
                status: DeliveryStatus::Delivered,
                detail: None
            })
        );
        let t = "id:ab12 sub:001 dlvrd:000 submit date:2612061200 done date:2612061201 stat:UNDELIV err:034 text:";
        let Kind::Receipt(r) = read(&text(0x04, t)) else {
            panic!()
        };
        assert_eq!(r.status, DeliveryStatus::Undelivered);
        assert_eq!(r.detail.as_deref(), Some("err:034"));
        assert_eq!(read(&text(0x04, "id:1 stat:UNKNOWN")), Kind::Ignored);
    }

    #[test]
    fn tlvs_win_over_the_text() {
        let d = Inbound {
            esm_class: 0x04,
            text: b"id:other stat:DELIVRD".to_vec(),
            receipted_message_id: Some("m-1".into()),
            message_state: Some(8),
            network_error: None,
        };
        let Kind::Receipt(r) = read(&d) else { panic!() };
        assert_eq!(
            (r.message_id.as_str(), r.status),
            ("m-1", DeliveryStatus::Failed)
        );
    }

    #[test]
    fn other_message_types_are_mobile_originated() {
        assert_eq!(read(&text(0x00, "STOP")), Kind::MobileOriginated);
        assert_eq!(
            read(&text(0x08, "id:1 stat:DELIVRD")),
            Kind::MobileOriginated
        );
        assert!(matches!(
            read(&text(0x20, "id:1 stat:DELIVRD")),
            Kind::Receipt(_)
        ));
    }
}
