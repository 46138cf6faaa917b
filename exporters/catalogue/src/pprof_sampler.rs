//! Series written by `redline pprof-sampler`: Go heap profiles of the sampled pods
//! (Knative's activator by default) and their containers' CPU and memory as
//! `kubectl top pod --containers` shows them (from `metrics.k8s.io`).
//!
//! `pod` is the pod name for discovered targets and `host:port` for a static `--target`;
//! `container` is the container that serves the profiling port ("" when unknown).

use crate::{Kind, Metric};

const POD: &[&str] = &["pod", "container"];

pub const HEAP_INUSE_BYTES: Metric = Metric {
    name: "redline_pprof_heap_inuse_bytes",
    kind: Kind::Gauge,
    labels: POD,
    help: "Bytes live on the Go heap at the last GC, from the latest heap profile (pprof sample type inuse_space).",
};
pub const HEAP_INUSE_OBJECTS: Metric = Metric {
    name: "redline_pprof_heap_inuse_objects",
    kind: Kind::Gauge,
    labels: POD,
    help: "Objects live on the Go heap at the last GC, from the latest heap profile (inuse_objects).",
};
pub const HEAP_ALLOC_BYTES: Metric = Metric {
    name: "redline_pprof_heap_alloc_bytes",
    kind: Kind::Gauge,
    labels: POD,
    help: "Bytes allocated since the profiled process started, as Go reports it (alloc_space); use deriv(), it resets when the process restarts.",
};
pub const HEAP_ALLOC_OBJECTS: Metric = Metric {
    name: "redline_pprof_heap_alloc_objects",
    kind: Kind::Gauge,
    labels: POD,
    help: "Objects allocated since the profiled process started (alloc_objects).",
};
pub const TOP_INUSE_BYTES: Metric = Metric {
    name: "redline_pprof_top_inuse_bytes",
    kind: Kind::Gauge,
    labels: &["pod", "function", "rank", "kind"],
    help: "The top-N functions of the latest heap profile by in-use bytes; kind=flat (allocated in the function itself) or cum (including callees); rank 1 is the largest. Only the current top N carry values.",
};
pub const GOROUTINES: Metric = Metric {
    name: "redline_pprof_goroutines",
    kind: Kind::Gauge,
    labels: POD,
    help: "Goroutines in the profiled process (/debug/pprof/goroutine total).",
};
pub const SAMPLES: Metric = Metric {
    name: "redline_pprof_samples_total",
    kind: Kind::Counter,
    labels: &["pod", "result"],
    help: "Heap profile fetches, by result (ok, error, skipped when the previous fetch of the same pod was still running).",
};
pub const SAMPLE_ERRORS: Metric = Metric {
    name: "redline_pprof_sample_errors_total",
    kind: Kind::Counter,
    labels: &["pod", "reason"],
    help: "Failed profile fetches by reason: timeout, connect, http_status, body, gzip, decode, goroutine.",
};
pub const SAMPLE_DURATION: Metric = Metric {
    name: "redline_pprof_sample_duration_seconds",
    kind: Kind::Histogram,
    labels: &["pod"],
    help: "Time to fetch and decode one heap profile.",
};
pub const GC_SAMPLES: Metric = Metric {
    name: "redline_pprof_gc_samples_total",
    kind: Kind::Counter,
    labels: &["pod"],
    help: "Heap profiles fetched with ?gc=1 (a GC is forced first, so in-use figures are exact at that moment).",
};
pub const TARGETS: Metric = Metric {
    name: "redline_pprof_targets",
    kind: Kind::Gauge,
    labels: &[],
    help: "Targets currently sampled (static targets plus pods discovered Running with an IP).",
};
pub const ARCHIVE_FILES: Metric = Metric {
    name: "redline_pprof_archive_files",
    kind: Kind::Gauge,
    labels: &[],
    help: "Heap profiles currently kept in --archive-dir.",
};
pub const ARCHIVE_BYTES: Metric = Metric {
    name: "redline_pprof_archive_bytes",
    kind: Kind::Gauge,
    labels: &[],
    help: "Bytes currently kept in --archive-dir.",
};
pub const ARCHIVE_REMOVED: Metric = Metric {
    name: "redline_pprof_archive_removed_total",
    kind: Kind::Counter,
    labels: &[],
    help: "Archived profiles removed (oldest first) to keep within the size/count cap.",
};
pub const POD_CPU_CORES: Metric = Metric {
    name: "redline_pod_cpu_cores",
    kind: Kind::Gauge,
    labels: &["namespace", "pod", "container"],
    help: "Container CPU usage in cores from metrics.k8s.io PodMetrics (what kubectl top pod --containers shows).",
};
pub const POD_MEMORY_WORKING_SET_BYTES: Metric = Metric {
    name: "redline_pod_memory_working_set_bytes",
    kind: Kind::Gauge,
    labels: &["namespace", "pod", "container"],
    help: "Container memory working set from metrics.k8s.io PodMetrics (what kubectl top pod --containers shows).",
};
pub const POD_METRICS_READS: Metric = Metric {
    name: "redline_pod_metrics_reads_total",
    kind: Kind::Counter,
    labels: &["result"],
    help: "metrics.k8s.io PodMetrics list calls, by result (ok, error).",
};

pub const ALL: &[Metric] = &[
    HEAP_INUSE_BYTES,
    HEAP_INUSE_OBJECTS,
    HEAP_ALLOC_BYTES,
    HEAP_ALLOC_OBJECTS,
    TOP_INUSE_BYTES,
    GOROUTINES,
    SAMPLES,
    SAMPLE_ERRORS,
    SAMPLE_DURATION,
    GC_SAMPLES,
    TARGETS,
    ARCHIVE_FILES,
    ARCHIVE_BYTES,
    ARCHIVE_REMOVED,
    POD_CPU_CORES,
    POD_MEMORY_WORKING_SET_BYTES,
    POD_METRICS_READS,
];
