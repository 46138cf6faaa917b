//! Kuadrant's RateLimitPolicy and TokenRateLimitPolicy CRDs on the test cluster, from the
//! operator's published module (hack/kuadrant-crds.sh extracts them into a cache), so
//! what `redline tokens limits` patches is checked by the real API server against the
//! published schema.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use kube::Api;
use kube::api::DynamicObject;
use kube::core::GroupVersionKind;

use crate::cluster::Cluster;
use crate::error::{Error, Result};
use crate::namespace::TestNamespace;
use crate::wait::wait_until;

/// The two CRD files the script leaves in its folder.
pub const KUADRANT_CRD_FILES: [&str; 2] = [
    "kuadrant.io_ratelimitpolicies.yaml",
    "kuadrant.io_tokenratelimitpolicies.yaml",
];

/// The folder hack/kuadrant-crds.sh prints (it downloads the pinned module once).
pub fn kuadrant_crd_dir() -> Result<PathBuf> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../hack/kuadrant-crds.sh");
    let out = Command::new(&script).output()?;
    if !out.status.success() {
        return Err(Error::Io(std::io::Error::other(format!(
            "{}: {}",
            script.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ))));
    }
    Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

/// The MaaS seed's two policies (its "Current Rate Limits"): RateLimitPolicy
/// `gateway-rate-limits` (free 5, premium 20, enterprise 50 per 2 min; `free` also has a
/// second rate, a predicate and a counter, which a raise must leave alone) and
/// TokenRateLimitPolicy `gateway-token-rate-limits` (100 / 50000 / 100000 per minute).
pub const SEED_RATE_LIMIT_POLICY: &str = "gateway-rate-limits";
pub const SEED_TOKEN_RATE_LIMIT_POLICY: &str = "gateway-token-rate-limits";

pub fn seed_policies(token_policy_api_version: &str) -> String {
    format!(
        r#"
apiVersion: kuadrant.io/v1
kind: RateLimitPolicy
metadata:
  name: {SEED_RATE_LIMIT_POLICY}
  annotations: {{team: maas}}
spec:
  targetRef: {{group: gateway.networking.k8s.io, kind: Gateway, name: openshift-ai-inference}}
  limits:
    free:
      rates: [{{limit: 5, window: 2m}}, {{limit: 100, window: 1h}}]
      when: [{{predicate: 'auth.identity.tier == "free"'}}]
      counters: [{{expression: auth.identity.userid}}]
    premium:
      rates: [{{limit: 20, window: 2m}}]
    enterprise:
      rates: [{{limit: 50, window: 2m}}]
---
apiVersion: {token_policy_api_version}
kind: TokenRateLimitPolicy
metadata:
  name: {SEED_TOKEN_RATE_LIMIT_POLICY}
spec:
  targetRef: {{group: gateway.networking.k8s.io, kind: Gateway, name: openshift-ai-inference}}
  limits:
    free-user-tokens:
      rates: [{{limit: 100, window: 1m}}]
    premium-user-tokens:
      rates: [{{limit: 50000, window: 1m}}]
    enterprise-user-tokens:
      rates: [{{limit: 100000, window: 1m}}]
"#
    )
}

impl Cluster {
    /// Any object by apiVersion and kind (a custom resource), as JSON.
    pub async fn get_json(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Result<serde_json::Value> {
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        let (resource, _) = kube::discovery::pinned_kind(
            &self.client,
            &GroupVersionKind::gvk(group, version, kind),
        )
        .await?;
        let api: Api<DynamicObject> = Api::namespaced_with(self.client(), namespace, &resource);
        Ok(serde_json::to_value(api.get(name).await?)?)
    }

    /// Applies both CRDs (idempotent: every test may call it) and waits until the API
    /// server serves both kinds. Returns the CRDs' `kind -> apiVersion`.
    pub async fn install_kuadrant_crds(&self) -> Result<Vec<(String, String)>> {
        let dir = kuadrant_crd_dir()?;
        let mut kinds = Vec::new();
        for file in KUADRANT_CRD_FILES {
            let yaml = std::fs::read_to_string(dir.join(file))?;
            for crd in self.apply_yaml(None, &yaml).await? {
                let spec = &crd.data["spec"];
                let kind = spec["names"]["kind"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                let version = spec["versions"][0]["name"].as_str().unwrap_or_default();
                kinds.push((kind, format!("kuadrant.io/{version}")));
            }
        }
        for (kind, api_version) in &kinds {
            let (_, version) = api_version.split_once('/').unwrap_or_default();
            let gvk = GroupVersionKind::gvk("kuadrant.io", version, kind);
            wait_until(
                &format!("the API server serves {api_version} {kind}"),
                Duration::from_secs(30),
                async || kube::discovery::pinned_kind(&self.client, &gvk).await.ok(),
            )
            .await?;
        }
        Ok(kinds)
    }

    /// A fresh namespace holding the MaaS seed's two policies ([`seed_policies`]), the CRDs
    /// installed first: where every `tokens limits` test starts. Returns the namespace and
    /// the CRDs' `kind -> apiVersion`.
    pub async fn seeded_kuadrant_namespace(
        &self,
        prefix: &str,
    ) -> Result<(TestNamespace, Vec<(String, String)>)> {
        let kinds = self.install_kuadrant_crds().await?;
        let ns = self.namespace(prefix).await?;
        let trlp = kinds
            .iter()
            .find(|(k, _)| k == "TokenRateLimitPolicy")
            .map(|(_, api_version)| api_version)
            .ok_or_else(|| {
                Error::Io(std::io::Error::other(format!(
                    "{}: no TokenRateLimitPolicy CRD among {kinds:?}",
                    KUADRANT_CRD_FILES[1]
                )))
            })?;
        self.apply_yaml(Some(ns.name()), &seed_policies(trlp))
            .await?;
        Ok((ns, kinds))
    }
}
