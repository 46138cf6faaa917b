//! One stream's view of a service: the endpoint set built from `add` / `remove` deltas
//! and `no_endpoints` (never the length of the last `add`: adds and removes are deltas,
//! and an add may repeat a known address whose metadata changed).

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};

use linkerd2_proxy_api::destination::{Update, update};
use linkerd2_proxy_api::net::TcpAddress;

/// What one update did to the set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Change {
    pub added: u32,
    pub removed: u32,
}

impl Change {
    pub fn endpoints(&self) -> u32 {
        self.added + self.removed
    }
}

/// IPv4 endpoints packed as `ip << 16 | port` (KWOK and most clusters: 8 bytes each);
/// anything else kept as a full address.
#[derive(Debug, Default)]
pub struct EndpointSet {
    v4: HashSet<u64>,
    other: HashSet<SocketAddr>,
    /// The last `no_endpoints` said whether the service exists.
    pub exists: Option<bool>,
}

enum Key {
    V4(u64),
    Other(SocketAddr),
}

fn key(a: &TcpAddress) -> Option<Key> {
    let sa: SocketAddr = (*a).try_into().ok()?;
    Some(match sa.ip() {
        IpAddr::V4(ip) => Key::V4((u64::from(u32::from(ip)) << 16) | u64::from(sa.port())),
        IpAddr::V6(_) => Key::Other(sa),
    })
}

impl EndpointSet {
    pub fn len(&self) -> usize {
        self.v4.len() + self.other.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn clear(&mut self) {
        self.v4.clear();
        self.other.clear();
        self.exists = None;
    }

    /// Every address in the set (for `--verify-endpoints`; not on the hot path).
    pub fn addrs(&self) -> impl Iterator<Item = SocketAddr> + '_ {
        self.v4
            .iter()
            .map(|k| {
                let ip = std::net::Ipv4Addr::from((k >> 16) as u32);
                SocketAddr::new(IpAddr::V4(ip), (k & 0xffff) as u16)
            })
            .chain(self.other.iter().copied())
    }

    pub fn contains(&self, a: &SocketAddr) -> bool {
        match a.ip() {
            IpAddr::V4(ip) => self
                .v4
                .contains(&((u64::from(u32::from(ip)) << 16) | u64::from(a.port()))),
            IpAddr::V6(_) => self.other.contains(a),
        }
    }

    fn insert(&mut self, k: Key) -> bool {
        match k {
            Key::V4(k) => self.v4.insert(k),
            Key::Other(a) => self.other.insert(a),
        }
    }

    fn remove(&mut self, k: Key) -> bool {
        match k {
            Key::V4(k) => self.v4.remove(&k),
            Key::Other(a) => self.other.remove(&a),
        }
    }

    /// Applies one update; addresses that do not parse are ignored.
    pub fn apply(&mut self, u: &Update) -> Change {
        let mut c = Change::default();
        match &u.update {
            Some(update::Update::Add(set)) => {
                for a in set.addrs.iter().filter_map(|w| w.addr.as_ref()) {
                    if let Some(k) = key(a)
                        && self.insert(k)
                    {
                        c.added += 1;
                    }
                }
                self.exists = Some(true);
            }
            Some(update::Update::Remove(set)) => {
                for a in &set.addrs {
                    if let Some(k) = key(a)
                        && self.remove(k)
                    {
                        c.removed += 1;
                    }
                }
            }
            Some(update::Update::NoEndpoints(ne)) => {
                c.removed = self.len() as u32;
                self.v4.clear();
                self.other.clear();
                self.exists = Some(ne.exists);
            }
            None => {}
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use linkerd2_proxy_api::destination::{AddrSet, NoEndpoints, WeightedAddr, WeightedAddrSet};

    fn addr(s: &str) -> TcpAddress {
        TcpAddress::from(s.parse::<SocketAddr>().unwrap())
    }

    fn add(addrs: &[&str]) -> Update {
        Update {
            update: Some(update::Update::Add(WeightedAddrSet {
                addrs: addrs
                    .iter()
                    .map(|a| WeightedAddr {
                        addr: Some(addr(a)),
                        weight: 10_000,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })),
        }
    }

    fn remove(addrs: &[&str]) -> Update {
        Update {
            update: Some(update::Update::Remove(AddrSet {
                addrs: addrs.iter().map(|a| addr(a)).collect(),
            })),
        }
    }

    fn none(exists: bool) -> Update {
        Update {
            update: Some(update::Update::NoEndpoints(NoEndpoints { exists })),
        }
    }

    #[test]
    fn deltas_build_the_set_not_the_last_message() {
        let mut s = EndpointSet::default();
        assert_eq!(
            s.apply(&add(&["10.0.0.1:80", "10.0.0.2:80", "[fd00::1]:80"])),
            Change {
                added: 3,
                removed: 0
            }
        );
        // A second add is a delta: the set grows to 4, not "the last add had 1".
        assert_eq!(s.apply(&add(&["10.0.0.3:80"])).added, 1);
        assert_eq!(s.len(), 4);
        // Re-adding a known address (metadata change) does not grow the set.
        assert_eq!(s.apply(&add(&["10.0.0.3:80"])).added, 0);
        assert_eq!(s.len(), 4);
        assert_eq!(
            s.apply(&remove(&["10.0.0.1:80", "[fd00::1]:80", "10.9.9.9:80"])),
            Change {
                added: 0,
                removed: 2
            }
        );
        assert_eq!(s.len(), 2);
        assert!(s.contains(&"10.0.0.2:80".parse().unwrap()));
        assert!(!s.contains(&"10.0.0.2:81".parse().unwrap()));
        let all: Vec<SocketAddr> = s.addrs().collect();
        assert_eq!(all.len(), 2);
        assert!(all.iter().all(|a| s.contains(a)), "{all:?}");
        assert_eq!(s.apply(&none(true)).removed, 2);
        assert!(s.is_empty());
        assert_eq!(s.exists, Some(true));
        s.apply(&none(false));
        assert_eq!(s.exists, Some(false));
        s.apply(&add(&["10.0.0.5:80"]));
        assert_eq!((s.len(), s.exists), (1, Some(true)));
    }
}
