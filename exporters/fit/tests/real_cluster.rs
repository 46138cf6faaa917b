//! `redline fit` reading a live namespace of the real control plane of hack/cluster: the
//! seed's application (tests/fixtures/vps: Deployments and StatefulSets) applied with
//! server-side apply, its pods Running on KWOK's nodes, their usage served by
//! metrics-server from KWOK's emulated kubelets. What fit reads from the API must equal
//! what it reads from the same manifests on disk, and the usage must be what the pods
//! report.
//!
//! Without REDLINE_TEST_KUBECONFIG the test prints one loud line and returns (under
//! CI=true it fails).

mod support;

use std::time::Duration;

use redline_fit::{FitArgs, UsageStatus, fit_with};
use redline_testkit_cluster::{Cluster, documents, wait_until};
use serde_json::{Value, json};
use support::{NAMESPACE, fit_the_fixtures, fixtures};

/// metrics-server scrapes every 10 s and needs two scrapes for a CPU rate.
const METRICS: Duration = Duration::from_secs(120);
/// What every pod reports through KWOK (per container; the fixtures have one each).
const CPU_MILLIS: f64 = 100.0;
const MEMORY_MIB: f64 = 50.0;

/// The fixtures' objects of the seed's namespace, moved to `ns`, their pods placed on
/// KWOK's nodes and given a usage; the kube-system DaemonSet is left out (the shared
/// cluster is not the test's to change).
fn seed_objects(ns: &str) -> (String, u64) {
    let mut out = Vec::new();
    let mut pods = 0;
    for file in ["app.yaml", "data.yaml", "others.yaml"] {
        let text = std::fs::read_to_string(fixtures().join(file)).unwrap();
        for doc in documents(&text).unwrap() {
            let mut v: Value = doc.value;
            if v["metadata"]["namespace"] != NAMESPACE {
                continue;
            }
            v["metadata"]["namespace"] = json!(ns);
            if let Some(template) = v.pointer_mut("/spec/template") {
                let spec = &mut template["spec"];
                spec["nodeSelector"] = json!({"type": "kwok"});
                spec["tolerations"] = json!([{"key": "kwok.x-k8s.io/node", "operator": "Exists", "effect": "NoSchedule"}]);
                template["metadata"]["annotations"] = json!({
                    "kwok.x-k8s.io/usage-cpu": format!("{CPU_MILLIS}m"),
                    "kwok.x-k8s.io/usage-memory": format!("{MEMORY_MIB}Mi"),
                });
                pods += v["spec"]["replicas"].as_u64().unwrap_or(1);
            }
            out.push(serde_json::to_string(&v).unwrap());
        }
    }
    (out.join("\n---\n"), pods)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_namespace_reads_as_its_manifests_with_the_pods_real_usage() {
    let Some(cluster) = Cluster::shared().await else {
        return;
    };
    let ns = cluster.namespace("fit").await.unwrap();
    let (objects, pods) = seed_objects(ns.name());
    cluster.apply_yaml(Some(ns.name()), &objects).await.unwrap();
    let client = cluster.client_without_retry().await.unwrap();

    let from_files = fit_the_fixtures().await;
    let args = FitArgs {
        namespace: Some(ns.name().into()),
        ..FitArgs::defaults()
    };
    // Wait for every pod's usage to be served, then compare.
    let live = wait_until(
        "every pod's usage through metrics.k8s.io",
        METRICS,
        async || {
            let r = fit_with(&args, Some(&client)).await.ok()?;
            (r.usage.usage()?.pods as u64 == pods).then_some(r)
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    println!("{live}");

    assert_eq!(live.scope, format!("namespace {}", ns.name()));
    let shape = |r: &redline_fit::FitReport| {
        let mut w: Vec<_> = r
            .workloads
            .iter()
            .map(|w| {
                (
                    w.kind.clone(),
                    w.name.clone(),
                    w.replicas,
                    w.cpu_request_millis,
                    w.memory_request_bytes,
                    w.cpu_limit_millis,
                    w.memory_limit_bytes,
                )
            })
            .collect();
        w.sort();
        w
    };
    assert_eq!(
        shape(&live),
        shape(&from_files),
        "the API server's stored objects (after its defaulting) count as the files do"
    );
    assert_eq!(live.cpu_requests_millis, from_files.cpu_requests_millis);
    assert_eq!(live.memory_requests_bytes, from_files.memory_requests_bytes);
    assert_eq!(live.cpu_limits_millis, from_files.cpu_limits_millis);
    assert_eq!(live.memory_limits_bytes, from_files.memory_limits_bytes);
    assert!(matches!(from_files.usage, UsageStatus::NotRead));

    let usage = live.usage.usage().unwrap();
    let want_memory = pods as f64 * MEMORY_MIB * 1048576.0;
    assert!(
        (usage.memory_bytes - want_memory).abs() <= want_memory * 0.01,
        "{} bytes, the pods report {want_memory}",
        usage.memory_bytes
    );
    // CPU is a rate metrics-server computes between two scrapes of KWOK's counters.
    let want_cpu = pods as f64 * CPU_MILLIS / 1000.0;
    assert!(
        (usage.cpu_cores - want_cpu).abs() <= want_cpu * 0.25,
        "{} cores, the pods report {want_cpu}",
        usage.cpu_cores
    );
    ns.delete().await.unwrap();
}
