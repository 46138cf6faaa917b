//! Series written by `redline locust-exporter` from a Locust master's `/stats/requests`,
//! so Locust runs are judged by the same recording rules and alerts as redline's own.
//! Every `locust_*` family also carries `scenario` (a flag) and `step` (the user count the
//! requests were made at). Response times are Locust's own figures, which it rounds to about
//! two significant digits (147 ms becomes 150 ms) and keeps since the start of the test.

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

pub const REQUESTS_PER_SECOND: Metric = Metric {
    name: "locust_requests_per_second",
    kind: Kind::Gauge,
    labels: REQ,
    help: "Locust's current requests per second (its own sliding window of about 10 s).",
};
pub const FAILURES_PER_SECOND: Metric = Metric {
    name: "locust_failures_per_second",
    kind: Kind::Gauge,
    labels: REQ,
    help: "Locust's current failures per second (its own sliding window of about 10 s).",
};
pub const POLLS: Metric = Metric {
    name: "redline_locust_exporter_polls_total",
    kind: Kind::Counter,
    labels: &["result"],
    help: "Polls of Locust's /stats/requests, by result: ok, unreachable, http_error, invalid (not the JSON Locust serves).",
};
pub const RESETS: Metric = Metric {
    name: "redline_locust_exporter_stats_resets_total",
    kind: Kind::Counter,
    labels: &[],
    help: "Times Locust's cumulative stats went back (a new test or a stats reset); counters carry on from where they were.",
};
pub const OVERFLOW: Metric = Metric {
    name: "redline_locust_exporter_label_overflow_total",
    kind: Kind::Counter,
    labels: &["label"],
    help: "Endpoints (label=name) or error messages (label=error) beyond the exporter's bound, counted under \"other\".",
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
    REQUESTS_PER_SECOND,
    FAILURES_PER_SECOND,
    POLLS,
    RESETS,
    OVERFLOW,
];
