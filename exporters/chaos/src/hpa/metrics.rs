//! The series `redline hpa-watch` writes, registered under the catalogue's names and label
//! sets (`redline_catalogue::hpa_watch`).

use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use redline_catalogue::hpa_watch as cat;
use redline_catalogue::hpa_watch::{HpaLabels, HpaPhaseLabels, HpaReplicaLabels, HpaStateLabels};

type GaugeF = Gauge<f64, std::sync::atomic::AtomicU64>;

#[derive(Clone)]
pub struct Metrics {
    namespace: String,
    hpa: String,
    pub replicas: Family<HpaStateLabels, Gauge>,
    pub reaction: Family<HpaPhaseLabels, GaugeF>,
    pub replica_ready: Family<HpaReplicaLabels, GaugeF>,
    pub load_running: Family<HpaLabels, Gauge>,
}

impl Metrics {
    pub fn register(registry: &mut Registry, namespace: &str, hpa: &str) -> Self {
        let m = Self {
            namespace: namespace.to_string(),
            hpa: hpa.to_string(),
            replicas: Family::default(),
            reaction: Family::default(),
            replica_ready: Family::default(),
            load_running: Family::default(),
        };
        cat::Families {
            REPLICAS: m.replicas.clone(),
            REACTION: m.reaction.clone(),
            REPLICA_READY: m.replica_ready.clone(),
            LOAD_RUNNING: m.load_running.clone(),
        }
        .register(registry);
        m
    }

    pub fn set_replicas(&self, state: &str, n: i32) {
        self.replicas
            .get_or_create(&HpaStateLabels {
                namespace: self.namespace.clone(),
                horizontalpodautoscaler: self.hpa.clone(),
                state: state.into(),
            })
            .set(i64::from(n));
    }

    pub fn set_reaction(&self, phase: &str, seconds: f64) {
        self.reaction
            .get_or_create(&HpaPhaseLabels {
                namespace: self.namespace.clone(),
                horizontalpodautoscaler: self.hpa.clone(),
                phase: phase.into(),
            })
            .set(seconds);
    }

    pub fn set_replica_ready(&self, replicas: i32, seconds: f64) {
        self.replica_ready
            .get_or_create(&HpaReplicaLabels {
                namespace: self.namespace.clone(),
                horizontalpodautoscaler: self.hpa.clone(),
                replicas: replicas.to_string(),
            })
            .set(seconds);
    }

    pub fn set_load_running(&self, running: bool) {
        self.load_running
            .get_or_create(&HpaLabels {
                namespace: self.namespace.clone(),
                horizontalpodautoscaler: self.hpa.clone(),
            })
            .set(i64::from(running));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_is_catalogued_with_kube_state_metrics_label_names() {
        let mut registry = Registry::default();
        let m = Metrics::register(&mut registry, "user-1", "kubeserve");
        m.set_replicas("ready", 3);
        m.set_reaction("scale_up", 15.5);
        m.set_replica_ready(2, 17.25);
        m.set_load_running(true);
        let problems = redline_runtime::catalogue_mismatches(&registry, cat::ALL);
        assert!(problems.is_empty(), "{problems:?}");
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        for want in [
            r#"redline_hpa_replicas{namespace="user-1",horizontalpodautoscaler="kubeserve",state="ready"} 3"#,
            r#"redline_hpa_reaction_seconds{namespace="user-1",horizontalpodautoscaler="kubeserve",phase="scale_up"} 15.5"#,
            r#"redline_hpa_replica_ready_seconds{namespace="user-1",horizontalpodautoscaler="kubeserve",replicas="2"} 17.25"#,
            r#"redline_hpa_load_running{namespace="user-1",horizontalpodautoscaler="kubeserve"} 1"#,
        ] {
            assert!(text.contains(want), "{want} not in\n{text}");
        }
    }
}
