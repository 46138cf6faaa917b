//! Series written by `redline http-load`. The `k6_` families keep k6's names and label
//! keys so existing k6 dashboards and queries read redline runs unchanged; what k6 has
//! no name for uses the `redline_` prefix.
//!
//! A scenario file's `tags:` (on a scenario or a request, like k6's tags) add label keys of
//! the user's choosing to that scenario's or request's series, besides the keys listed here;
//! their values are literals from the file, so they never multiply the number of series.

use crate::metric::{Kind, Metric};

/// Labels on every per-request series (k6's, plus `step` and `tier`).
const REQ: &[&str] = &[
    "scenario",
    "step",
    "name",
    "method",
    "status",
    "expected_response",
    "tier",
];

pub const HTTP_REQS: Metric = Metric {
    name: "k6_http_reqs_total",
    kind: Kind::Counter,
    labels: REQ,
    help: "HTTP requests completed, by outcome (k6: http_reqs).",
};
pub const HTTP_REQ_FAILED: Metric = Metric {
    name: "k6_http_req_failed_rate",
    kind: Kind::Gauge,
    labels: &["scenario", "step", "name", "method", "tier"],
    help: "Fraction of requests that failed since the start of the step (k6: http_req_failed).",
};
pub const HTTP_REQ_DURATION: Metric = Metric {
    name: "k6_http_req_duration_seconds",
    kind: Kind::HistogramBoth,
    labels: &[
        "scenario",
        "step",
        "name",
        "method",
        "status",
        "expected_response",
        "tier",
    ],
    help: "Request duration from the intended start (sending+waiting+receiving plus any queueing in open-model executors).",
};
pub const HTTP_REQ_BLOCKED: Metric = Metric {
    name: "k6_http_req_blocked_seconds",
    kind: Kind::HistogramBoth,
    labels: REQ,
    help: "Time before a request could start on a connection: waiting for a --max-connections slot, plus the wait from the intended start in open-model executors (k6: http_req_blocked).",
};
pub const HTTP_REQ_CONNECTING: Metric = Metric {
    name: "k6_http_req_connecting_seconds",
    kind: Kind::HistogramBoth,
    labels: REQ,
    help: "TCP connect time, once per new connection (k6: http_req_connecting).",
};
pub const HTTP_REQ_TLS_HANDSHAKING: Metric = Metric {
    name: "k6_http_req_tls_handshaking_seconds",
    kind: Kind::HistogramBoth,
    labels: REQ,
    help: "TLS handshake time, once per new https connection (k6: http_req_tls_handshaking).",
};
pub const HTTP_REQ_SENDING: Metric = Metric {
    name: "k6_http_req_sending_seconds",
    kind: Kind::HistogramBoth,
    labels: REQ,
    help: "From handing the request to the connection until its last byte was written to the socket (k6: http_req_sending).",
};
pub const HTTP_REQ_WAITING: Metric = Metric {
    name: "k6_http_req_waiting_seconds",
    kind: Kind::HistogramBoth,
    labels: REQ,
    help: "Time to first byte: from the last request byte written to the response head (k6: http_req_waiting).",
};
pub const HTTP_REQ_RECEIVING: Metric = Metric {
    name: "k6_http_req_receiving_seconds",
    kind: Kind::HistogramBoth,
    labels: REQ,
    help: "From the response head to the last byte of the body (k6: http_req_receiving).",
};
pub const ITERATION_DURATION: Metric = Metric {
    name: "k6_iteration_duration_seconds",
    kind: Kind::HistogramBoth,
    labels: &["scenario", "step"],
    help: "Duration of a whole iteration (all its requests, without think time), from the intended start in open-model executors (k6: iteration_duration).",
};
/// k6 trend-stat gauges (`K6_PROMETHEUS_RW_TREND_STATS`), `p(99)` by default as k6 writes,
/// others when asked for with `--trend-stats`: seconds, cumulative since the start of the step, per request name.
/// `_p50` and `_p99` are catalogued with k6's own series in `rules.rs` (same names).
macro_rules! trend_stat {
    ($id:ident, $name:literal, $stat:literal) => {
        pub const $id: Metric = Metric {
            name: $name,
            kind: Kind::Gauge,
            labels: &["scenario", "step", "name", "method"],
            help: concat!("k6 trend-stat gauge ", $stat, " of http_req_duration in seconds, cumulative since the step started (--trend-stats)."),
        };
    };
}
trend_stat!(HTTP_REQ_DURATION_STAT, "k6_http_req_duration_p95", "p(95)");
trend_stat!(HTTP_REQ_DURATION_P50, "k6_http_req_duration_p50", "p(50)");
trend_stat!(HTTP_REQ_DURATION_P90, "k6_http_req_duration_p90", "p(90)");
trend_stat!(HTTP_REQ_DURATION_P99, "k6_http_req_duration_p99", "p(99)");
trend_stat!(
    HTTP_REQ_DURATION_P999,
    "k6_http_req_duration_p999",
    "p(99.9)"
);
trend_stat!(HTTP_REQ_DURATION_AVG, "k6_http_req_duration_avg", "avg");
trend_stat!(HTTP_REQ_DURATION_MIN, "k6_http_req_duration_min", "min");
trend_stat!(HTTP_REQ_DURATION_MAX, "k6_http_req_duration_max", "max");
trend_stat!(HTTP_REQ_DURATION_MED, "k6_http_req_duration_med", "med");
pub const VUS: Metric = Metric {
    name: "k6_vus",
    kind: Kind::Gauge,
    labels: &["scenario", "step"],
    help: "Virtual users currently running an iteration or waiting to.",
};
pub const VUS_MAX: Metric = Metric {
    name: "k6_vus_max",
    kind: Kind::Gauge,
    labels: &["scenario"],
    help: "Virtual users allocated (pre-allocated plus grown up to maxVUs).",
};
pub const ITERATIONS: Metric = Metric {
    name: "k6_iterations_total",
    kind: Kind::Counter,
    labels: &["scenario", "step"],
    help: "Iterations completed.",
};
pub const DROPPED_ITERATIONS: Metric = Metric {
    name: "k6_dropped_iterations_total",
    kind: Kind::Counter,
    labels: &["scenario", "step"],
    help: "Iterations an open-model executor could not start because no VU was free.",
};
pub const CHECKS: Metric = Metric {
    name: "k6_checks_rate",
    kind: Kind::Gauge,
    labels: &["scenario", "step", "check"],
    help: "Fraction of checks that passed since the start of the step (k6: checks).",
};
pub const CHECKS_TOTAL: Metric = Metric {
    name: "redline_checks_total",
    kind: Kind::Counter,
    labels: &["scenario", "step", "check", "result"],
    help: "Checks evaluated, by result (pass/fail); the counter behind k6_checks_rate.",
};
pub const DATA_SENT: Metric = Metric {
    name: "k6_data_sent_total",
    kind: Kind::Counter,
    labels: &["scenario", "step"],
    help: "Bytes sent (request line, headers and body).",
};
pub const DATA_RECEIVED: Metric = Metric {
    name: "k6_data_received_total",
    kind: Kind::Counter,
    labels: &["scenario", "step"],
    help: "Bytes received (headers and body).",
};
pub const TARGET_RATE: Metric = Metric {
    name: "redline_target_rate",
    kind: Kind::Gauge,
    labels: &["scenario", "step"],
    help: "Iterations per second an arrival-rate executor is asked to start right now.",
};
pub const STEP_INFO: Metric = Metric {
    name: "redline_step_level",
    kind: Kind::Gauge,
    labels: &["scenario", "step", "unit"],
    help: "The level of the running step (VUs or target iterations/s); 1 series per step, present while it runs.",
};
pub const STEP_STARTED: Metric = Metric {
    name: "redline_step_started_timestamp_seconds",
    kind: Kind::Gauge,
    labels: &["scenario", "step"],
    help: "When the step started (Unix seconds, after any settle), taken as it happened: the verdict's exact step span, whatever the push interval.",
};
pub const STEP_ENDED: Metric = Metric {
    name: "redline_step_ended_timestamp_seconds",
    kind: Kind::Gauge,
    labels: &["scenario", "step"],
    help: "When the step ended (Unix seconds); absent while it runs.",
};
pub const STEP_DURATION: Metric = Metric {
    name: "redline_step_http_req_duration_seconds",
    kind: Kind::Gauge,
    labels: &["scenario", "step", "quantile"],
    help: "Request duration quantiles (0.5, 0.95, 0.99) of every request of the step since it started, from the step's own histogram: at its end, the figures the summary prints.",
};
pub const REQUEST_ERRORS: Metric = Metric {
    name: "redline_http_request_errors_total",
    kind: Kind::Counter,
    labels: &["scenario", "step", "name", "reason"],
    help: "Requests that got no HTTP response, by reason (connect_refused, timeout, reset, tls, other).",
};
pub const RATE_LIMITED: Metric = Metric {
    name: "redline_http_rate_limited_total",
    kind: Kind::Counter,
    labels: &["scenario", "step", "name", "tier"],
    help: "Requests answered 429 (counted apart from errors: the gateway worked as configured).",
};
pub const LLM_TOKENS: Metric = Metric {
    name: "redline_llm_tokens_total",
    kind: Kind::Counter,
    labels: &["scenario", "step", "tier", "kind"],
    help: "Tokens reported in OpenAI `usage`, by kind (prompt, completion).",
};
pub const LLM_TTFT: Metric = Metric {
    name: "redline_llm_time_to_first_token_seconds",
    kind: Kind::HistogramBoth,
    labels: &["scenario", "step", "tier"],
    help: "Streaming: from the intended start to the first content token.",
};
pub const LLM_ITL: Metric = Metric {
    name: "redline_llm_inter_token_latency_seconds",
    kind: Kind::HistogramBoth,
    labels: &["scenario", "step", "tier"],
    help: "Streaming: time between consecutive content tokens.",
};
pub const LLM_OUTPUT_TPS: Metric = Metric {
    name: "redline_llm_output_tokens_per_second",
    kind: Kind::HistogramBoth,
    labels: &["scenario", "step", "tier"],
    help: "Streaming: completion tokens per second after the first token, per request.",
};

