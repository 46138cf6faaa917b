//! The dst-client's series, under the plan's names (catalogue: `dst_client`).
//!
//! Every histogram is classic with fixed bounds, as the alert rules expect: update
//! latency has bounds at the criteria (0.5, 1, 2, 3, 10 s), fan-out completion at 10, 15
//! and 20 s ("all clients observe all changes within N seconds", read with
//! `histogram_quantile(1, ...)`).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use redline_catalogue::dst_client as cat;

use crate::histogram::AtomicHistogram;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ServiceLabel {
    pub service: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    pub reason: String,
}

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

type HistFamily = Family<ServiceLabel, AtomicHistogram, fn() -> AtomicHistogram>;

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
        Self {
            update_latency: Family::new_with_constructor(latency),
            endpoint_latency: Family::new_with_constructor(latency),
            stream_lifetime: AtomicHistogram::new(&LIFETIME_BOUNDS),
            connection_duration: AtomicHistogram::new(&CONNECT_BOUNDS),
            updates_received: Family::default(),
            streams_active: Gauge::default(),
            streams_created: Counter::default(),
            streams_reset: Counter::default(),
            connection_errors: Family::default(),
            send_timeouts: Counter::default(),
            fanout_completion: Family::new_with_constructor(fanout),
            endpoints_observed: Family::default(),
            events_unobserved: Family::default(),
        }
    }
}

impl Metrics {
    pub fn register(registry: &mut Registry) -> Self {
        let m = Self::default();
        use redline_runtime::register as r;
        r(registry, &cat::UPDATE_LATENCY, m.update_latency.clone());
        r(registry, &cat::ENDPOINT_LATENCY, m.endpoint_latency.clone());
        r(registry, &cat::STREAM_LIFETIME, m.stream_lifetime.clone());
        r(
            registry,
            &cat::CONNECTION_DURATION,
            m.connection_duration.clone(),
        );
        r(registry, &cat::UPDATES_RECEIVED, m.updates_received.clone());
        r(registry, &cat::STREAMS_ACTIVE, m.streams_active.clone());
        r(registry, &cat::STREAMS_CREATED, m.streams_created.clone());
        r(registry, &cat::STREAMS_RESET, m.streams_reset.clone());
        r(
            registry,
            &cat::CONNECTION_ERRORS,
            m.connection_errors.clone(),
        );
        r(registry, &cat::SEND_TIMEOUTS, m.send_timeouts.clone());
        r(
            registry,
            &cat::FANOUT_COMPLETION,
            m.fanout_completion.clone(),
        );
        r(
            registry,
            &cat::ENDPOINTS_OBSERVED,
            m.endpoints_observed.clone(),
        );
        r(
            registry,
            &cat::EVENTS_UNOBSERVED,
            m.events_unobserved.clone(),
        );
        m
    }

    pub fn service(name: &str) -> ServiceLabel {
        ServiceLabel {
            service: name.to_string(),
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
    fn every_family_is_catalogued_and_fanout_has_the_alert_bounds() {
        let mut reg = Registry::default();
        let m = Metrics::register(&mut reg);
        let s = Metrics::service("svc");
        m.update_latency.get_or_create(&s).observe(0.2);
        m.endpoint_latency.get_or_create(&s).observe(0.2);
        m.updates_received.get_or_create(&s).inc();
        m.error("unavailable");
        m.fanout_completion.get_or_create(&s).observe(12.0);
        m.endpoints_observed.get_or_create(&s).set(3);
        m.events_unobserved.get_or_create(&s).inc();
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &reg).unwrap();
        let problems = redline_runtime::uncatalogued(&reg, cat::ALL);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            redline_runtime::exposed_families(&reg).len(),
            cat::ALL.len()
        );
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
