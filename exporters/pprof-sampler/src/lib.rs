//! `redline pprof-sampler`: Go heap profiles and pod CPU/memory during a load test.
//!
//! The Knative plan's background job — `kubectl top pod --containers` and
//! `curl /debug/pprof/heap` every second into files — as a daemon whose numbers land in
//! Prometheus beside the load generator's, with the raw profiles still archived for
//! `go tool pprof`. Parts:
//! - [`args`]: flags (clap) and config-file form (serde);
//! - [`profile`]: `profile.proto` decoding, totals, per-function flat/cum like `pprof -top`;
//! - [`archive`]: raw profiles on disk under a size/count cap;
//! - [`diff`]: `redline pprof diff A B`, like `go tool pprof -top -diff_base A B`;
//! - [`discovery`]: pods by namespace + label selector, followed with a watch;
//! - [`resources`]: `metrics.k8s.io` PodMetrics into gauges;
//! - [`sampler`]: the fetch loop;
//! - `run`: the daemon's life around it ([`run()`], [`run_with`]);
//! - [`PprofError`]: what stops the daemon or a diff;
//! - [`metrics`]: the series, named by `redline_catalogue::pprof`.

pub mod archive;
pub mod args;
pub mod diff;
pub mod discovery;
mod error;
pub mod metrics;
pub mod profile;
pub mod resources;
mod run;
pub mod sampler;

pub use args::{PprofSamplerArgs, SamplerConfig};
pub use diff::{DiffTable, diff};
pub use error::PprofError;
pub use run::{RunOptions, run, run_with};
