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
