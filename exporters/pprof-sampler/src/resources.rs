//! Container CPU and memory as `kubectl top pod --containers` shows them: a list of
//! `metrics.k8s.io/v1beta1` PodMetrics, which is what kubectl reads. Read through
//! `Api<DynamicObject>` because k8s-openapi has no types for the metrics API; only the
//! `containers[].usage` part is deserialized, into the runtime's [`PodMetricsBody`].

use std::collections::HashSet;
use std::time::Duration;

use kube::Api;
use kube::api::{ApiResource, DynamicObject, ListParams};
use redline_runtime::PodMetricsBody;
use tokio_util::sync::CancellationToken;

use crate::metrics::{ContainerLabels, Metrics, OnlyResult};

pub fn pod_metrics_resource() -> ApiResource {
    ApiResource {
        group: "metrics.k8s.io".into(),
        version: "v1beta1".into(),
        api_version: "metrics.k8s.io/v1beta1".into(),
        kind: "PodMetrics".into(),
        plural: "pods".into(),
    }
}

/// One container's usage.
#[derive(Debug, Clone, PartialEq)]
pub struct Usage {
    pub namespace: String,
    pub pod: String,
    pub container: String,
    pub cpu_cores: Option<f64>,
    pub memory_bytes: Option<f64>,
}

/// A Kubernetes resource quantity ("250m", "12345678n", "1.5", "128Mi", "1G", "1e3") in
/// base units (cores, bytes); `None` where it does not parse, which leaves the gauge unset.
pub fn parse_quantity(q: &str) -> Option<f64> {
    redline_runtime::parse_quantity(q).ok()
}

/// Usage of every container in one PodMetrics object.
pub fn usages(obj: &DynamicObject) -> Vec<Usage> {
    let namespace = obj.metadata.namespace.clone().unwrap_or_default();
    let pod = obj.metadata.name.clone().unwrap_or_default();
    let Ok(body) = serde_json::from_value::<PodMetricsBody>(obj.data.clone()) else {
        return Vec::new();
    };
    body.containers
        .into_iter()
        .map(|c| Usage {
            namespace: namespace.clone(),
            pod: pod.clone(),
            cpu_cores: c.usage.get("cpu").and_then(|q| parse_quantity(q)),
            memory_bytes: c.usage.get("memory").and_then(|q| parse_quantity(q)),
            container: c.name,
        })
        .collect()
}

/// Reads PodMetrics periodically into gauges; containers that disappear lose their series.
pub struct ResourceReader {
    api: Api<DynamicObject>,
    selector: String,
    metrics: Metrics,
    current: HashSet<ContainerLabels>,
}

impl ResourceReader {
    pub fn new(client: kube::Client, namespace: &str, selector: &str, metrics: Metrics) -> Self {
        ResourceReader {
            api: Api::namespaced_with(client, namespace, &pod_metrics_resource()),
            selector: selector.to_string(),
            metrics,
            current: HashSet::new(),
        }
    }

    /// One list call; returns how many containers were recorded.
    pub async fn read_once(&mut self) -> Result<usize, kube::Error> {
        let lp = ListParams::default().labels(&self.selector);
        let list = match self.api.list(&lp).await {
            Ok(l) => l,
            Err(e) => {
                self.count("error");
                return Err(e);
            }
        };
        self.count("ok");
        let mut seen = HashSet::new();
        for u in list.items.iter().flat_map(usages) {
            let l = ContainerLabels {
                namespace: u.namespace,
                pod: u.pod,
                container: u.container,
            };
            if let Some(cpu) = u.cpu_cores {
                self.metrics.pod_cpu_cores.get_or_create(&l).set(cpu);
            }
            if let Some(mem) = u.memory_bytes {
                self.metrics
                    .pod_memory_working_set_bytes
                    .get_or_create(&l)
                    .set(mem as i64);
            }
            seen.insert(l);
        }
        for gone in self.current.difference(&seen) {
            self.metrics.pod_cpu_cores.remove(gone);
            self.metrics.pod_memory_working_set_bytes.remove(gone);
        }
        let n = seen.len();
        self.current = seen;
        Ok(n)
    }

    fn count(&self, result: &str) {
        self.metrics
            .pod_metrics_reads
            .get_or_create(&OnlyResult {
                result: result.into(),
            })
            .inc();
    }

    /// Every `interval` until `stop`; each read bounded by `timeout`. Errors are counted and
    /// logged and the next tick tries again (metrics-server is often briefly unavailable).
    pub async fn run(mut self, interval: Duration, timeout: Duration, stop: CancellationToken) {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            match tokio::time::timeout(timeout, self.read_once()).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "PodMetrics list"),
                Err(_) => {
                    self.count("error");
                    tracing::warn!("PodMetrics list timed out");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn quantities_in_every_form_metrics_server_uses() {
        let close = |a: Option<f64>, b: f64| (a.unwrap() - b).abs() <= b.abs() * 1e-12;
        assert!(close(parse_quantity("12345678n"), 0.012345678));
        assert!(close(parse_quantity("250m"), 0.25));
        assert!(close(parse_quantity("2"), 2.0));
        assert!(close(parse_quantity("1.5"), 1.5));
        assert!(close(parse_quantity("31840Ki"), 31840.0 * 1024.0));
        assert!(close(parse_quantity("128Mi"), 128.0 * 1048576.0));
        assert!(close(parse_quantity("1G"), 1e9));
        assert!(close(parse_quantity("1e3"), 1000.0));
        assert!(close(parse_quantity("5E-2"), 0.05));
        assert_eq!(parse_quantity("12x"), None);
        assert_eq!(parse_quantity("Mi"), None);
    }

    #[test]
    fn pod_metrics_object_gives_usage_per_container() {
        let obj: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "metrics.k8s.io/v1beta1",
            "kind": "PodMetrics",
            "metadata": {"name": "activator-1", "namespace": "knative-serving"},
            "timestamp": "2024-01-01T00:00:00Z",
            "window": "15s",
            "containers": [
                {"name": "activator", "usage": {"cpu": "12345678n", "memory": "31840Ki"}},
                {"name": "istio-proxy", "usage": {"cpu": "1m"}}
            ]
        }))
        .unwrap();
        let u = usages(&obj);
        assert_eq!(u.len(), 2);
        assert_eq!(
            (u[0].pod.as_str(), u[0].container.as_str()),
            ("activator-1", "activator")
        );
        assert_eq!(u[0].memory_bytes, Some(31840.0 * 1024.0));
        assert_eq!(u[1].memory_bytes, None);
        assert!((u[1].cpu_cores.unwrap() - 0.001).abs() < 1e-12);
    }
}
