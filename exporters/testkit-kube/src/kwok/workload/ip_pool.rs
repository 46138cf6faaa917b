//! Pod IPs out of the configured network, handed out fresh first.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use serde_json::Value;

/// Offsets into the pod network: `next` is the first never-used one, `free` holds
/// released ones for when the fresh ones run out.
pub(super) struct IpPool {
    base: u32,
    size: u32,
    next: u32,
    free: BTreeSet<u32>,
}

impl IpPool {
    pub(super) fn new(network: Ipv4Addr, prefix: u8) -> Self {
        let size = 1u64 << (32 - u32::from(prefix));
        Self {
            base: u32::from(network),
            size: size.min(u64::from(u32::MAX)) as u32,
            next: 1,
            free: BTreeSet::new(),
        }
    }

    /// Gives the pod's address back, if it came from this pool.
    pub(super) fn release(&mut self, pod: &Value) {
        let Some(ip) = pod.pointer("/status/podIP").and_then(Value::as_str) else {
            return;
        };
        if let Ok(ip) = ip.parse::<Ipv4Addr>() {
            let off = u32::from(ip).wrapping_sub(self.base);
            if off > 0 && off < self.next {
                self.free.insert(off);
            }
        }
    }

    /// Fresh addresses first: an address reused at once could still be in a delayed
    /// EndpointSlice view under its previous pod.
    pub(super) fn alloc(&mut self) -> Option<Ipv4Addr> {
        let off = if self.next < self.size.saturating_sub(1) {
            self.next += 1;
            self.next - 1
        } else {
            self.free.pop_first()?
        };
        Some(Ipv4Addr::from(self.base.wrapping_add(off)))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn fresh_addresses_come_first_then_released_ones() {
        // A /30 holds offsets 1 and 2 (0 is the network, 3 the broadcast).
        let mut pool = IpPool::new(Ipv4Addr::new(10, 0, 0, 0), 30);
        let a = pool.alloc().unwrap();
        let b = pool.alloc().unwrap();
        assert_eq!(
            (a, b),
            (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2))
        );
        assert_eq!(pool.alloc(), None, "a full pool has nothing to give");
        pool.release(&json!({"status": {"podIP": "10.0.0.1"}}));
        // Addresses from elsewhere, or never handed out, are not taken in.
        pool.release(&json!({"status": {"podIP": "192.168.0.1"}}));
        pool.release(&json!({"status": {}}));
        assert_eq!(pool.alloc(), Some(a));
        assert_eq!(pool.alloc(), None);
    }

    #[test]
    fn a_fresh_address_is_preferred_over_a_released_one() {
        let mut pool = IpPool::new(Ipv4Addr::new(10, 244, 0, 0), 16);
        let first = pool.alloc().unwrap();
        pool.release(&json!({"status": {"podIP": first.to_string()}}));
        assert_eq!(pool.alloc(), Some(Ipv4Addr::new(10, 244, 0, 2)));
    }
}
