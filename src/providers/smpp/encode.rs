//! A text to the `submit_sm`s that carry it: `data_coding`, the encoded octets, and
//! for a long text its parts (UDH, `sar_*` TLVs, or one `message_payload`).
//!
//! The encoding follows [`crate::domain::gsm::encoding_of`]: GSM-7 (`data_coding` 0)
//! when every character is in the GSM 03.38 default alphabet or its extension table,
//! UCS-2 (`data_coding` 8, UTF-16BE) otherwise. The octets and the split come from
//! rusmpp's encoders and concatenators (`Gsm7BitUnpacked`, `Ucs2`), which never cut an
//! escape pair or a surrogate pair; what rusmpp lacks is written here: packing GSM-7
//! septets (GSM 03.38 §6.1.2.1.1) for SMSCs that want them packed, the `sar_*` TLVs
//! (SMPP 3.4 §5.3.2.22–24), and `message_payload` (§5.3.2.32).
//!
//! Sizes: an unpacked GSM-7 `short_message` holds 160 septets (153 with a
//! concatenation header, whose 6 octets plus a fill bit take 7 septets on the air), a
//! UCS-2 one 140 octets (134 with the header). The SMSC packs unpacked GSM-7 for the
//! air; packed texts go 160 septets in 140 octets.

use super::config::Concatenation;
use crate::domain::gsm::{encoding_of, Encoding};
use rusmpp::extra::concatenation::{Concatenation as Split, Concatenator};
use rusmpp::extra::encoding::gsm7bit::Gsm7BitUnpacked;
use rusmpp::extra::encoding::ucs2::Ucs2;

/// One `submit_sm`'s text: what goes in `short_message` (or `message_payload`), the
/// UDH indicator and the `sar_*` values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// `short_message` octets, the UDH first when `udhi`.
    pub short_message: Vec<u8>,
    /// The whole text for the `message_payload` TLV (then `short_message` is empty).
    pub payload: Option<Vec<u8>>,
    /// Set `esm_class` bit 6 (UDH indicator).
    pub udhi: bool,
    /// `(sar_msg_ref_num, sar_total_segments, sar_segment_seqnum)`.
    pub sar: Option<(u16, u8, u8)>,
}

/// A text ready to submit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// `data_coding`: 0 (SMSC default alphabet, GSM-7 here) or 8 (UCS-2).
    pub data_coding: u8,
    /// One `submit_sm` each.
    pub parts: Vec<Part>,
}

/// Why a text cannot be sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the text cannot be encoded: {0}")]
pub struct EncodeError(String);

/// Packs GSM-7 septets (one per octet, high bit clear) 8 into 7 octets, the first
/// septet in the low bits of the first octet (GSM 03.38 §6.1.2.1.1).
pub fn pack(septets: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(septets.len() * 7 / 8 + 1);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &s in septets {
        acc |= u32::from(s & 0x7F) << bits;
        bits += 7;
        while bits >= 8 {
            out.push(acc as u8);
            acc >>= 8;
            bits -= 8;
        }
    }
    if bits > 0 {
        out.push(acc as u8);
    }
    out
}

/// The text's `data_coding` and its octets: whole, or split into segments.
fn split(text: &str, whole: bool) -> Result<(u8, Vec<Vec<u8>>), EncodeError> {
    let e = |e: &dyn std::fmt::Debug| EncodeError(format!("{e:?}"));
    let (split, dc) = match encoding_of(text) {
        Encoding::Gsm7 => {
            let (s, _) = Gsm7BitUnpacked::new()
                .concatenate(text, if whole { usize::MAX } else { 160 }, 7)
                .map_err(|x| e(&x))?;
            (s, 0)
        }
        Encoding::Ucs2 => {
            let (s, _) = Ucs2::new()
                .concatenate(text, if whole { usize::MAX } else { 140 }, 6)
                .map_err(|x| e(&x))?;
            (s, 8)
        }
    };
    Ok(match split {
        Split::Single(b) => (dc, vec![b]),
        Split::Concatenated(parts) => (dc, parts),
    })
}

