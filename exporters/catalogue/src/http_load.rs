//! Series written by `redline http-load`. The `k6_` families keep k6's names and label
//! keys so existing k6 dashboards and queries read redline runs unchanged; what k6 has
//! no name for uses the `redline_` prefix.
//!
//! A scenario file's `tags:` (on a scenario or a request, like k6's tags) add label keys of
//! the user's choosing to that scenario's or request's series, besides the keys listed here;
//! their values are literals from the file, so they never multiply the number of series.
//!
//! http-load writes these families with its own encoder (HDR histograms merged per
//! collection, not prometheus-client metrics), which takes the typed entries below: a
//! family is written only as the kind it is declared, with at least its declared keys.

use crate::{Catalogued, kinds};

label_sets! {
    /// One response: k6's per-request keys plus `step` and `tier`.
    Response { scenario, step, name, method, status, expected_response, tier }
    /// A request over all its responses, per tier.
    RequestTier { scenario, step, name, method, tier }
    /// A request over all its responses (the trend-stat gauges).
    Request { scenario, step, name, method }
    /// A request's errors, by reason.
    RequestReason { scenario, step, name, reason }
    /// A request's 429s, per tier.
    NameTier { scenario, step, name, tier }
    Scenario { scenario }
    Step { scenario, step }
    StepUnit { scenario, step, unit }
    StepQuantile { scenario, step, quantile }
    Check { scenario, step, check }
    CheckResult { scenario, step, check, result }
    Tier { scenario, step, tier }
    TierKind { scenario, step, tier, kind }
}

/// The help of a k6 trend-stat gauge (`K6_PROMETHEUS_RW_TREND_STATS`): `p(99)` by default
/// as k6 writes, others when asked for with `--trend-stats`.
macro_rules! trend_help {
    ($stat:literal) => {
        concat!(
            "k6 trend-stat gauge ",
            $stat,
            " of http_req_duration in seconds, cumulative since the step started (--trend-stats)."
        )
    };
}

