//! The series `tokens create` writes, registered under the catalogue's names and label sets
//! (`redline_catalogue::tokens`).

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use redline_catalogue::tokens as cat;
pub use redline_catalogue::tokens::{TierLabel, TierStep};

/// A create call takes milliseconds on a quiet API server and seconds when etcd or
/// priority-and-fairness push back, which is what the MaaS plan looks for.
const CREATE_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

fn create_histogram() -> Histogram {
    Histogram::new(CREATE_BUCKETS)
}

#[derive(Clone, Debug)]
pub struct Metrics {
    pub create_duration: Family<TierLabel, Histogram, fn() -> Histogram>,
    pub issued: Family<TierLabel, Counter>,
    pub errors: Family<TierStep, Counter>,
    pub elapsed: Gauge<f64, std::sync::atomic::AtomicU64>,
    pub nearest_expiry: Family<TierLabel, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            create_duration: Family::new_with_constructor(create_histogram),
            issued: Family::default(),
            errors: Family::default(),
            elapsed: Gauge::default(),
            nearest_expiry: Family::default(),
        }
    }
}

impl Metrics {
    pub fn register(registry: &mut Registry) -> Self {
        let m = Self::default();
        cat::Families {
            SERVICEACCOUNT_CREATE_DURATION: m.create_duration.clone(),
            ISSUED: m.issued.clone(),
            ERRORS: m.errors.clone(),
            CREATE_ELAPSED: m.elapsed.clone(),
            EXPIRY: m.nearest_expiry.clone(),
        }
        .register(registry);
        m
    }

    pub fn tier(tier: &str) -> TierLabel {
        TierLabel { tier: tier.into() }
    }

    pub fn error(&self, tier: &str, step: &str) {
        self.errors
            .get_or_create(&TierStep {
                tier: tier.into(),
                step: step.into(),
            })
            .inc();
    }
}
