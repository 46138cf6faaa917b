//! Series written by the recording rules in `alerts/` (never by a daemon), and the
//! [`EXTERNAL`] series those rules and the dashboards read but redline does not write.
//!
//! The dashboards-check crate tests that every `record:` in `alerts/*.yml` is listed here and
//! that everything listed here is recorded by some rule.

use crate::metric::{Kind, Metric};

const fn rec(name: &'static str, labels: &'static [&'static str], help: &'static str) -> Metric {
    Metric {
        name,
        kind: Kind::Recorded,
        labels,
        help,
    }
}
const fn thr(name: &'static str, help: &'static str) -> Metric {
    Metric {
        name,
        kind: Kind::Recorded,
        labels: &["scenario"],
        help,
    }
}

const STEP: &[&str] = &["scenario", "step"];
const RUN: &[&str] = &["scenario"];

/// Shared HTTP signals per testid/scenario/step, from every source (redline http-load, k6's own
/// remote-write output, Locust).
pub const HTTP: &[Metric] = &[
    rec(
        "redline:http_reqs:rate1m",
        STEP,
        "Requests per second (k6_http_reqs_total or locust_requests_total).",
    ),
    rec(
        "redline:iterations:rate1m",
        STEP,
        "Iterations completed per second.",
    ),
    rec(
        "redline:target_rate",
        STEP,
        "Iterations per second the arrival-rate executor is asked for.",
    ),
    rec(
        "redline:achieved_rate:ratio",
        STEP,
        "Achieved over target iteration rate; below 1 the target is saturated.",
    ),
    rec("redline:vus", STEP, "VUs (k6_vus) or Locust users running."),
    rec(
        "redline:http_req_duration_seconds:p50",
        STEP,
        "Request p50 over 1m: native histogram, else classic buckets, else k6 trend-stat gauge, else Locust.",
    ),
    rec(
        "redline:http_req_duration_seconds:p95",
        STEP,
        "Request p95 over 1m, same sources as p50.",
    ),
    rec(
        "redline:http_req_duration_seconds:p99",
        STEP,
        "Request p99 over 1m, same sources as p50.",
    ),
    rec(
        "redline:http_success:ratio1m",
        STEP,
        "Requests with an expected response over all requests, 429s left out of both.",
    ),
    rec(
        "redline:http_errors:ratio1m",
        STEP,
        "Requests answered 5xx or not at all (status 0) over all requests; Locust: its failures.",
    ),
    rec(
        "redline:http_server_errors:ratio1m",
        STEP,
        "Requests answered 5xx over all requests.",
    ),
    rec(
        "redline:http_rate_limited:ratio1m",
        STEP,
        "Requests answered 429 over all requests (not an error).",
    ),
    rec(
        "redline:http_timeouts:rate1m",
        STEP,
        "Requests per second that timed out.",
    ),
    rec(
        "redline:dropped_iterations:rate1m",
        STEP,
        "Iterations per second dropped for want of a free VU.",
    ),
    rec(
        "redline:llm_tokens:rate1m",
        &["scenario", "step", "kind"],
        "OpenAI usage tokens per second by kind.",
    ),
    rec(
        "redline:step_level",
        &["scenario", "step", "unit"],
        "The running step's level (redline_step_level, or Locust users with unit=users).",
    ),
    rec(
        "redline:step_is_baseline",
        &["scenario", "step", "unit"],
        "The run's baseline step (its lowest level), which drift is not judged on.",
    ),
    rec(
        "redline:http_req_duration_seconds:p95_baseline",
        RUN,
        "Median p95 of the run's baseline step (the lowest-level, i.e. first, step).",
    ),
    rec(
        "redline:http_req_duration_seconds:p99_baseline",
        RUN,
        "Median p99 of the run's baseline step.",
    ),
    rec(
        "redline:http_req_duration_seconds:p95_drift",
        STEP,
        "p95 over the baseline step's p95.",
    ),
    rec(
        "redline:http_req_duration_seconds:p99_drift",
        STEP,
        "p99 over the baseline step's p99.",
    ),
    rec(
        "redline:step_span_seconds",
        STEP,
        "An ended http-load step's exact span (its end minus its start record); present once it ended.",
    ),
    rec(
        "redline:step_http_success:ratio",
        STEP,
        "Judged success ratio (429s apart): an ended http-load step's whole-step totals, else redline:http_success:ratio1m.",
    ),
    rec(
        "redline:step_http_errors:ratio",
        STEP,
        "Judged 5xx-or-no-response ratio: whole-step totals of an ended http-load step, else the 1m ratio.",
    ),
    rec(
        "redline:step_http_server_errors:ratio",
        STEP,
        "Judged 5xx ratio: whole-step totals of an ended http-load step, else the 1m ratio.",
    ),
    rec(
        "redline:step_http_rate_limited:ratio",
        STEP,
        "Judged 429 ratio: whole-step totals of an ended http-load step, else the 1m ratio.",
    ),
    rec(
        "redline:step_http_timeouts:rate",
        STEP,
        "Judged timeouts per second: an ended http-load step's timeouts over its span, else the 1m rate.",
    ),
    rec(
        "redline:step_dropped_iterations:rate",
        STEP,
        "Judged dropped iterations per second: an ended http-load step's drops over its span, else the 1m rate.",
    ),
    rec(
        "redline:step_achieved_rate:ratio",
        STEP,
        "Judged achieved rate: an ended http-load arrival-rate step's started over scheduled iterations, else the 1m ratio at its best over 30 s.",
    ),
    rec(
        "redline:step_http_req_duration_seconds:p50",
        STEP,
        "Judged p50: an ended http-load step's whole-step p50, else the 1m p50.",
    ),
    rec(
        "redline:step_http_req_duration_seconds:p95",
        STEP,
        "Judged p95: an ended http-load step's whole-step p95, else the 1m p95.",
    ),
    rec(
        "redline:step_http_req_duration_seconds:p99",
        STEP,
        "Judged p99: an ended http-load step's whole-step p99, else the 1m p99.",
    ),
    rec(
        "redline:step_http_req_duration_seconds:p95_baseline",
        RUN,
        "The baseline step's whole-step p95 (http-load), else the median of its 1m p95.",
    ),
    rec(
        "redline:step_http_req_duration_seconds:p95_drift",
        STEP,
        "Judged p95 over the judged baseline p95.",
    ),
    rec(
        "redline:step_http_req_duration_seconds:p99_baseline",
        RUN,
        "The baseline step's whole-step p99 (http-load), else the median of its 1m p99.",
    ),
    rec(
        "redline:step_http_req_duration_seconds:p99_drift",
        STEP,
        "Judged p99 over the judged baseline p99.",
    ),
];

/// Linkerd destination fan-out signals per testid/scenario.
pub const DESTINATION: &[Metric] = &[
    rec(
        "redline:dst_update_latency_seconds:p50",
        RUN,
        "Destination update latency p50 over 1m, all services.",
    ),
    rec(
        "redline:dst_update_latency_seconds:p95",
        RUN,
        "Destination update latency p95 over 1m, all services.",
    ),
    rec(
        "redline:dst_update_latency_seconds:p99",
        RUN,
        "Destination update latency p99 over 1m, all services.",
    ),
    rec(
        "redline:dst_updates:rate1m",
        RUN,
        "Updates received per second over all streams.",
    ),
    rec(
        "redline:dst_fanout_completion_seconds:max",
        RUN,
        "Slowest scale event of the run to reach every stream (upper bound of its bucket).",
    ),
    rec(
        "redline:dst_send_timeouts:ratio",
        RUN,
        "Send timeouts over streams opened, since the run started.",
    ),
    rec(
        "redline:dst_streams_active",
        RUN,
        "Get streams open over all client replicas.",
    ),
    rec(
        "redline:dst_memory_bytes",
        &["scenario", "pod"],
        "Destination container working set (cAdvisor) while all the run's streams are open.",
    ),
    rec(
        "redline:dst_memory_bytes:floor_growth",
        &["scenario", "pod"],
        "Lowest memory of the last 10 min over the run's lowest (1 = back at baseline).",
    ),
    rec(
        "redline:dst_memory_bytes:above_baseline",
        &["scenario", "pod"],
        "Memory above the run's lowest (the baseline).",
    ),
    rec(
        "redline:dst_update_latency_seconds:p999",
        RUN,
        "Destination update latency p99.9 over 1m, all services (the seed's p99.9).",
    ),
    rec(
        "redline:dst_run",
        RUN,
        "1 for the dst-client run that asked for the most streams in the last minute: the run the controller's and the API server's series (which carry no testid) are attributed to.",
    ),
    rec(
        "redline:dst_controller_views",
        RUN,
        "Endpoint views the destination controller holds for the run's services (destination_endpoint_views_active, or in Linkerd 2.14 the sum of endpoints_subscribers over test-service-*).",
    ),
    rec(
        "redline:dst_controller_streams_open",
        RUN,
        "Destination.Get streams the controller has open (grpc_server_started_total - grpc_server_handled_total).",
    ),
    rec(
        "redline:dst_controller_get_handling_seconds:p95",
        RUN,
        "p95 of Destination.Get stream durations (grpc_server_handling_seconds) over 5m: streams that ended.",
    ),
    rec(
        "redline:dst_controller_send_seconds:p95",
        RUN,
        "p95 of the controller's stream send duration over 5m (destination_stream_send_duration_seconds; absent in Linkerd 2.14).",
    ),
    rec(
        "redline:dst_controller_send_timeouts:ratio",
        RUN,
        "Controller send timeouts (Linkerd 2.14: update-queue overflows) in the last 5m over the most Get streams open in it.",
    ),
    rec(
        "redline:dst_cpu_cores",
        &["scenario", "pod"],
        "Destination controller CPU (its process_cpu_seconds_total) in cores over 1m.",
    ),
    rec(
        "redline:dst_heap_inuse_bytes",
        &["scenario", "pod"],
        "Destination controller Go heap in use (go_memstats_heap_inuse_bytes).",
    ),
    rec(
        "redline:apiserver_watches",
        &["scenario", "resource"],
        "Watches open on the API server for the resources the destination controller reads.",
    ),
    rec(
        "redline:apiserver_endpoint_writes:rate1m",
        &["scenario", "resource", "verb"],
        "Endpoints/EndpointSlices writes per second on the API server (the churn the controller fans out).",
    ),
];

/// pprof-sampler and chaos signals.
pub const SAMPLER_AND_CHAOS: &[Metric] = &[
    rec(
        "redline:pprof_heap_inuse_bytes:growth5m",
        &["pod", "container"],
        "Lowest heap in use of the last 5 min over the 5 min before.",
    ),
    rec(
        "redline:pod_memory:limit_ratio",
        &["namespace", "pod", "container"],
        "Sampled working set over the container's memory limit.",
    ),
    rec(
        "redline:pod_cpu:limit_ratio",
        &["namespace", "pod", "container"],
        "Sampled CPU cores over the container's CPU limit.",
    ),
    rec(
        "redline:chaos_recovery_seconds:max",
        &["scenario", "fault", "clock"],
        "Slowest recovery of the run per fault and clock (upper bound of its bucket).",
    ),
    rec(
        "redline:chaos_interruption_seconds:max",
        &["scenario", "fault", "probe"],
        "Longest user-visible interruption of the run per fault and probe.",
    ),
    // alerts/maas.yml: cluster series tied to the HTTP run writing at the time.
    rec(
        "redline:http_run_active",
        RUN,
        "1 for the HTTP run writing now (one per Prometheus), to tie cluster series to it.",
    ),
    rec(
        "redline:node_cpu:ratio1m",
        &["scenario", "instance"],
        "Node CPU busy share over 1m (node-exporter), during the run.",
    ),
    rec(
        "redline:pod_restarts:increase5m",
        &["scenario", "namespace", "pod"],
        "Container restarts of a pod in the last 5m (kube-state-metrics), during the run.",
    ),
    rec(
        "redline:authorino_errors:ratio1m",
        RUN,
        "Authorino answers other than OK/UNAUTHENTICATED/PERMISSION_DENIED/NOT_FOUND over all, during the run.",
    ),
];

/// Alert thresholds (`alerts/thresholds.yml`): one series per scenario, `scenario="default"` always.
pub const THRESHOLDS: &[Metric] = &[
    thr(
        "redline:threshold:p95_degraded_seconds",
        "Request p95 above this is Degraded.",
    ),
    thr(
        "redline:threshold:p95_breaking_seconds",
        "Request p95 above this is Breaking.",
    ),
    thr(
        "redline:threshold:success_ratio_degraded",
        "Success ratio below this is Degraded.",
    ),
    thr(
        "redline:threshold:success_ratio_breaking",
        "Success ratio below this is Breaking.",
    ),
    thr(
        "redline:threshold:timeouts_per_second",
        "Timeouts per second above this are Breaking.",
    ),
    thr(
        "redline:threshold:error_ratio_degraded",
        "Error ratio at or above this is Degraded.",
    ),
    thr(
        "redline:threshold:error_ratio_breaking",
        "Error ratio above this is Breaking.",
    ),
    thr(
        "redline:threshold:server_error_ratio_breaking",
        "5xx ratio above this is Breaking.",
    ),
    thr(
        "redline:threshold:rate_limited_ratio",
        "429 ratio above this is Degraded.",
    ),
    thr(
        "redline:threshold:achieved_rate_ratio",
        "Achieved/target rate below this is Saturated.",
    ),
    thr(
        "redline:threshold:dropped_iterations_per_second",
        "Dropped iterations per second above this are Degraded.",
    ),
    thr(
        "redline:threshold:p95_drift_ratio",
        "p95 over the baseline step's above this is Degraded.",
    ),
    thr(
        "redline:threshold:p99_drift_ratio",
        "p99 over the baseline step's above this is Degraded.",
    ),
    thr(
        "redline:threshold:token_volume_drift_degraded",
        "Token-volume steps: p95 drift above this is Degraded.",
    ),
    thr(
        "redline:threshold:token_volume_drift_breaking",
        "Token-volume steps: p95 drift above this is Breaking.",
    ),
    thr(
        "redline:threshold:dst_update_p95_seconds",
        "Destination update latency p95 above this fails.",
    ),
    thr(
        "redline:threshold:dst_update_p99_seconds",
        "Destination update latency p99 above this fails.",
    ),
    thr(
        "redline:threshold:dst_update_p999_seconds",
        "Destination update latency p99.9 above this fails.",
    ),
    thr(
        "redline:threshold:dst_fanout_seconds",
        "Slowest fan-out above this fails.",
    ),
    thr(
        "redline:threshold:dst_send_timeout_ratio",
        "Send timeouts over streams above this fail.",
    ),
    thr(
        "redline:threshold:dst_stream_resets",
        "Stream resets above this fail.",
    ),
    thr(
        "redline:threshold:dst_connection_errors",
        "Connection errors above this fail.",
    ),
    thr(
        "redline:threshold:dst_memory_floor_growth",
        "Memory floor growth above this fails.",
    ),
    thr(
        "redline:threshold:dst_memory_spike_bytes",
        "Memory above baseline by more than this fails.",
    ),
    thr(
        "redline:threshold:dst_memory_bytes",
        "Destination memory above this fails.",
    ),
    thr(
        "redline:threshold:heap_growth_ratio",
        "Heap floor growth per 5 min above this is Degraded.",
    ),
    thr(
        "redline:threshold:pod_memory_limit_ratio",
        "Memory over limit above this is Degraded.",
    ),
    thr(
        "redline:threshold:pod_cpu_limit_ratio",
        "CPU over limit above this is Degraded.",
    ),
    thr(
        "redline:threshold:fit_budget_ratio_degraded",
        "Usage over budget above this is Degraded.",
    ),
    thr(
        "redline:threshold:fit_budget_ratio_breaking",
        "Usage over budget above this fails.",
    ),
    thr(
        "redline:threshold:hpa_scale_up_seconds",
        "Load start to the HPA's first scale-up above this warns (KubeServe: detects within 30-60 s).",
    ),
    thr(
        "redline:threshold:hpa_ready_seconds",
        "Load start to the first new replica Ready above this fails (KubeServe: responds within 1-2 min).",
    ),
    thr(
        "redline:threshold:hpa_peak_replicas",
        "Fewest Ready replicas a loaded HPA run must reach (KubeServe: 1 -> 2 -> 3+), else a warning.",
    ),
    thr(
        "redline:threshold:node_cpu_ratio",
        "Node CPU busy share above this is a stress indicator (MaaS: 80 %).",
    ),
    thr(
        "redline:threshold:pod_restarts",
        "Pod restarts in 5 min during a run above this are a stress indicator.",
    ),
    thr(
        "redline:threshold:authorino_error_ratio",
        "Authorino error answers share above this is a stress indicator.",
    ),
    thr(
        "redline:threshold:rate_limited_invalid_ratio",
        "429 share above this makes a MaaS run invalid (limits not raised); Inf elsewhere.",
    ),
    Metric {
        name: "redline:threshold:chaos_interruption_seconds",
        kind: Kind::Recorded,
        labels: &["scenario", "fault"],
        help: "Interruption per fault above this fails.",
    },
    Metric {
        name: "redline:threshold:chaos_recovery_seconds",
        kind: Kind::Recorded,
        labels: &["scenario", "fault"],
        help: "Recovery per fault above this fails.",
    },
];

/// Every recorded family, in the order of the rule files.
pub const ALL: &[Metric] = &concat(HTTP, DESTINATION, SAMPLER_AND_CHAOS, THRESHOLDS);

const N: usize = HTTP.len() + DESTINATION.len() + SAMPLER_AND_CHAOS.len() + THRESHOLDS.len();

const fn concat(a: &[Metric], b: &[Metric], c: &[Metric], d: &[Metric]) -> [Metric; N] {
    let mut out = [a[0]; N];
    let mut i = 0;
    let mut k = 0;
    let parts = [a, b, c, d];
    while k < parts.len() {
        let mut j = 0;
        while j < parts[k].len() {
            out[i] = parts[k][j];
            i += 1;
            j += 1;
        }
        k += 1;
    }
    out
}

/// Who writes the [`EXTERNAL`] series. An external entry's help starts with one of these,
/// followed by a colon or a parenthesis (`"kube-state-metrics: ..."`,
/// `"cAdvisor (kubelet, ...): ..."`): the liveness test (exporters/e2e/tests/every_series_is_live.rs)
/// accepts a series no redline daemon writes only when the catalogue says who does, so a
/// judge whose input nobody produces cannot hide behind "external".
pub const EXTERNAL_SOURCES: &[&str] = &[
    "cAdvisor",
    "kube-state-metrics",
    "node-exporter",
    "Authorino",
    "kube-apiserver",
    "Linkerd",
    "Prometheus",
    "the system under test",
];

/// The source an external entry names ([`EXTERNAL_SOURCES`]), if its help starts with one.
pub fn external_source(m: &Metric) -> Option<&'static str> {
    EXTERNAL_SOURCES.iter().copied().find(|s| {
        m.help
            .strip_prefix(s)
            .is_some_and(|rest| rest.starts_with([':', ' ', '(']))
    })
}

