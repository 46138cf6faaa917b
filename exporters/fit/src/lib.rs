//! `redline fit`: does a namespace's workload fit a small VPS (vps-load-and-chaos-summary.md:
//! "4-6GB RAM / 2-3 CPU")? Sums requests and limits × replicas, reads actual usage from the
//! pod metrics API, and compares each with every `--budget`: once as the seed's table, or
//! with `--watch` as `redline_fit_budget_ratio` series while a test runs, for the budget
//! alerts in `alerts/chaos.yml` to judge.
//!
//! Parts, from the bottom up:
//! - [`quantity`], [`budget`], [`selector`], [`scope`]: Kubernetes quantities, budgets,
//!   label selectors and the namespaces that count;
//! - [`workloads`]: one object's per-pod requests and limits; read from [`manifests`]
//!   or the [`cluster`]; actual [`usage`] from metrics.k8s.io;
//! - [`report`]: shares of each budget and verdicts; [`table`] prints it;
//! - [`measure`]: one reading; [`metrics`]: a reading as series; [`watch`]: the loop;
//! - [`args`]: the flags; `run` ([`run()`]): one reading or the watch, printed.

pub mod args;
pub mod budget;
pub mod cluster;
pub mod error;
pub mod manifests;
pub mod measure;
pub mod metrics;
pub mod quantity;
pub mod report;
mod run;
pub mod scope;
pub mod selector;
pub mod table;
pub mod usage;
pub mod watch;
pub mod workloads;

pub use args::{FitArgs, Output};
pub use budget::Budget;
pub use error::FitError;
pub use measure::fit_with;
pub use report::{FitReport, Verdict};
pub use run::run;
pub use usage::UsageStatus;

/// A client that does not retry by itself: every reading is retried at the next tick
/// anyway, and a metrics API that answers 503 must read as unavailable at once, not after
/// kube's retries.
pub async fn kube_client() -> Result<kube::Client, FitError> {
    let mut cfg = kube::Config::infer()
        .await
        .map_err(|e| FitError::KubeConfig(e.to_string()))?;
    cfg.default_retry = false;
    kube::Client::try_from(cfg).map_err(|e| FitError::KubeConfig(e.to_string()))
}
