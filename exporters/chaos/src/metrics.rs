//! The series `redline chaos` writes, registered under the catalogue's names and label sets
//! (`redline_catalogue::chaos`).

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use redline_catalogue::chaos as cat;
pub use redline_catalogue::chaos::{
    ActiveLabels, ClockLabels, FaultLabels, InterruptionLabels, ProbeLabels,
};

use crate::probe::ProbeMetrics;

/// Recovery buckets: they include 5 s and 30 s, the seed's targets, because the alert reads
/// the slowest recovery as the upper bound of its bucket (`alerts/README.md`).
pub const RECOVERY_BUCKETS: [f64; 13] = [
    0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0,
];

type GaugeF = Gauge<f64, std::sync::atomic::AtomicU64>;

#[derive(Clone)]
pub struct Metrics {
    pub faults_injected: Family<FaultLabels, Counter>,
    pub fault_active: Family<ActiveLabels, Gauge>,
    pub recovery: Family<ClockLabels, Histogram>,
    pub probe_up: Family<ProbeLabels, Gauge>,
    pub interruption: Family<InterruptionLabels, GaugeF>,
    pub probe_failures: Family<ProbeLabels, Counter>,
    pub lost_writes: Counter,
    pub evictions_refused: Counter,
}

impl Metrics {
    pub fn register(registry: &mut Registry) -> Self {
        let m = Self {
            faults_injected: Family::default(),
            fault_active: Family::default(),
            recovery: Family::new_with_constructor(|| {
                Histogram::new(RECOVERY_BUCKETS.iter().copied())
            }),
            probe_up: Family::default(),
            interruption: Family::default(),
            probe_failures: Family::default(),
            lost_writes: Counter::default(),
            evictions_refused: Counter::default(),
        };
        cat::Families {
            FAULTS_INJECTED: m.faults_injected.clone(),
            FAULT_ACTIVE: m.fault_active.clone(),
            RECOVERY: m.recovery.clone(),
            PROBE_UP: m.probe_up.clone(),
            INTERRUPTION: m.interruption.clone(),
            PROBE_FAILURES: m.probe_failures.clone(),
            LOST_WRITES: m.lost_writes.clone(),
            EVICTIONS_REFUSED: m.evictions_refused.clone(),
        }
        .register(registry);
        m
    }

    pub fn probe(&self, name: &str) -> ProbeMetrics {
        let l = ProbeLabels {
            probe: name.to_string(),
        };
        ProbeMetrics {
            up: self.probe_up.get_or_create(&l).clone(),
            failures: self.probe_failures.get_or_create(&l).clone(),
        }
    }

    pub fn set_active(&self, fault: &str, target: &str, active: bool) {
        self.fault_active
            .get_or_create(&ActiveLabels {
                fault: fault.into(),
                target: target.into(),
            })
            .set(i64::from(active));
    }

    pub fn observe_recovery(&self, fault: &str, clock: &str, seconds: f64) {
        self.recovery
            .get_or_create(&ClockLabels {
                fault: fault.into(),
                clock: clock.into(),
            })
            .observe(seconds);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_is_exposed_with_the_seed_targets_as_bucket_bounds() {
        let mut registry = Registry::default();
        let m = Metrics::register(&mut registry);
        m.observe_recovery("pod-kill", "workload", 1.0);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        for b in [5.0, 30.0] {
            assert!(RECOVERY_BUCKETS.contains(&b), "recovery buckets need {b} s");
            assert!(
                text.contains(&format!("le=\"{b:.1}\"")),
                "{b} s bucket is not exposed"
            );
        }
    }
}
