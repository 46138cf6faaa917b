//! `metrics.k8s.io` errors through the real kube client against the in-process API server
//! (redline-testkit-kube), which can fail a read on demand. Discovery, pod churn and
//! usage from a real metrics-server are tested on the real control plane
//! (`real_cluster.rs`).

mod common;

use k8s_openapi::api::core::v1::Pod;
use prometheus_client::registry::Registry;
use redline_pprof_sampler::metrics::Metrics;
use redline_pprof_sampler::resources::ResourceReader;
use redline_testkit_kube::{ContainerUsage, KubeApiServer};

const NS: &str = "knative-serving";

fn activator(name: &str, ip: &str, port: u16) -> Pod {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NS, "labels": {"app": "activator"}},
        "spec": {"containers": [{"name": "activator", "image": "a",
            "ports": [{"name": "profiling", "containerPort": port}]}]},
        "status": {"phase": "Running", "podIP": ip}
    }))
    .unwrap()
}

#[tokio::test]
async fn pod_metrics_errors_are_counted_and_reads_recover() {
    let api = KubeApiServer::start().await.unwrap();
    api.insert(&activator("activator-a", "127.0.0.1", 8008))
        .unwrap();
    api.set_pod_metrics(
        NS,
        "activator-a",
        vec![
            ContainerUsage::new("activator", "12345678n", "31840Ki"),
            ContainerUsage::new("queue-proxy", "1m", "10Mi"),
        ],
    );
    let mut registry = Registry::default();
    let metrics = Metrics::register(&mut registry);
    let mut reader = ResourceReader::new(
        api.client_without_retry().unwrap(),
        NS,
        "app=activator",
        metrics,
    );
    api.fail_next_with_500(1);
    assert!(reader.read_once().await.is_err());
    assert_eq!(reader.read_once().await.unwrap(), 2);
    let s = common::series(&registry);
    assert_eq!(
        common::value(
            &s,
            "redline_pod_metrics_reads_total",
            &[r#"result="error""#]
        ),
        Some(1.0)
    );
    assert_eq!(
        common::value(&s, "redline_pod_metrics_reads_total", &[r#"result="ok""#]),
        Some(1.0)
    );
    let cpu = common::value(&s, "redline_pod_cpu_cores", &[r#"container="activator""#]).unwrap();
    assert!((cpu - 0.012345678).abs() < 1e-9, "{cpu}");
    assert_eq!(
        common::value(
            &s,
            "redline_pod_memory_working_set_bytes",
            &[r#"container="queue-proxy""#]
        ),
        Some(10.0 * 1048576.0)
    );
}
