//! Email destinations: a strict, bounded address parse (RFC 5321 sizes, a dot-atom
//! local part), internationalised domains turned into their ASCII form, masking for logs.

use crate::error::Error;
use std::fmt;

/// Longest address: RFC 5321 §4.5.3.1.3 (a path of 256 octets less its angle brackets).
pub const MAX_LEN: usize = 254;
/// Longest local part (RFC 5321 §4.5.3.1.1).
const MAX_LOCAL: usize = 64;

/// An email address, checked: a dot-atom local part of ASCII (`atext`, RFC 5322 §3.2.3),
/// `@`, and a domain of at least two labels whose ASCII form is a host name. A domain in
/// Unicode (`bücher.example`) is kept in its ASCII form (`xn--bcher-kva.example`); a
/// local part outside ASCII (which needs SMTPUTF8 from every relay) is refused.
///
/// `Debug` and [`EmailAddress::masked`] show the first character and the domain only.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

fn atext(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b)
}

impl EmailAddress {
    /// Parses and normalises (the domain lower-cased and in ASCII form).
    pub fn parse(input: &str) -> Result<Self, Error> {
        let bad = |why: &str| Error::InvalidEmail(format!("`to` {why}"));
        if input.is_empty() {
            return Err(bad("is empty"));
        }
        // a Unicode domain grows in ASCII form: bound the input before any work
        if input.len() > MAX_LEN * 2 {
            return Err(bad(
                "is longer than an email address can be (254 characters)",
            ));
        }
        let Some((local, domain)) = input.rsplit_once('@') else {
            return Err(bad("must be an email address (`name@example.com`)"));
        };
        if local.is_empty() || local.len() > MAX_LOCAL {
            return Err(bad(
                "must have a local part of 1 to 64 characters before `@`",
            ));
        }
        if !local.is_ascii() {
            return Err(bad(
                "has characters outside ASCII before `@`; such addresses are not supported",
            ));
        }
        let dot_atom = local
            .split('.')
            .all(|a| !a.is_empty() && a.bytes().all(atext));
        if !dot_atom {
            return Err(bad(
                "has a local part that is not a plain dot-atom (quoted parts, spaces and `..` are refused)",
            ));
        }
        let ascii = if domain.is_ascii() {
            domain.to_ascii_lowercase()
        } else {
            idna::domain_to_ascii_strict(domain)
                .map_err(|_| bad("has an international domain that does not convert to ASCII"))?
        };
        let labels: Vec<&str> = ascii.split('.').collect();
        let host = labels.len() >= 2
            && labels.iter().all(|l| {
                (1..=63).contains(&l.len())
                    && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    && !l.starts_with('-')
                    && !l.ends_with('-')
            })
            && labels
                .last()
                .is_some_and(|tld| tld.bytes().any(|b| b.is_ascii_alphabetic()));
        if !host {
            return Err(bad(
                "must end in a domain name such as `example.com` (address literals are refused)",
            ));
        }
        let addr = format!("{local}@{ascii}");
        if addr.len() > MAX_LEN {
            return Err(bad(
                "is longer than an email address can be (254 characters)",
            ));
        }
        Ok(EmailAddress(addr))
    }

    /// An address read back from the store, where it was written after [`Self::parse`].
    pub fn from_stored(s: String) -> Self {
        EmailAddress(s)
    }

    /// The full address, for the store and the provider only.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form the per-destination keys are made from: all lower case, so `Ann@x.org`
    /// and `ann@x.org` share their limits and their pending verification.
    pub fn key_form(&self) -> String {
        self.0.to_ascii_lowercase()
    }

    /// The domain (ASCII form).
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, d)| d)
    }

    /// Masked form for logs: `a***@example.com`.
    pub fn masked(&self) -> String {
        let first = self.0.chars().next().unwrap_or('*');
        format!("{first}***@{}", self.domain())
    }
}

impl fmt::Debug for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EmailAddress({})", self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_addresses_and_lowercases_the_domain() {
        let a = EmailAddress::parse("Ann.Lee+otp@Example.COM").unwrap();
        assert_eq!(a.as_str(), "Ann.Lee+otp@example.com");
        assert_eq!(a.key_form(), "ann.lee+otp@example.com");
        assert_eq!(a.masked(), "A***@example.com");
        assert!(!format!("{a:?}").contains("Lee"));
    }

    #[test]
    fn converts_an_international_domain_to_ascii() {
        let a = EmailAddress::parse("info@bücher.example").unwrap();
        assert_eq!(a.as_str(), "info@xn--bcher-kva.example");
    }

    #[test]
    fn refuses_what_is_not_a_plain_address() {
        let long_local = format!("{}@example.com", "a".repeat(65));
        let long_all = format!("a@{}.com", "b".repeat(60).repeat(5));
        for bad in [
            "",
            "ann",
            "@example.com",
            "ann@",
            "ann@localhost",
            "ann@[127.0.0.1]",
            "\"ann lee\"@example.com",
            "ann..lee@example.com",
            ".ann@example.com",
            "ann lee@example.com",
            "jöhn@example.com",
            "ann@-example.com",
            "ann@example.123",
            "ann@exa mple.com",
            "ann@example.com\r\nBcc: x@y.z",
            long_local.as_str(),
            long_all.as_str(),
        ] {
            assert!(
                matches!(EmailAddress::parse(bad), Err(Error::InvalidEmail(_))),
                "{bad:?} should be refused"
            );
        }
    }
}
