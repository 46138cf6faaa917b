//! The faults, through the `kube` client: which objects are in scope (namespace, selector,
//! opt-in label), what each fault does, and how it is undone.

pub mod drain;
pub mod partition;
pub mod pod_kill;
pub mod recovery;
pub mod undo;

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Pod;

use crate::selector::{Requirement, Selector};

/// Label set on everything redline creates, so leftovers are easy to find.
pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "redline-chaos");

/// What a run may touch: one namespace, pods matching `pods` (which already includes the
/// opt-in label unless the user waived it), nodes carrying `opt_in`.
#[derive(Debug, Clone)]
pub struct Scope {
    pub namespace: String,
    pub pods: Selector,
    pub opt_in: Option<(String, String)>,
}

impl Scope {
    pub fn new(namespace: &str, selector: Selector, opt_in: Option<(String, String)>) -> Self {
        let pods = match &opt_in {
            Some((k, v)) => selector.with(Requirement::Eq(k.clone(), v.clone())),
            None => selector,
        };
        Self {
            namespace: namespace.to_string(),
            pods,
            opt_in,
        }
    }

    /// Narrows a user selector (partition sides) to opted-in pods.
    pub fn opted_in(&self, sel: &Selector) -> Selector {
        match &self.opt_in {
            Some((k, v)) => sel.clone().with(Requirement::Eq(k.clone(), v.clone())),
            None => sel.clone(),
        }
    }

    /// True when a node may be drained.
    pub fn node_allowed(&self, labels: Option<&BTreeMap<String, String>>) -> bool {
        match &self.opt_in {
            None => true,
            Some((k, v)) => labels.and_then(|l| l.get(k)) == Some(v),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WorkloadKind {
    Deployment,
    StatefulSet,
    DaemonSet,
}

/// The workload that owns a pod and replaces it when it goes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WorkloadRef {
    pub kind: WorkloadKind,
    pub name: String,
}

impl std::fmt::Display for WorkloadRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.kind {
            WorkloadKind::Deployment => "deployment",
            WorkloadKind::StatefulSet => "statefulset",
            WorkloadKind::DaemonSet => "daemonset",
        };
        write!(f, "{kind}/{}", self.name)
    }
}

/// The owning workload, from the controller owner reference. A ReplicaSet is resolved to
/// its Deployment through the `pod-template-hash` suffix of its name, which saves a read
/// (and the RBAC for ReplicaSets); a bare ReplicaSet has no workload clock.
pub fn owner_of(pod: &Pod) -> Option<WorkloadRef> {
    let owner = pod
        .metadata
        .owner_references
        .iter()
        .flatten()
        .find(|r| r.controller == Some(true))
        .or_else(|| pod.metadata.owner_references.iter().flatten().next())?;
    let kind = match owner.kind.as_str() {
        "StatefulSet" => WorkloadKind::StatefulSet,
        "DaemonSet" => WorkloadKind::DaemonSet,
        "ReplicaSet" => {
            let hash = pod.metadata.labels.as_ref()?.get("pod-template-hash")?;
            let deploy = owner.name.strip_suffix(&format!("-{hash}"))?;
            return Some(WorkloadRef {
                kind: WorkloadKind::Deployment,
                name: deploy.to_string(),
            });
        }
        _ => return None,
    };
    Some(WorkloadRef {
        kind,
        name: owner.name.clone(),
    })
}

pub fn pod_name(p: &Pod) -> String {
    p.metadata.name.clone().unwrap_or_default()
}

pub fn pod_uid(p: &Pod) -> String {
    p.metadata.uid.clone().unwrap_or_default()
}

pub fn is_terminating(p: &Pod) -> bool {
    p.metadata.deletion_timestamp.is_some()
}

pub fn is_ready(p: &Pod) -> bool {
    !is_terminating(p)
        && p.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// kube's error as an HTTP status, when the server answered.
pub fn api_code(e: &kube::Error) -> Option<u16> {
    match e {
        kube::Error::Api(s) => Some(s.code),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn owners_resolve_through_the_template_hash() {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "web-5d8f7c9b4d-x2x", "labels": {"pod-template-hash": "5d8f7c9b4d"},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                    "name": "web-5d8f7c9b4d", "uid": "u", "controller": true}]}
        }))
        .unwrap();
        assert_eq!(
            owner_of(&pod),
            Some(WorkloadRef {
                kind: WorkloadKind::Deployment,
                name: "web".into()
            })
        );
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "pg-0", "ownerReferences": [{"apiVersion": "apps/v1",
                "kind": "StatefulSet", "name": "pg", "uid": "u", "controller": true}]}
        }))
        .unwrap();
        assert_eq!(owner_of(&pod).unwrap().to_string(), "statefulset/pg");
        let bare: Pod = serde_json::from_value(json!({"metadata": {"name": "x"}})).unwrap();
        assert_eq!(owner_of(&bare), None);
    }

    #[test]
    fn scope_adds_the_opt_in_label() {
        let s = Scope::new(
            "shop",
            "app=web".parse().unwrap(),
            Some(("redline.dev/chaos".into(), "enabled".into())),
        );
        assert_eq!(s.pods.to_string(), "app=web,redline.dev/chaos=enabled");
        let mut l = BTreeMap::new();
        assert!(!s.node_allowed(Some(&l)));
        l.insert("redline.dev/chaos".to_string(), "enabled".to_string());
        assert!(s.node_allowed(Some(&l)));
        let open = Scope::new("shop", Selector::default(), None);
        assert!(open.node_allowed(None));
    }
}
