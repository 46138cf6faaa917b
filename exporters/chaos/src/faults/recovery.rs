//! The workload and endpoints clocks.
//!
//! Both are judged from pods and EndpointSlices, not from workload status: right after a
//! delete, a Deployment's `readyReplicas` still counts the dead pod until its controller
//! catches up, which would stop the clock at zero. So the faulted pods' uids are excluded
//! explicitly: the workload is back when its selector matches `replicas` ready pods that
//! are not among them; a Service is back when its slices hold as many ready endpoints,
//! none of them a faulted pod, as they held just before the fault.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, ListParams};
use tokio::time::Instant;

use super::{WorkloadKind, WorkloadRef, is_ready, owner_of, pod_uid};
use crate::selector::Selector;

/// What "recovered" means for one fault, captured before it is injected.
#[derive(Debug, Clone, Default)]
pub struct Baseline {
    /// Workloads of the victims, with desired replicas and pod selector.
    pub workloads: Vec<(WorkloadRef, i32, Selector)>,
    /// Services selecting a victim, with their ready endpoints before the fault.
    pub services: Vec<(String, usize)>,
    /// Uids of the pods the fault removes.
    pub faulted: HashSet<String>,
}

impl Baseline {
    pub fn has_workloads(&self) -> bool {
        !self.workloads.is_empty()
    }

    pub fn has_services(&self) -> bool {
        !self.services.is_empty()
    }
}

pub async fn capture(
    client: &kube::Client,
    ns: &str,
    victims: &[Pod],
) -> Result<Baseline, kube::Error> {
    let mut owners: BTreeSet<WorkloadRef> = victims.iter().filter_map(owner_of).collect();
    owners.retain(|o| o.kind != WorkloadKind::DaemonSet);
    let mut workloads = Vec::new();
    for o in owners {
        let found = match o.kind {
            WorkloadKind::Deployment => Api::<Deployment>::namespaced(client.clone(), ns)
                .get_opt(&o.name)
                .await?
                .map(|d| (d.spec.replicas.unwrap_or(1), d.spec.selector)),
            WorkloadKind::StatefulSet => Api::<StatefulSet>::namespaced(client.clone(), ns)
                .get_opt(&o.name)
                .await?
                .map(|d| (d.spec.replicas.unwrap_or(1), d.spec.selector)),
            WorkloadKind::DaemonSet => None,
        };
        match found.and_then(|(r, sel)| Some((r, Selector::from_api(&sel)?))) {
            Some((replicas, sel)) => workloads.push((o, replicas, sel)),
            None => tracing::warn!(workload = %o, "owner not found; no workload clock for it"),
        }
    }
    let services = Api::<Service>::namespaced(client.clone(), ns)
        .list(&ListParams::default())
        .await?;
    let mut chosen = Vec::new();
    for svc in services.items {
        let Some(sel) = svc.spec.as_ref().and_then(|s| s.selector.clone()) else {
            continue;
        };
        if sel.is_empty() {
            continue;
        }
        let selects = |p: &Pod| {
            let labels = p.metadata.labels.clone().unwrap_or_default();
            sel.iter().all(|(k, v)| labels.get(k) == Some(v))
        };
        if victims.iter().any(selects) {
            let name = svc.metadata.name.clone().unwrap_or_default();
            let ready = ready_endpoints(client, ns, &name, &HashSet::new()).await?;
            chosen.push((name, ready));
        }
    }
    Ok(Baseline {
        workloads,
        services: chosen,
        faulted: victims.iter().map(pod_uid).collect(),
    })
}

/// Ready endpoints of a Service's slices, not counting pods in `exclude`. An endpoint
/// without a ready condition is ready (the API's documented meaning of nil).
pub async fn ready_endpoints(
    client: &kube::Client,
    ns: &str,
    service: &str,
    exclude: &HashSet<String>,
) -> Result<usize, kube::Error> {
    let slices = Api::<EndpointSlice>::namespaced(client.clone(), ns)
        .list(&ListParams::default().labels(&format!("kubernetes.io/service-name={service}")))
        .await?;
    // The same pod can appear in two slices while a slice is being rewritten.
    let mut pods = BTreeMap::new();
    for s in slices.items {
        for e in s.endpoints.into_iter().flatten() {
            let ready = e.conditions.as_ref().and_then(|c| c.ready).unwrap_or(true);
            let key = e
                .target_ref
                .as_ref()
                .and_then(|r| r.uid.clone().or_else(|| r.name.clone()))
                .unwrap_or_else(|| e.addresses.join(","));
            if exclude.contains(&key) {
                continue;
            }
            *pods.entry(key).or_insert(false) |= ready;
        }
    }
    Ok(pods.values().filter(|r| **r).count())
}

pub async fn workloads_ready(
    client: &kube::Client,
    ns: &str,
    b: &Baseline,
) -> Result<bool, kube::Error> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    for (_, replicas, sel) in &b.workloads {
        let list = pods
            .list(&ListParams::default().labels(&sel.to_string()))
            .await?;
        let ready = list
            .items
            .iter()
            .filter(|p| is_ready(p) && !b.faulted.contains(&pod_uid(p)))
            .count();
        if ready < usize::try_from(*replicas).unwrap_or(0) {
            return Ok(false);
        }
    }
    Ok(true)
}

pub async fn endpoints_ready(
    client: &kube::Client,
    ns: &str,
    b: &Baseline,
) -> Result<bool, kube::Error> {
    for (svc, want) in &b.services {
        if ready_endpoints(client, ns, svc, &b.faulted).await? < *want {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Polls `check` every `poll` until it holds; the time from `t0` to the first poll that
/// saw it hold, or None at `deadline`. API errors are logged and polled through.
pub async fn clock<F, Fut>(
    t0: Instant,
    poll: Duration,
    deadline: Instant,
    mut check: F,
) -> Option<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<bool, kube::Error>>,
{
    loop {
        let at = Instant::now();
        match check().await {
            Ok(true) => return Some(at.saturating_duration_since(t0)),
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "recovery check failed; retrying"),
        }
        if at >= deadline {
            return None;
        }
        tokio::time::sleep_until((at + poll).min(deadline)).await;
    }
}
