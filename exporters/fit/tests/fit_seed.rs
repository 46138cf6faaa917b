//! `redline fit` reproduces the seed's hand arithmetic (vps-load-and-chaos-summary.md) from
//! fixture manifests of its workloads. The same numbers read from a live namespace of the
//! real control plane are in `real_cluster.rs`.

use std::path::PathBuf;

use redline_fit::{Budget, FitArgs, Output, Verdict, fit_with};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/vps")
}

fn seed_budgets() -> Vec<Budget> {
    ["cpu=2,memory=4Gi", "cpu=3,memory=6Gi", "cpu=4,memory=8Gi"]
        .iter()
        .map(|b| b.parse().unwrap())
        .collect()
}

fn args(manifests: Option<PathBuf>, selector: &str) -> FitArgs {
    FitArgs {
        namespace: Some("jewelry-shop".into()),
        manifests,
        budgets: seed_budgets(),
        selector: redline_fit::selector::parse(selector).unwrap(),
        nodes: 1,
        tight_above: 0.9,
        does_not_fit_above: 1.25,
        output: Output::Table,
        ..FitArgs::defaults()
    }
}

const APP_ONLY: &str = "app.kubernetes.io/part-of notin (monitoring,load-test)";

#[tokio::test]
async fn reproduces_the_seed_totals_and_verdicts() {
    let report = fit_with(&args(Some(fixtures()), APP_ONLY), None)
        .await
        .unwrap();
    let names: Vec<String> = report
        .workloads
        .iter()
        .map(|w| format!("{} x{}", w.name, w.replicas))
        .collect();
    assert_eq!(
        names,
        [
            "celery-worker x1",
            "django x2",
            "nginx x1",
            "pgbouncer x2",
            "postgresql x2",
            "redis x2"
        ]
    );
    // "Total: 3350m (3.35 cores)" and "Total: 4608Mi (~4.5GB)"
    assert_eq!(report.cpu_requests_millis, 3350);
    assert_eq!(report.memory_requests_bytes, 4608 << 20);

    let [small, medium, large] = &report.budgets[..] else {
        panic!("three budgets")
    };
    // 4 GB / 2 CPU: "NOT RECOMMENDED - CPU requirements exceed capacity"; memory "tight on 4GB".
    assert!((small.cpu.ratio - 1.675).abs() < 1e-9);
    assert_eq!(small.cpu.verdict, Verdict::DoesNotFit);
    assert!((small.memory.ratio - 1.125).abs() < 1e-9);
    assert_eq!(small.memory.verdict, Verdict::Tight);
    assert_eq!(small.verdict, Verdict::DoesNotFit);
    // 6 GB / 3 CPU: "CPU 3350m / 3000m = 111% (slightly over but manageable)", "Memory 75%".
    assert!((medium.cpu.ratio - 3350.0 / 3000.0).abs() < 1e-9);
    assert_eq!(medium.cpu.verdict, Verdict::Tight);
    assert!((medium.memory.ratio - 0.75).abs() < 1e-9);
    assert_eq!(medium.memory.verdict, Verdict::Fits);
    assert_eq!(medium.verdict, Verdict::Tight);
    // 8 GB / 4 CPU: "CPU 84%", "Memory 56%": recommended for production.
    assert!((large.cpu.ratio - 0.8375).abs() < 1e-9);
    assert!((large.memory.ratio - 0.5625).abs() < 1e-9);
    assert_eq!(large.verdict, Verdict::Fits);
    assert!(!report.all_fit(), "the 4 GB budget does not fit");

    let table = report.to_string();
    for want in [
        "deployment/django",
        "2 × 500m = 1000m",
        "2 × 1024Mi = 2048Mi",
        "3350m",
        "4608Mi",
        "3350m / 3000m = 111.7% tight",
        "4608Mi / 8192Mi = 56.2% fits",
        "does not fit",
    ] {
        assert!(table.contains(want), "table lacks {want:?}:\n{table}");
    }
    // Limits are complete in the fixtures: 2×1 + 1×0.5 + 0.8 + 2×0.5 + 2×1 + 2×0.2 cores.
    assert_eq!(report.cpu_limits_millis, Some(6700));
}

#[tokio::test]
async fn without_the_selector_monitoring_and_load_generators_eat_the_budget() {
    let report = fit_with(&args(Some(fixtures()), ""), None).await.unwrap();
    // + prometheus 500m + grafana 0 replicas + 3 locust workers × 500m; the kube-system
    // DaemonSet is another namespace and stays out.
    assert_eq!(report.cpu_requests_millis, 3350 + 500 + 1500);
    assert!(
        report
            .workloads
            .iter()
            .any(|w| w.name == "grafana" && w.replicas == 0)
    );
    assert!(!report.workloads.iter().any(|w| w.name == "node-exporter"));
    assert_eq!(report.budgets[2].verdict, Verdict::DoesNotFit);
}