/// The `submit_sm` texts for `text` under `how`, with `reference` as the concatenation
/// reference (its low byte in a UDH).
pub fn encode(
    text: &str,
    how: Concatenation,
    packed: bool,
    reference: u16,
) -> Result<Encoded, EncodeError> {
    let pack_if = |dc: u8, b: Vec<u8>| if packed && dc == 0 { pack(&b) } else { b };
    if how == Concatenation::Payload {
        let (dc, parts) = split(text, true)?;
        let whole = parts.concat();
        return Ok(Encoded {
            data_coding: dc,
            parts: vec![Part {
                short_message: Vec::new(),
                payload: Some(pack_if(dc, whole)),
                udhi: false,
                sar: None,
            }],
        });
    }
    let (dc, parts) = split(text, false)?;
    let total = u8::try_from(parts.len())
        .map_err(|_| EncodeError(format!("{} parts (255 at most)", parts.len())))?;
    let parts = if total == 1 {
        vec![Part {
            short_message: pack_if(dc, parts.into_iter().next().unwrap_or_default()),
            payload: None,
            udhi: false,
            sar: None,
        }]
    } else {
        parts
            .into_iter()
            .enumerate()
            .map(|(i, p)| {
                let seq = i as u8 + 1;
                match how {
                    Concatenation::Udh => {
                        let mut sm = vec![0x05, 0x00, 0x03, reference as u8, total, seq];
                        sm.extend_from_slice(&p);
                        Part {
                            short_message: sm,
                            payload: None,
                            udhi: true,
                            sar: None,
                        }
                    }
                    _ => Part {
                        short_message: pack_if(dc, p),
                        payload: None,
                        udhi: false,
                        sar: Some((reference, total, seq)),
                    },
                }
            })
            .collect()
    };
    Ok(Encoded {
        data_coding: dc,
        parts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_as_the_gsm_spec_example() {
        // "hellohello" packed, the classic example of GSM 03.38 packing.
        let septets: Vec<u8> = b"hellohello".to_vec();
        assert_eq!(hex::encode(pack(&septets)), "e8329bfd4697d9ec37");
    }

    #[test]
    fn one_segment_is_one_part_without_header() {
        let e = encode(&"a".repeat(160), Concatenation::Udh, false, 7).unwrap();
        assert_eq!((e.data_coding, e.parts.len()), (0, 1));
        assert!(!e.parts[0].udhi && e.parts[0].short_message.len() == 160);
        let e = encode(&"ç".repeat(70), Concatenation::Udh, false, 7).unwrap();
        assert_eq!((e.data_coding, e.parts.len()), (8, 1));
        assert_eq!(e.parts[0].short_message.len(), 140);
    }

    #[test]
    fn long_texts_split_with_udh_or_sar() {
        let e = encode(&"a".repeat(161), Concatenation::Udh, false, 0x1234).unwrap();
        assert_eq!(e.parts.len(), 2);
        assert_eq!(&e.parts[0].short_message[..6], &[5, 0, 3, 0x34, 2, 1]);
        assert_eq!(e.parts[0].short_message.len(), 6 + 153);
        assert!(e.parts[1].udhi);
        let e = encode(&"ç".repeat(71), Concatenation::Sar, false, 0x1234).unwrap();
        assert_eq!(e.parts.len(), 2);
        assert_eq!(e.parts[1].sar, Some((0x1234, 2, 2)));
        assert_eq!(e.parts[0].short_message.len(), 134);
    }

    #[test]
    fn payload_carries_the_whole_text() {
        let e = encode(&"a".repeat(400), Concatenation::Payload, true, 1).unwrap();
        assert_eq!(e.parts.len(), 1);
        assert_eq!(e.parts[0].payload.as_ref().unwrap().len(), 350);
        assert!(e.parts[0].short_message.is_empty());
    }
}