pub const ALL: &[Metric] = &[
    HTTP_REQS,
    HTTP_REQ_FAILED,
    HTTP_REQ_DURATION,
    HTTP_REQ_BLOCKED,
    HTTP_REQ_CONNECTING,
    HTTP_REQ_TLS_HANDSHAKING,
    HTTP_REQ_SENDING,
    HTTP_REQ_WAITING,
    HTTP_REQ_RECEIVING,
    ITERATION_DURATION,
    HTTP_REQ_DURATION_STAT,
    HTTP_REQ_DURATION_P50,
    HTTP_REQ_DURATION_P99,
    HTTP_REQ_DURATION_P90,
    HTTP_REQ_DURATION_P999,
    HTTP_REQ_DURATION_AVG,
    HTTP_REQ_DURATION_MIN,
    HTTP_REQ_DURATION_MAX,
    HTTP_REQ_DURATION_MED,
    VUS,
    VUS_MAX,
    ITERATIONS,
    DROPPED_ITERATIONS,
    CHECKS,
    CHECKS_TOTAL,
    DATA_SENT,
    DATA_RECEIVED,
    TARGET_RATE,
    STEP_INFO,
    STEP_STARTED,
    STEP_ENDED,
    STEP_DURATION,
    REQUEST_ERRORS,
    RATE_LIMITED,
    LLM_TOKENS,
    LLM_TTFT,
    LLM_ITL,
    LLM_OUTPUT_TPS,
];
