//! Workloads from the cluster: Deployments, StatefulSets and DaemonSets of the scope,
//! listed through the `kube` client and extracted as manifests are. Kinds the server
//! does not serve (404) are skipped.

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use kube::api::{Api, ListParams};
use serde_json::Value;

use crate::error::FitError;
use crate::scope::Scope;
use crate::workloads::{Workload, extract};

async fn list<K>(client: &kube::Client, scope: &Scope) -> Result<Vec<Value>, FitError>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + serde::Serialize
        + std::fmt::Debug,
    K::DynamicType: Default,
{
    let api: Api<K> = match scope.namespace() {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    match api.list(&ListParams::default()).await {
        Ok(l) => Ok(l
            .items
            .iter()
            .filter_map(|o| {
                let mut v = serde_json::to_value(o).ok()?;
                // Listed items carry no kind.
                v["kind"] = Value::String(K::kind(&K::DynamicType::default()).to_string());
                Some(v)
            })
            .collect()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(Vec::new()),
        Err(e) => Err(FitError::Kube(e)),
    }
}

/// Every workload in `scope`.
pub async fn from_cluster(
    client: &kube::Client,
    scope: &Scope,
    daemonset_nodes: u64,
) -> Result<Vec<Workload>, FitError> {
    let mut objs = list::<Deployment>(client, scope).await?;
    objs.extend(list::<StatefulSet>(client, scope).await?);
    objs.extend(list::<DaemonSet>(client, scope).await?);
    let mut out = Vec::new();
    for o in objs {
        if let Some(w) = extract(&o, daemonset_nodes, None)? {
            out.push(w);
        }
    }
    Ok(out)
}
