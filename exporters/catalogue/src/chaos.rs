//! Series written by `redline chaos`: injected faults, probes that watch the service
//! while they are active, and the recovery clocks. (The small-VPS budget check is
//! `redline fit`'s, in [`crate::fit`].)
//!
//! `fault` values the shipped thresholds in `alerts/thresholds.yml` know: `pod-kill`,
//! `db-failover`, `cache-failover`, `node-drain`, `network-partition`.

use crate::{Kind, Metric};

pub const FAULTS_INJECTED: Metric = Metric {
    name: "redline_chaos_faults_injected_total",
    kind: Kind::Counter,
    labels: &["fault"],
    help: "Faults injected, by kind.",
};
pub const FAULT_ACTIVE: Metric = Metric {
    name: "redline_chaos_fault_active",
    kind: Kind::Gauge,
    labels: &["fault", "target"],
    help: "1 while a fault is injected and not yet recovered from, else 0.",
};
pub const RECOVERY: Metric = Metric {
    name: "redline_chaos_recovery_seconds",
    kind: Kind::Histogram,
    labels: &["fault", "clock"],
    help: "From a fault's injection to recovery, by clock: workload (replacement ready), endpoints (endpoints ready again), user (probes succeed again). Buckets include 5 and 30 s, the seeds' targets.",
};
pub const PROBE_UP: Metric = Metric {
    name: "redline_chaos_probe_up",
    kind: Kind::Gauge,
    labels: &["probe"],
    help: "1 when the probe's last attempt succeeded, else 0.",
};
pub const INTERRUPTION: Metric = Metric {
    name: "redline_chaos_interruption_seconds",
    kind: Kind::Gauge,
    labels: &["fault", "probe"],
    help: "Length of the longest user-visible interruption a probe saw during the last fault of its kind (first failed attempt to the first good attempt of the run of successes that ended it).",
};
pub const PROBE_FAILURES: Metric = Metric {
    name: "redline_chaos_probe_failures_total",
    kind: Kind::Counter,
    labels: &["probe"],
    help: "Probe attempts that failed.",
};
pub const LOST_WRITES: Metric = Metric {
    name: "redline_chaos_lost_writes_total",
    kind: Kind::Counter,
    labels: &[],
    help: "Acknowledged writes the consistency probe could not read back after recovery.",
};
pub const EVICTIONS_REFUSED: Metric = Metric {
    name: "redline_chaos_evictions_refused_total",
    kind: Kind::Counter,
    labels: &[],
    help: "Evictions a node drain had refused (429, mostly a PodDisruptionBudget) and retried with backoff.",
};

pub const ALL: &[Metric] = &[
    FAULTS_INJECTED,
    FAULT_ACTIVE,
    RECOVERY,
    PROBE_UP,
    INTERRUPTION,
    PROBE_FAILURES,
    LOST_WRITES,
    EVICTIONS_REFUSED,
];
