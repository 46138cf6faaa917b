//! The fake nodes KWOK mode starts with: Ready, schedulable, roomy.

use serde_json::json;

use super::KwokConfig;
use crate::resources::NODES;
use crate::store::{Store, now_time};

pub(super) fn create(store: &Store, cfg: &KwokConfig) {
    for i in 0..cfg.nodes {
        let name = format!("{}{i}", cfg.node_prefix);
        let node = json!({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {
                "name": name,
                "labels": {
                    "kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                    "kubernetes.io/role": "agent", "type": "kwok",
                    "node.kubernetes.io/instance-type": "kwok",
                },
                "annotations": {"kwok.x-k8s.io/node": "fake"},
            },
            "spec": {"podCIDR": format!("{}/{}", cfg.pod_cidr, cfg.pod_cidr_prefix)},
            "status": {
                "phase": "Running",
                "addresses": [{"type": "InternalIP", "address": format!("10.0.{}.{}", i / 250, i % 250 + 1)}],
                "allocatable": {"cpu": "32", "memory": "256Gi", "pods": "1000"},
                "capacity": {"cpu": "32", "memory": "256Gi", "pods": "1000"},
                "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                "message": "kwok fake node", "lastHeartbeatTime": now_time(),
                                "lastTransitionTime": now_time()}],
                "nodeInfo": {"kubeletVersion": "fake", "architecture": "amd64", "operatingSystem": "linux"},
            },
        });
        if let Err(e) = store.upsert(&NODES, node) {
            tracing::warn!(error = %e, "creating a fake node failed");
        }
    }
}
