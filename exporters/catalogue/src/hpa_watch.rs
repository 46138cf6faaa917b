//! Series written by `redline hpa-watch` (the `redline-chaos` crate's HPA clocks): how fast a
//! HorizontalPodAutoscaler reacts to a load, timed from the load's start
//! (kubeserve-reliability-testing.md: "HPA detects metrics exceed threshold (within 30-60s)",
//! "New pods are created (1-2 minutes)", "Pods scale from 1 → 2 → 3+").
//!
//! The label names are kube-state-metrics' (`namespace`, `horizontalpodautoscaler`), so a
//! panel or rule can join these series with `kube_horizontalpodautoscaler_*` on them.
//! `phase` values: `scale_up` (the HPA raised the target's replicas above their count at the
//! load's start), `ready` (the first replica above that count is Ready).
//!
//! The entries live in `metrics/hpa_watch.toml` (see `build/daemon.rs` for its layout).

include!(concat!(env!("OUT_DIR"), "/hpa_watch.rs"));
