//! A workload and its per-pod requests and limits, extracted from one object the same
//! way whether it came from a manifest file ([`crate::manifests`]) or the cluster
//! ([`crate::cluster`]), so both give the same numbers.

use std::collections::BTreeMap;
use std::path::PathBuf;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::core::{Selector, SelectorExt};
use serde_json::Value;

use crate::error::FitError;
use crate::quantity;

/// One workload's pod: what the scheduler reserves (requests) and the cap (limits).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Workload {
    pub kind: String,
    /// None for a manifest object without one (it lands in whatever namespace it is
    /// applied to).
    pub namespace: Option<String>,
    pub name: String,
    pub replicas: u64,
    pub cpu_request_millis: u64,
    pub memory_request_bytes: u64,
    /// None when a container has no limit: the pod is unbounded.
    pub cpu_limit_millis: Option<u64>,
    pub memory_limit_bytes: Option<u64>,
    #[serde(skip)]
    pub labels: BTreeMap<String, String>,
    /// `spec.selector`: which pods are this workload's, to add up their actual usage.
    #[serde(skip)]
    pub pod_selector: Option<Selector>,
}

/// Where a document came from, for error messages.
#[derive(Debug, Clone)]
pub struct Origin {
    pub file: PathBuf,
    /// First line of the document (1-based).
    pub line: usize,
    /// The document's text, to find the line of a bad value.
    pub text: String,
}

impl Origin {
    fn line_of(&self, needle: &str) -> usize {
        self.text
            .lines()
            .position(|l| !needle.is_empty() && l.contains(needle))
            .map_or(self.line, |i| self.line + i)
    }

    fn error(&self, field: String, needle: &str, message: String) -> FitError {
        FitError::Manifest {
            file: self.file.clone(),
            line: self.line_of(needle),
            field,
            message,
        }
    }
}

const KINDS: &[&str] = &["Deployment", "StatefulSet", "DaemonSet"];

/// Whether the object is of a kind fit counts.
pub fn is_workload(obj: &Value) -> bool {
    obj.get("kind")
        .and_then(Value::as_str)
        .is_some_and(|k| KINDS.contains(&k))
}

/// The sum over containers, or the largest init container if that is more; restartable
/// init containers (sidecars) run alongside and add to the sum. This is the scheduler's
/// "effective request" of a pod.
fn pod_resources(
    spec: &Value,
    kind: &str,
    resource: &str,
    parse: fn(&str) -> Result<u64, String>,
    origin: Option<&Origin>,
    path: &str,
) -> Result<Option<u64>, FitError> {
    let mut sum = Some(0u64);
    let mut init_max = Some(0u64);
    for list in ["containers", "initContainers"] {
        let Some(cs) = spec.get(list).and_then(Value::as_array) else {
            continue;
        };
        for (i, c) in cs.iter().enumerate() {
            let res = c.get("resources");
            let read = |which: &str| -> Result<Option<u64>, FitError> {
                let Some(v) = res.and_then(|r| r.get(which)).and_then(|r| r.get(resource)) else {
                    return Ok(None);
                };
                let raw = match v {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    other => other.to_string(),
                };
                parse(&raw).map(Some).map_err(|message| {
                    let field = format!("{path}.{list}[{i}].resources.{which}.{resource}");
                    match origin {
                        Some(o) => o.error(field, &raw, message),
                        None => FitError::Cluster {
                            object: field,
                            message,
                        },
                    }
                })
            };
            let value = match kind {
                // A container with a limit but no request is given the limit as request.
                "requests" => match read("requests")? {
                    Some(v) => Some(v),
                    None => Some(read("limits")?.unwrap_or(0)),
                },
                _ => read("limits")?,
            };
            let sidecar = list == "initContainers"
                && c.get("restartPolicy").and_then(Value::as_str) == Some("Always");
            if list == "containers" || sidecar {
                sum = sum.zip(value).map(|(a, b)| a + b);
            } else {
                init_max = init_max.zip(value).map(|(a, b)| a.max(b));
            }
        }
    }
    Ok(sum.zip(init_max).map(|(s, i)| s.max(i)))
}

