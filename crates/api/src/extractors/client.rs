//! `ClientIp`: the address of the client behind a request. It is the connection's peer, unless
//! the peer is one of `TRUSTED_PROXIES`: then `X-Forwarded-For` is read from the right (the
//! entry the proxy itself added) past every trusted proxy, and the first address that is not one
//! is the client. A client that is not a trusted proxy can write what it likes in the header: it
//! is then ignored.
//!
//! The peer comes from `ConnectInfo<SocketAddr>`, which the server's accept loop provides; a
//! request without it (a router test through `oneshot`) comes from `0.0.0.0`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use ipnet::IpNet;

use crate::error::ApiError;
use crate::state::AppState;

/// The proxies whose `X-Forwarded-For` is believed: addresses or networks (`10.0.0.0/8`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Arc<[IpNet]>);

impl std::str::FromStr for TrustedProxies {
    type Err = String;

    /// Comma-separated addresses or networks, e.g. `127.0.0.1,10.0.0.0/8,::1`.
    fn from_str(raw: &str) -> Result<Self, String> {
        let mut nets = Vec::new();
        for item in raw.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let net = match item.parse::<IpNet>() {
                Ok(net) => net.trunc(),
                Err(_) => item.parse::<IpAddr>().map(IpNet::from).map_err(|_| {
                    format!("{item:?} is not an address nor a network like 10.0.0.0/8")
                })?,
            };
            nets.push(net);
        }
        Ok(Self(nets.into()))
    }
}

impl TrustedProxies {
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The client behind a connection from `peer` that sent `headers`.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = canonical(peer);
        if !self.contains(client) {
            return client;
        }
        let forwarded = headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok());
        let entries: Vec<&str> = forwarded.flat_map(|v| v.split(',')).map(str::trim).collect();
        for entry in entries.into_iter().rev() {
            // Anything unreadable ends the chain: nothing left of it can be believed.
            let Some(ip) = parse_entry(entry) else { return client };
            client = canonical(ip);
            if !self.contains(client) {
                return client;
            }
        }
        client
    }
}

/// `1.2.3.4`, `2001:db8::1`, or either with a port (`1.2.3.4:5678`, `[2001:db8::1]:5678`).
fn parse_entry(entry: &str) -> Option<IpAddr> {
    entry.parse::<IpAddr>().ok().or_else(|| entry.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

/// An IPv4 address written as IPv6 (`::ffff:1.2.3.4`) is the IPv4 one.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The client's address (see the module's documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

impl ClientIp {
    /// The key the client is throttled by: its address, or for IPv6 its /64 network, which one
    /// subscriber usually holds whole.
    pub fn throttle_key(self) -> IpAddr {
        match self.0 {
            IpAddr::V6(v6) => {
                let network = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(Ipv6Addr::from(network))
            }
            v4 => v4,
        }
    }
}

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Ok(ClientIp(client_of(parts, &state.edge.proxies)))
    }
}

/// The client of the request whose parts are `parts`.
fn client_of(parts: &Parts, proxies: &TrustedProxies) -> IpAddr {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |info| info.0.ip());
    proxies.client(peer, &parts.headers)
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn ip(raw: &str) -> IpAddr {
        raw.parse().unwrap()
    }

    fn forwarded(values: &[&'static str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append("x-forwarded-for", HeaderValue::from_static(v));
        }
        headers
    }

    #[test]
    fn without_trusted_proxies_the_header_is_ignored() {
        let none = TrustedProxies::default();
        assert_eq!(none.client(ip("127.0.0.1"), &forwarded(&["203.0.113.9"])), ip("127.0.0.1"));
    }

    #[test]
    fn a_trusted_proxy_names_the_client_and_anything_left_of_it_is_not_believed() {
        let proxies: TrustedProxies = "127.0.0.1, 10.0.0.0/8".parse().unwrap();
        let headers = forwarded(&["198.51.100.7, 203.0.113.9", "10.1.2.3"]);
        // 10.1.2.3 is a trusted hop; 203.0.113.9 connected to it; 198.51.100.7 is only what
        // that client claimed.
        assert_eq!(proxies.client(ip("127.0.0.1"), &headers), ip("203.0.113.9"));
    }

    #[test]
    fn an_untrusted_peer_cannot_claim_another_address() {
        let proxies: TrustedProxies = "10.0.0.1".parse().unwrap();
        let headers = forwarded(&["203.0.113.9"]);
        assert_eq!(proxies.client(ip("192.0.2.1"), &headers), ip("192.0.2.1"));
    }

    #[test]
    fn a_garbled_entry_ends_the_chain_at_the_last_trusted_hop() {
        let proxies: TrustedProxies = "127.0.0.1".parse().unwrap();
        assert_eq!(proxies.client(ip("127.0.0.1"), &forwarded(&["nonsense"])), ip("127.0.0.1"));
        let with_port = forwarded(&["[2001:db8::1]:4711"]);
        assert_eq!(proxies.client(ip("127.0.0.1"), &with_port), ip("2001:db8::1"));
    }

    #[test]
    fn mapped_ipv4_is_ipv4_and_ipv6_is_throttled_by_its_64() {
        let proxies: TrustedProxies = "127.0.0.1".parse().unwrap();
        assert!(proxies.contains(ip("::ffff:127.0.0.1")));
        let v6 = ClientIp(ip("2001:db8:1:2:3:4:5:6"));
        assert_eq!(v6.throttle_key(), ip("2001:db8:1:2::"));
        assert_eq!(ClientIp(ip("192.0.2.1")).throttle_key(), ip("192.0.2.1"));
    }

    #[test]
    fn proxies_are_addresses_or_networks() {
        assert!("10.0.0.0/8,::1, 192.168.1.1".parse::<TrustedProxies>().is_ok());
        assert!("10.0.0.0/33".parse::<TrustedProxies>().is_err());
        assert!("nginx".parse::<TrustedProxies>().is_err());
    }
}
