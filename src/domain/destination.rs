//! Where a code goes: a phone number (SMS, WhatsApp, voice) or an email address, and the
//! channels a code can go by.
//!
//! A [`Destination`] answers the questions the rest of the gateway asks of a number
//! (`as_str`, `masked`, `region`, `country`) for both kinds, so limits, records and
//! logs treat them alike; what only a number has (number type, geo permissions, the
//! pumping guard's prefixes) is asked of [`Destination::phone`].

use super::{EmailAddress, PhoneNumber};
use crate::error::Error;
use std::fmt;

/// Delivery channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Channel {
    /// Text message.
    Sms,
    /// A WhatsApp message (an authentication template).
    Whatsapp,
    /// A phone call that speaks the code.
    Voice,
    /// An email.
    Email,
}

impl Channel {
    /// Every channel, in the API's order.
    pub const ALL: [Channel; 4] = [
        Channel::Sms,
        Channel::Whatsapp,
        Channel::Voice,
        Channel::Email,
    ];

    /// Parses the API's channel name.
    pub fn parse(s: &str) -> Result<Self, Error> {
        Self::from_name(s).ok_or_else(|| Error::UnsupportedChannel(s.chars().take(32).collect()))
    }

    /// The channel of a name, `None` for anything else.
    pub fn from_name(s: &str) -> Option<Self> {
        Channel::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// The API's channel name.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Sms => "sms",
            Channel::Whatsapp => "whatsapp",
            Channel::Voice => "voice",
            Channel::Email => "email",
        }
    }

    /// Whether the channel's destination is a phone number (all but email).
    pub fn is_phone(self) -> bool {
        self != Channel::Email
    }
}

/// A destination, parsed for its channel.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Destination {
    /// E.164 number (sms, whatsapp, voice).
    Phone(PhoneNumber),
    /// Email address (email).
    Email(EmailAddress),
}

impl Destination {
    /// Parses `to` by its shape: with an `@` an email address, else an E.164 number.
    pub fn parse(to: &str) -> Result<Self, Error> {
        if to.contains('@') {
            EmailAddress::parse(to).map(Destination::Email)
        } else {
            PhoneNumber::parse(to).map(Destination::Phone)
        }
    }

    /// Parses `to` as the kind `channel` sends to; the error says which kind was wanted.
    pub fn parse_for(channel: Channel, to: &str) -> Result<Self, Error> {
        let d = Self::parse(to)?;
        d.check_suits(channel)?;
        Ok(d)
    }

    /// Refuses a destination of the wrong kind for `channel`, saying which was wanted.
    pub fn check_suits(&self, channel: Channel) -> Result<(), Error> {
        match self {
            _ if self.suits(channel) => Ok(()),
            Destination::Email(_) => Err(Error::InvalidPhoneNumber(format!(
                "`to` is an email address, but channel `{}` sends to a phone number in E.164 form",
                channel.as_str()
            ))),
            Destination::Phone(_) => Err(Error::InvalidEmail(
                "`to` is a phone number, but channel `email` sends to an email address".into(),
            )),
        }
    }

    /// A destination read back from the store: an address has an `@`, a number never.
    pub fn from_stored(s: String, region: Option<String>) -> Self {
        if s.contains('@') {
            Destination::Email(EmailAddress::from_stored(s))
        } else {
            Destination::Phone(PhoneNumber::from_stored(s, region))
        }
    }

    /// Whether `channel` can send to this destination.
    pub fn suits(&self, channel: Channel) -> bool {
        matches!(self, Destination::Phone(_)) == channel.is_phone()
    }

    /// The full destination, for the store and the provider only.
    pub fn as_str(&self) -> &str {
        match self {
            Destination::Phone(p) => p.as_str(),
            Destination::Email(e) => e.as_str(),
        }
    }

    /// The form per-destination keys are made from (an address in lower case).
    pub fn key_form(&self) -> String {
        match self {
            Destination::Phone(p) => p.as_str().to_string(),
            Destination::Email(e) => e.key_form(),
        }
    }

    /// The number, for what only numbers have.
    pub fn phone(&self) -> Option<&PhoneNumber> {
        match self {
            Destination::Phone(p) => Some(p),
            Destination::Email(_) => None,
        }
    }

    /// The address.
    pub fn email(&self) -> Option<&EmailAddress> {
        match self {
            Destination::Email(e) => Some(e),
            Destination::Phone(_) => None,
        }
    }

    /// ISO 3166 region of a number; none for an address.
    pub fn region(&self) -> Option<&str> {
        self.phone().and_then(PhoneNumber::region)
    }

    /// The label for metrics and the ops page: a number's region (or `unknown`), and
    /// `email` for an address.
    pub fn country(&self) -> &str {
        match self {
            Destination::Phone(p) => p.country(),
            Destination::Email(_) => "email",
        }
    }

    /// Masked form for logs.
    pub fn masked(&self) -> String {
        match self {
            Destination::Phone(p) => p.masked(),
            Destination::Email(e) => e.masked(),
        }
    }
}

impl fmt::Debug for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Destination::Phone(p) => p.fmt(f),
            Destination::Email(e) => e.fmt(f),
        }
    }
}

impl From<PhoneNumber> for Destination {
    fn from(p: PhoneNumber) -> Self {
        Destination::Phone(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_channel_takes_its_kind_of_destination() {
        assert!(Destination::parse_for(Channel::Voice, "+14155550123").is_ok());
        assert!(Destination::parse_for(Channel::Email, "a@example.com").is_ok());
        assert!(matches!(
            Destination::parse_for(Channel::Sms, "a@example.com"),
            Err(Error::InvalidPhoneNumber(m)) if m.contains("email address")
        ));
        assert!(matches!(
            Destination::parse_for(Channel::Email, "+14155550123"),
            Err(Error::InvalidEmail(m)) if m.contains("phone number")
        ));
    }

    #[test]
    fn a_stored_destination_comes_back_as_its_kind() {
        let e = Destination::from_stored("a@example.com".into(), None);
        assert_eq!(e.country(), "email");
        assert!(e.suits(Channel::Email) && !e.suits(Channel::Sms));
        let p = Destination::from_stored("+14155550123".into(), Some("US".into()));
        assert_eq!(p.region(), Some("US"));
        assert!(p.suits(Channel::Whatsapp));
    }

    #[test]
    fn channel_names_round_trip_and_unknown_ones_are_refused() {
        for c in Channel::ALL {
            assert_eq!(Channel::parse(c.as_str()).unwrap(), c);
        }
        assert!(matches!(
            Channel::parse("pigeon"),
            Err(Error::UnsupportedChannel(_))
        ));
    }
}
