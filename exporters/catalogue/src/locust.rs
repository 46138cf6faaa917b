//! Series written by `redline locust-exporter` from a Locust master's `/stats/requests`,
//! so Locust runs are judged by the same recording rules and alerts as redline's own.
//! Every family also carries `scenario` and `step` (the exporter's flags).

use crate::{Kind, Metric};

const REQ: &[&str] = &["scenario", "step", "name", "method"];

pub const REQUESTS: Metric = Metric {
    name: "locust_requests_total",
    kind: Kind::Counter,
    labels: REQ,
    help: "Requests Locust made, by task name and method.",
};
pub const FAILURES: Metric = Metric {
    name: "locust_failures_total",
    kind: Kind::Counter,
    labels: REQ,
    help: "Requests Locust counted as failed (its own definition: exceptions, bad status, failed validation).",
};
pub const RESPONSE_TIME: Metric = Metric {
    name: "locust_response_time_seconds",
    kind: Kind::Gauge,
    labels: &["scenario", "step", "name", "method", "quantile"],
    help: "Response-time percentile Locust reports (quantile 0.5, 0.95, 0.99).",
};
pub const RESPONSE_TIME_AVG: Metric = Metric {
    name: "locust_response_time_avg_seconds",
    kind: Kind::Gauge,
    labels: REQ,
    help: "Average response time Locust reports.",
};
pub const RESPONSE_TIME_MAX: Metric = Metric {
    name: "locust_response_time_max_seconds",
    kind: Kind::Gauge,
    labels: REQ,
    help: "Maximum response time Locust reports.",
};
pub const USERS: Metric = Metric {
    name: "locust_users",
    kind: Kind::Gauge,
    labels: &["scenario", "step"],
    help: "Locust users running.",
};
pub const WORKERS: Metric = Metric {
    name: "locust_workers",
    kind: Kind::Gauge,
    labels: &["scenario", "step"],
    help: "Locust workers connected to the master.",
};
pub const FAIL_RATIO: Metric = Metric {
    name: "locust_fail_ratio",
    kind: Kind::Gauge,
    labels: &["scenario", "step"],
    help: "Failed over all requests since the Locust run (or its stats) started.",
};
pub const ERRORS: Metric = Metric {
    name: "locust_errors_total",
    kind: Kind::Counter,
    labels: &["scenario", "step", "name", "method", "error"],
    help: "Failures by error message, as in Locust's failures table.",
};
pub const STATE: Metric = Metric {
    name: "locust_state",
    kind: Kind::Gauge,
    labels: &["scenario", "step", "state"],
    help: "1 for the Locust master's current state (ready, spawning, running, stopped), else 0.",
};

pub const ALL: &[Metric] = &[
    REQUESTS,
    FAILURES,
    RESPONSE_TIME,
    RESPONSE_TIME_AVG,
    RESPONSE_TIME_MAX,
    USERS,
    WORKERS,
    FAIL_RATIO,
    ERRORS,
    STATE,
];
