//! Discovery and `metrics.k8s.io` against the real control plane of hack/cluster: the
//! sampler finds its targets by label selector among real pods (scheduled onto KWOK's
//! nodes, made Running by KWOK), follows a real scale-out and scale-in, and reads their
//! usage from metrics-server. The pods run with `hostNetwork`, so their IP is their
//! node's (127.0.0.1, hack/cluster/up.sh) and the heap profile they "serve" is a real Go
//! profile served on that address by the test.
//!
//! Without REDLINE_TEST_KUBECONFIG the test prints one loud line and returns (under
//! CI=true it fails).

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{Behaviour, serve_on};
use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;
use kube::api::{Patch, PatchParams};
use redline_pprof_sampler::{PprofSamplerArgs, RunOptions, SamplerConfig};
use redline_runtime::CommonArgs;
use redline_testkit_cluster::{Cluster, KwokDeployment, wait_until};
use serde_json::json;
use tokio_util::sync::CancellationToken;

/// metrics-server scrapes every 10 s; the scheduler and KWOK take a moment more.
const CONVERGE: Duration = Duration::from_secs(120);

/// Pods on the nodes' network (so the sampler reaches their profiling port on the node's
/// address) with KWOK-reported usage.
fn workload(name: &str, replicas: u32, port: u16) -> String {
    KwokDeployment::new(name, replicas)
        .annotation("kwok.x-k8s.io/usage-cpu", "250m")
        .annotation("kwok.x-k8s.io/usage-memory", "64Mi")
        .host_network()
        .container(name)
        .port("profiling", port)
        .yaml()
}

async fn scrape(admin: std::net::SocketAddr) -> Option<String> {
    reqwest::get(format!("http://{admin}/metrics"))
        .await
        .ok()?
        .text()
        .await
        .ok()
}

fn values(text: &str, name: &str, needles: &[&str]) -> Vec<f64> {
    text.lines()
        .filter(|l| l.split('{').next() == Some(name) && needles.iter().all(|n| l.contains(n)))
        .filter_map(|l| l.rsplit_once(' ')?.1.parse().ok())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_pods_are_found_by_selector_sampled_and_followed_with_their_usage() {
    let Some(cluster) = Cluster::shared().await else {
        return;
    };
    let profile = serve_on(
        "127.0.0.1:0".parse().unwrap(),
        Behaviour::Profile(Bytes::from_static(common::FIXTURE_A)),
    )
    .await;
    let port = profile.addr.port();
    let ns = cluster.namespace("pprof").await.unwrap();
    cluster
        .apply_yaml(Some(ns.name()), &workload("activator", 1, port))
        .await
        .unwrap();
    // Same port, another label: never a target.
    cluster
        .apply_yaml(Some(ns.name()), &workload("webhook", 1, port))
        .await
        .unwrap();
    let first = wait_until(
        "the activator pod Running with its node's IP",
        CONVERGE,
        async || {
            let pods = cluster.ready_pods(ns.name(), "app=activator").await.ok()?;
            let pod = pods.first()?;
            (pod.status.as_ref()?.pod_ip.as_deref() == Some("127.0.0.1"))
                .then(|| pod.metadata.name.clone().unwrap())
        },
    )
    .await
    .unwrap();

    let args = PprofSamplerArgs {
        common: CommonArgs::default(),
        sampler: SamplerConfig {
            namespace: ns.name().into(),
            selector: "app=activator".into(),
            port,
            interval: Duration::from_millis(500),
            timeout: Duration::from_secs(2),
            ..Default::default()
        },
    };
    let stop = CancellationToken::new();
    let (started_tx, started) = tokio::sync::oneshot::channel();
    let daemon = tokio::spawn(redline_pprof_sampler::run_with(
        args,
        RunOptions {
            kube_client: Some(cluster.client_without_retry().await.unwrap()),
            stop: Some(stop.clone()),
            started: Some(started_tx),
        },
    ));
    let admin = tokio::time::timeout(Duration::from_secs(30), started)
        .await
        .unwrap()
        .unwrap();

    let want_heap = redline_pprof_sampler::profile::decode(common::FIXTURE_A)
        .unwrap()
        .total("inuse_space")
        .unwrap() as f64;
    let pod_label = format!(r#"pod="{first}""#);
    let text = wait_until(
        "the pod's heap and its metrics-server usage",
        CONVERGE,
        async || {
            let t = scrape(admin).await?;
            let heap = values(&t, "redline_pprof_heap_inuse_bytes", &[&pod_label]);
            let memory = values(&t, "redline_pod_memory_working_set_bytes", &[&pod_label]);
            (!heap.is_empty() && !memory.is_empty()).then_some(t)
        },
    )
    .await
    .unwrap();
    assert_eq!(
        values(&text, "redline_pprof_heap_inuse_bytes", &[&pod_label]),
        [want_heap]
    );
    assert_eq!(
        values(&text, "redline_pod_memory_working_set_bytes", &[&pod_label]),
        [64.0 * 1048576.0],
        "KWOK's 64Mi, through metrics-server and metrics.k8s.io"
    );
    assert!(
        !text.contains("webhook-"),
        "the label selector keeps the webhook out"
    );
    assert!(profile.seen.heap.load(std::sync::atomic::Ordering::Relaxed) >= 1);

    // Scale out: the second pod (hostNetwork claims the port, so the scheduler puts it on
    // another node, same 127.0.0.1) is found and sampled; scale in: one is dropped.
    let deployments: Api<Deployment> = Api::namespaced(cluster.client(), ns.name());
    let scale = async |n: u32| {
        deployments
            .patch(
                "activator",
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"replicas": n}})),
            )
            .await
            .unwrap();
    };
    scale(2).await;
    wait_until("two targets", CONVERGE, async || {
        let t = scrape(admin).await?;
        let targets = values(&t, "redline_pprof_targets", &[]);
        let heaps = values(&t, "redline_pprof_heap_inuse_bytes", &[]);
        (targets == [2.0] && heaps.len() >= 2).then_some(())
    })
    .await
    .unwrap();
    scale(1).await;
    let text = wait_until("back to one target", CONVERGE, async || {
        let t = scrape(admin).await?;
        let targets = values(&t, "redline_pprof_targets", &[]);
        let pods = cluster.ready_pods(ns.name(), "app=activator").await.ok()?;
        (targets == [1.0] && pods.len() == 1).then_some(t)
    })
    .await
    .unwrap();
    let left = cluster
        .ready_pods(ns.name(), "app=activator")
        .await
        .unwrap();
    let left = left[0].metadata.name.clone().unwrap();
    assert!(
        !values(
            &text,
            "redline_pprof_heap_inuse_bytes",
            &[&format!(r#"pod="{left}""#)]
        )
        .is_empty()
    );

    stop.cancel();
    tokio::time::timeout(Duration::from_secs(15), daemon)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    ns.delete().await.unwrap();
}
