//! The budget judges, end to end: `redline fit --watch` reads the seed's namespace (its
//! requests and its pods' PodMetrics), pushes `redline_fit_budget_ratio` to a real
//! Prometheus with `alerts/` loaded, and RedlineFitOverBudget fires exactly when actual
//! usage exceeds the budget; with no pod metrics API it warns instead of judging.

mod support;

use std::time::Duration;

use redline_fit::{Budget, FitArgs, FitReport, UsageStatus};
use redline_runtime::CommonArgs;
use redline_testkit_kube::{Fault, FaultKind, Verb};
use redline_testkit_prometheus::{Options, Prometheus, Series};
use support::{APP_ONLY, PodUsage, SeedCluster, seed_cluster};
use tokio_util::sync::CancellationToken;

const BUDGET: &str = "vps-6g-3cpu=3cpu,6Gi";

/// Monitoring and load generators are busy in every run; the selector keeps them out of
/// the app's usage (were they counted, every run would be over the 3 CPU budget).
const BUSY_OTHERS: [PodUsage; 2] = [
    ("prometheus", "4", "3Gi"),
    ("locust-worker", "500m", "256Mi"),
];

/// The seed's cluster with the app's pods (django, nginx, celery-worker, pgbouncer) using
/// `cpu` and `memory` each, beside [`BUSY_OTHERS`].
async fn app_using(cpu: [&str; 4], memory: &str) -> SeedCluster {
    let mut usage: Vec<PodUsage> = ["django", "nginx", "celery-worker", "pgbouncer"]
        .into_iter()
        .zip(cpu)
        .map(|(pod, cpu)| (pod, cpu, memory))
        .collect();
    usage.extend(BUSY_OTHERS);
    seed_cluster(&usage).await
}

async fn prometheus() -> Prometheus {
    let alerts = concat!(env!("CARGO_MANIFEST_DIR"), "/../../alerts");
    Prometheus::start_with(Options {
        rule_files: vec![
            format!("{alerts}/thresholds.yml").into(),
            format!("{alerts}/chaos.yml").into(),
        ],
        evaluation_interval: Duration::from_secs(1),
        ..Options::default()
    })
    .await
    .unwrap()
}

fn watch_args(prom: &Prometheus, testid: &str) -> FitArgs {
    FitArgs {
        common: CommonArgs::for_test(&prom.write_url(), testid),
        selector: redline_fit::selector::parse(APP_ONLY).unwrap(),
        budgets: vec![BUDGET.parse::<Budget>().unwrap()],
        watch: true,
        interval: Duration::from_secs(1),
        duration: Duration::from_secs(90),
        ..FitArgs::defaults()
    }
}

/// Runs `--watch` against the cluster until `until` holds for Prometheus' answer to
/// `query` (or 60 s pass); returns that answer and the last reading.
async fn watch_until(
    cluster: &SeedCluster,
    prom: &Prometheus,
    testid: &str,
    query: &str,
    until: impl Fn(&[Series]) -> bool,
) -> (Vec<Series>, FitReport) {
    let args = watch_args(prom, testid);
    let stop = CancellationToken::new();
    let run = {
        let (client, stop) = (cluster.client.clone(), stop.clone());
        tokio::spawn(async move { redline_fit::watch::watch(&args, &client, stop).await })
    };
    let seen = prom
        .wait_for(query, Duration::from_secs(60), until)
        .await
        .unwrap();
    stop.cancel();
    let last = run.await.unwrap().unwrap().expect("at least one reading");
    (seen, last)
}

/// Every fit alert that fired at any time of the run (the run has ended when this is
/// asked, and its series are stale: range selectors still see what was written).
fn fit_alerts(testid: &str) -> String {
    format!(
        r#"max_over_time(ALERTS{{alertname=~"RedlineFit.*",alertstate="firing",testid="{testid}"}}[5m])"#
    )
}

/// The last value written before the run ended.
fn last_written(series: &str) -> String {
    format!("last_over_time({series}[5m])")
}

/// The last value of `series` written before the run ended, if any.
async fn last_value(prom: &Prometheus, series: &str) -> Option<f64> {
    prom.scalar(&last_written(series)).await.unwrap()
}

