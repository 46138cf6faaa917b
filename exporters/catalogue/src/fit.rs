//! Series written by `redline fit --watch`: the workload's requests, limits and actual
//! usage as shares of each small-VPS budget (vps-load-and-chaos-summary.md: "does actual
//! usage stay within 4-6 GB / 2-3 CPU during the tests"), and whether usage could be read.
//!
//! `basis` values: `requests` (what the scheduler must reserve), `limits` (the cap),
//! `usage` (metrics.k8s.io PodMetrics). The budget alerts in `alerts/chaos.yml` judge
//! usage; requests are judged by `redline fit`'s exit code, limits only shown
//! (overcommitting limits is normal).
//!
//! The entries live in `metrics/fit.toml` (see `build/daemon.rs` for its layout).

include!(concat!(env!("OUT_DIR"), "/fit.rs"));
