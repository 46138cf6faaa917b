//! Kubernetes API calls with the client-side rate limit, retries and metrics.
//!
//! Retries live here, not in kube's built-in retry layer (churn builds its client with
//! `default_retry = false`): every attempt then passes the rate limiter, every failed
//! attempt is counted in `redline_churn_api_errors_total{verb,code}` (kube's layer would
//! hide the 429s a load test exists to see), and one bounded policy covers 409 and 500
//! too, which kube's layer does not retry.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Service};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::ChurnError;
use crate::limiter::RateLimiter;
use crate::metrics::{Metrics, VerbCode, VerbResource};

pub const FIELD_MANAGER: &str = "redline-churn";
const BACKOFF_START: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
const RETRY_AFTER_MAX: Duration = Duration::from_secs(30);

/// Whether an error is worth another attempt, and how long the server asked us to wait.
fn retryable(e: &kube::Error) -> Option<Option<Duration>> {
    match e {
        kube::Error::Api(s) => match s.code {
            409 | 429 | 500 | 502 | 503 | 504 => Some(
                s.details
                    .as_ref()
                    .map(|d| d.retry_after_seconds)
                    .filter(|s| *s > 0)
                    .map(|s| Duration::from_secs(u64::from(s)).min(RETRY_AFTER_MAX)),
            ),
            _ => None,
        },
        kube::Error::HyperError(_) | kube::Error::Service(_) => Some(None),
        _ => None,
    }
}

fn code_of(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => s.code.to_string(),
        _ => "0".into(),
    }
}

#[derive(Clone)]
pub struct Kube {
    pub client: kube::Client,
    pub namespace: String,
    limiter: Arc<RateLimiter>,
    metrics: Metrics,
    max_retries: u32,
}

impl Kube {
    pub fn new(
        client: kube::Client,
        namespace: &str,
        limiter: Arc<RateLimiter>,
        metrics: Metrics,
        max_retries: u32,
    ) -> Self {
        Self {
            client,
            namespace: namespace.to_string(),
            limiter,
            metrics,
            max_retries,
        }
    }

    /// Runs `op` until it succeeds, fails for good, or runs out of retries.
    pub async fn call<T, F, Fut>(
        &self,
        verb: &str,
        resource: &str,
        mut op: F,
    ) -> Result<T, ChurnError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, kube::Error>>,
    {
        let mut attempt = 0u32;
        loop {
            self.limiter.acquire().await;
            let start = Instant::now();
            let r = op().await;
            self.metrics
                .api_duration
                .get_or_create(&VerbResource {
                    verb: verb.into(),
                    resource: resource.into(),
                })
                .observe(start.elapsed().as_secs_f64());
            let e = match r {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            self.metrics
                .api_errors
                .get_or_create(&VerbCode {
                    verb: verb.into(),
                    code: code_of(&e),
                })
                .inc();
            let wait = match retryable(&e) {
                Some(after) if attempt < self.max_retries => after.unwrap_or_else(|| {
                    BACKOFF_START
                        .saturating_mul(1 << attempt.min(16))
                        .min(BACKOFF_MAX)
                }),
                _ => {
                    return Err(ChurnError::Api {
                        verb: verb.to_string(),
                        resource: resource.to_string(),
                        attempts: attempt + 1,
                        source: e,
                    });
                }
            };
            tracing::debug!(verb, resource, attempt, error = %e, ?wait, "retrying API call");
            attempt += 1;
            tokio::time::sleep(wait).await;
        }
    }

    fn params() -> PatchParams {
        PatchParams::apply(FIELD_MANAGER).force()
    }

    pub async fn ensure_namespace(&self) -> Result<(), ChurnError> {
        let api: Api<Namespace> = Api::all(self.client.clone());
        let ns =
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": self.namespace}});
        self.call("patch", "namespaces", || {
            let (api, ns) = (api.clone(), &ns);
            async move {
                api.patch(&self.namespace, &Self::params(), &Patch::Apply(ns))
                    .await
            }
        })
        .await
        .map(|_| ())
    }

    pub async fn apply_service(&self, obj: &Value, name: &str) -> Result<(), ChurnError> {
        let api: Api<Service> = Api::namespaced(self.client.clone(), &self.namespace);
        self.call("patch", "services", || {
            let api = api.clone();
            async move { api.patch(name, &Self::params(), &Patch::Apply(obj)).await }
        })
        .await
        .map(|_| ())
    }

    /// Applies a Deployment; `build` runs per attempt so each attempt is stamped with
    /// the time it was actually sent.
    pub async fn apply_deployment(
        &self,
        name: &str,
        mut build: impl FnMut() -> Value,
    ) -> Result<(), ChurnError> {
        let api: Api<Deployment> = Api::namespaced(self.client.clone(), &self.namespace);
        self.call("patch", "deployments", || {
            let obj = build();
            let api = api.clone();
            async move { api.patch(name, &Self::params(), &Patch::Apply(&obj)).await }
        })
        .await
        .map(|_| ())
    }

    /// Deletes the Deployments and Services matching `selector`; returns how many.
    /// List-then-delete, because not every API server serves deletecollection on Services.
    pub async fn delete_selected(&self, selector: &str) -> Result<usize, ChurnError> {
        let lp = ListParams::default().labels(selector);
        let dp = DeleteParams::background();
        let deployments: Api<Deployment> = Api::namespaced(self.client.clone(), &self.namespace);
        let services: Api<Service> = Api::namespaced(self.client.clone(), &self.namespace);
        let mut deleted = 0;
        let list = self
            .call("list", "deployments", || deployments.list(&lp))
            .await?;
        for d in list.items {
            let name = d.metadata.name.unwrap_or_default();
            if self
                .delete_one(&deployments, "deployments", &name, &dp)
                .await?
            {
                deleted += 1;
            }
        }
        let list = self.call("list", "services", || services.list(&lp)).await?;
        for s in list.items {
            let name = s.metadata.name.unwrap_or_default();
            if self.delete_one(&services, "services", &name, &dp).await? {
                deleted += 1;
            }
        }
        Ok(deleted)
    }

    async fn delete_one<K>(
        &self,
        api: &Api<K>,
        resource: &str,
        name: &str,
        dp: &DeleteParams,
    ) -> Result<bool, ChurnError>
    where
        K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
    {
        match self.call("delete", resource, || api.delete(name, dp)).await {
            Ok(_) => Ok(true),
            // Gone already (a concurrent cleanup, or garbage collection): fine.
            Err(ChurnError::Api {
                source: kube::Error::Api(s),
                ..
            }) if s.code == 404 => Ok(false),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16, retry_after: u32) -> kube::Error {
        let mut s = kube::core::Status::failure("x", "Y");
        s.code = code;
        if retry_after > 0 {
            s.details =
                Some(serde_json::from_value(json!({"retryAfterSeconds": retry_after})).unwrap());
        }
        kube::Error::Api(Box::new(s))
    }

    #[test]
    fn retries_conflicts_throttling_and_server_errors_only() {
        for code in [409, 429, 500, 502, 503, 504] {
            assert!(retryable(&status(code, 0)).is_some(), "{code}");
        }
        for code in [400, 401, 403, 404, 422] {
            assert!(retryable(&status(code, 0)).is_none(), "{code}");
        }
        assert_eq!(
            retryable(&status(429, 3)),
            Some(Some(Duration::from_secs(3)))
        );
    }
}
