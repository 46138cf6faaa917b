//! Discovery, pod churn and `metrics.k8s.io` through the real kube client against the
//! in-process API server (redline-testkit-kube), with the whole daemon running on the
//! shared runtime and read back from its /metrics.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{Behaviour, serve_on};
use k8s_openapi::api::core::v1::Pod;
use prometheus_client::registry::Registry;
use redline_pprof_sampler::metrics::Metrics;
use redline_pprof_sampler::resources::ResourceReader;
use redline_pprof_sampler::{PprofSamplerArgs, RunOptions, SamplerConfig};
use redline_runtime::CommonArgs;
use redline_testkit_kube::{ContainerUsage, KubeApiServer};
use tokio_util::sync::CancellationToken;

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

async fn scrape(admin: std::net::SocketAddr) -> String {
    reqwest::get(format!("http://{admin}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

fn has(text: &str, name: &str, needles: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|l| l.split('{').next() == Some(name) && needles.iter().all(|n| l.contains(n)))
        .find_map(|l| l.rsplit_once(' ')?.1.parse().ok())
}

async fn wait_for(admin: std::net::SocketAddr, what: &str, f: impl Fn(&str) -> bool) -> String {
    for _ in 0..150 {
        let text = scrape(admin).await;
        if f(&text) {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}:\n{}", scrape(admin).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovered_pods_are_sampled_and_followed_through_churn_with_their_cpu_and_memory() {
    let api = KubeApiServer::start().await.unwrap();
    // Two "pods" on one port: 127.0.0.1 and 127.0.0.2 are both loopback.
    let a = serve_on(
        "127.0.0.1:0".parse().unwrap(),
        Behaviour::Profile(Bytes::from_static(common::FIXTURE_A)),
    )
    .await;
    let port = a.addr.port();
    let b = serve_on(
        format!("127.0.0.2:{port}").parse().unwrap(),
        Behaviour::Profile(Bytes::from_static(common::FIXTURE_B)),
    )
    .await;
    api.insert(&activator("activator-a", "127.0.0.1", port))
        .unwrap();
    // Not an activator: must be ignored.
    let mut other = activator("webhook-x", "127.0.0.1", port);
    other.metadata.labels = Some([("app".to_string(), "webhook".to_string())].into());
    api.insert(&other).unwrap();
    api.set_pod_metrics(
        NS,
        "activator-a",
        vec![ContainerUsage::new("activator", "250m", "64Mi")],
    );

    let args = PprofSamplerArgs {
        common: CommonArgs::default(),
        sampler: SamplerConfig {
            port,
            interval: Duration::from_millis(100),
            timeout: Duration::from_millis(500),
            ..Default::default()
        },
    };
    let stop = CancellationToken::new();
    let (started_tx, started) = tokio::sync::oneshot::channel();
    let daemon = tokio::spawn(redline_pprof_sampler::run_with(
        args,
        RunOptions {
            kube_client: Some(api.client().unwrap()),
            stop: Some(stop.clone()),
            started: Some(started_tx),
        },
    ));
    let admin = tokio::time::timeout(Duration::from_secs(10), started)
        .await
        .unwrap()
        .unwrap();

    let text = wait_for(admin, "activator-a sampled with its usage", |t| {
        has(
            t,
            "redline_pprof_heap_inuse_bytes",
            &[r#"pod="activator-a""#],
        )
        .is_some()
            && has(t, "redline_pod_cpu_cores", &[r#"pod="activator-a""#]).is_some()
    })
    .await;
    let pa = redline_pprof_sampler::profile::decode(common::FIXTURE_A).unwrap();
    assert_eq!(
        has(
            &text,
            "redline_pprof_heap_inuse_bytes",
            &[r#"pod="activator-a""#, r#"container="activator""#]
        ),
        Some(pa.total("inuse_space").unwrap() as f64)
    );
    assert_eq!(
        has(
            &text,
            "redline_pod_cpu_cores",
            &[r#"namespace="knative-serving""#, r#"container="activator""#]
        ),
        Some(0.25)
    );
    assert_eq!(
        has(
            &text,
            "redline_pod_memory_working_set_bytes",
            &[r#"pod="activator-a""#]
        ),
        Some(64.0 * 1048576.0)
    );
    assert!(!text.contains("webhook-x"), "label selector ignored");

    // Scale out: a second activator appears and is sampled.
    api.insert(&activator("activator-b", "127.0.0.2", port))
        .unwrap();
    api.set_pod_metrics(
        NS,
        "activator-b",
        vec![ContainerUsage::new("activator", "1", "128Mi")],
    );
    wait_for(admin, "activator-b sampled", |t| {
        has(
            t,
            "redline_pprof_heap_inuse_bytes",
            &[r#"pod="activator-b""#],
        )
        .is_some()
            && has(t, "redline_pod_cpu_cores", &[r#"pod="activator-b""#]) == Some(1.0)
    })
    .await;
    assert!(b.seen.heap.load(std::sync::atomic::Ordering::Relaxed) >= 1);

    // Churn: activator-a is deleted; its heap and resource gauges go, b's stay.
    api.delete::<Pod>(NS, "activator-a").unwrap();
    api.clear_pod_metrics(NS, "activator-a");
    let text = wait_for(admin, "activator-a gone", |t| {
        has(
            t,
            "redline_pprof_heap_inuse_bytes",
            &[r#"pod="activator-a""#],
        )
        .is_none()
            && has(t, "redline_pod_cpu_cores", &[r#"pod="activator-a""#]).is_none()
    })
    .await;
    assert!(
        has(
            &text,
            "redline_pprof_heap_inuse_bytes",
            &[r#"pod="activator-b""#]
        )
        .is_some()
    );
    assert_eq!(has(&text, "redline_pprof_targets", &[]), Some(1.0));

    stop.cancel();
    tokio::time::timeout(Duration::from_secs(15), daemon)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
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
