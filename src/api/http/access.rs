//! Who is calling: the client address behind trusted proxies, whether a request is
//! local, and the admin-key check shared by `/ops` and the admin API.
//!
//! The TCP peer is the client unless it is one of `server.trusted_proxies`. Then the
//! client comes from `Forwarded` (RFC 7239 `for=`) or, when there is none,
//! `X-Forwarded-For`, read from the right past every trusted proxy: the first hop that is
//! not one is the client. From any other peer both headers are ignored, since anyone can
//! send them.
//!
//! A request is *local* only when it came straight from a loopback peer with no proxy
//! involved. Behind a proxy on the same host (nginx, a mesh sidecar, socat) every request
//! arrives from 127.0.0.1, so once a loopback proxy is listed in `trusted_proxies` its
//! requests are never local, whatever the headers say. Local requests read the whole dev
//! outbox without a key and, in dev mode only, open `/ops` without an admin key; in
//! production `/ops` always needs an admin key.

use super::extract::bearer;
use crate::config::{Mode, TrustedProxies};
use crate::error::Error;
use crate::service::AdminKeys;
use axum::extract::ConnectInfo;
use axum::http::{request::Parts, HeaderMap};
use std::net::{IpAddr, SocketAddr};

/// Most forwarding hops looked at (the rightmost ones).
const MAX_HOPS: usize = 32;

/// The access policy of the HTTP listener.
#[derive(Debug, Clone)]
pub struct Access {
    admin: AdminKeys,
    proxies: TrustedProxies,
    /// Local callers open `/ops` without an admin key (dev mode).
    ops_local: bool,
}

/// Where a request came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Client {
    /// The client address; `None` when a proxy did not say (`unknown`, obfuscated,
    /// unreadable) or the connection's peer is not known.
    pub ip: Option<IpAddr>,
    /// The request came through a trusted proxy.
    pub proxied: bool,
}

impl Client {
    /// Straight from a loopback peer, no proxy involved.
    pub fn is_local(&self) -> bool {
        !self.proxied && self.ip.is_some_and(|ip| ip.to_canonical().is_loopback())
    }
}

impl Access {
    /// The policy of a gateway in `mode`.
    pub fn new(admin: AdminKeys, proxies: TrustedProxies, mode: Mode) -> Self {
        Access {
            admin,
            proxies,
            ops_local: mode == Mode::Dev,
        }
    }

