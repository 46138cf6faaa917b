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
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct EndpointSet {
    v4: HashSet<u64>,
    other: HashSet<SocketAddr>,
    /// The last `no_endpoints` said whether the service exists.
    pub exists: Option<bool>,
}

/// The addresses of one `add` or `remove`, sorted and without repeats: two streams that
/// received the same change (in any order) hold equal keys, which is what lets streams
/// share the set it leads to ([`crate::shared`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Keys {
    v4: Box<[u64]>,
    other: Box<[SocketAddr]>,
}

/// One update in canonical form (see [`Keys`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Delta {
    Add(Keys),
    Remove(Keys),
    NoEndpoints { exists: bool },
    Nothing,
}

fn pack(ip: std::net::Ipv4Addr, port: u16) -> u64 {
    (u64::from(u32::from(ip)) << 16) | u64::from(port)
}

impl Keys {
    /// Addresses that do not parse are left out.
    fn of<'a>(addrs: impl Iterator<Item = &'a TcpAddress>) -> Self {
        let mut v4 = Vec::new();
        let mut other = Vec::new();
        for a in addrs {
            let Ok(sa) = SocketAddr::try_from(*a) else {
                continue;
            };
            match sa.ip() {
                IpAddr::V4(ip) => v4.push(pack(ip, sa.port())),
                IpAddr::V6(_) => other.push(sa),
            }
        }
        v4.sort_unstable();
        v4.dedup();
        other.sort_unstable();
        other.dedup();
        Self {
            v4: v4.into(),
            other: other.into(),
        }
    }
}

impl Delta {
    pub fn of(u: &Update) -> Self {
        match &u.update {
            Some(update::Update::Add(set)) => {
                Delta::Add(Keys::of(set.addrs.iter().filter_map(|w| w.addr.as_ref())))
            }
            Some(update::Update::Remove(set)) => Delta::Remove(Keys::of(set.addrs.iter())),
            Some(update::Update::NoEndpoints(ne)) => Delta::NoEndpoints { exists: ne.exists },
            None => Delta::Nothing,
        }
    }
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
            IpAddr::V4(ip) => self.v4.contains(&pack(ip, a.port())),
            IpAddr::V6(_) => self.other.contains(a),
        }
    }

    /// Applies one update; addresses that do not parse are ignored.
    pub fn apply(&mut self, u: &Update) -> Change {
        self.apply_delta(&Delta::of(u))
    }

    /// Applies one update in canonical form.
    pub fn apply_delta(&mut self, d: &Delta) -> Change {
        let mut c = Change::default();
        match d {
            Delta::Add(k) => {
                c.added = k.v4.iter().filter(|a| self.v4.insert(**a)).count() as u32
                    + k.other.iter().filter(|a| self.other.insert(**a)).count() as u32;
                self.exists = Some(true);
            }
            Delta::Remove(k) => {
                c.removed = k.v4.iter().filter(|a| self.v4.remove(*a)).count() as u32
                    + k.other.iter().filter(|a| self.other.remove(*a)).count() as u32;
            }
            Delta::NoEndpoints { exists } => {
                c.removed = self.len() as u32;
                self.v4.clear();
                self.other.clear();
                self.exists = Some(*exists);
            }
            Delta::Nothing => {}
        }
        c
    }

    /// Shrinks the tables to their contents: a set shared by many streams is built once
    /// and then only read.
    pub fn shrink_to_fit(&mut self) {
        self.v4.shrink_to_fit();
        self.other.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_updates::{self as updates, none};

    fn addr(s: &str) -> TcpAddress {
        TcpAddress::from(s.parse::<SocketAddr>().unwrap())
    }

    fn add(addrs: &[&str]) -> Update {
        updates::add(addrs.iter().map(|a| addr(a)))
    }

    fn remove(addrs: &[&str]) -> Update {
        updates::remove(addrs.iter().map(|a| addr(a)))
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
