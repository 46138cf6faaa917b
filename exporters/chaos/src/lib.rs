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
//! - [`run`](mod@run): the schedule and the per-fault measurement; [`metrics`]; [`report`];
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

use rand::SeedableRng;
use redline_runtime::{Runtime, RuntimeError};
use tokio_util::sync::CancellationToken;

pub use args::{ChaosArgs, FaultKind};
pub use report::{ChaosReport, FaultReport};

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

/// `redline chaos`, against the cluster of the ambient kubeconfig or in-cluster config.
pub async fn run(args: ChaosArgs) -> Result<(), ChaosError> {
    let report = run_with(args, None, CancellationToken::new()).await?;
    print!("{report}");
    Ok(())
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

/// [`run`] with an explicit client and a stop token (cancelling it acts like SIGTERM).
/// Returns the report; undoes whatever was applied before returning, error or not.
pub async fn run_with(
    args: ChaosArgs,
    client: Option<kube::Client>,
    stop: CancellationToken,
) -> Result<ChaosReport, ChaosError> {
    args.validate().map_err(ChaosError::Flags)?;
    let client = match client {
        Some(c) => c,
        None => kube_client().await?,
    };
    let mut rt = Runtime::new(&args.common, "chaos")?;
    let metrics = metrics::Metrics::register(rt.registry());
    let running = rt.start().await?;
    let shutdown = running.shutdown_token();
    let bridge = {
        let (stop, shutdown) = (stop.clone(), shutdown.clone());
        tokio::spawn(async move {
            tokio::select! {
                _ = stop.cancelled() => shutdown.cancel(),
                _ = shutdown.cancelled() => {}
            }
        })
    };
    let watchers = CancellationToken::new();
    let mut chaos = run::Chaos {
        run_id: running.testid().to_string(),
        rng: rand::rngs::StdRng::seed_from_u64(args.seed),
        args,
        client: Some(client.clone()),
        metrics,
        probes: Vec::new(),
        data: None,
        undo: faults::undo::Undo::default(),
    };
    let outcome = match chaos.start_watchers(&watchers) {
        Ok(()) => {
            running.set_ready(true);
            chaos.run_schedule(&shutdown).await
        }
        Err(e) => Err(e),
    };
    // Whatever happened, nothing applied stays applied.
    let undo_failed = chaos.undo.perform_all(&client).await;
    watchers.cancel();
    bridge.abort();
    running.push_now().await;
    running.finish().await?;
    let mut report = outcome?;
    report.undo_failed = undo_failed
        .iter()
        .map(|(a, e)| format!("{a}: {e}"))
        .collect();
    if let Some((a, e)) = undo_failed.first() {
        print!("{report}");
        return Err(ChaosError::Undo(format!("{a} ({e})")));
    }
    Ok(report)
}
