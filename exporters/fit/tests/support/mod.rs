//! The cluster the fit tests run against: the seed's namespace (vps-load-and-chaos-summary.md)
//! on a Kubernetes API, with pods whose actual usage the test chooses.
//!
//! [`seed_cluster`] is the only place that knows which API server it is: today the
//! in-process one from `redline-testkit-kube` (which also serves the PodMetrics); swapping
//! in a real API server means changing this one function.

#![allow(dead_code)] // each test binary uses its own part

use std::path::PathBuf;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, PostParams};
use redline_testkit_kube::{ContainerUsage, KubeApiServer};

/// The namespace of the seed's application.
pub const NAMESPACE: &str = "jewelry-shop";

/// The seed's lesson: monitoring and load generators must not eat the app's budget.
pub const APP_ONLY: &str = "app.kubernetes.io/part-of notin (monitoring,load-test)";

pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/vps")
}

/// The report of the seed's manifests read from files, scoped to the app's namespace: what
/// a live namespace and the scoping rules are compared with.
pub async fn fit_the_fixtures() -> redline_fit::FitReport {
    redline_fit::fit_with(
        &redline_fit::FitArgs {
            namespace: Some(NAMESPACE.into()),
            manifests: Some(fixtures()),
            ..redline_fit::FitArgs::defaults()
        },
        None,
    )
    .await
    .unwrap()
}

/// The Deployments of one fixture file.
pub fn fixture_deployments(file: &str) -> Vec<Deployment> {
    let text = std::fs::read_to_string(fixtures().join(file)).unwrap();
    text.split("\n---\n")
        .skip(1)
        .filter_map(|doc| {
            let v: serde_json::Value = serde_norway::from_str(doc).unwrap();
            (v["kind"] == "Deployment").then(|| serde_json::from_value(v).unwrap())
        })
        .collect()
}

/// What every pod of one app uses: (app label, cpu, memory) as PodMetrics quantities.
pub type PodUsage<'a> = (&'a str, &'a str, &'a str);

pub struct SeedCluster {
    pub server: KubeApiServer,
    /// Its current namespace is the seed's, as a kubeconfig context pointing there.
    pub client: kube::Client,
}

/// The seed's Deployments (app.yaml and others.yaml: the app, monitoring, load
/// generators) in [`NAMESPACE`], one running pod per replica labelled as its template,
/// and for every pod of an app listed in `usage` its PodMetrics.
pub async fn seed_cluster(usage: &[PodUsage<'_>]) -> SeedCluster {
    let server = KubeApiServer::start().await.unwrap();
    let mut config = server.kube_config();
    config.default_namespace = NAMESPACE.into();
    config.default_retry = false;
    let client = kube::Client::try_from(config).unwrap();
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), NAMESPACE);
    let pods: Api<Pod> = Api::namespaced(client.clone(), NAMESPACE);
    for d in fixture_deployments("app.yaml")
        .into_iter()
        .chain(fixture_deployments("others.yaml"))
    {
        deployments
            .create(&PostParams::default(), &d)
            .await
            .unwrap();
        let v = serde_json::to_value(&d).unwrap();
        let app = v["spec"]["template"]["metadata"]["labels"]["app"]
            .as_str()
            .unwrap()
            .to_string();
        for i in 0..v["spec"]["replicas"].as_u64().unwrap_or(1) {
            let name = format!("{app}-{i}");
            let pod: Pod = serde_json::from_value(serde_json::json!({
                "metadata": {"name": name, "namespace": NAMESPACE, "labels": {"app": app}},
                "spec": {"containers": [{"name": app, "image": "example/app:1"}]},
            }))
            .unwrap();
            pods.create(&PostParams::default(), &pod).await.unwrap();
            if let Some((_, cpu, memory)) = usage.iter().find(|(a, _, _)| *a == app) {
                server.set_pod_metrics(
                    NAMESPACE,
                    &name,
                    vec![ContainerUsage::new(&app, cpu, memory)],
                );
            }
        }
    }
    SeedCluster { server, client }
}