/// Series redline's rules and dashboards read but redline does not write; not part of
/// [`crate::all`] (they are not redline's to document), checked separately by the tests.
pub const EXTERNAL: &[Metric] = &[
    Metric {
        name: "container_memory_working_set_bytes",
        kind: Kind::Gauge,
        labels: &["namespace", "pod", "container"],
        help: "cAdvisor (kubelet, scraped by kube-prometheus-stack): container working set.",
    },
    Metric {
        name: "container_cpu_usage_seconds_total",
        kind: Kind::Counter,
        labels: &["namespace", "pod", "container"],
        help: "cAdvisor: container CPU time.",
    },
    Metric {
        name: "kube_pod_container_resource_limits",
        kind: Kind::Gauge,
        labels: &["namespace", "pod", "container", "resource", "unit"],
        help: "kube-state-metrics: container resource limits.",
    },
    Metric {
        name: "kube_horizontalpodautoscaler_status_current_replicas",
        kind: Kind::Gauge,
        labels: &["namespace", "horizontalpodautoscaler"],
        help: "kube-state-metrics (kube-prometheus-stack's, scraped by its Prometheus): current replicas of an HPA.",
    },
    Metric {
        name: "kube_horizontalpodautoscaler_status_desired_replicas",
        kind: Kind::Gauge,
        labels: &["namespace", "horizontalpodautoscaler"],
        help: "kube-state-metrics: replicas an HPA last asked for.",
    },
    Metric {
        name: "kube_horizontalpodautoscaler_spec_max_replicas",
        kind: Kind::Gauge,
        labels: &["namespace", "horizontalpodautoscaler"],
        help: "kube-state-metrics: an HPA's maxReplicas.",
    },
    Metric {
        name: "node_cpu_seconds_total",
        kind: Kind::Counter,
        labels: &["instance", "cpu", "mode"],
        help: "node-exporter: CPU seconds per mode (MaaS node CPU > 80 %).",
    },
    Metric {
        name: "kube_pod_container_status_restarts_total",
        kind: Kind::Counter,
        labels: &["namespace", "pod", "container"],
        help: "kube-state-metrics: container restarts (MaaS API pod restarting).",
    },
    Metric {
        name: "auth_server_response_status",
        kind: Kind::Counter,
        labels: &["status"],
        help: "Authorino /server-metrics: answers by gRPC status (OK, UNAUTHENTICATED, PERMISSION_DENIED, NOT_FOUND, errors); a counter without _total, as Authorino names it.",
    },
    Metric {
        name: "destination_endpoint_views_active",
        kind: Kind::Gauge,
        labels: &["namespace", "pod", "container"],
        help: "Linkerd destination controller (its admin /metrics): endpoint views (topic subscriptions) held, the seed's view-leak indicator; releases after 2.14 only.",
    },
    Metric {
        name: "endpoints_subscribers",
        kind: Kind::Gauge,
        labels: &[
            "namespace",
            "pod",
            "container",
            "exported_namespace",
            "service",
            "port",
            "hostname",
            "cluster",
        ],
        help: "Linkerd destination controller (its admin /metrics), Linkerd 2.14: Get streams subscribed to one service/port view (its own `namespace` label arrives as exported_namespace).",
    },
    Metric {
        name: "destination_stream_send_timeouts_total",
        kind: Kind::Counter,
        labels: &["namespace", "pod", "container"],
        help: "Linkerd destination controller (its admin /metrics): stream sends that timed out (backpressure); releases after 2.14 only.",
    },
    Metric {
        name: "endpoint_updates_queue_overflow",
        kind: Kind::Counter,
        labels: &["namespace", "pod", "container", "service"],
        help: "Linkerd destination controller (its admin /metrics), Linkerd 2.14: a stream's update queue overflowed and the stream was ended (2.14's send timeout); a counter without _total, as Linkerd names it.",
    },
    Metric {
        name: "destination_stream_send_duration_seconds_bucket",
        kind: Kind::Counter,
        labels: &["namespace", "pod", "container", "le"],
        help: "Linkerd destination controller (its admin /metrics): stream send duration histogram buckets; releases after 2.14 only.",
    },
    Metric {
        name: "grpc_server_started_total",
        kind: Kind::Counter,
        labels: &[
            "namespace",
            "pod",
            "container",
            "grpc_service",
            "grpc_method",
            "grpc_type",
        ],
        help: "Linkerd destination controller (its admin /metrics) (go-grpc-prometheus): RPCs started; for Get, started - handled = streams open.",
    },
    Metric {
        name: "grpc_server_handled_total",
        kind: Kind::Counter,
        labels: &[
            "namespace",
            "pod",
            "container",
            "grpc_service",
            "grpc_method",
            "grpc_type",
            "grpc_code",
        ],
        help: "Linkerd destination controller (its admin /metrics) (go-grpc-prometheus): RPCs finished, by code.",
    },
    Metric {
        name: "grpc_server_handling_seconds_bucket",
        kind: Kind::Counter,
        labels: &[
            "namespace",
            "pod",
            "container",
            "grpc_service",
            "grpc_method",
            "grpc_type",
            "le",
        ],
        help: "Linkerd destination controller (its admin /metrics) (go-grpc-prometheus): RPC duration histogram buckets; for Get, whole stream lifetimes.",
    },
    Metric {
        name: "process_cpu_seconds_total",
        kind: Kind::Counter,
        labels: &["namespace", "pod", "container"],
        help: "Linkerd destination controller (its admin /metrics) (Go client_golang process collector): CPU seconds of the controller process.",
    },
    Metric {
        name: "process_resident_memory_bytes",
        kind: Kind::Gauge,
        labels: &["namespace", "pod", "container"],
        help: "Linkerd destination controller (its admin /metrics) (process collector): resident memory of the controller process.",
    },
    Metric {
        name: "go_memstats_heap_inuse_bytes",
        kind: Kind::Gauge,
        labels: &["namespace", "pod", "container"],
        help: "Linkerd destination controller (its admin /metrics) (Go collector): heap bytes in use.",
    },
    Metric {
        name: "go_goroutines",
        kind: Kind::Gauge,
        labels: &["namespace", "pod", "container"],
        help: "Linkerd destination controller (its admin /metrics) (Go collector): goroutines (leak detection).",
    },
    Metric {
        name: "apiserver_longrunning_requests",
        kind: Kind::Gauge,
        labels: &[
            "verb",
            "group",
            "version",
            "resource",
            "subresource",
            "scope",
            "component",
        ],
        help: "kube-apiserver (its /metrics): long-running requests open, e.g. verb=\"WATCH\" per resource.",
    },
    Metric {
        name: "apiserver_request_total",
        kind: Kind::Counter,
        labels: &[
            "verb",
            "group",
            "version",
            "resource",
            "subresource",
            "scope",
            "component",
            "code",
            "dry_run",
        ],
        help: "kube-apiserver (its /metrics): requests served, by verb (POST/PUT/PATCH/DELETE for writes), resource and code.",
    },
    Metric {
        name: "ALERTS",
        kind: Kind::Gauge,
        labels: &["alertname", "alertstate", "severity", "redline_verdict"],
        help: "Prometheus: alerts pending or firing, with the rule's labels.",
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_is_every_group_and_recorded() {
        assert_eq!(ALL.len(), N);
        assert!(
            ALL.iter()
                .all(|m| m.kind == Kind::Recorded && m.name.starts_with("redline:"))
        );
        assert_eq!(
            ALL.last().map(|m| m.name),
            Some("redline:threshold:chaos_recovery_seconds")
        );
        assert_eq!(
            crate::lookup("redline:http_req_duration_seconds:p95").map(|m| m.kind),
            Some(Kind::Recorded)
        );
    }

    #[test]
    fn every_external_series_names_its_source() {
        let unsourced: Vec<_> = EXTERNAL
            .iter()
            .filter(|m| external_source(m).is_none())
            .map(|m| format!("{}: {:?}", m.name, m.help))
            .collect();
        assert!(
            unsourced.is_empty(),
            "external series whose help does not start with one of {EXTERNAL_SOURCES:?}:\n{}",
            unsourced.join("\n")
        );
    }

    #[test]
    fn a_help_without_a_known_source_names_none() {
        let mut m = EXTERNAL[0];
        m.help = "some exporter: a gauge";
        assert_eq!(external_source(&m), None);
        m.help = "kube-state-metricsx: a gauge";
        assert_eq!(external_source(&m), None);
        m.help = "node-exporter: CPU seconds";
        assert_eq!(external_source(&m), Some("node-exporter"));
    }

    #[test]
    fn external_series_are_not_redlines() {
        for m in EXTERNAL {
            assert!(
                crate::lookup(m.name).is_none(),
                "{} is both external and catalogued",
                m.name
            );
            assert!(!m.name.starts_with("redline"), "{}", m.name);
        }
    }
}
