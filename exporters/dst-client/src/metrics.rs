//! The dst-client's series, under the plan's names and the catalogue's label sets
//! (`redline_catalogue::dst_client`).
//!
//! Every histogram is classic with fixed bounds, as the alert rules expect: update
//! latency has bounds at the criteria (0.5, 1, 2, 3, 10 s), fan-out completion at 10, 15
//! and 20 s ("all clients observe all changes within N seconds", read with
//! `histogram_quantile(1, ...)`).

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use redline_catalogue::dst_client as cat;
pub use redline_catalogue::dst_client::{ReasonLabel, ServiceLabel};

use crate::histogram::AtomicHistogram;

pub static LATENCY_BOUNDS: [f64; 19] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0, 5.0, 10.0, 15.0, 20.0,
    30.0, 60.0,
];
pub static FANOUT_BOUNDS: [f64; 15] = [
    0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 7.5, 10.0, 15.0, 20.0, 30.0, 60.0, 120.0, 300.0,
];
pub static CONNECT_BOUNDS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
pub static LIFETIME_BOUNDS: [f64; 13] = [
    0.1, 1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0, 86400.0,
];

/// Every value `stream::reason` can give the `reason` label. The error counter is written
/// at 0 for each from the start, as Prometheus client libraries do for known children, so
/// a run without errors has a `connection_errors_total` series at 0 for the alert rules to
/// judge instead of no series at all (which leaves the criterion unjudged).
pub const REASONS: [&str; 20] = [
    "send_timeout",
    "tls",
    "connect",
    "ok",
    "cancelled",
    "unknown",
    "invalid_argument",
    "deadline_exceeded",
    "not_found",
    "already_exists",
    "permission_denied",
    "resource_exhausted",
    "failed_precondition",
    "aborted",
    "out_of_range",
    "unimplemented",
    "internal",
    "unavailable",
    "data_loss",
    "unauthenticated",
];

pub(crate) type HistFamily = Family<ServiceLabel, AtomicHistogram, fn() -> AtomicHistogram>;

fn latency() -> AtomicHistogram {
    AtomicHistogram::new(&LATENCY_BOUNDS)
}

fn fanout() -> AtomicHistogram {
    AtomicHistogram::new(&FANOUT_BOUNDS)
}

#[derive(Clone, Debug)]
pub struct Metrics {
    pub update_latency: HistFamily,
    pub endpoint_latency: HistFamily,
    pub stream_lifetime: AtomicHistogram,
    pub connection_duration: AtomicHistogram,
    pub updates_received: Family<ServiceLabel, Counter>,
    pub streams_active: Gauge,
    pub streams_requested: Gauge,
    pub streams_created: Counter,
    pub streams_reset: Counter,
    pub connection_errors: Family<ReasonLabel, Counter>,
    pub send_timeouts: Counter,
    pub fanout_completion: HistFamily,
    pub endpoints_observed: Family<ServiceLabel, Gauge>,
    pub events_unobserved: Family<ServiceLabel, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        let m = Self {
            update_latency: Family::new_with_constructor(latency),
            endpoint_latency: Family::new_with_constructor(latency),
            stream_lifetime: AtomicHistogram::new(&LIFETIME_BOUNDS),
            connection_duration: AtomicHistogram::new(&CONNECT_BOUNDS),
            updates_received: Family::default(),
            streams_active: Gauge::default(),
            streams_requested: Gauge::default(),
            streams_created: Counter::default(),
            streams_reset: Counter::default(),
            connection_errors: Family::default(),
            send_timeouts: Counter::default(),
            fanout_completion: Family::new_with_constructor(fanout),
            endpoints_observed: Family::default(),
            events_unobserved: Family::default(),
        };
        for reason in REASONS {
            let _ = m.connection_errors.get_or_create(&ReasonLabel {
                reason: reason.to_string(),
            });
        }
        m
    }
}

impl Metrics {
    pub fn register(registry: &mut Registry) -> Self {
        let m = Self::default();
        cat::Families {
            UPDATE_LATENCY: m.update_latency.clone(),
            ENDPOINT_LATENCY: m.endpoint_latency.clone(),
            STREAM_LIFETIME: m.stream_lifetime.clone(),
            CONNECTION_DURATION: m.connection_duration.clone(),
            UPDATES_RECEIVED: m.updates_received.clone(),
            STREAMS_ACTIVE: m.streams_active.clone(),
            STREAMS_REQUESTED: m.streams_requested.clone(),
            STREAMS_CREATED: m.streams_created.clone(),
            STREAMS_RESET: m.streams_reset.clone(),
            CONNECTION_ERRORS: m.connection_errors.clone(),
            SEND_TIMEOUTS: m.send_timeouts.clone(),
            FANOUT_COMPLETION: m.fanout_completion.clone(),
            ENDPOINTS_OBSERVED: m.endpoints_observed.clone(),
            EVENTS_UNOBSERVED: m.events_unobserved.clone(),
        }
        .register(registry);
        m
    }

    pub fn service(name: &str) -> ServiceLabel {
        ServiceLabel {
            service: name.to_string(),
        }
    }

    /// Writes the per-service counters at 0 for `services`, for the same reason as
    /// [`REASONS`]: "no unobserved events" must be a 0, not a missing series.
    pub fn known_services<'a>(&self, services: impl IntoIterator<Item = &'a str>) {
        for s in services {
            let label = Self::service(s);
            let _ = self.events_unobserved.get_or_create(&label);
            let _ = self.updates_received.get_or_create(&label);
        }
    }

    pub fn error(&self, reason: &str) {
        self.connection_errors
            .get_or_create(&ReasonLabel {
                reason: reason.to_string(),
            })
            .inc();
    }

    pub fn errors(&self, reason: &str) -> u64 {
        self.connection_errors
            .get_or_create(&ReasonLabel {
                reason: reason.to_string(),
            })
            .get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fanout_is_exposed_with_the_alert_bounds() {
        let mut reg = Registry::default();
        let m = Metrics::register(&mut reg);
        m.fanout_completion
            .get_or_create(&Metrics::service("svc"))
            .observe(12.0);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &reg).unwrap();
        for bound in ["10.0", "15.0", "20.0"] {
            assert!(
                text.contains(&format!(
                    "destination_client_fanout_completion_seconds_bucket{{le=\"{bound}\",service=\"svc\"}}"
                )),
                "fan-out bound {bound}: {text}"
            );
        }
    }
}
