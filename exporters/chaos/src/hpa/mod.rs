//! `redline hpa-watch`: the HPA's reaction to a load, on clocks that start with the load.
//!
//! The KubeServe plan expects "HPA detects metrics exceed threshold (within 30-60s)", "new
//! pods are created (1-2 minutes)" and "pods scale from 1 → 2 → 3+". This mode times
//! exactly that, as the fault clocks time a recovery: from the load's start (the load Job's
//! `status.startTime`, or the watcher's own start) to the HPA's first scale-up of its
//! target, and to the first moment each replica count above the starting one was Ready.
//! Readings are taken every `--poll` (default 1 s, the clocks' resolution); the rules in
//! `alerts/hpa.yml` judge the series against the seed's windows.
//!
//! Parts: [`args`]; [`observe`] (reads through `kube`); [`timeline`] (what the readings
//! mean, no I/O); [`metrics`]; [`report`] (what a watch measured); `run` ([`run()`],
//! [`run_with`]): the loop.

pub mod args;
pub mod metrics;
pub mod observe;
pub mod report;
mod run;
pub mod timeline;

pub use args::HpaWatchArgs;
pub use report::HpaReport;
pub use run::{run, run_with};
