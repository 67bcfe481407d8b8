//! Who a code check comes from, as the caller names the end user: an IP address and/or
//! an opaque session. Failed checks are counted per (number, client) under these keys
//! (see `crate::service::admission::client_check_keys`), so an attacker's wrong codes
//! use up the attacker's quota, not the real user's.
//!
//! An IP address counts as its [`ClientNet`] (an IPv6 address by its network, the
//! tenant's `limits.ipv6_prefix_len`, a /64 by default), the same grouping the per-IP
//! send limit uses: one host usually holds a whole /64 and can pick a new address in it
//! per request, so keying by the full address would give it 2^64 fresh quotas.

use super::ClientNet;
use crate::error::{Error, Result};
use std::fmt;
use std::net::IpAddr;

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
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CheckClient {
    /// The end user's IP address.
    pub ip: Option<IpAddr>,
    /// The end user's session.
    pub session: Option<ClientSession>,
    /// The caller's `risk_context`: an approval counts for the sources it names.
    pub risk: Option<super::RiskContext>,
}

impl CheckClient {
    /// The (scope, value) of each key this client's failed checks count under: the IP's
    /// network (`ip`, IPv6 cut to `v6_prefix_len` bits) and the session (`session`),
    /// whichever were given.
    pub fn keys(&self, v6_prefix_len: u8) -> Vec<(&'static str, String)> {
        let ip = self
            .ip
            .map(|ip| ("ip", ClientNet::of(ip, v6_prefix_len).to_string()));
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
        let c = CheckClient {
            ip: Some(s.parse().unwrap()),
            session: None,
            ..Default::default()
        };
        c.keys(64).remove(0).1
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
        assert!(CheckClient::default().keys(64).is_empty());
        let c = CheckClient {
            ip: Some("2001:db8::5".parse().unwrap()),
            session: Some(ClientSession::parse("s1").unwrap()),
            ..Default::default()
        };
        assert_eq!(
            c.keys(64),
            [("ip", "2001:db8::/64".into()), ("session", "s1".into())]
        );
    }
}
