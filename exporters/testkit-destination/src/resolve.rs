//! From EndpointSlices to the endpoint set of one service port.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use redline_testkit_kube::{ResourceType, Store};
use serde_json::Value;

/// What a Get asks for: `<service>.<namespace>.svc.<cluster-domain>:<port>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Target {
    pub namespace: String,
    pub service: String,
    pub port: u16,
}

/// Parses a Destination path; the port defaults to 80 as in Linkerd.
pub fn parse_path(path: &str) -> Option<Target> {
    let (host, port) = match path.rsplit_once(':') {
        Some((h, p)) => (h, p.parse().ok()?),
        None => (path, 80),
    };
    let labels: Vec<&str> = host.trim_end_matches('.').split('.').collect();
    match labels.as_slice() {
        [svc, ns, "svc", ..] if !svc.is_empty() && !ns.is_empty() => Some(Target {
            namespace: ns.to_string(),
            service: svc.to_string(),
            port,
        }),
        _ => None,
    }
}

/// One endpoint as streams report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub pod: Option<String>,
    pub node: Option<String>,
}

/// The state of one service port at one moment. Shared by all its streams.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Whether the Service object exists.
    pub exists: bool,
    pub endpoints: BTreeMap<SocketAddr, Endpoint>,
}

fn service_type() -> &'static ResourceType {
    redline_testkit_kube::resource_type::<k8s_openapi::api::core::v1::Service>()
        .expect("the test API server serves Services")
}

fn slice_type() -> &'static ResourceType {
    redline_testkit_kube::resource_type::<k8s_openapi::api::discovery::v1::EndpointSlice>()
        .expect("the test API server serves EndpointSlices")
}

/// Computes the snapshot of `t` from the store: ready, non-terminating endpoints of the
/// slices labelled with the service name, on the slice port named like the service port.
pub fn snapshot(store: &Store, t: &Target) -> Snapshot {
    let Some(svc) = store.get(service_type(), &t.namespace, &t.service) else {
        return Snapshot::default();
    };
    let svc_port = svc
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .and_then(|ps| {
            ps.iter()
                .find(|p| p.get("port").and_then(Value::as_u64) == Some(u64::from(t.port)))
        });
    let port_name = svc_port
        .and_then(|p| p.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let (slices, _) = store.list(slice_type(), Some(&t.namespace));
    let mut endpoints = BTreeMap::new();
    for s in slices.iter().filter(|s| {
        s.pointer("/metadata/labels/kubernetes.io~1service-name")
            .and_then(Value::as_str)
            == Some(t.service.as_str())
    }) {
        let slice_port = s
            .get("ports")
            .and_then(Value::as_array)
            .and_then(|ps| {
                ps.iter()
                    .find(|p| p.get("name").and_then(Value::as_str).unwrap_or("") == port_name)
            })
            .and_then(|p| p.get("port"))
            .and_then(Value::as_u64);
        // A port the Service does not declare is used as is, as Linkerd does for
        // unnamed target ports.
        let port = match (svc_port, slice_port) {
            (Some(_), Some(p)) => p as u16,
            _ => t.port,
        };
        for e in s
            .get("endpoints")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let c = e.get("conditions");
            let ready = c.and_then(|c| c.get("ready")).and_then(Value::as_bool) != Some(false);
            let terminating = c
                .and_then(|c| c.get("terminating"))
                .and_then(Value::as_bool)
                == Some(true);
            if !ready || terminating {
                continue;
            }
            let meta = Endpoint {
                pod: e
                    .pointer("/targetRef/name")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                node: e
                    .get("nodeName")
                    .and_then(Value::as_str)
                    .map(str::to_string),
            };
            for a in e
                .get("addresses")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(ip) = a.as_str().and_then(|s| s.parse::<IpAddr>().ok()) {
                    endpoints.insert(SocketAddr::new(ip, port), meta.clone());
                }
            }
        }
    }
    Snapshot {
        exists: true,
        endpoints,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_paths() {
        let t = parse_path("test-service-1.test-load.svc.cluster.local:8080").unwrap();
        assert_eq!(
            (t.service.as_str(), t.namespace.as_str(), t.port),
            ("test-service-1", "test-load", 8080)
        );
        assert_eq!(parse_path("a.b.svc.cluster.local").unwrap().port, 80);
        assert!(parse_path("example.com:80").is_none());
        assert!(parse_path("a.b.svc.cluster.local:notaport").is_none());
    }
}
