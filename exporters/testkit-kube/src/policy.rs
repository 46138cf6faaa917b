//! PodDisruptionBudget arithmetic, shared by the eviction subresource and the controller
//! that keeps `PodDisruptionBudget.status` current.

use serde_json::{Value, json};

use crate::error::ApiError;
use crate::selectors::LabelSelector;

/// The numbers a PDB's status reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub expected_pods: i64,
    pub current_healthy: i64,
    pub desired_healthy: i64,
    pub disruptions_allowed: i64,
}

pub fn pod_is_ready(pod: &Value) -> bool {
    pod.pointer("/metadata/deletionTimestamp").is_none()
        && pod
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .is_some_and(|cs| {
                cs.iter().any(|c| {
                    c.get("type").and_then(Value::as_str) == Some("Ready")
                        && c.get("status").and_then(Value::as_str) == Some("True")
                })
            })
}

/// An IntOrString against a total: "50%" rounds up, as the disruption controller does.
fn scaled(v: &Value, total: i64) -> Result<i64, ApiError> {
    match v {
        Value::Number(n) => Ok(n.as_i64().unwrap_or(0)),
        Value::String(s) => {
            if let Some(p) = s.strip_suffix('%') {
                let pct: i64 = p
                    .trim()
                    .parse()
                    .map_err(|_| ApiError::invalid(format!("invalid percentage {s:?}")))?;
                Ok((pct * total + 99) / 100)
            } else {
                s.trim()
                    .parse()
                    .map_err(|_| ApiError::invalid(format!("invalid int-or-string {s:?}")))
            }
        }
        _ => Ok(0),
    }
}

/// Computes a PDB's budget over the pods of its namespace. `expected` is the sum of
/// the replicas of the workloads behind the matched pods (falls back to the pod count).
pub fn budget(pdb: &Value, pods: &[&Value], expected: Option<i64>) -> Result<Budget, ApiError> {
    let sel = LabelSelector::from_object(pdb.pointer("/spec/selector"))?;
    let matched: Vec<&&Value> = pods.iter().filter(|p| sel.matches_object(p)).collect();
    let expected_pods = expected.unwrap_or(matched.len() as i64);
    let current_healthy = matched.iter().filter(|p| pod_is_ready(p)).count() as i64;
    let desired_healthy = if let Some(min) = pdb.pointer("/spec/minAvailable") {
        scaled(min, expected_pods)?
    } else if let Some(max) = pdb.pointer("/spec/maxUnavailable") {
        (expected_pods - scaled(max, expected_pods)?).max(0)
    } else {
        0
    };
    Ok(Budget {
        expected_pods,
        current_healthy,
        desired_healthy,
        disruptions_allowed: (current_healthy - desired_healthy).max(0),
    })
}

impl Budget {
    pub fn status_json(&self, observed_generation: i64) -> Value {
        json!({
            "observedGeneration": observed_generation,
            "expectedPods": self.expected_pods,
            "currentHealthy": self.current_healthy,
            "desiredHealthy": self.desired_healthy,
            "disruptionsAllowed": self.disruptions_allowed,
            "conditions": [{
                "type": "DisruptionAllowed",
                "status": if self.disruptions_allowed > 0 { "True" } else { "False" },
                "reason": if self.disruptions_allowed > 0 { "SufficientPods" } else { "InsufficientPods" },
                "message": "",
                "observedGeneration": observed_generation,
                "lastTransitionTime": crate::store::now_time(),
            }],
        })
    }
}

/// The 429 an eviction gets when a budget forbids it, worded as the real server does.
pub fn eviction_refused(pdb_name: &str, b: &Budget) -> ApiError {
    ApiError::too_many_requests(
        "Cannot evict pod as it would violate the pod's disruption budget.",
        None,
    )
    .with_details(json!({
        "causes": [{
            "reason": "DisruptionBudget",
            "message": format!(
                "The disruption budget {pdb_name} needs {} healthy pods and has {} currently",
                b.desired_healthy, b.current_healthy
            ),
        }]
    }))
}

/// The Deployment behind a pod, read from its ReplicaSet owner reference
/// (`<deployment>-<template-hash>`).
pub fn owner_deployment(pod: &Value) -> Option<&str> {
    pod.pointer("/metadata/ownerReferences")?
        .as_array()?
        .iter()
        .find(|r| r.get("kind").and_then(Value::as_str) == Some("ReplicaSet"))?
        .get("name")?
        .as_str()?
        .rsplit_once('-')
        .map(|(d, _)| d)
}

/// The budget of `pdb` computed from the store's current pods and deployments.
pub fn budget_now(store: &crate::store::Store, ns: &str, pdb: &Value) -> Result<Budget, ApiError> {
    use crate::resources::{DEPLOYMENTS, PODS};
    let (pods, _) = store.list(&PODS, Some(ns));
    let pods: Vec<&Value> = pods.iter().map(|p| p.as_ref()).collect();
    let sel = LabelSelector::from_object(pdb.pointer("/spec/selector"))?;
    let mut owners: Vec<&str> = pods
        .iter()
        .filter(|p| sel.matches_object(p))
        .filter_map(|p| owner_deployment(p))
        .collect();
    owners.sort_unstable();
    owners.dedup();
    let expected = if owners.is_empty() {
        None
    } else {
        Some(
            owners
                .iter()
                .map(|d| {
                    store
                        .get(&DEPLOYMENTS, ns, d)
                        .and_then(|d| d.pointer("/spec/replicas").and_then(Value::as_i64))
                        .unwrap_or(1)
                })
                .sum(),
        )
    };
    budget(pdb, &pods, expected)
}
