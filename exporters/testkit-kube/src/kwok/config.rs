//! What the KWOK-like controllers are told: fake nodes, the pod network, delays.

use std::net::Ipv4Addr;
use std::time::Duration;

/// Settings of the KWOK-like controllers.
#[derive(Debug, Clone, PartialEq)]
pub struct KwokConfig {
    /// Fake nodes created at start (`<node_prefix><i>`).
    pub nodes: usize,
    pub node_prefix: String,
    /// Pod IPs are handed out from this network, fresh ones first.
    pub pod_cidr: Ipv4Addr,
    pub pod_cidr_prefix: u8,
    /// Scheduled pod -> Running/Ready.
    pub pod_ready_delay: Duration,
    /// Pod/Service change -> EndpointSlice change.
    pub endpoint_delay: Duration,
    pub max_endpoints_per_slice: usize,
}

impl Default for KwokConfig {
    fn default() -> Self {
        Self {
            nodes: 3,
            node_prefix: "kwok-node-".into(),
            pod_cidr: Ipv4Addr::new(10, 244, 0, 0),
            pod_cidr_prefix: 16,
            pod_ready_delay: Duration::ZERO,
            endpoint_delay: Duration::ZERO,
            max_endpoints_per_slice: 100,
        }
    }
}

impl KwokConfig {
    pub fn nodes(mut self, n: usize) -> Self {
        self.nodes = n;
        self
    }

    /// `"10.244.0.0/16"`; an unparsable value keeps the current CIDR.
    pub fn pod_cidr(mut self, cidr: &str) -> Self {
        if let Some((ip, prefix)) = cidr.split_once('/')
            && let (Ok(ip), Ok(prefix)) = (ip.parse::<Ipv4Addr>(), prefix.parse::<u8>())
            && prefix <= 30
        {
            self.pod_cidr = ip;
            self.pod_cidr_prefix = prefix;
        }
        self
    }

    pub fn pod_ready_delay(mut self, d: Duration) -> Self {
        self.pod_ready_delay = d;
        self
    }

    pub fn endpoint_delay(mut self, d: Duration) -> Self {
        self.endpoint_delay = d;
        self
    }

    pub fn max_endpoints_per_slice(mut self, n: usize) -> Self {
        self.max_endpoints_per_slice = n.max(1);
        self
    }
}
