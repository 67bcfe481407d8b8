//! GSM 03.38 (GSM-7) detection and SMS segment counting.
//!
//! A message that uses only the GSM-7 basic set (extension characters count twice) fits
//! 160 characters in one segment and 153 per segment when split; anything else goes as
//! UCS-2: 70 per segment, 67 when split (counted in UTF-16 units).

/// How a message is encoded on the air.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// GSM 03.38 7-bit default alphabet.
    Gsm7,
    /// UCS-2 (UTF-16).
    Ucs2,
}

const BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const EXTENSION: &str = "^{}\\[~]|€\x0c";

/// Septets of each ASCII character (0: not in the alphabet), built from the two sets
/// above: an ASCII byte in UTF-8 text is always a whole ASCII character.
const ASCII: [u8; 128] = {
    let mut t = [0u8; 128];
    let (b, e) = (BASIC.as_bytes(), EXTENSION.as_bytes());
    let mut i = 0;
    while i < b.len() {
        if b[i] < 128 {
            t[b[i] as usize] = 1;
        }
        i += 1;
    }
    i = 0;
    while i < e.len() {
        if e[i] < 128 {
            t[e[i] as usize] = 2;
        }
        i += 1;
    }
    t
};

/// Septets a character takes in GSM-7, or `None` if it is not in the alphabet.
fn septets(c: char) -> Option<usize> {
    if c.is_ascii() {
        return match ASCII[c as usize] {
            0 => None,
            n => Some(n as usize),
        };
    }
    if BASIC.contains(c) {
        Some(1)
    } else if EXTENSION.contains(c) {
        Some(2)
    } else {
        None
    }
}

/// The encoding a message needs.
pub fn encoding_of(text: &str) -> Encoding {
    if text.chars().all(|c| septets(c).is_some()) {
        Encoding::Gsm7
    } else {
        Encoding::Ucs2
    }
}

/// Number of SMS segments the message takes.
pub fn segments(text: &str) -> usize {
    let (units, single, multi) = match encoding_of(text) {
        Encoding::Gsm7 => (text.chars().filter_map(septets).sum::<usize>(), 160, 153),
        Encoding::Ucs2 => (text.encode_utf16().count(), 70, 67),
    };
    if units <= single {
        1
    } else {
        units.div_ceil(multi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_segments_at_the_boundaries() {
        assert_eq!(segments(&"a".repeat(160)), 1);
        assert_eq!(segments(&"a".repeat(161)), 2);
        assert_eq!(segments(&"a".repeat(306)), 2);
        assert_eq!(segments(&"€".repeat(80)), 1);
        assert_eq!(segments(&"€".repeat(81)), 2);
        assert_eq!(segments(&"ç".repeat(70)), 1);
        assert_eq!(segments(&"ç".repeat(71)), 2);
    }

    #[test]
    fn ascii_table_agrees_with_the_alphabet() {
        for b in 0u8..128 {
            let c = char::from(b);
            let slow = if BASIC.contains(c) {
                Some(1)
            } else if EXTENSION.contains(c) {
                Some(2)
            } else {
                None
            };
            assert_eq!(septets(c), slow, "{b:#04x}");
        }
    }

    #[test]
    fn detects_encoding() {
        assert_eq!(encoding_of("Código 1234"), Encoding::Ucs2);
        assert_eq!(encoding_of("Your code is 1234 €"), Encoding::Gsm7);
        assert_eq!(encoding_of("Bestätigungscode"), Encoding::Gsm7);
    }
}
