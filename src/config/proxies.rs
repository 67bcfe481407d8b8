//! `server.trusted_proxies`: the reverse proxies whose `Forwarded` / `X-Forwarded-For`
//! headers are believed, parsed into address blocks when the config is loaded.
//!
//! Entries are an address (`127.0.0.1`, `::1`) or a CIDR block (`10.0.0.0/8`,
//! `fd00::/8`); anything else fails the load with the key named. How the headers are
//! read is in `api/http/access.rs`.

use serde::de::{self, Deserializer};
use serde::Deserialize;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// One address block: `addr/len`, or a single address (`len` 32 or 128).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct IpBlock {
    addr: IpAddr,
    len: u8,
}

impl IpBlock {
    /// Whether `ip` lies in the block (an IPv4-mapped IPv6 address counts as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                prefix_eq(u32::from(net) as u128, u32::from(ip) as u128, self.len, 32)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                prefix_eq(u128::from(net), u128::from(ip), self.len, 128)
            }
            _ => false,
        }
    }
}

fn prefix_eq(a: u128, b: u128, len: u8, bits: u8) -> bool {
    if len == 0 {
        return true;
    }
    let shift = u32::from(bits - len);
    (a >> shift) == (b >> shift)
}

impl FromStr for IpBlock {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("`{s}` is not an IP address or CIDR block such as 10.0.0.0/8");
        let (addr, len) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s, None),
        };
        let addr = IpAddr::from_str(addr).map_err(|_| bad())?.to_canonical();
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let len = match len {
            None => max,
            Some(l) if !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit()) => {
                l.parse::<u8>().ok().filter(|n| *n <= max).ok_or_else(bad)?
            }
            Some(_) => return Err(bad()),
        };
        Ok(IpBlock { addr, len })
    }
}

impl fmt::Debug for IpBlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

impl<'de> Deserialize<'de> for IpBlock {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.trim().parse().map_err(de::Error::custom)
    }
}

/// The trusted proxies; empty (the default) trusts none, so forwarding headers are
/// ignored and the TCP peer is the client.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct TrustedProxies(pub Vec<IpBlock>);

impl TrustedProxies {
    /// Whether `ip` is one of them.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|b| b.contains(ip))
    }

    /// True when none is configured.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(s: &str) -> IpBlock {
        s.parse().unwrap()
    }
    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn blocks_contain_their_addresses_only() {
        assert!(block("10.0.0.0/8").contains(ip("10.255.0.1")));
        assert!(!block("10.0.0.0/8").contains(ip("11.0.0.1")));
        assert!(block("127.0.0.1").contains(ip("127.0.0.1")));
        assert!(!block("127.0.0.1").contains(ip("127.0.0.2")));
        assert!(block("127.0.0.1").contains(ip("::ffff:127.0.0.1")));
        assert!(block("fd00::/8").contains(ip("fd12::1")));
        assert!(!block("fd00::/8").contains(ip("10.0.0.1")));
        assert!(block("0.0.0.0/0").contains(ip("203.0.113.9")));
        assert!(block("::1").contains(ip("::1")));
    }

    #[test]
    fn bad_entries_are_refused() {
        for s in [
            "",
            "localhost",
            "10.0.0.0/33",
            "::/129",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "1.2.3",
        ] {
            assert!(s.parse::<IpBlock>().is_err(), "{s}");
        }
    }
}
