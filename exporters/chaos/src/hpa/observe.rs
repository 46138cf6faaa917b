//! Reads through the `kube` client: the HPA, its target's replicas and Ready pods, and the
//! load Job's start and end.

use std::time::SystemTime;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::ListParams;

use crate::ChaosError;
use crate::faults::is_ready;
use crate::selector::Selector;

/// The HPA's target as read once: its kind and name, and the selector of its pods.
#[derive(Debug, Clone)]
pub struct Target {
    pub kind: String,
    pub name: String,
    pub pods: Selector,
    pub min_replicas: i32,
    pub max_replicas: i32,
}

/// One look at the HPA and its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Snapshot {
    /// The target's spec.replicas.
    pub spec: i32,
    /// The HPA's status.desiredReplicas (0 before its first sync).
    pub hpa_desired: i32,
    /// Ready, not terminating pods matching the target's selector.
    pub ready: i32,
}

impl Snapshot {
    /// The larger of the target's spec and the HPA's desired replicas.
    pub fn desired(&self) -> i32 {
        self.spec.max(self.hpa_desired)
    }
}

/// The HPA and the workload it scales; an error names what is missing.
pub async fn target(client: &kube::Client, ns: &str, hpa: &str) -> Result<Target, ChaosError> {
    let h = Api::<HorizontalPodAutoscaler>::namespaced(client.clone(), ns)
        .get_opt(hpa)
        .await?
        .ok_or_else(|| ChaosError::NoTarget(format!("no HorizontalPodAutoscaler {ns}/{hpa}")))?;
    let spec = h.spec;
    let r = spec.scale_target_ref;
    let sel = match r.kind.as_str() {
        "Deployment" => Api::<Deployment>::namespaced(client.clone(), ns)
            .get_opt(&r.name)
            .await?
            .map(|d| d.spec.selector),
        "StatefulSet" => Api::<StatefulSet>::namespaced(client.clone(), ns)
            .get_opt(&r.name)
            .await?
            .map(|d| d.spec.selector),
        other => {
            return Err(ChaosError::NoTarget(format!(
                "HorizontalPodAutoscaler {ns}/{hpa} scales a {other}; hpa-watch counts Deployments and StatefulSets"
            )));
        }
    };
    let pods = sel
        .as_ref()
        .and_then(Selector::from_api)
        .ok_or_else(|| {
            ChaosError::NoTarget(format!(
                "{} {ns}/{} (the target of HorizontalPodAutoscaler {hpa}) not found or without a selector",
                r.kind, r.name
            ))
        })?;
    Ok(Target {
        kind: r.kind,
        name: r.name,
        pods,
        min_replicas: spec.min_replicas.unwrap_or(1),
        max_replicas: spec.max_replicas,
    })
}

pub async fn snapshot(
    client: &kube::Client,
    ns: &str,
    hpa: &str,
    t: &Target,
) -> Result<Snapshot, kube::Error> {
    let hpa_desired = Api::<HorizontalPodAutoscaler>::namespaced(client.clone(), ns)
        .get(hpa)
        .await?
        .status
        .map(|s| s.desired_replicas)
        .unwrap_or(0);
    let spec = match t.kind.as_str() {
        "StatefulSet" => {
            Api::<StatefulSet>::namespaced(client.clone(), ns)
                .get(&t.name)
                .await?
                .spec
                .replicas
        }
        _ => {
            Api::<Deployment>::namespaced(client.clone(), ns)
                .get(&t.name)
                .await?
                .spec
                .replicas
        }
    }
    .unwrap_or(1);
    let pods = Api::<Pod>::namespaced(client.clone(), ns)
        .list(&ListParams::default().labels(&t.pods.to_string()))
        .await?;
    let ready = pods.items.iter().filter(|p| is_ready(p)).count();
    Ok(Snapshot {
        spec,
        hpa_desired,
        ready: i32::try_from(ready).unwrap_or(i32::MAX),
    })
}

/// The load Job as the watcher needs it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadJob {
    /// status.startTime: when the Job controller started it.
    pub started: Option<SystemTime>,
    /// A Complete or Failed condition is True.
    pub finished: bool,
}

pub async fn load_job(client: &kube::Client, ns: &str, name: &str) -> Result<LoadJob, kube::Error> {
    let Some(job) = Api::<Job>::namespaced(client.clone(), ns)
        .get_opt(name)
        .await?
    else {
        return Ok(LoadJob::default());
    };
    let status = job.status.unwrap_or_default();
    let finished = status
        .conditions
        .iter()
        .flatten()
        .any(|c| (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True");
    Ok(LoadJob {
        started: status.start_time.map(|t| SystemTime::from(t.0)),
        finished,
    })
}
