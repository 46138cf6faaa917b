//! Series written by `redline fit --watch`: the workload's requests, limits and actual
//! usage as shares of each small-VPS budget (vps-load-and-chaos-summary.md: "does actual
//! usage stay within 4-6 GB / 2-3 CPU during the tests"), and whether usage could be read.
//!
//! `basis` values: `requests` (what the scheduler must reserve), `limits` (the cap),
//! `usage` (metrics.k8s.io PodMetrics). The budget alerts in `alerts/chaos.yml` judge
//! usage; requests are judged by `redline fit`'s exit code, limits only shown
//! (overcommitting limits is normal).

label_sets! {
    RatioLabels { budget, resource, basis }
    BasisLabels { basis }
}

catalogue! {
    BUDGET_RATIO: Gauge<RatioLabels> = "redline_fit_budget_ratio",
        "The workload's requests, limits or actual usage over the budget (budget=vps-6g-3cpu, resource=cpu|memory, basis=requests|limits|usage); above 1 does not fit.";
    CPU_CORES: Gauge<BasisLabels> = "redline_fit_cpu_cores",
        "The workload's CPU in cores, by basis (requests, limits, usage), summed over the pods in scope.";
    MEMORY_BYTES: Gauge<BasisLabels> = "redline_fit_memory_bytes",
        "The workload's memory in bytes, by basis (requests, limits, usage), summed over the pods in scope.";
    USAGE_AVAILABLE: Gauge = "redline_fit_usage_available",
        "1 when the pod metrics API (metrics.k8s.io) answered the last read, 0 when it is not served or failed: usage is then not judged.";
}
