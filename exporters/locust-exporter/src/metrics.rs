//! The exporter's families, registered under the catalogue's names and label sets
//! (`redline_catalogue::locust_exporter`). Counters only ever grow (the tracker hands them
//! increments); gauges describe now, so those of a step that ended are removed when the next
//! begins.

use std::sync::Mutex;
use std::sync::atomic::AtomicU64;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use redline_catalogue::locust_exporter::{
    self as cat, EndpointLabels, ErrorLabels, OverflowLabel, QuantileLabels, ResultLabel,
    StateLabels, StepLabels,
};

use crate::poll::PollResult;
use crate::report::{Entry, StatsReport};
use crate::tracker::{ErrorKey, Observation, Tracker};

type FloatGauge = Gauge<f64, AtomicU64>;

const STATES: [&str; 7] = [
    "ready", "spawning", "running", "cleanup", "stopping", "stopped", "missing",
];

pub struct Metrics {
    scenario: String,
    requests: Family<EndpointLabels, Counter>,
    failures: Family<EndpointLabels, Counter>,
    errors: Family<ErrorLabels, Counter>,
    response_time: Family<QuantileLabels, FloatGauge>,
    response_time_avg: Family<EndpointLabels, FloatGauge>,
    response_time_max: Family<EndpointLabels, FloatGauge>,
    rps: Family<EndpointLabels, FloatGauge>,
    fail_per_second: Family<EndpointLabels, FloatGauge>,
    users: Family<StepLabels, FloatGauge>,
    workers: Family<StepLabels, FloatGauge>,
    fail_ratio: Family<StepLabels, FloatGauge>,
    state: Family<StateLabels, Gauge>,
    polls: [Counter; 4],
    resets: Counter,
    overflow: [Counter; 2],
    /// The step the gauges are written under.
    gauge_step: Mutex<Option<String>>,
}

impl Metrics {
    pub fn register(registry: &mut Registry, scenario: &str) -> Self {
        let polls = Family::<ResultLabel, Counter>::default();
        let overflow = Family::<OverflowLabel, Counter>::default();
        let m = Self {
            scenario: scenario.to_string(),
            requests: Family::default(),
            failures: Family::default(),
            errors: Family::default(),
            response_time: Family::default(),
            response_time_avg: Family::default(),
            response_time_max: Family::default(),
            rps: Family::default(),
            fail_per_second: Family::default(),
            users: Family::default(),
            workers: Family::default(),
            fail_ratio: Family::default(),
            state: Family::default(),
            polls: PollResult::ALL.map(|r| {
                polls
                    .get_or_create(&ResultLabel {
                        result: r.as_str().into(),
                    })
                    .clone()
            }),
            resets: Counter::default(),
            overflow: ["name", "error"].map(|label| {
                overflow
                    .get_or_create(&OverflowLabel {
                        label: label.into(),
                    })
                    .clone()
            }),
            gauge_step: Mutex::new(None),
        };
        cat::Families {
            REQUESTS: m.requests.clone(),
            FAILURES: m.failures.clone(),
            RESPONSE_TIME: m.response_time.clone(),
            RESPONSE_TIME_AVG: m.response_time_avg.clone(),
            RESPONSE_TIME_MAX: m.response_time_max.clone(),
            USERS: m.users.clone(),
            WORKERS: m.workers.clone(),
            FAIL_RATIO: m.fail_ratio.clone(),
            ERRORS: m.errors.clone(),
            STATE: m.state.clone(),
            REQUESTS_PER_SECOND: m.rps.clone(),
            FAILURES_PER_SECOND: m.fail_per_second.clone(),
            POLLS: polls,
            RESETS: m.resets.clone(),
            OVERFLOW: overflow,
        }
        .register(registry);
        m
    }

    pub fn poll(&self, r: PollResult) {
        self.polls[r as usize].inc();
    }

    pub fn polls(&self, r: PollResult) -> u64 {
        self.polls[r as usize].get()
    }

    fn run_labels(&self, step: &str) -> StepLabels {
        StepLabels {
            scenario: self.scenario.clone(),
            step: step.to_string(),
        }
    }

    fn endpoint_labels(&self, step: &str, name: &str, method: &str) -> EndpointLabels {
        EndpointLabels {
            scenario: self.scenario.clone(),
            step: step.to_string(),
            name: name.to_string(),
            method: method.to_string(),
        }
    }

    fn error_labels(&self, step: &str, (name, method, error): &ErrorKey) -> ErrorLabels {
        ErrorLabels {
            scenario: self.scenario.clone(),
            step: step.to_string(),
            name: name.clone(),
            method: method.clone(),
            error: error.clone(),
        }
    }

    /// Creates (at 0) the counter series this observation is about to count into for the
    /// first time. True when there were any.
    pub fn create_counters(&self, obs: &Observation) -> bool {
        let Some(step) = &obs.step else { return false };
        let mut created = false;
        for (name, method) in obs.requests.keys() {
            let l = self.endpoint_labels(step, name, method);
            if self.requests.get(&l).is_none() {
                let _ = self.requests.get_or_create(&l);
                let _ = self.failures.get_or_create(&l);
                created = true;
            }
        }
        for key in obs.errors.keys() {
            let l = self.error_labels(step, key);
            if self.errors.get(&l).is_none() {
                let _ = self.errors.get_or_create(&l);
                created = true;
            }
        }
        created
    }

