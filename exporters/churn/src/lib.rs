//! `redline churn`: endpoint churn for the Linkerd destination load test.
//!
//! Creates a Service and a Deployment per service (server-side apply, owner/run labels,
//! pods pinned to KWOK fake nodes), then plays a seeded pattern over the Deployments'
//! replica counts. Every scale stamps the Deployment with an annotation (sequence
//! number, target replicas, wall-clock time) so `redline dst-client` can measure how
//! long the change takes to reach each Destination stream.
//!
//! Parts: [`args`] (flags -> [`timeline::Plan`]), [`timeline`] (pure: plan + seed ->
//! steps), [`schedule`] (steps -> the clock), [`workers`] (ordered per-service apply,
//! status watch), [`api`] (rate limit, retries, metrics), [`objects`] (what is applied),
//! [`metrics`]; `run` ([`run()`], [`run_report`]) ties them together for one run.

pub mod api;
pub mod args;
pub mod limiter;
pub mod metrics;
pub mod objects;
mod run;
pub mod schedule;
#[cfg(test)]
mod test_plans;
pub mod timeline;
pub mod workers;

use std::path::Path;

use redline_runtime::RuntimeError;

pub use args::{ChurnArgs, PatternName};
pub use objects::{EVENT_ANNOTATION, OWNER_LABEL, RUN_LABEL};
pub use run::{ChurnReport, run, run_report, run_with_client};

#[derive(Debug, thiserror::Error)]
pub enum ChurnError {
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error("{flag}: {message}")]
    Flag { flag: &'static str, message: String },
    #[error("kubeconfig {path}: {message}")]
    Kubeconfig { path: String, message: String },
    #[error("Kubernetes client: {0}")]
    Client(#[source] kube::Error),
    #[error("{verb} {resource} failed after {attempts} attempt(s): {source}")]
    Api {
        verb: String,
        resource: String,
        attempts: u32,
        #[source]
        source: kube::Error,
    },
}

/// A kube client without kube's own retry layer (see [`api`] for why churn retries).
pub async fn kube_client(kubeconfig: Option<&Path>) -> Result<kube::Client, ChurnError> {
    let mut config = match kubeconfig {
        Some(path) => {
            let err = |message: String| ChurnError::Kubeconfig {
                path: path.display().to_string(),
                message,
            };
            let kc = kube::config::Kubeconfig::read_from(path).map_err(|e| err(e.to_string()))?;
            kube::Config::from_custom_kubeconfig(kc, &Default::default())
                .await
                .map_err(|e| err(e.to_string()))?
        }
        None => kube::Config::infer()
            .await
            .map_err(|e| ChurnError::Kubeconfig {
                path: "(in-cluster or default)".into(),
                message: e.to_string(),
            })?,
    };
    config.default_retry = false;
    kube::Client::try_from(config).map_err(ChurnError::Client)
}
