//! What tests ask the cluster about workloads: ready pods, a Service's endpoints.

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::Api;
use kube::api::ListParams;

use crate::cluster::Cluster;
use crate::error::Result;

impl Cluster {
    /// Pods in `namespace` matching the label `selector` that are Running and Ready and not
    /// being deleted, sorted by name.
    pub async fn ready_pods(&self, namespace: &str, selector: &str) -> Result<Vec<Pod>> {
        let pods = Api::<Pod>::namespaced(self.client(), namespace)
            .list(&ListParams::default().labels(selector))
            .await?;
        let mut ready: Vec<Pod> = pods
            .items
            .into_iter()
            .filter(is_running_and_ready)
            .collect();
        ready.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        Ok(ready)
    }

    /// The addresses of the ready endpoints of Service `namespace/service`, from its
    /// EndpointSlices (what kube-proxy and Linkerd's destination controller read), sorted.
    pub async fn endpoint_addresses(&self, namespace: &str, service: &str) -> Result<Vec<String>> {
        let slices = Api::<EndpointSlice>::namespaced(self.client(), namespace)
            .list(&ListParams::default().labels(&format!("kubernetes.io/service-name={service}")))
            .await?;
        let mut addresses: Vec<String> = slices
            .items
            .iter()
            .flat_map(|slice| slice.endpoints.iter().flatten())
            // An absent `ready` means ready (the API's documented default).
            .filter(|e| e.conditions.as_ref().and_then(|c| c.ready).unwrap_or(true))
            .flat_map(|e| e.addresses.iter().cloned())
            .collect();
        addresses.sort();
        addresses.dedup();
        Ok(addresses)
    }
}

/// Running, condition Ready=True, no deletion timestamp.
pub fn is_running_and_ready(pod: &Pod) -> bool {
    let status = pod.status.as_ref();
    let running = status.and_then(|s| s.phase.as_deref()) == Some("Running");
    let ready = status
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
    running && ready && pod.metadata.deletion_timestamp.is_none()
}
