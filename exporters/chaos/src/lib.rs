//! `redline chaos`: faults with measured recovery.
//!
//! Parts, in the order a run uses them:
//! - [`args`]: the flags (every one also a `REDLINE_CHAOS_*` variable);
//! - [`probe`] and [`data`]: what a user sees while faults happen — a prober measuring
//!   interruptions, a writer whose acknowledged writes must all read back;
//! - [`faults`]: pod-kill, node-drain, partition through the `kube` client, the scope
//!   (namespace, selector, opt-in label) they are confined to, the workload and endpoints
//!   recovery clocks, and the undo list that leaves no node cordoned and no partition
//!   behind;
//! - [`run`](mod@run): the run's life ([`run()`], [`run_with`]), the schedule and the
//!   per-fault measurement; [`metrics`]; [`report`];
//! - [`hpa`]: `redline hpa-watch`, the same kind of clocks for an HPA's reaction to a load
//!   (its own flags, series and report; no fault is injected).
//!
//! Safety: a run touches only `--namespace`, only pods (and nodes) with the opt-in label
//! `redline.dev/chaos=enabled` unless `--ignore-opt-in`, at most `--max-faults` times, and
//! on SIGINT/SIGTERM or any error it undoes what it applied before returning.

pub mod args;
pub mod data;
pub mod faults;
pub mod hpa;
pub mod metrics;
pub mod probe;
pub mod report;
pub mod run;
pub mod selector;

use redline_runtime::RuntimeError;

pub use args::{ChaosArgs, FaultKind};
pub use report::{ChaosReport, FaultReport};
pub use run::{run, run_with};

#[derive(Debug, thiserror::Error)]
pub enum ChaosError {
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error("invalid flags: {0}")]
    Flags(String),
    #[error("Kubernetes client configuration: {0}")]
    KubeConfig(String),
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("HTTP client: {0}")]
    Http(#[from] reqwest::Error),
    #[error("nothing to inject the fault into: {0}")]
    NoTarget(String),
    #[error("could not undo {0}; fix it by hand")]
    Undo(String),
}

/// A client that sees every 429: kube's default retry layer would silently retry a
/// PodDisruptionBudget's refusal, which the drain must count and report.
pub async fn kube_client() -> Result<kube::Client, ChaosError> {
    let mut cfg = kube::Config::infer()
        .await
        .map_err(|e| ChaosError::KubeConfig(e.to_string()))?;
    cfg.default_retry = false;
    kube::Client::try_from(cfg).map_err(|e| ChaosError::KubeConfig(e.to_string()))
}

/// The client a caller gave, else [`kube_client`]: tests pass theirs, the daemons ask.
async fn given_or_ambient(client: Option<kube::Client>) -> Result<kube::Client, ChaosError> {
    match client {
        Some(c) => Ok(c),
        None => kube_client().await,
    }
}
