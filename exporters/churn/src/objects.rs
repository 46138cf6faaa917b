//! The objects churn applies: a Service and a Deployment per service, labelled with
//! owner and run so cleanup finds exactly what a run created, and the scale-event
//! annotation clients correlate with.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

/// Every object churn creates carries this label...
pub const OWNER_LABEL: &str = "redline.dev/owner";
pub const OWNER: &str = "redline-churn";
/// ...and the run it belongs to.
pub const RUN_LABEL: &str = "redline.dev/run";
/// Pods are selected by this label (value: the service name).
pub const APP_LABEL: &str = "app";
/// On each Deployment, written with every scale: JSON
/// `{"seq":3,"replicas":200,"time":"2025-01-02T03:04:05.678Z","unixMs":1735787045678,"run":"r1"}`.
/// `seq` counts this service's scale events from 0 (the creation); `time` and `unixMs`
/// are the same wall-clock instant, taken just before the request that applied it.
pub const EVENT_ANNOTATION: &str = "redline.dev/churn-event";

/// What the objects look like, apart from the replica count.
#[derive(Debug, Clone)]
pub struct Template {
    pub namespace: String,
    pub run: String,
    pub port: u16,
    pub image: String,
    pub node_selector: Vec<(String, String)>,
    pub tolerations: Vec<String>,
    /// Extra labels on Services only (e.g. Linkerd multicluster export).
    pub service_labels: Vec<(String, String)>,
}

/// The stamp of one scale event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub seq: u64,
    pub replicas: u32,
    pub unix_ms: u64,
}

impl Stamp {
    pub fn now(seq: u64, replicas: u32) -> Self {
        let unix_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        Self {
            seq,
            replicas,
            unix_ms,
        }
    }

    pub fn annotation(&self, run: &str) -> String {
        let time = k8s_openapi::jiff::Timestamp::from_millisecond(self.unix_ms as i64)
            .map(|t| t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
            .unwrap_or_default();
        json!({
            "seq": self.seq, "replicas": self.replicas, "time": time,
            "unixMs": self.unix_ms, "run": run,
        })
        .to_string()
    }
}

impl Template {
    fn labels(&self, service: &str) -> Value {
        json!({APP_LABEL: service, OWNER_LABEL: OWNER, RUN_LABEL: self.run})
    }

    /// `<owner>=redline-churn,<run>=<run>`: everything this run created.
    pub fn run_selector(&self) -> String {
        format!("{OWNER_LABEL}={OWNER},{RUN_LABEL}={}", self.run)
    }

    pub fn service(&self, name: &str) -> Value {
        let mut labels = self.labels(name);
        for (k, v) in &self.service_labels {
            labels[k] = json!(v);
        }
        json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": self.namespace, "labels": labels},
            "spec": {
                "selector": {APP_LABEL: name},
                "ports": [{"name": "http", "port": self.port, "targetPort": self.port, "protocol": "TCP"}],
            },
        })
    }

    /// The whole Deployment: server-side apply removes fields this manager stops
    /// sending, so every scale applies the full object, not just the replica count.
    pub fn deployment(&self, name: &str, stamp: &Stamp) -> Value {
        let node_selector: serde_json::Map<String, Value> = self
            .node_selector
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect();
        let tolerations: Vec<Value> = self
            .tolerations
            .iter()
            .map(|k| json!({"key": k, "operator": "Exists", "effect": "NoSchedule"}))
            .collect();
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {
                "name": name, "namespace": self.namespace, "labels": self.labels(name),
                "annotations": {EVENT_ANNOTATION: stamp.annotation(&self.run)},
            },
            "spec": {
                "replicas": stamp.replicas,
                "selector": {"matchLabels": {APP_LABEL: name}},
                "template": {
                    "metadata": {"labels": self.labels(name)},
                    "spec": {
                        "nodeSelector": node_selector,
                        "tolerations": tolerations,
                        "containers": [{
                            "name": "app", "image": self.image,
                            "ports": [{"name": "http", "containerPort": self.port}],
                        }],
                    },
                },
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotation_carries_seq_replicas_and_both_time_forms() {
        let s = Stamp {
            seq: 3,
            replicas: 200,
            unix_ms: 1_735_787_045_678,
        };
        let v: Value = serde_json::from_str(&s.annotation("r1")).unwrap();
        assert_eq!(v["seq"], 3);
        assert_eq!(v["replicas"], 200);
        assert_eq!(v["time"], "2025-01-02T03:04:05.678Z");
        assert_eq!(v["unixMs"], 1_735_787_045_678u64);
        assert_eq!(v["run"], "r1");
    }
}
