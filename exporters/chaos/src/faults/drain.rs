//! node-drain: cordon, evict the node's pods in scope through the Eviction API (a 429 —
//! a PodDisruptionBudget saying "not now" — is retried with backoff and reported), hold,
//! uncordon. DaemonSet pods are left alone, as `kubectl drain --ignore-daemonsets` does.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, EvictParams, ListParams, Patch, PatchParams};
use prometheus_client::metrics::counter::Counter;
use rand::Rng;
use rand::seq::IndexedRandom;
use redline_remote_write::backoff::{BackoffPolicy, Jitter, Waited};
use serde_json::json;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{Scope, WorkloadKind, api_code, owner_of, pod_name};

/// Backoff of refused evictions: doubles from `initial` up to `max`, until `timeout`.
#[derive(Debug, Clone, Copy)]
pub struct EvictBackoff {
    pub initial: Duration,
    pub max: Duration,
    pub timeout: Duration,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EvictOutcome {
    pub evicted: Vec<String>,
    /// 429 answers, each retried.
    pub refused: u64,
    /// Pods still refused when the timeout ran out (or the run was stopped).
    pub gave_up: Vec<String>,
}

/// The node to drain: `--node` if given (it must be opted in), else a random opted-in node
/// that runs at least one pod in scope.
pub async fn pick_node(
    nodes: &Api<Node>,
    pods: &Api<Pod>,
    scope: &Scope,
    wanted: Option<&str>,
    rng: &mut impl Rng,
) -> Result<Result<String, String>, kube::Error> {
    if let Some(name) = wanted {
        let node = match nodes.get_opt(name).await? {
            Some(n) => n,
            None => return Ok(Err(format!("node {name} does not exist"))),
        };
        if !scope.node_allowed(node.metadata.labels.as_ref()) {
            return Ok(Err(format!(
                "node {name} lacks the opt-in label {} (or pass --ignore-opt-in)",
                opt_in_text(scope)
            )));
        }
        return Ok(Ok(name.to_string()));
    }
    let in_scope = pods
        .list(&ListParams::default().labels(&scope.pods.to_string()))
        .await?;
    let mut hosts: Vec<String> = in_scope
        .items
        .iter()
        .filter_map(|p| p.spec.as_ref()?.node_name.clone())
        .collect();
    hosts.sort();
    hosts.dedup();
    let mut allowed = Vec::new();
    for h in hosts {
        if let Some(n) = nodes.get_opt(&h).await?
            && scope.node_allowed(n.metadata.labels.as_ref())
        {
            allowed.push(h);
        }
    }
    Ok(allowed.choose(rng).cloned().ok_or_else(|| {
        format!(
            "no node runs a pod in scope ({}) and carries the opt-in label {}",
            scope.pods,
            opt_in_text(scope)
        )
    }))
}

fn opt_in_text(scope: &Scope) -> String {
    scope
        .opt_in
        .as_ref()
        .map(|(k, v)| format!("{k}={v}"))
        .unwrap_or_default()
}

/// The node's pods in scope that a drain evicts.
pub async fn pods_on(pods: &Api<Pod>, scope: &Scope, node: &str) -> Result<Vec<Pod>, kube::Error> {
    let lp = ListParams::default()
        .labels(&scope.pods.to_string())
        .fields(&format!("spec.nodeName={node}"));
    let mut items: Vec<Pod> = pods
        .list(&lp)
        .await?
        .items
        .into_iter()
        // The field selector is not honoured by every server; filter again.
        .filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(node))
        .filter(|p| !super::is_terminating(p))
        .filter(|p| owner_of(p).is_none_or(|o| o.kind != WorkloadKind::DaemonSet))
        .collect();
    items.sort_by_key(pod_name);
    Ok(items)
}

/// Sets `spec.unschedulable`; returns whether the node was already cordoned (then the
/// drain must not uncordon it: someone else cordoned it for a reason).
pub async fn cordon(nodes: &Api<Node>, name: &str) -> Result<bool, kube::Error> {
    let node = nodes.get(name).await?;
    let already = node.spec.as_ref().and_then(|s| s.unschedulable) == Some(true);
    if !already {
        set_unschedulable(nodes, name, true).await?;
    }
    Ok(already)
}

pub async fn set_unschedulable(
    nodes: &Api<Node>,
    name: &str,
    value: bool,
) -> Result<(), kube::Error> {
    nodes
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"unschedulable": value}})),
        )
        .await
        .map(|_| ())
}

/// Evicts every pod, retrying refused ones round-robin with a shared backoff. The waits
/// have no jitter: one drain is one client, and its rounds land at reproducible times
/// (0, `initial`, 3 x `initial`, …), the last one at the timeout.
pub async fn evict_all(
    pods: &Api<Pod>,
    victims: &[Pod],
    backoff: EvictBackoff,
    refused_metric: &Counter,
    cancel: &CancellationToken,
) -> Result<EvictOutcome, kube::Error> {
    let mut waits = BackoffPolicy::new(backoff.initial, backoff.max)
        .with_jitter(Jitter::None)
        .start()
        .until(Instant::now() + backoff.timeout);
    let mut out = EvictOutcome::default();
    let mut pending: Vec<String> = victims.iter().map(pod_name).collect();
    loop {
        let mut still = Vec::new();
        for name in pending {
            match pods.evict(&name, &EvictParams::default()).await {
                Ok(_) => out.evicted.push(name),
                Err(e) if api_code(&e) == Some(404) => out.evicted.push(name),
                Err(e) if api_code(&e) == Some(429) => {
                    out.refused += 1;
                    refused_metric.inc();
                    tracing::info!(pod = %name, reason = %e, "eviction refused; retrying with backoff");
                    still.push(name);
                }
                Err(e) => return Err(e),
            }
        }
        pending = still;
        if pending.is_empty() {
            return Ok(out);
        }
        // A wait cut short by `cancel` is followed by one more round, as one that ran out
        // is; the check after that round gives up.
        if cancel.is_cancelled() || waits.wait(None, cancel.cancelled()).await == Waited::GaveUp {
            tracing::warn!(pods = ?pending, "evictions still refused; giving up on them");
            out.gave_up = pending;
            return Ok(out);
        }
    }
}
