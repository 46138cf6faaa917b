//! churn against the in-process Kubernetes API server in KWOK mode, through the real
//! kube client.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use redline_churn::api::Kube;
use redline_churn::limiter::RateLimiter;
use redline_churn::metrics::{Metrics, VerbCode};
use redline_churn::objects::{Stamp, Template};
use redline_churn::{ChurnArgs, EVENT_ANNOTATION, PatternName, RUN_LABEL};
use redline_runtime::CommonArgs;
use redline_testkit_kube::{Fault, FaultKind, KubeApiServer, Verb};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

const NS: &str = "test-load";

fn args(pattern: PatternName) -> ChurnArgs {
    let mut a = ChurnArgs::with_common(CommonArgs::default());
    a.namespace = NS.into();
    a.create_namespace = true;
    a.pattern = pattern;
    a.services = 3;
    a.endpoints_per_service = 4;
    a.run_id = Some("run-a".into());
    a.qps = 1000.0;
    a.burst = 1000;
    a
}

fn event(d: &Deployment) -> Value {
    let raw = d
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(EVENT_ANNOTATION))
        .expect("stamped");
    serde_json::from_str(raw).unwrap()
}

/// KWOK hands out the pod IP as it marks the pod Ready, so Ready pods are the served ones.
fn ready_pods(server: &KubeApiServer, app: &str) -> usize {
    server.ready_app_pods(NS, app)
}

#[tokio::test]
async fn creates_kwok_workloads_keeps_them_and_cleans_up_by_run() {
    let server = KubeApiServer::start_kwok().await.unwrap();
    // Goes through the kubeconfig path `redline churn` uses in a cluster.
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: t\n  cluster:\n    server: {}\nusers:\n- name: u\n  user: {{}}\ncontexts:\n- name: c\n  context: {{cluster: t, user: u}}\ncurrent-context: c\n",
            server.url()
        ),
    )
    .unwrap();
    let mut a = args(PatternName::Stable);
    a.kubeconfig = Some(kubeconfig.clone());
    a.duration = Some(Duration::from_millis(300));
    a.keep = true;
    a.service_labels = vec![(
        "mirror.linkerd.io/exported".into(),
        "remote-discovery".into(),
    )];
    redline_churn::run(a).await.unwrap();

    let deployments = server.list::<Deployment>(Some(NS));
    assert_eq!(deployments.len(), 3);
    for d in &deployments {
        let name = d.metadata.name.clone().unwrap();
        let labels = d.metadata.labels.clone().unwrap();
        assert_eq!(labels["redline.dev/owner"], "redline-churn");
        assert_eq!(labels[RUN_LABEL], "run-a");
        assert_eq!(d.spec.replicas, Some(4));
        let ev = event(d);
        assert_eq!(
            (ev["seq"].as_u64(), ev["replicas"].as_u64()),
            (Some(0), Some(4))
        );
        let pod_spec = d.spec.template.spec.clone().unwrap();
        assert_eq!(pod_spec.node_selector.unwrap()["type"], "kwok");
        assert_eq!(
            pod_spec.tolerations.unwrap()[0].key.as_deref(),
            Some("kwok.x-k8s.io/node")
        );
        assert!(
            server
                .wait_for(Duration::from_secs(5), |s| ready_pods(s, &name) == 4)
                .await,
            "{name} has 4 ready KWOK pods"
        );
    }
    let services = server.list::<Service>(Some(NS));
    assert_eq!(services.len(), 3);
    for s in &services {
        let labels = s.metadata.labels.clone().unwrap();
        assert_eq!(labels["mirror.linkerd.io/exported"], "remote-discovery");
        assert_eq!(labels[RUN_LABEL], "run-a");
    }

    // Another run's objects are not touched by this run's cleanup.
    let mut other = args(PatternName::Stable);
    other.kubeconfig = Some(kubeconfig.clone());
    other.run_id = Some("run-b".into());
    other.service_prefix = "other".into();
    other.services = 1;
    other.duration = Some(Duration::from_millis(50));
    other.keep = true;
    redline_churn::run(other).await.unwrap();

    let mut cleanup = args(PatternName::Stable);
    cleanup.kubeconfig = Some(kubeconfig);
    cleanup.cleanup = true;
    redline_churn::run(cleanup).await.unwrap();
    let left: Vec<String> = server
        .list::<Deployment>(Some(NS))
        .into_iter()
        .map(|d| d.metadata.name.unwrap())
        .collect();
    assert_eq!(left, ["other-1"]);
    assert_eq!(server.list::<Service>(Some(NS)).len(), 1);
}

