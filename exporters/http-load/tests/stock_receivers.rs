//! http-load with its default flags against Prometheus started the way users start it
//! (`--web.enable-remote-write-receiver`, nothing else), 2.42 and 3.x: every request counted
//! exactly, nothing lost, latency histograms queryable (classic buckets where 2.42 refuses
//! native histograms, native ones on 3.x), and every query of the k6 project's own "k6
//! Prometheus" dashboard (grafana.com 19665) that a default k6 run fills returns data.
//!
//! A missing Prometheus is said loudly and skips the receiver (fails under `CI=true`).

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::target;
use redline_runtime::CommonArgs;
use redline_testkit_prometheus::{Builder, Prometheus};

const SCENARIO: &str = r#"
baseUrl: BASE
scenarios:
  default:
    executor: constant-arrival-rate
    rate: 40
    timeUnit: 1s
    duration: 3s
    preAllocatedVUs: 5
    requests:
      - {url: /health, name: health, checks: [{name: ok, status: [200]}]}
      - {url: "/autoscale?status=429", name: limited}
"#;

/// The dashboard's queries that a default run must fill, with Grafana's variables filled in.
fn dashboard_queries(testid: &str) -> Vec<(String, String)> {
    include_str!("fixtures/k6-prometheus-dashboard-queries.txt")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (panel, expr) = l.split_once(" | ").expect("panel | query");
            let expr = expr
                .replace("$testid", testid)
                .replace("$quantile_stat", "p99")
                .replace("$__rate_interval", "1m");
            (panel.to_string(), expr)
        })
        .collect()
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// Starts `prom` (or skips loudly when its binary is missing), runs the default scenario
/// against it and checks everything arrived; `classic_only`: it must not take native
/// histograms as started.
async fn default_run_arrives_whole(prom: Builder, testid: &str, classic_only: bool) {
    let Some(prom) = prom.start_or_skip().await.unwrap() else {
        return;
    };
    if classic_only {
        assert!(!prom.takes_native_histograms());
    }
    // The client's WARN lines (a refusal, a fallback) show with the failure.
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter("warn")
        .try_init();
    let version = prom.version().unwrap_or("?").to_string();
    let target = target().await;
    let started = now();
    let dir = tempfile::tempdir().unwrap();
    let path = common::write(
        &dir,
        "scenario.yaml",
        &SCENARIO.replace("BASE", &target.url()),
    );
    let mut args =
        redline_http_load::HttpLoadArgs::for_test(CommonArgs::for_test(&prom.write_url(), testid));
    args.scenario = Some(path);
    // What the command line gives when --trend-stats is not given.
    args.trend_stats = vec!["p(99)".into()];
    let lost_before = redline_runtime::samples_lost();
    let outcome = redline_http_load::execute(args).await.unwrap();
    let ended = now();
    // Long enough for several pushes (every 200 ms), as rate panels need two samples.
    let requests = outcome.summary.data["metrics"]["http_reqs"]["values"]["count"]
        .as_f64()
        .unwrap();
    assert!(requests >= 100.0, "{requests} requests");
    assert_eq!(
        redline_runtime::samples_lost(),
        lost_before,
        "Prometheus {version}: samples lost; its log:\n{}",
        prom.log()
    );

    // Exact request count (the run is over and its series stale: read the last value).
    let reqs = format!("sum(last_over_time(k6_http_reqs_total{{testid=\"{testid}\"}}[5m]))");
    let got = prom
        .wait_for(&reqs, Duration::from_secs(10), |r| {
            r.first().is_some_and(|s| s.float() == requests)
        })
        .await
        .unwrap();
    assert_eq!(
        got.first().map(|s| s.float()),
        Some(requests),
        "Prometheus {version}: {reqs}\n{}",
        prom.log()
    );

    // Latency as a histogram, in the form this receiver takes.
    let count = if prom.takes_native_histograms() {
        format!(
            "sum(histogram_count(last_over_time(k6_http_req_duration_seconds{{testid=\"{testid}\"}}[5m])))"
        )
    } else {
        format!(
            "sum(last_over_time(k6_http_req_duration_seconds_count{{testid=\"{testid}\"}}[5m]))"
        )
    };
    assert_eq!(
        prom.scalar(&count).await.unwrap(),
        Some(requests),
        "Prometheus {version}: {count}"
    );
    let classic = format!(
        "count(last_over_time(k6_http_req_duration_seconds_bucket{{testid=\"{testid}\"}}[5m]))"
    );
    assert!(
        prom.scalar(&classic).await.unwrap().unwrap_or(0.0) > 0.0,
        "Prometheus {version}: classic buckets go beside native ones"
    );

    // The k6 dashboard's panels.
    let mut empty = Vec::new();
    for (panel, expr) in dashboard_queries(testid) {
        let r = prom
            // A fine step: the run may last under a second, and its series end stale.
            .query_range(&expr, started, ended + 1.0, 0.05)
            .await
            .unwrap_or_else(|e| panic!("{panel}: {expr}: {e}"));
        if r.is_empty() {
            empty.push(format!("{panel}: {expr}"));
        }
    }
    assert!(
        empty.is_empty(),
        "Prometheus {version}: k6 dashboard panels without data:\n{}",
        empty.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stock_prometheus_2_gets_everything_with_classic_buckets() {
    default_run_arrives_whole(Prometheus::builder().v2().stock(), "stock-v2", true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stock_prometheus_3_gets_everything_with_native_histograms() {
    default_run_arrives_whole(Prometheus::builder().v3().stock(), "stock-v3", false).await;
}
