//! The Deployment and ReplicaSet controllers' stand-in: pods from templates, garbage
//! collection, Deployment status.

use std::sync::Arc;

use serde_json::{Value, json};

use super::Workload;
use crate::kwok::object::{carry_condition_times, name_of, owner_deployment, pod_is_ready, uid_of};
use crate::resources::{DEPLOYMENTS, PODS};
use crate::store::Part;

const TEMPLATE_HASH: &str = "pod-template-hash";

/// Stable 10-character hash of a pod template, in the alphabet of real
/// `pod-template-hash` labels.
fn template_hash(template: &Value) -> String {
    let s = serde_json::to_string(template).unwrap_or_default();
    // FNV-1a, 64 bit.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    (0..10)
        .map(|_| {
            let c = ALPHABET[(h % ALPHABET.len() as u64) as usize] as char;
            h /= ALPHABET.len() as u64;
            c
        })
        .collect()
}

impl Workload {
    pub(super) fn owned_pods(&self, ns: &str, deploy: &str) -> Vec<Arc<Value>> {
        let (pods, _) = self.store.list(&PODS, Some(ns));
        pods.into_iter()
            .filter(|p| owner_deployment(p) == Some(deploy))
            .collect()
    }

    pub(super) fn reconcile(&mut self, ns: &str, name: &str) {
        let Some(d) = self.store.get(&DEPLOYMENTS, ns, name) else {
            // Garbage collection of the Deployment's pods.
            for p in self.owned_pods(ns, name) {
                let _ = self.store.delete(&PODS, ns, name_of(&p), None);
            }
            return;
        };
        let desired = d
            .pointer("/spec/replicas")
            .and_then(Value::as_i64)
            .unwrap_or(1)
            .max(0) as usize;
        let template = d
            .pointer("/spec/template")
            .cloned()
            .unwrap_or_else(|| json!({}));
        let hash = template_hash(&template);
        let pods = self.owned_pods(ns, name);
        let (mut current, old): (Vec<_>, Vec<_>) = pods.into_iter().partition(|p| {
            p.pointer(&format!("/metadata/labels/{TEMPLATE_HASH}"))
                .and_then(Value::as_str)
                == Some(hash.as_str())
        });
        for p in old {
            let _ = self.store.delete(&PODS, ns, name_of(&p), None);
        }
        if current.len() > desired {
            // Unready pods go first, then the newest (uids are issued in order).
            current.sort_by(|a, b| (pod_is_ready(a), uid_of(b)).cmp(&(pod_is_ready(b), uid_of(a))));
            for p in current.drain(..current.len() - desired) {
                let _ = self.store.delete(&PODS, ns, name_of(&p), None);
            }
        }
        for _ in current.len()..desired {
            self.create_pod(ns, name, &d, &template, &hash);
        }
        self.update_deployment_status(ns, name, &hash, desired);
    }

    pub(super) fn create_pod(
        &mut self,
        ns: &str,
        deploy: &str,
        d: &Value,
        template: &Value,
        hash: &str,
    ) {
        let rs = format!("{deploy}-{hash}");
        let mut labels = template
            .pointer("/metadata/labels")
            .cloned()
            .unwrap_or_else(|| json!({}));
        if !labels.is_object() {
            labels = json!({});
        }
        labels[TEMPLATE_HASH] = json!(hash);
        let mut meta = json!({
            "namespace": ns,
            "labels": labels,
            "ownerReferences": [{
                "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs,
                "uid": format!("rs-{}", uid_of(d)), "controller": true, "blockOwnerDeletion": true,
            }],
        });
        if let Some(a) = template.pointer("/metadata/annotations") {
            meta["annotations"] = a.clone();
        }
        let mut spec = template.get("spec").cloned().unwrap_or_else(|| json!({}));
        if !spec.is_object() {
            spec = json!({});
        }
        let probe = json!({"spec": spec.clone()});
        if let Some(node) = self.pick_node(&probe) {
            spec["nodeName"] = json!(node);
        }
        let seq = self
            .pod_seq
            .entry((ns.to_string(), deploy.to_string()))
            .or_insert(0);
        // Names are never reused, like the random suffixes of real pods.
        loop {
            let name = format!("{rs}-{}", *seq);
            *seq += 1;
            if self.store.get(&PODS, ns, &name).is_some() {
                continue;
            }
            meta["name"] = json!(name);
            let pod = json!({
                "apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec,
                "status": {"phase": "Pending", "qosClass": "BestEffort"},
            });
            if let Err(e) = self.store.create(&PODS, ns, pod, Part::Any) {
                tracing::warn!(error = %e, "kwok could not create a pod");
            }
            return;
        }
    }

    pub(super) fn update_deployment_status(
        &self,
        ns: &str,
        name: &str,
        hash: &str,
        desired: usize,
    ) {
        let pods = self.owned_pods(ns, name);
        let replicas = pods.len() as i64;
        let updated = pods
            .iter()
            .filter(|p| {
                p.pointer(&format!("/metadata/labels/{TEMPLATE_HASH}"))
                    .and_then(Value::as_str)
                    == Some(hash)
            })
            .count() as i64;
        let ready = pods.iter().filter(|p| pod_is_ready(p)).count() as i64;
        let desired = desired as i64;
        let _ = self.store.modify(&DEPLOYMENTS, ns, name, Part::Status, |old| {
            let mut status = serde_json::Map::new();
            status.insert(
                "observedGeneration".into(),
                old.pointer("/metadata/generation").cloned().unwrap_or(json!(1)),
            );
            // Zero counts are omitted, as the real server's omitempty does.
            for (k, v) in [
                ("replicas", replicas),
                ("updatedReplicas", updated),
                ("readyReplicas", ready),
                ("availableReplicas", ready),
                ("unavailableReplicas", (desired - ready).max(0)),
            ] {
                if v != 0 {
                    status.insert(k.into(), json!(v));
                }
            }
            let available = ready >= desired;
            let complete = updated == desired && ready == desired && replicas == desired;
            let mut conditions = vec![
                json!({"type": "Available", "status": if available { "True" } else { "False" },
                       "reason": if available { "MinimumReplicasAvailable" } else { "MinimumReplicasUnavailable" },
                       "message": if available { "Deployment has minimum availability." } else { "Deployment does not have minimum availability." },
                       "lastUpdateTime": null, "lastTransitionTime": null}),
                json!({"type": "Progressing", "status": "True",
                       "reason": if complete { "NewReplicaSetAvailable" } else { "ReplicaSetUpdated" },
                       "message": format!("ReplicaSet \"{name}-{hash}\" is progressing."),
                       "lastUpdateTime": null, "lastTransitionTime": null}),
            ];
            carry_condition_times(old.pointer("/status/conditions"), &mut conditions);
            status.insert("conditions".into(), Value::Array(conditions));
            let mut new = (*old).clone();
            new["status"] = Value::Object(status);
            Ok(new)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_hash_is_stable_and_sensitive() {
        let a = json!({"metadata": {"labels": {"app": "a"}}});
        let b = json!({"metadata": {"labels": {"app": "b"}}});
        assert_eq!(template_hash(&a), template_hash(&a));
        assert_ne!(template_hash(&a), template_hash(&b));
        assert_eq!(template_hash(&a).len(), 10);
    }
}
