//! Series written by `redline hpa-watch` (the `redline-chaos` crate's HPA clocks): how fast a
//! HorizontalPodAutoscaler reacts to a load, timed from the load's start
//! (kubeserve-reliability-testing.md: "HPA detects metrics exceed threshold (within 30-60s)",
//! "New pods are created (1-2 minutes)", "Pods scale from 1 → 2 → 3+").
//!
//! The label names are kube-state-metrics' (`namespace`, `horizontalpodautoscaler`), so a
//! panel or rule can join these series with `kube_horizontalpodautoscaler_*` on them.
//! `phase` values: `scale_up` (the HPA raised the target's replicas above their count at the
//! load's start), `ready` (the first replica above that count is Ready).

label_sets! {
    HpaLabels { namespace, horizontalpodautoscaler }
    HpaStateLabels { namespace, horizontalpodautoscaler, state }
    HpaPhaseLabels { namespace, horizontalpodautoscaler, phase }
    HpaReplicaLabels { namespace, horizontalpodautoscaler, replicas }
}

catalogue! {
    REPLICAS: Gauge<HpaStateLabels> = "redline_hpa_replicas",
        "Replicas of the HPA's target by state: desired (the larger of the HPA's desired replicas and the target's spec.replicas) or ready (Ready pods of the target).";
    REACTION: Gauge<HpaPhaseLabels> = "redline_hpa_reaction_seconds",
        "From the load's start to the phase (scale_up, ready); while the phase has not happened, the time waited so far, so a late or missing reaction crosses the threshold as it happens.";
    REPLICA_READY: Gauge<HpaReplicaLabels> = "redline_hpa_replica_ready_seconds",
        "From the load's start to the first time `replicas` pods of the target were Ready, for each count above the one at the load's start.";
    LOAD_RUNNING: Gauge<HpaLabels> = "redline_hpa_load_running",
        "1 from the load's start until it ended (its Job finished, or the watcher stopped), then 0: rules that judge the whole run wait for 0.";
}
