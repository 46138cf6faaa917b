//! Series written by `redline locust-exporter` from a Locust master's `/stats/requests`,
//! so Locust runs are judged by the same recording rules and alerts as redline's own.
//! Every `locust_*` family also carries `scenario` (a flag) and `step` (the user count the
//! requests were made at). Response times are Locust's own figures, which it rounds to about
//! two significant digits (147 ms becomes 150 ms) and keeps since the start of the test.

label_sets! {
    EndpointLabels { scenario, step, name, method }
    QuantileLabels { scenario, step, name, method, quantile }
    StepLabels { scenario, step }
    ErrorLabels { scenario, step, name, method, error }
    StateLabels { scenario, step, state }
    ResultLabel { result }
    OverflowLabel { label }
}

catalogue! {
    REQUESTS: Counter<EndpointLabels> = "locust_requests_total",
        "Requests Locust made, by task name and method.";
    FAILURES: Counter<EndpointLabels> = "locust_failures_total",
        "Requests Locust counted as failed (its own definition: exceptions, bad status, failed validation).";
    RESPONSE_TIME: Gauge<QuantileLabels> = "locust_response_time_seconds",
        "Response-time percentile Locust reports (quantile 0.5, 0.95, 0.99).";
    RESPONSE_TIME_AVG: Gauge<EndpointLabels> = "locust_response_time_avg_seconds",
        "Average response time Locust reports.";
    RESPONSE_TIME_MAX: Gauge<EndpointLabels> = "locust_response_time_max_seconds",
        "Maximum response time Locust reports.";
    USERS: Gauge<StepLabels> = "locust_users",
        "Locust users running.";
    WORKERS: Gauge<StepLabels> = "locust_workers",
        "Locust workers connected to the master.";
    FAIL_RATIO: Gauge<StepLabels> = "locust_fail_ratio",
        "Failed over all requests since the Locust run (or its stats) started.";
    ERRORS: Counter<ErrorLabels> = "locust_errors_total",
        "Failures by error message, as in Locust's failures table.";
    STATE: Gauge<StateLabels> = "locust_state",
        "1 for the Locust master's current state (ready, spawning, running, stopped), else 0.";
    REQUESTS_PER_SECOND: Gauge<EndpointLabels> = "locust_requests_per_second",
        "Locust's current requests per second (its own sliding window of about 10 s).";
    FAILURES_PER_SECOND: Gauge<EndpointLabels> = "locust_failures_per_second",
        "Locust's current failures per second (its own sliding window of about 10 s).";
    POLLS: Counter<ResultLabel> = "redline_locust_exporter_polls_total",
        "Polls of Locust's /stats/requests, by result: ok, unreachable, http_error, invalid (not the JSON Locust serves).";
    RESETS: Counter = "redline_locust_exporter_stats_resets_total",
        "Times Locust's cumulative stats went back (a new test or a stats reset); counters carry on from where they were.";
    OVERFLOW: Counter<OverflowLabel> = "redline_locust_exporter_label_overflow_total",
        "Endpoints (label=name) or error messages (label=error) beyond the exporter's bound, counted under \"other\".";
}