    pub fn apply(&self, obs: &Observation, r: &StatsReport, tracker: &Tracker) {
        if obs.reset {
            self.resets.inc();
        }
        self.overflow[0].inc_by(obs.overflow_endpoints);
        self.overflow[1].inc_by(obs.overflow_errors);
        if let Some(step) = &obs.step {
            for ((name, method), c) in &obs.requests {
                let l = self.endpoint_labels(step, name, method);
                self.requests.get_or_create(&l).inc_by(c.requests);
                self.failures.get_or_create(&l).inc_by(c.failures);
            }
            for (key, n) in &obs.errors {
                self.errors
                    .get_or_create(&self.error_labels(step, key))
                    .inc_by(*n);
            }
        }
        let step = obs.step.clone().unwrap_or_default();
        {
            let mut current = self.gauge_step.lock().expect("gauge step lock");
            if current.as_deref() != Some(step.as_str()) {
                self.response_time.clear();
                for f in [
                    &self.response_time_avg,
                    &self.response_time_max,
                    &self.rps,
                    &self.fail_per_second,
                ] {
                    f.clear();
                }
                for f in [&self.users, &self.workers, &self.fail_ratio] {
                    f.clear();
                }
                self.state.clear();
                *current = Some(step.clone());
            }
        }
        for e in r.endpoints() {
            let method = e.method.clone().unwrap_or_default();
            if let Some(name) = tracker.endpoint_label(&e.name, &method) {
                self.endpoint_gauges(&self.endpoint_labels(&step, name, &method), e);
            }
        }
        if let Some(total) = r.total() {
            // Locust's own total row: the overall percentiles, which the endpoints' do not give.
            self.endpoint_gauges(&self.endpoint_labels(&step, &total.name, ""), total);
        }
        let run = self.run_labels(&step);
        self.users.get_or_create(&run).set(r.user_count as f64);
        if let Some(w) = r.worker_count {
            self.workers.get_or_create(&run).set(w as f64);
        }
        let ratio = r.fail_ratio.or_else(|| {
            r.total()
                .filter(|t| t.num_requests > 0)
                .map(|t| t.num_failures as f64 / t.num_requests as f64)
        });
        if let Some(ratio) = ratio {
            self.fail_ratio.get_or_create(&run).set(ratio);
        }
        for s in STATES {
            let l = StateLabels {
                scenario: run.scenario.clone(),
                step: run.step.clone(),
                state: s.to_string(),
            };
            self.state.get_or_create(&l).set(i64::from(r.state == s));
        }
    }

    fn endpoint_gauges(&self, l: &EndpointLabels, e: &Entry) {
        let seconds = |ms: Option<f64>| ms.map(|v| v / 1000.0);
        for (q, v) in [
            ("0.5", e.median_response_time),
            ("0.95", e.p95),
            ("0.99", e.p99),
        ] {
            if let Some(v) = seconds(v) {
                let lq = QuantileLabels {
                    scenario: l.scenario.clone(),
                    step: l.step.clone(),
                    name: l.name.clone(),
                    method: l.method.clone(),
                    quantile: q.to_string(),
                };
                self.response_time.get_or_create(&lq).set(v);
            }
        }
        if let Some(v) = seconds(e.avg_response_time) {
            self.response_time_avg.get_or_create(l).set(v);
        }
        if let Some(v) = seconds(e.max_response_time) {
            self.response_time_max.get_or_create(l).set(v);
        }
        if let Some(v) = e.current_rps {
            self.rps.get_or_create(l).set(v);
        }
        if let Some(v) = e.current_fail_per_sec {
            self.fail_per_second.get_or_create(l).set(v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::parse;
    use crate::report::tests::SAMPLE;

    fn text(registry: &Registry) -> String {
        let mut s = String::new();
        prometheus_client::encoding::text::encode(&mut s, registry).unwrap();
        s
    }

    #[test]
    fn values_are_in_seconds_under_step_and_endpoint() {
        let mut registry = Registry::default();
        let m = Metrics::register(&mut registry, "kubeserve");
        let mut t = Tracker::new(100, 100);
        let r = parse(SAMPLE.as_bytes()).unwrap();
        let obs = t.observe(&r);
        assert!(m.create_counters(&obs));
        m.apply(&obs, &r, &t);
        m.poll(PollResult::Ok);
        let out = text(&registry);
        assert!(out.contains(r#"locust_requests_total{scenario="kubeserve",step="10",name="/api/v1/predict/1",method="POST"} 150"#), "{out}");
        assert!(out.contains(r#"locust_response_time_seconds{scenario="kubeserve",step="10",name="/api/v1/predict/1",method="POST",quantile="0.95"} 0.04"#), "{out}");
        assert!(
            out.contains(r#"locust_state{scenario="kubeserve",step="10",state="running"} 1"#),
            "{out}"
        );
        // The total row is a gauge source, never a counter (the rules sum the endpoints).
        assert!(
            !out.contains(
                r#"locust_requests_total{scenario="kubeserve",step="10",name="Aggregated""#
            )
        );
    }

    #[test]
    fn gauges_of_an_ended_step_go_away_and_counters_stay() {
        let mut registry = Registry::default();
        let m = Metrics::register(&mut registry, "s");
        let mut t = Tracker::new(100, 100);
        let mut r = parse(SAMPLE.as_bytes()).unwrap();
        let obs = t.observe(&r);
        m.apply(&obs, &r, &t);
        r.user_count = 20;
        r.stats[0].num_requests += 10;
        r.stats[2].num_requests += 10;
        let obs = t.observe(&r);
        m.apply(&obs, &r, &t);
        let out = text(&registry);
        assert!(
            out.contains(r#"locust_users{scenario="s",step="20"} 20"#),
            "{out}"
        );
        assert!(
            !out.contains(r#"locust_users{scenario="s",step="10"}"#),
            "{out}"
        );
        assert!(out.contains(r#"locust_requests_total{scenario="s",step="10",name="/api/v1/predict/1",method="POST"} 150"#));
        assert!(out.contains(r#"locust_requests_total{scenario="s",step="20",name="/api/v1/predict/1",method="POST"} 10"#));
    }
}