catalogue! {
    HTTP_REQS: Counter<Response> = "k6_http_reqs_total",
        "HTTP requests completed, by outcome (k6: http_reqs).";
    HTTP_REQ_FAILED: Gauge<RequestTier> = "k6_http_req_failed_rate",
        "Fraction of requests that failed since the start of the step (k6: http_req_failed).";
    HTTP_REQ_DURATION: HistogramBoth<Response> = "k6_http_req_duration_seconds",
        "Request duration from the intended start (sending+waiting+receiving plus any queueing in open-model executors).";
    HTTP_REQ_BLOCKED: HistogramBoth<Response> = "k6_http_req_blocked_seconds",
        "Time before a request could start on a connection: waiting for a --max-connections slot, plus the wait from the intended start in open-model executors (k6: http_req_blocked).";
    HTTP_REQ_CONNECTING: HistogramBoth<Response> = "k6_http_req_connecting_seconds",
        "TCP connect time, once per new connection (k6: http_req_connecting).";
    HTTP_REQ_TLS_HANDSHAKING: HistogramBoth<Response> = "k6_http_req_tls_handshaking_seconds",
        "TLS handshake time, once per new https connection (k6: http_req_tls_handshaking).";
    HTTP_REQ_SENDING: HistogramBoth<Response> = "k6_http_req_sending_seconds",
        "From handing the request to the connection until its last byte was written to the socket (k6: http_req_sending).";
    HTTP_REQ_WAITING: HistogramBoth<Response> = "k6_http_req_waiting_seconds",
        "Time to first byte: from the last request byte written to the response head (k6: http_req_waiting).";
    HTTP_REQ_RECEIVING: HistogramBoth<Response> = "k6_http_req_receiving_seconds",
        "From the response head to the last byte of the body (k6: http_req_receiving).";
    ITERATION_DURATION: HistogramBoth<Step> = "k6_iteration_duration_seconds",
        "Duration of a whole iteration (all its requests, without think time), from the intended start in open-model executors (k6: iteration_duration).";
    HTTP_REQ_DURATION_STAT: Gauge<Request> = "k6_http_req_duration_p95", trend_help!("p(95)");
    HTTP_REQ_DURATION_P50: Gauge<Request> = "k6_http_req_duration_p50", trend_help!("p(50)");
    HTTP_REQ_DURATION_P99: Gauge<Request> = "k6_http_req_duration_p99", trend_help!("p(99)");
    HTTP_REQ_DURATION_P90: Gauge<Request> = "k6_http_req_duration_p90", trend_help!("p(90)");
    HTTP_REQ_DURATION_P999: Gauge<Request> = "k6_http_req_duration_p999", trend_help!("p(99.9)");
    HTTP_REQ_DURATION_AVG: Gauge<Request> = "k6_http_req_duration_avg", trend_help!("avg");
    HTTP_REQ_DURATION_MIN: Gauge<Request> = "k6_http_req_duration_min", trend_help!("min");
    HTTP_REQ_DURATION_MAX: Gauge<Request> = "k6_http_req_duration_max", trend_help!("max");
    HTTP_REQ_DURATION_MED: Gauge<Request> = "k6_http_req_duration_med", trend_help!("med");
    VUS: Gauge<Step> = "k6_vus",
        "Virtual users currently running an iteration or waiting to.";
    VUS_MAX: Gauge<Scenario> = "k6_vus_max",
        "Virtual users allocated (pre-allocated plus grown up to maxVUs).";
    ITERATIONS: Counter<Step> = "k6_iterations_total",
        "Iterations completed.";
    DROPPED_ITERATIONS: Counter<Step> = "k6_dropped_iterations_total",
        "Iterations an open-model executor could not start because no VU was free.";
    CHECKS: Gauge<Check> = "k6_checks_rate",
        "Fraction of checks that passed since the start of the step (k6: checks).";
    CHECKS_TOTAL: Counter<CheckResult> = "redline_checks_total",
        "Checks evaluated, by result (pass/fail); the counter behind k6_checks_rate.";
    DATA_SENT: Counter<Step> = "k6_data_sent_total",
        "Bytes sent (request line, headers and body).";
    DATA_RECEIVED: Counter<Step> = "k6_data_received_total",
        "Bytes received (headers and body).";
    TARGET_RATE: Gauge<Step> = "redline_target_rate",
        "Iterations per second an arrival-rate executor is asked to start right now.";
    STEP_INFO: Gauge<StepUnit> = "redline_step_level",
        "The level of the running step (VUs or target iterations/s); 1 series per step, present while it runs.";
    STEP_STARTED: Gauge<Step> = "redline_step_started_timestamp_seconds",
        "When the step started (Unix seconds, after any settle), taken as it happened: the verdict's exact step span, whatever the push interval.";
    STEP_ENDED: Gauge<Step> = "redline_step_ended_timestamp_seconds",
        "When the step ended (Unix seconds); absent while it runs.";
    STEP_DURATION: Gauge<StepQuantile> = "redline_step_http_req_duration_seconds",
        "Request duration quantiles (0.5, 0.95, 0.99) of every request of the step since it started, from the step's own histogram: at its end, the figures the summary prints.";
    REQUEST_ERRORS: Counter<RequestReason> = "redline_http_request_errors_total",
        "Requests that got no HTTP response, by reason (connect_refused, timeout, reset, tls, other).";
    RATE_LIMITED: Counter<NameTier> = "redline_http_rate_limited_total",
        "Requests answered 429 (counted apart from errors: the gateway worked as configured).";
    LLM_TOKENS: Counter<TierKind> = "redline_llm_tokens_total",
        "Tokens reported in OpenAI `usage`, by kind (prompt, completion).";
    LLM_TTFT: HistogramBoth<Tier> = "redline_llm_time_to_first_token_seconds",
        "Streaming: from the intended start to the first content token.";
    LLM_ITL: HistogramBoth<Tier> = "redline_llm_inter_token_latency_seconds",
        "Streaming: time between consecutive content tokens.";
    LLM_OUTPUT_TPS: HistogramBoth<Tier> = "redline_llm_output_tokens_per_second",
        "Streaming: completion tokens per second after the first token, per request.";
}

/// The trend-stat gauges, for the encoder to find the one a `--trend-stats` entry names.
pub const TREND_STATS: [Catalogued<Request, kinds::Gauge>; 9] = [
    HTTP_REQ_DURATION_STAT,
    HTTP_REQ_DURATION_P50,
    HTTP_REQ_DURATION_P99,
    HTTP_REQ_DURATION_P90,
    HTTP_REQ_DURATION_P999,
    HTTP_REQ_DURATION_AVG,
    HTTP_REQ_DURATION_MIN,
    HTTP_REQ_DURATION_MAX,
    HTTP_REQ_DURATION_MED,
];
