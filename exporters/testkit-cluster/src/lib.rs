//! Test support for the real Kubernetes control plane `hack/cluster/up.sh` starts on
//! 127.0.0.1: kube-apiserver, kube-controller-manager, kube-scheduler and etcd built from
//! their pinned modules, KWOK's controller for fake nodes whose pods become Running and
//! Ready, and metrics-server serving `metrics.k8s.io` from KWOK's emulated kubelets.
//!
//! `hack/test.sh` starts one cluster for the whole test run and exports
//! `REDLINE_TEST_KUBECONFIG`; [`Cluster::shared`] reads it. Without it, tests of this tier
//! print one loud line and return early (under `CI=true` they fail).
//!
//! ```ignore
//! let Some(cluster) = Cluster::shared().await else { return };
//! let ns = cluster.namespace("churn").await?;
//! cluster.apply_yaml(Some(ns.name()), MANIFESTS).await?;
//! let as_chart = cluster.client_as(ns.name(), "redline-churn").await?;
//! // run the daemon with --kubeconfig as_chart.kubeconfig_path() ...
//! wait_until("3 ready pods", Duration::from_secs(60), async || {
//!     (cluster.ready_pods(ns.name(), "app=web").await.ok()?.len() == 3).then_some(())
//! }).await?;
//! ns.delete().await?;
//! ```
//!
//! Files, lowest first: `error`, `wait`, `exposition` (no cluster); `cluster` (finding it,
//! the admin client); then one `impl Cluster` each: `namespace`, `service_account`,
//! `apply`, `queries`, `apiserver`, `kuadrant`; `workload` (the YAML of a Deployment on KWOK's nodes).

mod apiserver;
mod apply;
mod cluster;
mod error;
mod exposition;
mod kuadrant;
mod namespace;
mod queries;
mod service_account;
mod wait;
mod workload;

pub use apiserver::{ApiServerPprof, PPROF_READER, RequestCounts};
pub use apply::{Document, FIELD_MANAGER, documents};
pub use cluster::{Cluster, KUBECONFIG_ENV, MISSING_CLUSTER};
pub use error::{Error, Result};
pub use exposition::{Sample, samples};
pub use kuadrant::{
    KUADRANT_CRD_FILES, SEED_RATE_LIMIT_POLICY, SEED_TOKEN_RATE_LIMIT_POLICY, kuadrant_crd_dir,
    seed_policies,
};
pub use namespace::{DELETE_TIMEOUT, TEST_NAMESPACE_LABEL, TestNamespace};
pub use queries::is_running_and_ready;
pub use service_account::{ServiceAccountClient, TOKEN_SECONDS};
pub use wait::{POLL_INTERVAL, wait_until};
pub use workload::KwokDeployment;
