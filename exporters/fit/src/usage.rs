//! Actual usage: the pod metrics API (`metrics.k8s.io/v1beta1` PodMetrics, what
//! `kubectl top pod` reads, served by metrics-server), summed over the pods in scope.
//!
//! Read through `Api<DynamicObject>` because k8s-openapi has no types for the metrics
//! API; only `containers[].usage` is deserialized. Where the API is not served (404, or
//! 503 from an APIService whose backend is down) usage is *unavailable*, which callers
//! show and export as such, never as a usage of 0.

use std::collections::BTreeMap;

use kube::Api;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, ListParams};
use redline_runtime::PodMetricsBody;

use crate::quantity;
use crate::scope::Scope;

/// Usage summed over the pods that count.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Usage {
    pub cpu_cores: f64,
    pub memory_bytes: f64,
    /// Pods that had a PodMetrics object.
    pub pods: usize,
}

/// What a run knows about actual usage.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "kebab-case", tag = "status")]
pub enum UsageStatus {
    /// Workloads came from manifests: there is no cluster to ask.
    NotRead,
    Available(Usage),
    /// The pod metrics API did not answer; why, in words a user can act on.
    Unavailable {
        reason: String,
    },
}

impl UsageStatus {
    pub fn usage(&self) -> Option<&Usage> {
        match self {
            Self::Available(u) => Some(u),
            _ => None,
        }
    }
}

fn pod_metrics() -> ApiResource {
    let gvk = GroupVersionKind::gvk("metrics.k8s.io", "v1beta1", "PodMetrics");
    ApiResource::from_gvk_with_plural(&gvk, "pods")
}

/// Adds one PodMetrics object's containers to `sum`.
fn add(sum: &mut Usage, obj: &DynamicObject) -> Result<(), String> {
    let pod = obj.metadata.name.as_deref().unwrap_or("?");
    let body: PodMetricsBody =
        serde_json::from_value(obj.data.clone()).map_err(|e| format!("PodMetrics {pod}: {e}"))?;
    for c in &body.containers {
        let read = |resource: &str| {
            c.usage.get(resource).map_or(Ok(0.0), |q| {
                quantity::parse(q)
                    .map_err(|e| format!("PodMetrics {pod}: {}: {resource}: {e}", c.name))
            })
        };
        sum.cpu_cores += read("cpu")?;
        sum.memory_bytes += read("memory")?;
    }
    sum.pods += 1;
    Ok(())
}

/// Lists PodMetrics in `scope` and sums those whose pod `counts` (namespace, labels:
/// PodMetrics carry their pod's labels).
pub async fn read(
    client: &kube::Client,
    scope: &Scope,
    counts: impl Fn(&str, &BTreeMap<String, String>) -> bool,
) -> UsageStatus {
    let api: Api<DynamicObject> = match scope.namespace() {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &pod_metrics()),
        None => Api::all_with(client.clone(), &pod_metrics()),
    };
    let list = match api.list(&ListParams::default()).await {
        Ok(l) => l,
        Err(kube::Error::Api(s)) if matches!(s.code, 404 | 503) => {
            return UsageStatus::Unavailable {
                reason: format!(
                    "the pod metrics API (metrics.k8s.io) is not served ({} {}): install metrics-server to judge actual usage",
                    s.code, s.reason
                ),
            };
        }
        Err(e) => {
            return UsageStatus::Unavailable {
                reason: format!("reading the pod metrics API (metrics.k8s.io) failed: {e}"),
            };
        }
    };
    let mut sum = Usage {
        cpu_cores: 0.0,
        memory_bytes: 0.0,
        pods: 0,
    };
    for obj in &list.items {
        let ns = obj.metadata.namespace.as_deref().unwrap_or_default();
        let labels = obj.metadata.labels.clone().unwrap_or_default();
        if !counts(ns, &labels) {
            continue;
        }
        if let Err(reason) = add(&mut sum, obj) {
            return UsageStatus::Unavailable { reason };
        }
    }
    UsageStatus::Available(sum)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(pod: &str, containers: serde_json::Value) -> DynamicObject {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "metrics.k8s.io/v1beta1", "kind": "PodMetrics",
            "metadata": {"name": pod, "namespace": "shop"},
            "containers": containers,
        }))
        .unwrap()
    }

    #[test]
    fn containers_add_up_in_base_units() {
        let mut sum = Usage {
            cpu_cores: 0.0,
            memory_bytes: 0.0,
            pods: 0,
        };
        add(
            &mut sum,
            &object(
                "web-1",
                serde_json::json!([
                    {"name": "app", "usage": {"cpu": "250m", "memory": "64Mi"}},
                    {"name": "proxy", "usage": {"cpu": "1500000n", "memory": "1Ki"}},
                ]),
            ),
        )
        .unwrap();
        add(
            &mut sum,
            &object(
                "web-2",
                serde_json::json!([{"name": "app", "usage": {"cpu": "1"}}]),
            ),
        )
        .unwrap();
        assert_eq!(sum.pods, 2);
        assert!((sum.cpu_cores - 1.2515).abs() < 1e-12, "{}", sum.cpu_cores);
        assert_eq!(sum.memory_bytes, (64 << 20) as f64 + 1024.0);
        let err = add(
            &mut sum,
            &object(
                "bad",
                serde_json::json!([{"name": "app", "usage": {"cpu": "fast"}}]),
            ),
        )
        .unwrap_err();
        assert!(
            err.contains("bad") && err.contains("app") && err.contains("cpu"),
            "{err}"
        );
    }
}
