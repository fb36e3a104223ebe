//! Who is on the other end: the client address and scheme, through trusted proxies only.
//!
//! `X-Forwarded-For`, `Forwarded` and `X-Forwarded-Proto` are claims anyone can send. They
//! are believed only when the TCP peer is inside a `--trusted-proxy` range; then the client
//! is the right-most address in the chain that is not itself a trusted proxy (every hop to
//! its right was appended by a proxy we trust; anything to its left was supplied by the
//! client and proves nothing). Without trusted proxies these headers change nothing.

use std::net::IpAddr;

use actix_web::HttpRequest;
use ipnet::IpNet;

pub struct Forwarding {
    trusted: Vec<IpNet>,
}

impl Forwarding {
    pub fn new(trusted: Vec<IpNet>) -> Forwarding {
        Forwarding { trusted }
    }

    fn trusts(&self, address: IpAddr) -> bool {
        self.trusted.iter().any(|range| range.contains(&address))
    }

    fn trusted_peer(&self, request: &HttpRequest) -> Option<IpAddr> {
        let peer = request.peer_addr()?.ip();
        self.trusts(peer).then_some(peer)
    }

    /// The client's address: the TCP peer, or behind a trusted proxy the address it reports.
    pub fn client_address(&self, request: &HttpRequest) -> IpAddr {
        let peer = request
            .peer_addr()
            .map(|peer| peer.ip())
            .unwrap_or(IpAddr::from([0, 0, 0, 0]));
        if !self.trusts(peer) {
            return peer;
        }
        let headers = request.headers();
        let x_forwarded_for: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .collect();
        if !x_forwarded_for.is_empty() {
            return self.walk_chain(peer, x_forwarded_for.iter().map(|hop| parse_hop(hop)));
        }
        let forwarded: Vec<&str> = headers
            .get_all("forwarded")
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .collect();
        if !forwarded.is_empty() {
            return self.walk_chain(
                peer,
                forwarded
                    .iter()
                    .map(|element| forwarded_parameter(element, "for").and_then(parse_hop)),
            );
        }
        peer
    }

    /// From the right: skip hops that are trusted proxies, stop at the first that is not.
    /// A hop that is not an address (`unknown`, an obfuscated name, garbage) ends the walk at
    /// the proxy that reported it, which is the last address we can vouch for.
    fn walk_chain(
        &self,
        peer: IpAddr,
        hops: impl DoubleEndedIterator<Item = Option<IpAddr>>,
    ) -> IpAddr {
        let mut vouched = peer;
        for hop in hops.rev() {
            match hop {
                Some(address) if self.trusts(address) => vouched = address,
                Some(address) => return address,
                None => return vouched,
            }
        }
        vouched
    }

    /// The scheme the client used, as a trusted proxy reports it (`X-Forwarded-Proto`, then
    /// `Forwarded: proto=`); `None` when no trusted proxy says.
    pub fn forwarded_scheme(&self, request: &HttpRequest) -> Option<String> {
        self.trusted_peer(request)?;
        let headers = request.headers();
        let proto = headers
            .get("x-forwarded-proto")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split(',').next_back())
            .map(str::to_owned)
            .or_else(|| {
                headers
                    .get("forwarded")
                    .and_then(|value| value.to_str().ok())
                    .and_then(|value| value.split(',').next_back())
                    .and_then(|element| forwarded_parameter(element, "proto"))
                    .map(str::to_owned)
            })?;
        let proto = proto.trim().to_ascii_lowercase();
        matches!(proto.as_str(), "http" | "https").then_some(proto)
    }
}

