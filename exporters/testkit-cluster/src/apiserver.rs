//! The API server as an observed program: its request counters (to check a daemon's QPS)
//! and its Go heap profile endpoint (a real pprof target).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ServiceAccount;
use kube::Api;

use crate::cluster::Cluster;
use crate::error::Result;
use crate::exposition::{Sample, samples};

/// The ServiceAccount (in `kube-system`) allowed to read `/debug/pprof/*` and nothing else.
pub const PPROF_READER: &str = "redline-test-pprof-reader";

/// `apiserver_request_total` at one moment: every series with its labels.
#[derive(Debug, Clone)]
pub struct RequestCounts {
    pub samples: Vec<Sample>,
}

impl RequestCounts {
    /// The sum over every series whose labels include all of `labels` (`verb`, `resource`,
    /// `code`, `group`, `subresource`, `scope`, `version`, `component`, `dry_run`).
    pub fn sum(&self, labels: &[(&str, &str)]) -> f64 {
        self.samples
            .iter()
            .filter(|s| {
                labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|s| s.value)
            .sum()
    }

    /// How many requests matching `labels` were counted from `earlier` to `self`.
    pub fn since(&self, earlier: &RequestCounts, labels: &[(&str, &str)]) -> f64 {
        self.sum(labels) - earlier.sum(labels)
    }

    /// Sums by the value of one label, over the series matching `labels`.
    pub fn by(&self, label: &str, labels: &[(&str, &str)]) -> BTreeMap<String, f64> {
        let mut out = BTreeMap::new();
        for s in &self.samples {
            if labels
                .iter()
                .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            {
                let key = s.labels.get(label).cloned().unwrap_or_default();
                *out.entry(key).or_insert(0.0) += s.value;
            }
        }
        out
    }
}

/// Where and how to fetch the API server's heap profile, as a sampler would.
pub struct ApiServerPprof {
    /// `https://127.0.0.1:PORT/debug/pprof/heap`
    pub heap_url: String,
    /// The CA that signed the API server's certificate, PEM.
    pub ca_pem: String,
    /// A TokenRequest token of [`PPROF_READER`] (never print it).
    pub bearer_token: String,
}

impl std::fmt::Debug for ApiServerPprof {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiServerPprof")
            .field("heap_url", &self.heap_url)
            .field("bearer_token", &"<redacted>")
            .finish()
    }
}

impl Cluster {
    /// The API server's `apiserver_request_total` now, from its `/metrics`.
    pub async fn apiserver_requests(&self) -> Result<RequestCounts> {
        let text = self.get_text("/metrics").await?;
        Ok(RequestCounts {
            samples: samples(&text, "apiserver_request_total")?,
        })
    }

    /// The API server's `/debug/pprof/heap` (it runs with `--profiling`) and a token of a
    /// ServiceAccount whose only grant is `get` on `/debug/pprof/*`, made here if missing.
    pub async fn apiserver_pprof(&self) -> Result<ApiServerPprof> {
        let rbac = format!(
            r#"
apiVersion: v1
kind: ServiceAccount
metadata: {{name: {PPROF_READER}, namespace: kube-system}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {{name: {PPROF_READER}}}
rules:
- nonResourceURLs: ["/debug/pprof", "/debug/pprof/*"]
  verbs: [get]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {{name: {PPROF_READER}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: {PPROF_READER}}}
subjects:
- {{kind: ServiceAccount, name: {PPROF_READER}, namespace: kube-system}}
"#
        );
        self.apply_yaml(None, &rbac).await?;
        // The account exists once applied; its token comes from the real issuer.
        Api::<ServiceAccount>::namespaced(self.client(), "kube-system")
            .get(PPROF_READER)
            .await?;
        let reader = self.client_as("kube-system", PPROF_READER).await?;
        Ok(ApiServerPprof {
            heap_url: format!("{}/debug/pprof/heap", self.api_url()),
            ca_pem: self.ca_pem().to_string(),
            bearer_token: reader.token().to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts() -> RequestCounts {
        let text = r#"apiserver_request_total{code="200",resource="pods",verb="LIST"} 5
apiserver_request_total{code="200",resource="pods",verb="GET"} 2
apiserver_request_total{code="404",resource="pods",verb="GET"} 1
apiserver_request_total{code="201",resource="deployments",verb="POST"} 4
"#;
        RequestCounts {
            samples: samples(text, "apiserver_request_total").unwrap(),
        }
    }

    #[test]
    fn sums_the_series_that_match_every_label() {
        let c = counts();
        assert_eq!(c.sum(&[]), 12.0);
        assert_eq!(c.sum(&[("resource", "pods")]), 8.0);
        assert_eq!(c.sum(&[("resource", "pods"), ("verb", "GET")]), 3.0);
        assert_eq!(
            c.sum(&[("resource", "pods"), ("verb", "GET"), ("code", "404")]),
            1.0
        );
        assert_eq!(c.sum(&[("resource", "services")]), 0.0);
    }

    #[test]
    fn differences_and_breakdowns() {
        let before = counts();
        let mut after = counts();
        after.samples[1].value += 7.0;
        assert_eq!(after.since(&before, &[("verb", "GET")]), 7.0);
        let by_code = after.by("code", &[("resource", "pods")]);
        assert_eq!(by_code["200"], 14.0);
        assert_eq!(by_code["404"], 1.0);
    }
}