/// A workload from one object, or None for kinds that are not workloads.
pub fn extract(
    obj: &Value,
    daemonset_nodes: u64,
    origin: Option<&Origin>,
) -> Result<Option<Workload>, FitError> {
    if !is_workload(obj) {
        return Ok(None);
    }
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or_default();
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .map(str::to_string);
    let object = format!("{}/{}", kind.to_lowercase(), name.as_deref().unwrap_or("?"));
    let fail = |field: &str, needle: &str, message: String| match origin {
        Some(o) => o.error(format!("{object}: {field}"), needle, message),
        None => FitError::Cluster {
            object: format!("{object}: {field}"),
            message,
        },
    };
    let Some(name) = name else {
        return Err(fail("metadata.name", "", "missing".into()));
    };
    let replicas = match kind {
        "DaemonSet" => daemonset_nodes,
        _ => match obj.pointer("/spec/replicas") {
            None | Some(Value::Null) => 1,
            Some(v) => v.as_u64().ok_or_else(|| {
                fail(
                    "spec.replicas",
                    "replicas:",
                    format!("{v} is not a non-negative integer"),
                )
            })?,
        },
    };
    let pod_selector = match obj.pointer("/spec/selector") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            serde_json::from_value::<LabelSelector>(v.clone())
                .map_err(|e| e.to_string())
                .and_then(|ls| Selector::try_from(ls).map_err(|e| e.to_string()))
                .map_err(|message| fail("spec.selector", "selector:", message))?,
        ),
    };
    let Some(spec) = obj.pointer("/spec/template/spec") else {
        return Err(fail("spec.template.spec", "", "missing".into()));
    };
    let path = format!("{object}: spec.template.spec");
    let cpu = |k| pod_resources(spec, k, "cpu", quantity::cpu_millis, origin, &path);
    let mem = |k| pod_resources(spec, k, "memory", quantity::bytes, origin, &path);
    Ok(Some(Workload {
        kind: kind.to_string(),
        namespace: obj
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .map(str::to_string),
        pod_selector,
        labels: obj
            .pointer("/metadata/labels")
            .and_then(|l| serde_json::from_value(l.clone()).ok())
            .unwrap_or_default(),
        cpu_request_millis: cpu("requests")?.unwrap_or(0),
        memory_request_bytes: mem("requests")?.unwrap_or(0),
        cpu_limit_millis: cpu("limits")?,
        memory_limit_bytes: mem("limits")?,
        name,
        replicas,
    }))
}

/// Keeps the workloads whose own labels match.
pub fn select(workloads: Vec<Workload>, selector: &Selector) -> Vec<Workload> {
    workloads
        .into_iter()
        .filter(|w| selector.matches(&w.labels))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn effective_requests_follow_the_scheduler() {
        let obj = json!({
            "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": 2, "template": {"spec": {
                "initContainers": [
                    {"name": "migrate", "resources": {"requests": {"cpu": "2", "memory": "64Mi"}}},
                    {"name": "proxy", "restartPolicy": "Always", "resources": {"requests": {"cpu": "100m"}, "limits": {"cpu": "200m", "memory": "32Mi"}}},
                ],
                "containers": [
                    {"name": "app", "resources": {"limits": {"cpu": "500m", "memory": "256Mi"}}},
                    {"name": "log", "resources": {"requests": {"cpu": "50m", "memory": "16Mi"}}},
                ],
            }}},
        });
        let w = extract(&obj, 1, None).unwrap().unwrap();
        assert_eq!(w.replicas, 2);
        // max(2000m init, 500 + 50 + 100 sidecar) = 2000m
        assert_eq!(w.cpu_request_millis, 2000);
        // max(64Mi init, 256 (limit as request) + 16 + 32 (sidecar, limit as request)) = 304Mi
        assert_eq!(w.memory_request_bytes, 304 << 20);
        // the log container has no limit: unbounded
        assert_eq!(w.cpu_limit_millis, None);
        let ds = json!({"kind": "DaemonSet", "metadata": {"name": "agent"},
            "spec": {"template": {"spec": {"containers": [{"name": "a"}]}}}});
        assert_eq!(extract(&ds, 3, None).unwrap().unwrap().replicas, 3);
        assert_eq!(extract(&json!({"kind": "Service"}), 1, None).unwrap(), None);
    }
}
