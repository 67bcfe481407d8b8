//! Who a code check comes from, as the caller names the end user: an IP address and/or
//! an opaque session. Failed checks are counted per (number, client) under these keys
//! (see `crate::service::admission::client_check_keys`), so an attacker's wrong codes
//! use up the attacker's quota, not the real user's.
//!
//! An IPv6 address counts by its network ([`IPV6_GROUP_PREFIX`] bits, a /64): one host
//! usually holds a whole /64 and can pick a new address in it per request, so keying by
//! the full address would give it 2^64 fresh quotas. IPv4 addresses (and IPv4-mapped
//! IPv6 ones) count by the address. [`ip_group`] is the one place that grouping is done.

use crate::error::{Error, Result};
use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

/// Prefix length an IPv6 client address is grouped by.
pub const IPV6_GROUP_PREFIX: u8 = 64;

/// The group an address counts in, as text: the IPv4 address itself, or the IPv6
/// network of `v6_prefix` bits (`2001:db8:1:2::/64`).
pub fn ip_group(ip: IpAddr, v6_prefix: u8) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let bits = u32::from(v6_prefix.min(128));
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            format!("{}/{bits}", Ipv6Addr::from(u128::from(v6) & mask))
        }
    }
}

/// Parses the `client_ip` of a request.
pub fn parse_client_ip(s: &str) -> Result<IpAddr> {
    s.parse()
        .map_err(|_| Error::InvalidRequest("`client_ip` must be an IPv4 or IPv6 address".into()))
}

/// An opaque identifier of the end user's session, 1..=255 visible ASCII characters.
/// Only its keyed hash is stored; `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientSession(String);

impl ClientSession {
    /// Parses the `client_session` of a request.
    pub fn parse(s: &str) -> Result<Self> {
        let ok = (1..=255).contains(&s.len()) && s.bytes().all(|b| (0x21..=0x7e).contains(&b));
        if !ok {
            return Err(Error::InvalidRequest(
                "`client_session` must be 1..255 visible ASCII characters".into(),
            ));
        }
        Ok(ClientSession(s.to_string()))
    }

    /// The identifier.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ClientSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSession(..)")
    }
}

/// The end user a check comes from; empty when the caller named no one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckClient {
    /// The end user's IP address.
    pub ip: Option<IpAddr>,
    /// The end user's session.
    pub session: Option<ClientSession>,
}

impl CheckClient {
    /// The (scope, value) of each key this client's failed checks count under: the IP's
    /// group (`ip`) and the session (`session`), whichever were given.
    pub fn keys(&self) -> Vec<(&'static str, String)> {
        let ip = self.ip.map(|ip| ("ip", ip_group(ip, IPV6_GROUP_PREFIX)));
        let session = self
            .session
            .as_ref()
            .map(|s| ("session", s.as_str().to_string()));
        ip.into_iter().chain(session).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(s: &str) -> String {
        ip_group(s.parse().unwrap(), IPV6_GROUP_PREFIX)
    }

    #[test]
    fn ipv6_addresses_group_by_their_64_and_ipv4_by_address() {
        assert_eq!(group("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(
            group("2001:db8:1:2:ffff:ffff:ffff:ffff"),
            "2001:db8:1:2::/64"
        );
        assert_ne!(group("2001:db8:1:3::1"), group("2001:db8:1:2::1"));
        assert_eq!(group("203.0.113.7"), "203.0.113.7");
        assert_ne!(group("203.0.113.7"), group("203.0.113.8"));
        assert_eq!(group("::ffff:203.0.113.7"), "203.0.113.7", "mapped IPv4");
        let ip = "2001:db8::1".parse().unwrap();
        assert_eq!(ip_group(ip, 128), "2001:db8::1/128");
        assert_eq!(ip_group(ip, 0), "::/0");
    }

    #[test]
    fn sessions_are_visible_ascii_and_never_shown() {
        assert!(ClientSession::parse("sess_42-abc").is_ok());
        for bad in ["", "a b", "é", "x\n", &"a".repeat(256)] {
            assert!(ClientSession::parse(bad).is_err(), "{bad:?}");
        }
        let s = ClientSession::parse("secret-session-id").unwrap();
        assert!(!format!("{s:?}").contains("secret"));
    }

    #[test]
    fn keys_name_what_was_given() {
        assert!(CheckClient::default().keys().is_empty());
        let c = CheckClient {
            ip: Some("2001:db8::5".parse().unwrap()),
            session: Some(ClientSession::parse("s1").unwrap()),
        };
        assert_eq!(
            c.keys(),
            [("ip", "2001:db8::/64".into()), ("session", "s1".into())]
        );
    }
}
