//! The network an end user's address is limited by.
//!
//! One host with IPv6 usually holds a whole /64 (SLAAC, privacy addresses), often a /56
//! or /48, and can pick a fresh address per request; limiting each address alone lets
//! it dodge a per-IP limit at will. So an IPv6 address counts as its /`prefix_len`
//! network (`limits.ipv6_prefix_len`, 64 by default), and an IPv4-mapped IPv6 address
//! (`::ffff:a.b.c.d`) counts as the IPv4 address it carries.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

/// A client address reduced to the network it is limited by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientNet {
    addr: IpAddr,
    prefix_len: u8,
}

impl ClientNet {
    /// The network of `ip`: an IPv4 address itself; an IPv6 address cut to its first
    /// `v6_prefix_len` bits (clamped to 1..=128).
    pub fn of(ip: IpAddr, v6_prefix_len: u8) -> Self {
        match ip.to_canonical() {
            IpAddr::V4(v4) => ClientNet {
                addr: IpAddr::V4(v4),
                prefix_len: 32,
            },
            IpAddr::V6(v6) => {
                let len = v6_prefix_len.clamp(1, 128);
                let mask = u128::MAX << (128 - u32::from(len));
                ClientNet {
                    addr: IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask)),
                    prefix_len: len,
                }
            }
        }
    }

    /// The network's first address: one value per network (the local shedder's key).
    pub fn addr(&self) -> IpAddr {
        self.addr
    }
}

/// `192.0.2.7` for IPv4, `2001:db8:1:2::/64` for an IPv6 network.
impl fmt::Display for ClientNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.addr {
            IpAddr::V4(a) => write!(f, "{a}"),
            IpAddr::V6(a) => write!(f, "{a}/{}", self.prefix_len),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(ip: &str, len: u8) -> String {
        ClientNet::of(ip.parse().unwrap(), len).to_string()
    }

    #[test]
    fn ipv6_counts_by_its_prefix_and_ipv4_by_itself() {
        assert_eq!(net("2001:db8:1:2:aaaa::1", 64), "2001:db8:1:2::/64");
        assert_eq!(net("2001:db8:1:2:ffff::9", 64), "2001:db8:1:2::/64");
        assert_ne!(net("2001:db8:1:3::1", 64), net("2001:db8:1:2::1", 64));
        assert_eq!(net("2001:db8:1:2ff::1", 56), "2001:db8:1:200::/56");
        assert_eq!(net("2001:db8:1:2ff::1", 56), net("2001:db8:1:200::9", 56));
        assert_eq!(net("2001:db8::1", 128), "2001:db8::1/128");
        assert_eq!(net("2001:db8::1", 0), "::/1", "clamped to at least /1");
        assert_eq!(net("192.0.2.7", 64), "192.0.2.7");
        assert_eq!(net("::ffff:192.0.2.7", 64), "192.0.2.7");
        assert_eq!(net("::ffff:c000:207", 56), "192.0.2.7");
    }
}