#[tokio::test]
async fn oscillate_stamps_every_scale_and_removes_its_objects_on_exit() {
    let server = KubeApiServer::start_kwok().await.unwrap();
    let mut a = args(PatternName::Oscillate);
    a.services = 2;
    a.min_endpoints = 2;
    a.max_endpoints = 5;
    a.min_hold = Duration::from_millis(400);
    a.max_hold = Duration::from_millis(400);
    a.jitter = Duration::from_millis(50);
    a.cycles = Some(1);
    let stop = CancellationToken::new();
    let client = server.client_without_retry().unwrap();
    let run = tokio::spawn(redline_churn::run_report(a, client, stop.clone()));

    // Watch the stamps go by: seq 0 at 2, seq 1 at 5, seq 2 at 2.
    let mut seen = Vec::new();
    let ok = server
        .wait_for(Duration::from_secs(10), |s| {
            if let Some(d) = s.get::<Deployment>(NS, "test-service-2") {
                let ev = event(&d);
                let pair = (
                    ev["seq"].as_u64().unwrap(),
                    ev["replicas"].as_u64().unwrap(),
                );
                if seen.last() != Some(&pair) {
                    seen.push(pair);
                }
                assert!(ev["time"].as_str().unwrap().ends_with('Z'));
                assert!(ev["unixMs"].as_u64().unwrap() > 1_600_000_000_000);
            }
            seen.last() == Some(&(2, 2))
        })
        .await;
    assert!(ok, "saw {seen:?}");
    assert_eq!(seen, [(0, 2), (1, 5), (2, 2)]);
    let report = run.await.unwrap().unwrap();
    assert_eq!(report.steps_dispatched, 6);
    assert!(!report.stopped_early);
    assert_eq!(report.deleted, 4, "2 Deployments + 2 Services");
    assert!(server.list::<Deployment>(Some(NS)).is_empty());
}

#[tokio::test]
async fn stop_ends_an_endless_run_and_still_cleans_up() {
    let server = KubeApiServer::start_kwok().await.unwrap();
    let a = args(PatternName::Stable);
    let stop = CancellationToken::new();
    let run = tokio::spawn(redline_churn::run_report(
        a,
        server.client_without_retry().unwrap(),
        stop.clone(),
    ));
    assert!(
        server
            .wait_for(Duration::from_secs(5), |s| s
                .list::<Deployment>(Some(NS))
                .len()
                == 3)
            .await
    );
    stop.cancel();
    let report = tokio::time::timeout(Duration::from_secs(10), run)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(report.stopped_early);
    assert!(server.list::<Deployment>(Some(NS)).is_empty());
    assert!(server.list::<Service>(Some(NS)).is_empty());
}

#[tokio::test]
async fn retries_throttling_conflicts_and_server_errors_and_counts_each() {
    let server = KubeApiServer::start_kwok().await.unwrap();
    let metrics = Metrics::default();
    let kube = Kube::new(
        server.client_without_retry().unwrap(),
        "default",
        Arc::new(RateLimiter::new(1000.0, 100)),
        metrics.clone(),
        5,
    );
    let t = Template {
        namespace: "default".into(),
        run: "r".into(),
        port: 8080,
        image: "fake".into(),
        node_selector: vec![("type".into(), "kwok".into())],
        tolerations: vec![],
        service_labels: vec![],
    };
    for kind in [
        FaultKind::TooManyRequests {
            retry_after_secs: 1,
        },
        FaultKind::Conflict,
        FaultKind::InternalError,
        FaultKind::Status {
            code: 503,
            reason: "ServiceUnavailable".into(),
        },
    ] {
        server.inject(
            Fault::new(kind, 1)
                .verb(Verb::Patch)
                .resource("deployments"),
        );
    }
    let started = tokio::time::Instant::now();
    kube.apply_deployment("svc", || t.deployment("svc", &Stamp::now(0, 3)))
        .await
        .unwrap();
    // The 429 asked for 1 s; the others back off 200 ms, 400 ms, 800 ms... from 100 ms.
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(server.request_count(Verb::Patch, "deployments"), 5);
    assert_eq!(server.injected_faults(), 4);
    let errors = |code: &str| {
        metrics
            .api_errors
            .get_or_create(&VerbCode {
                verb: "patch".into(),
                code: code.into(),
            })
            .get()
    };
    assert_eq!(
        [errors("429"), errors("409"), errors("500"), errors("503")],
        [1, 1, 1, 1]
    );
    let d = server.get::<Deployment>("default", "svc").unwrap();
    assert_eq!(d.spec.replicas, Some(3));

    // A client error is not retried, and retries are bounded.
    server.inject(
        Fault::new(
            FaultKind::Status {
                code: 403,
                reason: "Forbidden".into(),
            },
            1,
        )
        .verb(Verb::Patch),
    );
    let e = kube
        .apply_deployment("svc", || t.deployment("svc", &Stamp::now(1, 3)))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("1 attempt"), "{e}");
    server.inject(Fault::new(FaultKind::InternalError, 100).verb(Verb::Patch));
    let e = kube
        .apply_deployment("svc", || t.deployment("svc", &Stamp::now(2, 3)))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("6 attempt"), "{e}");
    server.clear_faults();
}
