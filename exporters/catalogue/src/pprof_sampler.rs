//! Series written by `redline pprof-sampler`: Go heap profiles of the sampled pods
//! (Knative's activator by default) and their containers' CPU and memory as
//! `kubectl top pod --containers` shows them (from `metrics.k8s.io`).
//!
//! `pod` is the pod name for discovered targets and `host:port` for a static `--target`;
//! `container` is the container that serves the profiling port ("" when unknown).

label_sets! {
    PodLabels { pod, container }
    TopLabels { pod, function, rank, kind }
    ResultLabels { pod, result }
    ReasonLabels { pod, reason }
    OnlyPod { pod }
    ContainerLabels { namespace, pod, container }
    OnlyResult { result }
}

catalogue! {
    HEAP_INUSE_BYTES: Gauge<PodLabels> = "redline_pprof_heap_inuse_bytes",
        "Bytes live on the Go heap at the last GC, from the latest heap profile (pprof sample type inuse_space).";
    HEAP_INUSE_OBJECTS: Gauge<PodLabels> = "redline_pprof_heap_inuse_objects",
        "Objects live on the Go heap at the last GC, from the latest heap profile (inuse_objects).";
    HEAP_ALLOC_BYTES: Gauge<PodLabels> = "redline_pprof_heap_alloc_bytes",
        "Bytes allocated since the profiled process started, as Go reports it (alloc_space); use deriv(), it resets when the process restarts.";
    HEAP_ALLOC_OBJECTS: Gauge<PodLabels> = "redline_pprof_heap_alloc_objects",
        "Objects allocated since the profiled process started (alloc_objects).";
    TOP_INUSE_BYTES: Gauge<TopLabels> = "redline_pprof_top_inuse_bytes",
        "The top-N functions of the latest heap profile by in-use bytes; kind=flat (allocated in the function itself) or cum (including callees); rank 1 is the largest. Only the current top N carry values.";
    GOROUTINES: Gauge<PodLabels> = "redline_pprof_goroutines",
        "Goroutines in the profiled process (/debug/pprof/goroutine total).";
    SAMPLES: Counter<ResultLabels> = "redline_pprof_samples_total",
        "Heap profile fetches, by result (ok, error, skipped when the previous fetch of the same pod was still running).";
    SAMPLE_ERRORS: Counter<ReasonLabels> = "redline_pprof_sample_errors_total",
        "Failed profile fetches by reason: timeout, connect, http_status, body, gzip, decode, goroutine.";
    SAMPLE_DURATION: Histogram<OnlyPod> = "redline_pprof_sample_duration_seconds",
        "Time to fetch and decode one heap profile.";
    GC_SAMPLES: Counter<OnlyPod> = "redline_pprof_gc_samples_total",
        "Heap profiles fetched with ?gc=1 (a GC is forced first, so in-use figures are exact at that moment).";
    TARGETS: Gauge = "redline_pprof_targets",
        "Targets currently sampled (static targets plus pods discovered Running with an IP).";
    ARCHIVE_FILES: Gauge = "redline_pprof_archive_files",
        "Heap profiles currently kept in --archive-dir.";
    ARCHIVE_BYTES: Gauge = "redline_pprof_archive_bytes",
        "Bytes currently kept in --archive-dir.";
    ARCHIVE_REMOVED: Counter = "redline_pprof_archive_removed_total",
        "Archived profiles removed (oldest first) to keep within the size/count cap.";
    POD_CPU_CORES: Gauge<ContainerLabels> = "redline_pod_cpu_cores",
        "Container CPU usage in cores from metrics.k8s.io PodMetrics (what kubectl top pod --containers shows).";
    POD_MEMORY_WORKING_SET_BYTES: Gauge<ContainerLabels> = "redline_pod_memory_working_set_bytes",
        "Container memory working set from metrics.k8s.io PodMetrics (what kubectl top pod --containers shows).";
    POD_METRICS_READS: Counter<OnlyResult> = "redline_pod_metrics_reads_total",
        "metrics.k8s.io PodMetrics list calls, by result (ok, error).";
}
