//! fit counts only the namespace it is pointed at: `--namespace`, else the current one;
//! other namespaces (kube-system's DaemonSets, another team's Deployments and their
//! pods' usage) only with an explicit `--all-namespaces`.

mod support;

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, PostParams};
use redline_fit::{FitArgs, UsageStatus, fit_with};
use redline_testkit_kube::ContainerUsage;
use support::{NAMESPACE, fit_the_fixtures, fixtures, seed_cluster};

fn names(report: &redline_fit::FitReport) -> Vec<String> {
    report
        .workloads
        .iter()
        .map(|w| format!("{}/{}", w.namespace.as_deref().unwrap_or("-"), w.name))
        .collect()
}

#[tokio::test]
async fn a_cluster_run_counts_the_current_namespace_unless_told_all() {
    let cluster = seed_cluster(&[("django", "250m", "100Mi")]).await;
    let other: Api<Deployment> = Api::namespaced(cluster.client.clone(), "other-team");
    let mut web = support::fixture_deployments("app.yaml").remove(0);
    web.metadata.name = Some("web".into());
    web.metadata.namespace = Some("other-team".into());
    other.create(&PostParams::default(), &web).await.unwrap();
    cluster.server.set_pod_metrics(
        "other-team",
        "web-0",
        vec![ContainerUsage::new("web", "4", "8Gi")],
    );

    // No --namespace: the client's current namespace (its kubeconfig context's).
    let current = fit_with(&FitArgs::defaults(), Some(&cluster.client))
        .await
        .unwrap();
    assert_eq!(current.scope, format!("namespace {NAMESPACE}"));
    assert!(
        names(&current).iter().all(|n| n.starts_with(NAMESPACE)),
        "{:?}",
        names(&current)
    );
    assert!(names(&current).contains(&format!("{NAMESPACE}/django")));
    let UsageStatus::Available(usage) = current.usage else {
        panic!("usage: {:?}", current.usage)
    };
    assert_eq!(usage.pods, 2, "django's two pods, not other-team's");
    assert!((usage.cpu_cores - 0.5).abs() < 1e-9, "{}", usage.cpu_cores);

    let all = fit_with(
        &FitArgs {
            all_namespaces: true,
            ..FitArgs::defaults()
        },
        Some(&cluster.client),
    )
    .await
    .unwrap();
    assert_eq!(all.scope, "all namespaces");
    assert!(names(&all).contains(&"other-team/web".to_string()));
    assert_eq!(all.workloads.len(), current.workloads.len() + 1);
    assert_eq!(
        all.cpu_requests_millis,
        current.cpu_requests_millis + 2 * 500,
        "web is django's copy: 2 x 500m"
    );
    let usage = all.usage.usage().unwrap();
    assert_eq!(usage.pods, 3);
    assert!((usage.cpu_cores - 4.5).abs() < 1e-9);
    assert!(
        all.to_string().contains("other-team: deployment/web"),
        "{all}"
    );
}

#[tokio::test]
async fn manifests_leave_kube_system_daemonsets_out_unless_told_all() {
    let scoped = fit_the_fixtures().await;
    assert!(!names(&scoped).iter().any(|n| n.contains("node-exporter")));
    assert_eq!(
        scoped.skipped_namespaces.get("kube-system"),
        Some(&1),
        "{:?}",
        scoped.skipped_namespaces
    );
    let table = scoped.to_string();
    assert!(
        table.contains("--all-namespaces counts them): 1 workload(s): 1 in kube-system"),
        "{table}"
    );

    let all = fit_with(
        &FitArgs {
            all_namespaces: true,
            manifests: Some(fixtures()),
            nodes: 2,
            ..FitArgs::defaults()
        },
        None,
    )
    .await
    .unwrap();
    let exporter = all
        .workloads
        .iter()
        .find(|w| w.name == "node-exporter")
        .expect("the DaemonSet counts with --all-namespaces");
    assert_eq!(
        (exporter.namespace.as_deref(), exporter.replicas),
        (Some("kube-system"), 2),
        "one pod per node"
    );
    assert!(all.skipped_namespaces.is_empty());
    // Same workloads otherwise (the others.yaml Deployments each have a fixed replica
    // count, so only the DaemonSet's pods depend on --nodes).
    assert_eq!(
        all.cpu_requests_millis,
        scoped.cpu_requests_millis + 2 * 100
    );
    assert_eq!(
        all.memory_requests_bytes,
        scoped.memory_requests_bytes + 2 * (64 << 20)
    );
}