    /// The client of a request whose TCP peer is `peer`.
    pub fn client(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> Client {
        let Some(peer) = peer.map(|p| p.to_canonical()) else {
            return Client {
                ip: None,
                proxied: false,
            };
        };
        if !self.proxies.contains(peer) {
            return Client {
                ip: Some(peer),
                proxied: false,
            };
        }
        let hops = forwarded_hops(headers);
        let mut leftmost = Some(peer);
        for hop in hops.iter().rev().take(MAX_HOPS) {
            match hop {
                Some(ip) if self.proxies.contains(*ip) => leftmost = Some(*ip),
                other => {
                    return Client {
                        ip: *other,
                        proxied: true,
                    }
                }
            }
        }
        Client {
            ip: leftmost,
            proxied: true,
        }
    }

    /// The client of a request, from its connection info and headers.
    pub fn client_of(&self, parts: &Parts) -> Client {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        self.client(peer, &parts.headers)
    }

    /// Whether `/ops` may open without an admin key.
    pub fn ops_open(&self, parts: &Parts) -> bool {
        self.ops_local && self.client_of(parts).is_local()
    }

    /// `401` without a bearer key, `403` when it is not an admin key.
    pub fn require_admin(&self, headers: &HeaderMap, what: &str) -> Result<(), Error> {
        match bearer(headers)? {
            None => Err(Error::Unauthorized(format!(
                "{what} needs `Authorization: Bearer <admin key>`"
            ))),
            Some(k) if self.admin.accepts(k) => Ok(()),
            Some(_) => Err(Error::Forbidden("this key is not an admin key".into())),
        }
    }
}

/// The forwarding chain, client first: `Forwarded` `for=` values when that header is
/// present, else `X-Forwarded-For`. A hop that is not an address is `None`.
fn forwarded_hops(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let mut hops = Vec::new();
    let forwarded: Vec<_> = headers.get_all("forwarded").iter().collect();
    if !forwarded.is_empty() {
        for v in forwarded {
            let Ok(v) = v.to_str() else {
                hops.push(None);
                continue;
            };
            for element in v.split(',') {
                let node = element.split(';').find_map(|pair| {
                    let (k, v) = pair.split_once('=')?;
                    k.trim().eq_ignore_ascii_case("for").then_some(v)
                });
                hops.push(node.and_then(parse_node));
            }
        }
        return hops;
    }
    for v in headers.get_all("x-forwarded-for") {
        match v.to_str() {
            Ok(v) => hops.extend(v.split(',').map(parse_node)),
            Err(_) => hops.push(None),
        }
    }
    hops
}

/// An address from a forwarding hop: `1.2.3.4`, `1.2.3.4:80`, `2001:db8::1`,
/// `[2001:db8::1]`, `[2001:db8::1]:80`, optionally quoted.
fn parse_node(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    let s = s
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(s);
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return Some(sa.ip().to_canonical());
    }
    let inner = s.strip_prefix('[')?.strip_suffix(']')?;
    inner.parse::<IpAddr>().ok().map(|ip| ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access(proxies: &[&str]) -> Access {
        let p = TrustedProxies(proxies.iter().map(|s| s.parse().unwrap()).collect());
        Access::new(AdminKeys::default(), p, Mode::Dev)
    }
    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }
    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn untrusted_peers_are_the_client_whatever_they_forward() {
        let a = access(&[]);
        let c = a.client(
            ip("127.0.0.1"),
            &headers(&[("x-forwarded-for", "203.0.113.9")]),
        );
        assert_eq!(c.ip, ip("127.0.0.1"));
        assert!(c.is_local());
        let c = a.client(
            ip("198.51.100.7"),
            &headers(&[("x-forwarded-for", "127.0.0.1")]),
        );
        assert_eq!(c.ip, ip("198.51.100.7"));
        assert!(!c.is_local());
        assert!(!a.client(None, &HeaderMap::new()).is_local());
    }

    #[test]
    fn trusted_proxies_are_walked_from_the_right() {
        let a = access(&["127.0.0.1", "10.0.0.0/8"]);
        let h = headers(&[("x-forwarded-for", "127.0.0.1, 203.0.113.9, 10.1.2.3")]);
        let c = a.client(ip("127.0.0.1"), &h);
        assert_eq!(
            c.ip,
            ip("203.0.113.9"),
            "a spoofed left entry is not believed"
        );
        assert!(c.proxied && !c.is_local());
        // Every hop a trusted proxy: still proxied, never local.
        let h = headers(&[("x-forwarded-for", "127.0.0.1")]);
        assert!(!a.client(ip("127.0.0.1"), &h).is_local());
        assert!(!a.client(ip("127.0.0.1"), &HeaderMap::new()).is_local());
    }

    #[test]
    fn forwarded_wins_over_x_forwarded_for_and_reads_rfc_7239_nodes() {
        let a = access(&["127.0.0.1"]);
        let h = headers(&[
            (
                "forwarded",
                "for=192.0.2.60;proto=https, for=\"[2001:db8:cafe::17]:4711\"",
            ),
            ("x-forwarded-for", "198.51.100.1"),
        ]);
        assert_eq!(a.client(ip("127.0.0.1"), &h).ip, ip("2001:db8:cafe::17"));
        let h = headers(&[("forwarded", "For=\"192.0.2.43:47011\"")]);
        assert_eq!(a.client(ip("127.0.0.1"), &h).ip, ip("192.0.2.43"));
        let h = headers(&[("forwarded", "for=unknown")]);
        let c = a.client(ip("127.0.0.1"), &h);
        assert_eq!((c.ip, c.proxied), (None, true));
        let h = headers(&[("forwarded", "for=_hidden, for=127.0.0.1")]);
        assert_eq!(a.client(ip("127.0.0.1"), &h).ip, None);
    }
}
