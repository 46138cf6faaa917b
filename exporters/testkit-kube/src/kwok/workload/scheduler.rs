//! The scheduler's stand-in: round-robin over Ready, schedulable nodes that match the
//! pod's nodeSelector.

use std::sync::Arc;

use serde_json::Value;

use super::Workload;
use crate::kwok::object::name_of;
use crate::resources::NODES;

impl Workload {
    pub(super) fn schedulable_nodes(&self, pod: &Value) -> Vec<Arc<Value>> {
        let (nodes, _) = self.store.list(&NODES, None);
        let selector = pod.pointer("/spec/nodeSelector");
        nodes
            .into_iter()
            .filter(|n| n.pointer("/spec/unschedulable").and_then(Value::as_bool) != Some(true))
            .filter(|n| {
                n.pointer("/status/conditions")
                    .and_then(Value::as_array)
                    .is_none_or(|cs| {
                        cs.iter().all(|c| {
                            c.get("type").and_then(Value::as_str) != Some("Ready")
                                || c.get("status").and_then(Value::as_str) == Some("True")
                        })
                    })
            })
            .filter(|n| {
                selector.and_then(Value::as_object).is_none_or(|sel| {
                    sel.iter().all(|(k, v)| {
                        n.pointer("/metadata/labels").and_then(|l| l.get(k)) == Some(v)
                    })
                })
            })
            .collect()
    }

    pub(super) fn pick_node(&mut self, pod: &Value) -> Option<String> {
        let nodes = self.schedulable_nodes(pod);
        if nodes.is_empty() {
            return None;
        }
        self.rr = self.rr.wrapping_add(1);
        Some(name_of(&nodes[self.rr % nodes.len()]).to_string())
    }
}