/// One hop of `X-Forwarded-For` or a `Forwarded` `for=` value: an address, maybe with a
/// port, maybe in brackets (RFC 7239 §6).
fn parse_hop(text: &str) -> Option<IpAddr> {
    let text = text.trim().trim_matches('"');
    if let Ok(address) = text.parse::<IpAddr>() {
        return Some(address);
    }
    if let Some(rest) = text.strip_prefix('[') {
        let (inside, _) = rest.split_once(']')?;
        return inside.parse().ok();
    }
    // IPv4 with a port.
    let (host, port) = text.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

/// The value of `name` in one `Forwarded` element (`for=1.2.3.4;proto=https`).
fn forwarded_parameter<'a>(element: &'a str, name: &str) -> Option<&'a str> {
    element.split(';').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then(|| value.trim().trim_matches('"'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn forwarding(ranges: &[&str]) -> Forwarding {
        Forwarding::new(ranges.iter().map(|range| range.parse().unwrap()).collect())
    }

    fn from(peer: &str, headers: &[(&str, &str)]) -> HttpRequest {
        let mut request = TestRequest::default().peer_addr(peer.parse().unwrap());
        for (name, value) in headers {
            request = request.append_header((*name, *value));
        }
        request.to_http_request()
    }

    fn address(forwarding: &Forwarding, peer: &str, headers: &[(&str, &str)]) -> String {
        forwarding.client_address(&from(peer, headers)).to_string()
    }

    #[test]
    fn headers_from_an_untrusted_peer_change_nothing() {
        let none = forwarding(&[]);
        let spoofed = [
            ("X-Forwarded-For", "1.2.3.4"),
            ("Forwarded", "for=1.2.3.4;proto=https"),
            ("X-Forwarded-Proto", "https"),
        ];
        assert_eq!(address(&none, "203.0.113.9:5000", &spoofed), "203.0.113.9");
        assert_eq!(
            none.forwarded_scheme(&from("203.0.113.9:5000", &spoofed)),
            None
        );
        let proxy = forwarding(&["10.0.0.0/8"]);
        assert_eq!(address(&proxy, "203.0.113.9:5000", &spoofed), "203.0.113.9");
    }

    #[test]
    fn the_right_most_untrusted_hop_is_the_client() {
        let proxy = forwarding(&["10.0.0.0/8", "::1/128"]);
        // The client claimed 6.6.6.6 itself; our proxy appended what it saw.
        let chain = [("X-Forwarded-For", "6.6.6.6, 198.51.100.7, 10.0.0.3")];
        assert_eq!(address(&proxy, "10.0.0.2:80", &chain), "198.51.100.7");
        // Repeated headers form one list.
        let split = [
            ("X-Forwarded-For", "6.6.6.6"),
            ("X-Forwarded-For", "198.51.100.7"),
        ];
        assert_eq!(address(&proxy, "10.0.0.2:80", &split), "198.51.100.7");
        // Every hop trusted: the left-most is as far as we can see.
        let inside = [("X-Forwarded-For", "10.1.1.1, 10.0.0.3")];
        assert_eq!(address(&proxy, "[::1]:80", &inside), "10.1.1.1");
        // Garbage stops the walk at the proxy that reported it.
        let junk = [("X-Forwarded-For", "198.51.100.7, not-an-address, 10.0.0.3")];
        assert_eq!(address(&proxy, "10.0.0.2:80", &junk), "10.0.0.3");
        assert_eq!(address(&proxy, "10.0.0.2:80", &[]), "10.0.0.2");
    }

    #[test]
    fn forwarded_header_and_scheme() {
        let proxy = forwarding(&["127.0.0.1/32"]);
        let forwarded = [(
            "Forwarded",
            "for=\"[2001:db8::1]:4711\";proto=https, for=127.0.0.1",
        )];
        assert_eq!(address(&proxy, "127.0.0.1:9", &forwarded), "2001:db8::1");
        let ported = [("X-Forwarded-For", "192.0.2.60:51234")];
        assert_eq!(address(&proxy, "127.0.0.1:9", &ported), "192.0.2.60");
        let request = from("127.0.0.1:9", &[("X-Forwarded-Proto", "HTTPS")]);
        assert_eq!(proxy.forwarded_scheme(&request).as_deref(), Some("https"));
        let request = from("127.0.0.1:9", &[("Forwarded", "for=192.0.2.1;proto=http")]);
        assert_eq!(proxy.forwarded_scheme(&request).as_deref(), Some("http"));
        let request = from("127.0.0.1:9", &[("X-Forwarded-Proto", "gopher")]);
        assert_eq!(proxy.forwarded_scheme(&request), None);
    }
}
