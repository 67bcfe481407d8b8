//! Destination numbers: strict E.164 in, libphonenumber validation, masking for logs.

use crate::error::Error;
use std::fmt;

/// A destination number in normalised E.164 (`+` then 8..15 digits), known valid.
///
/// `Debug` and [`PhoneNumber::masked`] show only the country prefix and the last two
/// digits, so a number never reaches a log in full by accident.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PhoneNumber {
    e164: String,
    region: Option<String>,
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
        if let Some(n) = recent::get(input) {
            return Ok(n);
        }
        let parsed =
            phonenumber::parse(None, input).map_err(|_| bad("is not a possible number"))?;
        if !phonenumber::is_valid(&parsed) {
            return Err(bad("is not a valid number for its country"));
        }
        let e164 = parsed.format().mode(phonenumber::Mode::E164).to_string();
        let region = parsed.country().id().map(|id| id.as_ref().to_string());
        let n = PhoneNumber { e164, region };
        recent::put(input, &n);
        Ok(n)
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
        let Ok(p) = phonenumber::parse(None, &self.e164) else {
            return "unknown";
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

    /// Loads libphonenumber's metadata now rather than on the first request.
    pub fn warm_up() {
        let _ = PhoneNumber::parse("+14155550123");
    }
}

/// Numbers parsed recently. One verification parses the same number several times (the
/// start's input, the check's input, the stored number again for the country label), and
/// validation is the costliest step of a request: about 10 µs for a +1 number, whose
/// patterns are tried region by region across the NANP. Parsing is a pure function of
/// the input, so remembering a bounded number of valid results changes only the time.
mod recent {
    use super::PhoneNumber;
    use std::collections::{HashMap, VecDeque};
    use std::sync::{Mutex, OnceLock};

    const SHARDS: usize = 16;
    /// Entries per shard (8192 numbers in all, well under a megabyte).
    const PER_SHARD: usize = 512;

    #[derive(Default)]
    struct Shard {
        map: HashMap<String, PhoneNumber>,
        order: VecDeque<String>,
    }

    fn all() -> &'static [Mutex<Shard>; SHARDS] {
        static ALL: OnceLock<[Mutex<Shard>; SHARDS]> = OnceLock::new();
        ALL.get_or_init(|| std::array::from_fn(|_| Mutex::default()))
    }

    fn shard(input: &str) -> std::sync::MutexGuard<'static, Shard> {
        let h = input
            .bytes()
            .fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(b as usize));
        all()[h % SHARDS].lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn get(input: &str) -> Option<PhoneNumber> {
        shard(input).map.get(input).cloned()
    }

    pub(super) fn put(input: &str, n: &PhoneNumber) {
        let mut s = shard(input);
        if s.map.contains_key(input) {
            return;
        }
        if s.order.len() >= PER_SHARD {
            if let Some(old) = s.order.pop_front() {
                s.map.remove(&old);
            }
        }
        s.order.push_back(input.to_string());
        s.map.insert(input.to_string(), n.clone());
    }

    #[cfg(test)]
    pub(super) fn len() -> usize {
        all()
            .iter()
            .map(|m| m.lock().unwrap_or_else(|p| p.into_inner()).map.len())
            .sum()
    }
}

/// ISO 3166 region of a stored E.164 number, or `unknown` (metrics, ops page).
pub fn country_of(e164: &str) -> String {
    PhoneNumber::parse(e164)
        .ok()
        .and_then(|n| n.region().map(str::to_string))
        .unwrap_or_else(|| "unknown".into())
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
    fn a_remembered_number_parses_the_same_and_the_memory_is_bounded() {
        let first = PhoneNumber::parse("+14155550188").unwrap();
        let again = PhoneNumber::parse("+14155550188").unwrap();
        assert_eq!(first, again);
        assert_eq!(again.region(), Some("US"));
        for i in 0..10_000 {
            let _ = PhoneNumber::parse(&format!("+1415{}{:04}", 230 + i / 10_000, i));
        }
        assert!(recent::len() <= 16 * 512);
        assert!(
            PhoneNumber::parse("+10000000000").is_err(),
            "invalid input stays invalid"
        );
    }

    #[test]
    fn debug_and_masked_never_show_the_full_number() {
        let n = PhoneNumber::parse("+14155550123").unwrap();
        assert_eq!(n.masked(), "+1415*****23");
        assert!(!format!("{n:?}").contains("4155550123"));
    }
}
