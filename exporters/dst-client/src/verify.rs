//! `--verify-endpoints`: every stream's endpoint set, built only from the updates it
//! received, compared with what the Kubernetes API holds for its service (the ready
//! addresses of the Service's EndpointSlices at the port the Service maps the requested
//! port to). This is the correctness check of the seed's Add/Remove tracking: a controller
//! that drops, repeats or reorders an update leaves some stream with a different set.

use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, ListParams};

use crate::Target;
use crate::endpoints::EndpointSet;
use crate::shared::Frozen;

/// What one stream holds now; written by the stream, read by the check. The set is the
/// stream's own pointer to its (shared, immutable) set: keeping the view costs no copy.
#[derive(Debug, Default)]
pub struct StreamView {
    pub connected: bool,
    pub set: Option<Arc<Frozen>>,
}

pub type View = Arc<Mutex<StreamView>>;

impl StreamView {
    pub fn set(view: &View, connected: bool, set: &Arc<Frozen>) {
        let mut v = view.lock().unwrap_or_else(|e| e.into_inner());
        v.connected = connected;
        v.set = Some(set.clone());
    }
}

/// Whether `set` holds exactly `want`.
fn equal(set: &EndpointSet, want: &BTreeSet<SocketAddr>) -> bool {
    set.len() == want.len() && want.iter().all(|a| set.contains(a))
}

/// One stream whose set is not the API's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub service: String,
    pub slot: u32,
    pub connected: bool,
    /// In the API, not in the stream.
    pub missing: Vec<SocketAddr>,
    /// In the stream, not in the API.
    pub extra: Vec<SocketAddr>,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} slot {}{}: {} missing {:?}, {} extra {:?}",
            self.service,
            self.slot,
            if self.connected {
                ""
            } else {
                " (not connected)"
            },
            self.missing.len(),
            &self.missing[..self.missing.len().min(3)],
            self.extra.len(),
            &self.extra[..self.extra.len().min(3)],
        )
    }
}

/// The outcome of one check.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub streams: usize,
    /// Endpoints the API holds, summed over services.
    pub api_endpoints: usize,
    pub mismatches: Vec<Mismatch>,
}

/// The service name and port of `<svc>.<ns>.svc...:<port>`.
fn service_and_port(authority: &str) -> Option<(&str, u16)> {
    let (host, port) = authority.rsplit_once(':')?;
    Some((host.split('.').next()?, port.parse().ok()?))
}

/// The addresses Linkerd's destination controller should send for `target`: ready (or
/// readiness unknown) endpoints of every EndpointSlice of the Service, at the slice port
/// named like the Service port whose `port` was requested.
pub async fn expected(
    client: &kube::Client,
    target: &Target,
) -> Result<BTreeSet<SocketAddr>, String> {
    let (svc, port) = service_and_port(&target.authority)
        .ok_or_else(|| format!("{}: no service and port", target.authority))?;
    let services: Api<Service> = Api::namespaced(client.clone(), &target.namespace);
    let s = services
        .get_opt(svc)
        .await
        .map_err(|e| format!("get service {}/{svc}: {e}", target.namespace))?;
    let Some(s) = s else {
        return Ok(BTreeSet::new());
    };
    let port_name = s
        .spec
        .and_then(|spec| spec.ports)
        .unwrap_or_default()
        .into_iter()
        .find(|p| p.port == i32::from(port))
        .map(|p| p.name.unwrap_or_default());
    let Some(port_name) = port_name else {
        return Ok(BTreeSet::new());
    };
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), &target.namespace);
    let list = slices
        .list(&ListParams::default().labels(&format!("kubernetes.io/service-name={svc}")))
        .await
        .map_err(|e| format!("list endpointslices of {}/{svc}: {e}", target.namespace))?;
    let mut out = BTreeSet::new();
    for slice in list.items {
        let Some(p) = slice
            .ports
            .unwrap_or_default()
            .into_iter()
            .find(|p| p.name.clone().unwrap_or_default() == port_name)
            .and_then(|p| p.port)
        else {
            continue;
        };
        for ep in slice.endpoints.unwrap_or_default() {
            if ep.conditions.as_ref().and_then(|c| c.ready) == Some(false) {
                continue;
            }
            for a in &ep.addresses {
                if let Ok(ip) = a.parse::<IpAddr>() {
                    out.insert(SocketAddr::new(ip, p as u16));
                }
            }
        }
    }
    Ok(out)
}

/// One comparison of every stream's view with the API.
pub async fn check(
    client: &kube::Client,
    targets: &[Target],
    views: &[(usize, u32, View)],
) -> Result<Report, String> {
    let mut want = Vec::with_capacity(targets.len());
    let mut report = Report::default();
    for t in targets {
        let e = expected(client, t).await?;
        report.api_endpoints += e.len();
        want.push(e);
    }
    // Streams share sets: each distinct set is compared once.
    let mut same: HashMap<(usize, *const Frozen), bool> = HashMap::new();
    for (service, slot, view) in views {
        let v = view.lock().unwrap_or_else(|e| e.into_inner());
        report.streams += 1;
        let want = &want[*service];
        let empty = EndpointSet::default();
        let set = v.set.as_deref().map_or(&empty, Frozen::set);
        let agrees = match &v.set {
            Some(f) => *same
                .entry((*service, Arc::as_ptr(f)))
                .or_insert_with(|| equal(set, want)),
            None => equal(set, want),
        };
        if v.connected && agrees {
            continue;
        }
        let addrs: BTreeSet<SocketAddr> = set.addrs().collect();
        report.mismatches.push(Mismatch {
            service: targets[*service].name.clone(),
            slot: *slot,
            connected: v.connected,
            missing: want.difference(&addrs).copied().collect(),
            extra: addrs.difference(want).copied().collect(),
        });
    }
    Ok(report)
}

/// Checks until every stream agrees with the API or `timeout` passes (an update can be in
/// flight when the check starts); returns the last report.
pub async fn until_agreed(
    client: &kube::Client,
    targets: &[Target],
    views: &[(usize, u32, View)],
    timeout: Duration,
) -> Result<Report, String> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let r = check(client, targets, views).await?;
        if r.mismatches.is_empty() || tokio::time::Instant::now() >= deadline {
            return Ok(r);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authority_names_service_and_port() {
        assert_eq!(
            service_and_port("test-service-1.test-load.svc.cluster.local:8080"),
            Some(("test-service-1", 8080))
        );
        assert_eq!(service_and_port("x.y.svc.cluster.local"), None);
    }
}
