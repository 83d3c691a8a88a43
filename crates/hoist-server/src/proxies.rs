//! Which address a request comes from, when reverse proxies stand in front: `X-Forwarded-For`
//! is believed only from the proxies the settings name, so that no caller can choose the
//! address its rate limit is counted under.

use std::net::IpAddr;

use http::HeaderMap;

/// The reverse proxies whose `X-Forwarded-For` is trusted: addresses or CIDR blocks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<(IpAddr, u8)>);

impl TrustedProxies {
    /// Reads `10.0.0.1`, `10.0.0.0/8`, `::1` or `fd00::/8` for each entry.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, String> {
        entries
            .iter()
            .map(|entry| {
                let entry = entry.as_ref().trim();
                let (addr, bits) = match entry.split_once('/') {
                    Some((addr, bits)) => (addr, Some(bits)),
                    None => (entry, None),
                };
                let addr: IpAddr = addr
                    .parse()
                    .map_err(|_| format!("{entry:?} is not an address or a CIDR block"))?;
                let max = if addr.is_ipv4() { 32 } else { 128 };
                let bits = match bits {
                    None => max,
                    Some(bits) => bits
                        .parse::<u8>()
                        .ok()
                        .filter(|b| *b <= max)
                        .ok_or_else(|| format!("{entry:?} has no valid prefix length"))?,
                };
                Ok((addr, bits))
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    /// Whether `ip` is one of the trusted proxies.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0
            .iter()
            .any(|(net, bits)| match (canonical(*net), ip) {
                (IpAddr::V4(net), IpAddr::V4(ip)) => prefix(
                    u128::from(u32::from(net)) << 96,
                    u128::from(u32::from(ip)) << 96,
                    *bits,
                ),
                (IpAddr::V6(net), IpAddr::V6(ip)) => prefix(u128::from(net), u128::from(ip), *bits),
                _ => false,
            })
    }

    /// The caller's address: the peer's, unless the peer is a trusted proxy; then the last
    /// address of `X-Forwarded-For` that is not a trusted proxy (each proxy appends the
    /// address it was reached from, so the ones to its left are the caller's word).
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.contains(peer) {
            return peer;
        }
        let mut hops: Vec<IpAddr> = Vec::new();
        for value in headers.get_all("x-forwarded-for") {
            let Ok(value) = value.to_str() else {
                return peer;
            };
            for hop in value.split(',') {
                match hop.trim().parse() {
                    Ok(ip) => hops.push(ip),
                    // A hop that does not read cannot be placed: stop at the last proxy.
                    Err(_) => return peer,
                }
            }
        }
        let mut client = peer;
        for hop in hops.into_iter().rev() {
            client = hop;
            if !self.contains(hop) {
                break;
            }
        }
        client
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn prefix(net: u128, ip: u128, bits: u8) -> bool {
    bits == 0 || (net ^ ip) >> (128 - u32::from(bits)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    #[test]
    fn parses_addresses_and_blocks() {
        let t = TrustedProxies::parse(&["10.0.0.0/8", "::1", "192.168.1.7"]).unwrap();
        assert!(t.contains("10.1.2.3".parse().unwrap()));
        assert!(t.contains("::ffff:10.1.2.3".parse().unwrap()));
        assert!(t.contains("::1".parse().unwrap()));
        assert!(t.contains("192.168.1.7".parse().unwrap()));
        assert!(!t.contains("192.168.1.8".parse().unwrap()));
        assert!(!t.contains("11.0.0.1".parse().unwrap()));
        assert!(TrustedProxies::parse(&["10.0.0.0/33"]).is_err());
        assert!(TrustedProxies::parse(&["proxy.local"]).is_err());
        assert!(
            TrustedProxies::parse(&["0.0.0.0/0"])
                .unwrap()
                .contains("8.8.8.8".parse().unwrap())
        );
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let t = TrustedProxies::parse(&["10.0.0.0/8"]).unwrap();
        let peer_proxy: IpAddr = "10.0.0.2".parse().unwrap();
        let stranger: IpAddr = "203.0.113.9".parse().unwrap();
        let h = headers(&["198.51.100.1, 10.0.0.5"]);
        assert_eq!(
            t.client(peer_proxy, &h),
            "198.51.100.1".parse::<IpAddr>().unwrap()
        );
        assert_eq!(t.client(stranger, &h), stranger);
        // A caller's own X-Forwarded-For entries left of the first untrusted hop are ignored.
        let h = headers(&["1.1.1.1", "198.51.100.1"]);
        assert_eq!(
            t.client(peer_proxy, &h),
            "198.51.100.1".parse::<IpAddr>().unwrap()
        );
        assert_eq!(t.client(peer_proxy, &headers(&[])), peer_proxy);
        assert_eq!(t.client(peer_proxy, &headers(&["garbage"])), peer_proxy);
        assert_eq!(TrustedProxies::default().client(peer_proxy, &h), peer_proxy);
    }
}
