//! The churn daemon's series, registered under their catalogue names.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use redline_catalogue::churn as cat;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ServicePattern {
    pub service: String,
    pub pattern: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ServiceLabel {
    pub service: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct VerbResource {
    pub verb: String,
    pub resource: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct VerbCode {
    pub verb: String,
    pub code: String,
}

/// API call durations: tens of ms when healthy, seconds under API priority-and-fairness.
const API_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

fn api_histogram() -> Histogram {
    Histogram::new(API_BUCKETS)
}

#[derive(Clone, Debug)]
pub struct Metrics {
    pub scale_events: Family<ServicePattern, Counter>,
    pub replicas_target: Family<ServiceLabel, Gauge>,
    pub replicas_current: Family<ServiceLabel, Gauge>,
    pub api_duration: Family<VerbResource, Histogram, fn() -> Histogram>,
    pub api_errors: Family<VerbCode, Counter>,
    pub events_in_flight: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            scale_events: Family::default(),
            replicas_target: Family::default(),
            replicas_current: Family::default(),
            api_duration: Family::new_with_constructor(api_histogram),
            api_errors: Family::default(),
            events_in_flight: Gauge::default(),
        }
    }
}

impl Metrics {
    pub fn register(registry: &mut Registry) -> Self {
        let m = Self::default();
        redline_runtime::register(registry, &cat::SCALE_EVENTS, m.scale_events.clone());
        redline_runtime::register(registry, &cat::REPLICAS_TARGET, m.replicas_target.clone());
        redline_runtime::register(registry, &cat::REPLICAS_CURRENT, m.replicas_current.clone());
        redline_runtime::register(registry, &cat::API_REQUEST_DURATION, m.api_duration.clone());
        redline_runtime::register(registry, &cat::API_ERRORS, m.api_errors.clone());
        redline_runtime::register(registry, &cat::EVENTS_IN_FLIGHT, m.events_in_flight.clone());
        m
    }

    pub fn service(name: &str) -> ServiceLabel {
        ServiceLabel {
            service: name.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_is_catalogued() {
        let mut reg = Registry::default();
        let m = Metrics::register(&mut reg);
        // Touch every family so each shows up in the exposition.
        let svc = Metrics::service("s");
        m.scale_events
            .get_or_create(&ServicePattern {
                service: "s".into(),
                pattern: "stable".into(),
            })
            .inc();
        m.replicas_target.get_or_create(&svc).set(1);
        m.replicas_current.get_or_create(&svc).set(1);
        m.api_duration
            .get_or_create(&VerbResource {
                verb: "patch".into(),
                resource: "deployments".into(),
            })
            .observe(0.1);
        m.api_errors
            .get_or_create(&VerbCode {
                verb: "patch".into(),
                code: "429".into(),
            })
            .inc();
        let problems = redline_runtime::uncatalogued(&reg, cat::ALL);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            redline_runtime::exposed_families(&reg).len(),
            cat::ALL.len()
        );
    }
}
