//! One-time codes: their length, their parsed form and their uniform derivation.

use crate::error::Error;
use std::fmt;

/// A code length in digits, 4..=10.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeLength(u8);

impl CodeLength {
    /// Shortest code accepted.
    pub const MIN: u8 = 4;
    /// Longest code accepted.
    pub const MAX: u8 = 10;

    /// Checks the range.
    pub fn new(n: i64) -> Result<Self, Error> {
        if (Self::MIN as i64..=Self::MAX as i64).contains(&n) {
            Ok(CodeLength(n as u8))
        } else {
            Err(Error::InvalidRequest(format!(
                "`code_length` must be between {} and {}",
                Self::MIN,
                Self::MAX
            )))
        }
    }

    /// Number of digits.
    pub fn get(self) -> u8 {
        self.0
    }

    /// Size of the code space, 10^n.
    pub fn space(self) -> u64 {
        10u64.pow(self.0 as u32)
    }
}

/// A code as typed by a user or derived for a message. `Debug` never shows the digits.
#[derive(Clone, PartialEq, Eq)]
pub struct OtpCode(String);

impl OtpCode {
    /// Parses user input: 4..10 ASCII digits, nothing else.
    pub fn parse(input: &str) -> Result<Self, Error> {
        let ok = (CodeLength::MIN as usize..=CodeLength::MAX as usize).contains(&input.len())
            && input.bytes().all(|b| b.is_ascii_digit());
        if ok {
            Ok(OtpCode(input.to_string()))
        } else {
            Err(Error::InvalidCodeFormat(format!(
                "`code` must be {} to {} digits",
                CodeLength::MIN,
                CodeLength::MAX
            )))
        }
    }

    /// Formats a number below 10^len with its leading zeros.
    pub fn from_value(value: u64, len: CodeLength) -> Self {
        debug_assert!(value < len.space());
        OtpCode(format!("{value:0width$}", width = len.get() as usize))
    }

    /// The digits, for the message body and the HMAC only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for OtpCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OtpCode(<redacted>)")
    }
}

/// Maps a stream of uniform 64-bit words onto `0..space` without bias.
///
/// Words at or above the largest multiple of `space` are rejected, so every residue is
/// equally likely. Returns `None` only if every word was rejected (odds below 2^-30 per
/// word for any code length, so callers simply draw more words).
pub fn uniform_below(words: impl IntoIterator<Item = u64>, space: u64) -> Option<u64> {
    let zone = u64::MAX - (u64::MAX % space);
    words.into_iter().find(|w| *w < zone).map(|w| w % space)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_accepts_only_4_to_10_digits() {
        assert!(OtpCode::parse("0123").is_ok());
        assert!(OtpCode::parse("0123456789").is_ok());
        for bad in [
            "",
            "123",
            "12345678901",
            "12a456",
            " 123456",
            "12345６",
            "-12345",
        ] {
            assert!(OtpCode::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn leading_zeros_are_kept() {
        let len = CodeLength::new(6).unwrap();
        assert_eq!(OtpCode::from_value(42, len).expose(), "000042");
    }

    #[test]
    fn code_length_range_is_enforced() {
        assert!(CodeLength::new(3).is_err());
        assert!(CodeLength::new(11).is_err());
        assert_eq!(CodeLength::new(10).unwrap().space(), 10_000_000_000);
    }

    #[test]
    fn uniform_below_rejects_the_biased_tail() {
        let space = 10u64.pow(6);
        let zone = u64::MAX - (u64::MAX % space);
        assert_eq!(uniform_below([zone, zone + 1, 7], space), Some(7));
        assert_eq!(uniform_below([u64::MAX], space), None);
    }

    #[test]
    fn debug_hides_the_digits() {
        let c = OtpCode::parse("123456").unwrap();
        assert!(!format!("{c:?}").contains("123456"));
    }
}
