//! Message ids in the form receipts name them. SMPP 3.4 has `submit_sm_resp`'s
//! `message_id` as free text (§4.4.2) but the text receipt's `id:` as "the message ID
//! allocated to the message by the SMSC when originally submitted" in up to 10 decimal
//! digits (Appendix B), and SMSCs differ: some answer `submit_sm` in hexadecimal and
//! write receipts in decimal, some the other way round. `receipt_id` says which; ids
//! are then kept in the receipts' form, as a number without leading zeros (decimal) or
//! in lower case (hexadecimal), on both sides: the id a send returns (and that receipts
//! are matched by), and the id a receipt names. The `receipted_message_id` TLV carries
//! the id as `submit_sm_resp` gave it and is converted like it. An id that does not
//! read as a number in the expected base is kept as it is.

use serde::Deserialize;

/// How the ids of text receipts relate to `submit_sm_resp` ids.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptId {
    /// The same text on both sides, matched as it is.
    #[default]
    Exact,
    /// `submit_sm_resp` in hexadecimal, receipts in decimal.
    HexToDec,
    /// `submit_sm_resp` in decimal, receipts in hexadecimal.
    DecToHex,
}

fn number(id: &str, radix: u32) -> Option<u128> {
    let t = id.trim();
    if t.is_empty() {
        return None;
    }
    u128::from_str_radix(t, radix).ok()
}

impl ReceiptId {
    /// A `submit_sm_resp` id (or a `receipted_message_id` TLV) in the receipts' form.
    pub fn submitted(self, id: &str) -> String {
        let converted = match self {
            ReceiptId::Exact => None,
            ReceiptId::HexToDec => number(id, 16).map(|n| n.to_string()),
            ReceiptId::DecToHex => number(id, 10).map(|n| format!("{n:x}")),
        };
        converted.unwrap_or_else(|| id.to_string())
    }

    /// A text receipt's `id:` in the same canonical form.
    pub fn received(self, id: &str) -> String {
        let canonical = match self {
            ReceiptId::Exact => None,
            ReceiptId::HexToDec => number(id, 10).map(|n| n.to_string()),
            ReceiptId::DecToHex => number(id, 16).map(|n| format!("{n:x}")),
        };
        canonical.unwrap_or_else(|| id.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::ReceiptId::*;

    #[test]
    fn both_sides_meet_in_the_receipts_form() {
        assert_eq!(HexToDec.submitted("0A1B2C3D"), "169552957");
        assert_eq!(HexToDec.received("0169552957"), "169552957");
        assert_eq!(DecToHex.submitted("169552957"), "a1b2c3d");
        assert_eq!(DecToHex.received("0A1B2C3D"), "a1b2c3d");
        assert_eq!(Exact.submitted("0A1B"), "0A1B");
        assert_eq!(Exact.received("0a1b"), "0a1b");
        assert_eq!(HexToDec.submitted("m-1"), "m-1", "not a number: as it is");
    }
}
