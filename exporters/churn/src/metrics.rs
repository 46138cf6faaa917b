//! The churn daemon's series: its families, registered under the catalogue's names and
//! label sets (`redline_catalogue::churn`).

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use redline_catalogue::churn as cat;
pub use redline_catalogue::churn::{ServiceLabel, ServicePattern, VerbCode, VerbResource};

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
        cat::Families {
            SCALE_EVENTS: m.scale_events.clone(),
            REPLICAS_TARGET: m.replicas_target.clone(),
            REPLICAS_CURRENT: m.replicas_current.clone(),
            API_REQUEST_DURATION: m.api_duration.clone(),
            API_ERRORS: m.api_errors.clone(),
            EVENTS_IN_FLIGHT: m.events_in_flight.clone(),
        }
        .register(registry);
        m
    }

    pub fn service(name: &str) -> ServiceLabel {
        ServiceLabel {
            service: name.to_string(),
        }
    }
}