/// The last CPU budget ratio of `testid` on `basis` (requests, limits, usage).
async fn last_cpu_ratio(prom: &Prometheus, testid: &str, basis: &str) -> f64 {
    let series =
        format!(r#"redline_fit_budget_ratio{{testid="{testid}",basis="{basis}",resource="cpu"}}"#);
    last_value(prom, &series).await.expect(&series)
}

#[tokio::test]
async fn usage_over_the_budget_fires_redline_fit_over_budget() {
    let prom = prometheus().await;
    // The app's pods: 2 x 1.5 + 0.3 + 0.2 + 2 x 0.05 = 3.6 cores of a 3-core budget.
    let cluster = app_using(["1500m", "300m", "200m", "50m"], "256Mi").await;
    let over = r#"ALERTS{alertname="RedlineFitOverBudget",alertstate="firing",testid="fit-over"}"#;
    let (fired, last) = watch_until(&cluster, &prom, "fit-over", over, |r| !r.is_empty()).await;

    assert_eq!(fired.len(), 1, "{fired:?}");
    let alert = &fired[0];
    assert_eq!(alert.label("budget"), Some("vps-6g-3cpu"));
    assert_eq!(alert.label("resource"), Some("cpu"));
    assert_eq!(alert.label("redline_verdict"), Some("fail"));
    let ratio = last_cpu_ratio(&prom, "fit-over", "usage").await;
    assert!((ratio - 1.2).abs() < 1e-9, "3.6 / 3 cores, got {ratio}");
    // Memory usage is 6 x 256Mi = 1.5Gi of 6Gi: not over.
    let alerts = prom.query(&fit_alerts("fit-over")).await.unwrap();
    assert!(
        alerts.iter().all(|a| a.label("resource") == Some("cpu")),
        "{alerts:?}"
    );
    // The requests ratio is written beside it (2150m of the app's Deployments: 0.72).
    let requests = last_cpu_ratio(&prom, "fit-over", "requests").await;
    assert!((requests - 2150.0 / 3000.0).abs() < 1e-9, "{requests}");
    assert!(matches!(last.usage, UsageStatus::Available(u) if u.pods == 6));
}

#[tokio::test]
async fn usage_within_the_budget_fires_nothing() {
    let prom = prometheus().await;
    // 2 x 0.4 + 0.1 + 0.2 + 2 x 0.05 = 1.2 cores, 6 x 512Mi = 3Gi: 40 % and 50 %.
    let cluster = app_using(["400m", "100m", "200m", "50m"], "512Mi").await;
    // Both usage ratios in Prometheus for 4 s: the rules (evaluated every second) have
    // judged them several times.
    let ratios = r#"redline_fit_budget_ratio{testid="fit-ok",basis="usage"}"#;
    let since = std::cell::Cell::new(None::<std::time::Instant>);
    let (seen, last) = watch_until(&cluster, &prom, "fit-ok", ratios, |r| {
        if r.len() != 2 {
            return false;
        }
        let first = since.get().unwrap_or_else(std::time::Instant::now);
        since.set(Some(first));
        first.elapsed() > Duration::from_secs(4)
    })
    .await;
    assert!(
        since.get().is_some(),
        "the usage ratios never reached Prometheus"
    );
    assert_eq!(seen.len(), 2, "cpu and memory usage ratios: {seen:?}");
    let cpu = seen
        .iter()
        .find(|s| s.label("resource") == Some("cpu"))
        .unwrap();
    assert!((cpu.float() - 0.4).abs() < 1e-9, "{cpu:?}");
    let alerts = prom.query(&fit_alerts("fit-ok")).await.unwrap();
    assert!(alerts.is_empty(), "nothing should fire: {alerts:?}");
    let usage = last.usage.usage().unwrap();
    assert_eq!(usage.pods, 6, "only the app's pods count");
    assert_eq!(usage.memory_bytes, ((6u64 * 512) << 20) as f64);
}

#[tokio::test]
async fn without_the_pod_metrics_api_usage_is_unavailable_and_a_warning_fires() {
    let prom = prometheus().await;
    let cluster = seed_cluster(&BUSY_OTHERS).await;
    // As on a cluster without metrics-server: every PodMetrics list is a 404.
    cluster.server.inject(
        Fault::new(
            FaultKind::Status {
                code: 404,
                reason: "NotFound".into(),
            },
            u32::MAX,
        )
        .verb(Verb::List)
        .resource("pods"),
    );
    let unavailable =
        r#"ALERTS{alertname="RedlineFitUsageUnavailable",alertstate="firing",testid="fit-blind"}"#;
    let (fired, last) =
        watch_until(&cluster, &prom, "fit-blind", unavailable, |r| !r.is_empty()).await;
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert_eq!(fired[0].label("redline_verdict"), Some("warn"));
    let UsageStatus::Unavailable { reason } = &last.usage else {
        panic!("{:?}", last.usage)
    };
    assert!(
        reason.contains("metrics.k8s.io") && reason.contains("404"),
        "{reason}"
    );
    // Requests are still written; no usage ratio is (not a 0), so nothing is judged on it.
    let written = prom
        .query(&last_written(
            r#"redline_fit_budget_ratio{testid="fit-blind"}"#,
        ))
        .await
        .unwrap();
    let bases: std::collections::BTreeSet<&str> =
        written.iter().filter_map(|s| s.label("basis")).collect();
    assert_eq!(bases, ["limits", "requests"].into());
    assert_eq!(
        last_value(&prom, r#"redline_fit_usage_available{testid="fit-blind"}"#).await,
        Some(0.0)
    );
    let alerts = prom.query(&fit_alerts("fit-blind")).await.unwrap();
    assert!(
        alerts
            .iter()
            .all(|a| a.label("alertname") == Some("RedlineFitUsageUnavailable")),
        "{alerts:?}"
    );
}
