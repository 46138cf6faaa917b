//! Pods to sample, found by namespace + label selector and followed with a watch, so the
//! target set follows the activator as it is rescheduled or scaled by its HPA.

use std::collections::BTreeMap;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::sampler::Target;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveryConfig {
    pub namespace: String,
    pub selector: String,
    pub port: u16,
    pub path: String,
    /// `Some("/debug/pprof/goroutine")` to read goroutine counts too.
    pub goroutine_path: Option<String>,
    /// Fixed `container` label; otherwise the container declaring `port`, else the first.
    pub container: Option<String>,
}

/// The target for a pod, if it can be sampled now: Running, with an IP, not being deleted.
pub fn target_for_pod(pod: &Pod, cfg: &DiscoveryConfig) -> Option<Target> {
    let name = pod.metadata.name.clone()?;
    if pod.metadata.deletion_timestamp.is_some() {
        return None;
    }
    let status = pod.status.as_ref()?;
    if status.phase.as_deref() != Some("Running") {
        return None;
    }
    let ip = status.pod_ip.as_deref().filter(|ip| !ip.is_empty())?;
    // IPv6 pod IPs need brackets in a URL.
    let host = if ip.contains(':') {
        format!("[{ip}]")
    } else {
        ip.to_string()
    };
    let origin = format!("http://{host}:{}", cfg.port);
    let container = cfg.container.clone().unwrap_or_else(|| {
        let containers = pod
            .spec
            .as_ref()
            .map(|s| s.containers.as_slice())
            .unwrap_or(&[]);
        containers
            .iter()
            .find(|c| {
                c.ports
                    .iter()
                    .flatten()
                    .any(|p| p.container_port == i32::from(cfg.port))
            })
            .or(containers.first())
            .map(|c| c.name.clone())
            .unwrap_or_default()
    });
    Some(Target {
        pod: name,
        container,
        heap_url: format!("{origin}{}", cfg.path),
        goroutine_url: cfg
            .goroutine_path
            .as_ref()
            .map(|g| format!("{origin}{g}?debug=1")),
    })
}

/// Watches pods and publishes the sorted target list whenever it changes, until `stop`.
/// Watch errors are retried with kube's default backoff; the last known targets stay in
/// place meanwhile, so a flaky API server does not stop sampling.
pub async fn run(
    client: kube::Client,
    cfg: DiscoveryConfig,
    tx: watch::Sender<Vec<Target>>,
    stop: CancellationToken,
) {
    let api: Api<Pod> = Api::namespaced(client, &cfg.namespace);
    let stream =
        watcher::watcher(api, watcher::Config::default().labels(&cfg.selector)).default_backoff();
    futures::pin_mut!(stream);
    let mut pods: BTreeMap<String, Target> = BTreeMap::new();
    let mut relist: Option<BTreeMap<String, Target>> = None;
    loop {
        let event = tokio::select! {
            _ = stop.cancelled() => return,
            e = stream.next() => e,
        };
        let Some(event) = event else { return };
        let event = match event {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(error = %e, "pod watch");
                continue;
            }
        };
        let name_of = |p: &Pod| p.metadata.name.clone().unwrap_or_default();
        match event {
            Event::Init => relist = Some(BTreeMap::new()),
            Event::InitApply(p) => {
                if let (Some(buf), Some(t)) = (relist.as_mut(), target_for_pod(&p, &cfg)) {
                    buf.insert(name_of(&p), t);
                }
            }
            // A relist replaces everything: pods deleted while the watch was down are gone.
            Event::InitDone => {
                if let Some(buf) = relist.take() {
                    pods = buf;
                }
            }
            Event::Apply(p) => match target_for_pod(&p, &cfg) {
                Some(t) => {
                    pods.insert(name_of(&p), t);
                }
                None => {
                    pods.remove(&name_of(&p));
                }
            },
            Event::Delete(p) => {
                pods.remove(&name_of(&p));
            }
        }
        if relist.is_none() {
            let now: Vec<Target> = pods.values().cloned().collect();
            tx.send_if_modified(|cur| {
                if *cur == now {
                    false
                } else {
                    *cur = now;
                    true
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cfg() -> DiscoveryConfig {
        DiscoveryConfig {
            namespace: "knative-serving".into(),
            selector: "app=activator".into(),
            port: 8008,
            path: "/debug/pprof/heap".into(),
            goroutine_path: Some("/debug/pprof/goroutine".into()),
            container: None,
        }
    }

    fn pod(phase: &str, ip: Option<&str>) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "activator-1", "namespace": "knative-serving", "labels": {"app": "activator"}},
            "spec": {"containers": [
                {"name": "istio-proxy", "image": "x"},
                {"name": "activator", "image": "y", "ports": [{"name": "profiling", "containerPort": 8008}]}
            ]},
            "status": {"phase": phase, "podIP": ip}
        }))
        .unwrap()
    }

    #[test]
    fn running_pod_with_ip_becomes_a_target_on_its_profiling_container() {
        let t = target_for_pod(&pod("Running", Some("10.0.0.7")), &cfg()).unwrap();
        assert_eq!(t.pod, "activator-1");
        assert_eq!(t.container, "activator");
        assert_eq!(t.heap_url, "http://10.0.0.7:8008/debug/pprof/heap");
        assert_eq!(
            t.goroutine_url.as_deref(),
            Some("http://10.0.0.7:8008/debug/pprof/goroutine?debug=1")
        );
        let v6 = target_for_pod(&pod("Running", Some("fd00::7")), &cfg()).unwrap();
        assert_eq!(v6.heap_url, "http://[fd00::7]:8008/debug/pprof/heap");
    }

    #[test]
    fn pending_ipless_or_terminating_pods_are_not_targets() {
        assert_eq!(
            target_for_pod(&pod("Pending", Some("10.0.0.7")), &cfg()),
            None
        );
        assert_eq!(target_for_pod(&pod("Running", None), &cfg()), None);
        let mut p = pod("Running", Some("10.0.0.7"));
        p.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
        ));
        assert_eq!(target_for_pod(&p, &cfg()), None);
    }

    #[test]
    fn container_falls_back_to_first_or_flag() {
        let mut c = cfg();
        c.port = 9999;
        assert_eq!(
            target_for_pod(&pod("Running", Some("10.0.0.7")), &c)
                .unwrap()
                .container,
            "istio-proxy"
        );
        c.container = Some("main".into());
        assert_eq!(
            target_for_pod(&pod("Running", Some("10.0.0.7")), &c)
                .unwrap()
                .container,
            "main"
        );
    }
}
