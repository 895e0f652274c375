//! The client's IP: the socket's, or X-Forwarded-For's when the socket is a trusted proxy.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

/// An IP network, written `10.0.0.0/8`, `fd00::/8`, or a bare address (one host).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                prefix_eq(&net.octets(), &ip.octets(), self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                prefix_eq(&net.octets(), &ip.octets(), self.prefix)
            }
            _ => false,
        }
    }
}

impl FromStr for IpNet {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not an IP address or CIDR range (e.g. 10.0.0.0/8)");
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p.parse::<u8>().map_err(|_| bad())?)),
            None => (s.trim(), None),
        };
        let addr = canonical(addr.parse::<IpAddr>().map_err(|_| bad())?);
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        if prefix > max {
            return Err(bad());
        }
        Ok(Self { addr, prefix })
    }
}

/// The proxies whose X-Forwarded-For is believed: a comma-separated list of `IpNet`s,
/// empty for none (so `CHATSDK_TRUSTED_PROXIES=` is the same as leaving it out).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(pub Vec<IpNet>);

impl FromStr for TrustedProxies {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        s.split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(str::parse)
            .collect::<Result<_, _>>()
            .map(Self)
    }
}

/// IPv4-mapped IPv6 (`::ffff:1.2.3.4`, what a dual-stack socket reports) as plain IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn prefix_eq(a: &[u8], b: &[u8], prefix: u8) -> bool {
    let (bytes, bits) = (usize::from(prefix / 8), prefix % 8);
    if a[..bytes] != b[..bytes] {
        return false;
    }
    bits == 0 || (a[bytes] ^ b[bytes]) >> (8 - bits) == 0
}

/// The client's address. `forwarded_for` holds the X-Forwarded-For values in order.
///
/// Only a socket peer inside `trusted` is believed; then the list is read from the right
/// (each proxy appends the address it saw), skipping trusted proxies, and the first other
/// address is the client. The leftmost entries are whatever the client chose to send, so
/// they are never taken while an untrusted hop stands to their right.
pub fn client_ip<'a>(
    peer: Option<SocketAddr>,
    forwarded_for: impl DoubleEndedIterator<Item = &'a str>,
    trusted: &[IpNet],
) -> Option<IpAddr> {
    let peer = canonical(peer?.ip());
    let is_trusted = |ip: IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(peer) {
        return Some(peer);
    }
    let mut client = peer;
    for entry in forwarded_for.rev().flat_map(|v| v.rsplit(',')) {
        let Some(ip) = parse_hop(entry) else {
            // A garbled entry: believe nothing to its left.
            break;
        };
        client = ip;
        if !is_trusted(ip) {
            break;
        }
    }
    Some(client)
}

/// One X-Forwarded-For entry: an address, possibly with a port (`1.2.3.4:5`, `[::1]:5`).
fn parse_hop(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    entry
        .parse::<IpAddr>()
        .or_else(|_| entry.parse::<SocketAddr>().map(|s| s.ip()))
        .ok()
        .map(canonical)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    const PEER: &str = "127.0.0.1:5000";

    #[test]
    fn cidrs_match_their_range_only() {
        let net: IpNet = "10.1.0.0/16".parse().unwrap();
        assert!(net.contains(ip("10.1.200.3")));
        assert!(!net.contains(ip("10.2.0.1")));
        assert!(net.contains(ip("::ffff:10.1.0.9")));
        let odd: IpNet = "192.168.0.0/23".parse().unwrap();
        assert!(odd.contains(ip("192.168.1.255")));
        assert!(!odd.contains(ip("192.168.2.0")));
        assert!("fd00::/8".parse::<IpNet>().unwrap().contains(ip("fd12::1")));
        assert!(
            "0.0.0.0/0"
                .parse::<IpNet>()
                .unwrap()
                .contains(ip("8.8.8.8"))
        );
        for bad in ["", "10.0.0.0/33", "nope", "10.0.0.0/x"] {
            assert!(bad.parse::<IpNet>().is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn trusted_proxies_parse_as_a_list_and_empty_means_none() {
        assert_eq!("".parse(), Ok(TrustedProxies::default()));
        let list: TrustedProxies = "10.0.0.0/8, 127.0.0.1".parse().unwrap();
        assert_eq!(list.0, nets(&["10.0.0.0/8", "127.0.0.1"]));
        assert!("10.0.0.0/8,nope".parse::<TrustedProxies>().is_err());
    }

    #[test]
    fn forwarded_for_is_ignored_unless_the_peer_is_trusted() {
        let got = client_ip(PEER.parse().ok(), ["203.0.113.9"].into_iter(), &[]);
        assert_eq!(got, Some(ip("127.0.0.1")));
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client() {
        let trusted = nets(&["127.0.0.1", "10.0.0.0/8"]);
        let headers = ["6.6.6.6, 203.0.113.9", "10.0.0.2"];
        let got = client_ip(PEER.parse().ok(), headers.into_iter(), &trusted);
        assert_eq!(
            got,
            Some(ip("203.0.113.9")),
            "a spoofed leftmost entry is skipped"
        );
    }

    #[test]
    fn a_trusted_peer_without_a_usable_header_is_the_client() {
        let trusted = nets(&["127.0.0.1"]);
        assert_eq!(
            client_ip(PEER.parse().ok(), std::iter::empty(), &trusted),
            Some(ip("127.0.0.1"))
        );
        assert_eq!(
            client_ip(PEER.parse().ok(), ["garbage"].into_iter(), &trusted),
            Some(ip("127.0.0.1"))
        );
        assert_eq!(
            client_ip(
                PEER.parse().ok(),
                ["[2001:db8::1]:443"].into_iter(),
                &trusted
            ),
            Some(ip("2001:db8::1"))
        );
    }
}
