//! Destination numbers: strict E.164 in, libphonenumber validation, masking for logs.

use crate::error::Error;
use std::fmt;

/// A destination number in normalised E.164 (`+` then 8..15 digits), known valid.
///
/// `Debug` and [`PhoneNumber::masked`] show only the country prefix and the last two
/// digits, so a number never reaches a log in full by accident.
#[derive(Clone)]
pub struct PhoneNumber {
    e164: String,
    region: Option<String>,
    /// libphonenumber's parse, kept from [`PhoneNumber::parse`] for the number type
    /// (`None` for a number read back from the store).
    parsed: Option<Box<phonenumber::PhoneNumber>>,
}

impl PartialEq for PhoneNumber {
    fn eq(&self, other: &Self) -> bool {
        self.e164 == other.e164
    }
}

impl Eq for PhoneNumber {}

impl std::hash::Hash for PhoneNumber {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.e164.hash(h)
    }
}

/// Longest input accepted before any parsing: `+` and 15 digits (ITU-T E.164).
const MAX_LEN: usize = 16;

impl PhoneNumber {
    /// Parses `+` and digits; the number must be possible and valid for its country.
    pub fn parse(input: &str) -> Result<Self, Error> {
        let bad = |why: &str| Error::InvalidPhoneNumber(format!("`to` {why}"));
        if input.is_empty() {
            return Err(bad("is empty"));
        }
        if input.len() > MAX_LEN {
            return Err(bad("is longer than E.164 allows (+ and at most 15 digits)"));
        }
        let Some(digits) = input.strip_prefix('+') else {
            return Err(bad("must be in E.164 form: + then country code and number"));
        };
        if digits.len() < 7 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("must be + followed by 7 to 15 digits"));
        }
        let parsed =
            phonenumber::parse(None, input).map_err(|_| bad("is not a possible number"))?;
        if !phonenumber::is_valid(&parsed) {
            return Err(bad("is not a valid number for its country"));
        }
        let e164 = parsed.format().mode(phonenumber::Mode::E164).to_string();
        let region = parsed.country().id().map(|id| id.as_ref().to_string());
        Ok(PhoneNumber {
            e164,
            region,
            parsed: Some(Box::new(parsed)),
        })
    }

    /// The full number, for the store and the provider only.
    pub fn as_str(&self) -> &str {
        &self.e164
    }

    /// ISO 3166 region of the number, when libphonenumber knows it.
    pub fn region(&self) -> Option<&str> {
        self.region.as_deref()
    }

    /// The number's type as libphonenumber classes it (`mobile`, `fixed_line`,
    /// `premium_rate`, …). +1 numbers come back `fixed_line_or_mobile`.
    pub fn number_type(&self) -> &'static str {
        use phonenumber::Type as T;
        let again;
        let p = match &self.parsed {
            Some(p) => &**p,
            None => match phonenumber::parse(None, &self.e164) {
                Ok(p) => {
                    again = p;
                    &again
                }
                Err(_) => return "unknown",
            },
        };
        match p.number_type(&phonenumber::metadata::DATABASE) {
            T::FixedLine => "fixed_line",
            T::Mobile => "mobile",
            T::FixedLineOrMobile => "fixed_line_or_mobile",
            T::TollFree => "toll_free",
            T::PremiumRate => "premium_rate",
            T::SharedCost => "shared_cost",
            T::PersonalNumber => "personal_number",
            T::Voip => "voip",
            T::Pager => "pager",
            T::Uan => "uan",
            T::Voicemail => "voicemail",
            _ => "unknown",
        }
    }

    /// Masked form for logs: `+1415*****23`.
    pub fn masked(&self) -> String {
        mask_number(&self.e164)
    }

    /// A number read back from the store, where it was written after [`Self::parse`]:
    /// not validated again. `region` is the one stored with it; a record written
    /// before regions were stored has none, and is parsed once for it.
    pub fn from_stored(e164: String, region: Option<String>) -> Self {
        let region = region.or_else(|| {
            phonenumber::parse(None, &e164)
                .ok()
                .and_then(|p| p.country().id().map(|id| id.as_ref().to_string()))
        });
        PhoneNumber {
            e164,
            region,
            parsed: None,
        }
    }

    /// The region for metrics and the ops page: its ISO 3166 code, or `unknown`.
    pub fn country(&self) -> &str {
        self.region.as_deref().unwrap_or("unknown")
    }

    /// Loads libphonenumber's metadata now rather than on the first request.
    pub fn warm_up() {
        let _ = PhoneNumber::parse("+14155550123");
    }
}

/// Masks any number-like string: keeps the first five characters and the last two.
pub fn mask_number(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() <= 7 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..5].iter().collect();
    let tail: String = chars[chars.len() - 2..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 7))
}

/// Masks every run of 7 or more digits (with its `+`, if any) in free text such as a
/// provider's error message, which may quote the destination number.
pub fn mask_digit_runs(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        let digits = run.trim_start_matches('+').len();
        out.push_str(&if digits >= 7 {
            mask_number(run)
        } else {
            run.clone()
        });
        run.clear();
    };
    for c in text.chars() {
        if c.is_ascii_digit() || (c == '+' && run.is_empty()) {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneNumber({})", self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digit_runs_of_seven_or_more_are_masked() {
        assert_eq!(
            mask_digit_runs("The 'To' number +14155550123 is invalid (error 21211)"),
            "The 'To' number +1415*****23 is invalid (error 21211)"
        );
        assert_eq!(mask_digit_runs("a+b 1234567 123456"), "a+b ******* 123456");
        assert_eq!(mask_digit_runs(""), "");
    }

    #[test]
    fn accepts_valid_numbers_and_normalises() {
        let n = PhoneNumber::parse("+14155550123").unwrap();
        assert_eq!(n.as_str(), "+14155550123");
        assert_eq!(n.region(), Some("US"));
        let de = PhoneNumber::parse("+4915123456789").unwrap();
        assert_eq!(de.region(), Some("DE"));
    }

    #[test]
    fn rejects_non_e164_and_impossible_numbers() {
        for bad in [
            "",
            "14155550123",
            "+1 415 555 0123",
            "+1415555012a",
            "+12",
            "+99912345678",
            "+1415555012345678",
            "+1234567890123456789012",
            "+10000000000",
            "＋14155550123",
        ] {
            assert!(
                matches!(PhoneNumber::parse(bad), Err(Error::InvalidPhoneNumber(_))),
                "{bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn a_stored_number_keeps_its_region_without_parsing() {
        let n = PhoneNumber::parse("+14155550188").unwrap();
        let back = PhoneNumber::from_stored(n.as_str().to_string(), n.region().map(str::to_string));
        assert_eq!(back, n);
        let old = PhoneNumber::from_stored("+447400123456".into(), None);
        assert_eq!(
            old.region(),
            Some("GB"),
            "a record without its region is parsed once"
        );
    }

    #[test]
    fn debug_and_masked_never_show_the_full_number() {
        let n = PhoneNumber::parse("+14155550123").unwrap();
        assert_eq!(n.masked(), "+1415*****23");
        assert!(!format!("{n:?}").contains("4155550123"));
    }
}
