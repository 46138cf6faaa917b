//! Series written by `redline chaos`: injected faults, probes that watch the service
//! while they are active, and the recovery clocks. (The small-VPS budget check is
//! `redline fit`'s, in [`crate::fit`].)
//!
//! `fault` values the shipped thresholds in `alerts/thresholds.yml` know: `pod-kill`,
//! `db-failover`, `cache-failover`, `node-drain`, `network-partition`.

label_sets! {
    FaultLabels { fault }
    ActiveLabels { fault, target }
    ClockLabels { fault, clock }
    ProbeLabels { probe }
    InterruptionLabels { fault, probe }
}

catalogue! {
    FAULTS_INJECTED: Counter<FaultLabels> = "redline_chaos_faults_injected_total",
        "Faults injected, by kind.";
    FAULT_ACTIVE: Gauge<ActiveLabels> = "redline_chaos_fault_active",
        "1 while a fault is injected and not yet recovered from, else 0.";
    RECOVERY: Histogram<ClockLabels> = "redline_chaos_recovery_seconds",
        "From a fault's injection to recovery, by clock: workload (replacement ready), endpoints (endpoints ready again), user (probes succeed again). Buckets include 5 and 30 s, the seeds' targets.";
    PROBE_UP: Gauge<ProbeLabels> = "redline_chaos_probe_up",
        "1 when the probe's last attempt succeeded, else 0.";
    INTERRUPTION: Gauge<InterruptionLabels> = "redline_chaos_interruption_seconds",
        "Length of the longest user-visible interruption a probe saw during the last fault of its kind (first failed attempt to the first good attempt of the run of successes that ended it).";
    PROBE_FAILURES: Counter<ProbeLabels> = "redline_chaos_probe_failures_total",
        "Probe attempts that failed.";
    LOST_WRITES: Counter = "redline_chaos_lost_writes_total",
        "Acknowledged writes the consistency probe could not read back after recovery.";
    EVICTIONS_REFUSED: Counter = "redline_chaos_evictions_refused_total",
        "Evictions a node drain had refused (429, mostly a PodDisruptionBudget) and retried with backoff.";
}
