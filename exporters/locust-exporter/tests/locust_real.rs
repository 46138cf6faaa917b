//! Locust (the real one: a master with its web UI and two workers, `--autostart`) against the
//! demo target → exporter → a real Prometheus with redline's recording rules. At the end the
//! totals in Prometheus equal Locust's own `--csv` stats and the p95 is Locust's.

use std::collections::HashMap;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use redline_locust_exporter::{LocustExporterArgs, run};
use redline_testkit_prometheus::{Prometheus, free_port};

fn locust(args: &[&str]) -> tokio::process::Child {
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/locustfile.py");
    tokio::process::Command::new("locust")
        .arg("-f")
        .arg(file)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("locust must be on PATH (pip install locust); CI installs it")
}

/// Locust's `<prefix>_stats.csv`: name → (requests, failures, p95 ms).
fn csv_stats(path: &Path) -> HashMap<String, (f64, f64, f64)> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |n: &str| {
        header
            .iter()
            .position(|h| h.trim_matches('"') == n)
            .unwrap_or_else(|| panic!("no {n} column in {header:?}"))
    };
    let (name, req, fail, p95) = (
        col("Name"),
        col("Request Count"),
        col("Failure Count"),
        col("95%"),
    );
    lines
        .map(|l| {
            l.split(',')
                .map(|c| c.trim_matches('"'))
                .collect::<Vec<_>>()
        })
        .map(|c| {
            (
                c[name].to_string(),
                (
                    c[req].parse().unwrap(),
                    c[fail].parse().unwrap(),
                    c[p95].parse().unwrap_or(0.0),
                ),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locust_totals_and_p95_reach_prometheus_as_locust_counts_them() {
    let target = redline_demo_target::spawn(redline_demo_target::TargetArgs::ephemeral())
        .await
        .unwrap();
    let rules = concat!(env!("CARGO_MANIFEST_DIR"), "/../../alerts/http-load.yml");
    let with_rules = Prometheus::builder().rule_file(rules);
    let prom = with_rules.start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (web, master_port) = (free_port().unwrap(), free_port().unwrap());
    let csv = dir.path().join("run");
    let host = format!("{}/api/v1/predict/1", target.url());
    let mut master = locust(&[
        "--master",
        "--master-bind-host=127.0.0.1",
        &format!("--master-bind-port={master_port}"),
        "--web-host=127.0.0.1",
        &format!("--web-port={web}"),
        "--autostart",
        "--expect-workers=2",
        "-u",
        "10",
        "-r",
        "10",
        "-t",
        "20s",
        // Longer than the exporter's settling (its workers' last reports arrive up to 3 s
        // after the stop, and show up to 2 s later).
        "--autoquit",
        "10",
        // Locust exits 1 when any request failed; the flaky task fails on purpose.
        "--exit-code-on-error=0",
        "--host",
        &host,
        &format!("--csv={}", csv.display()),
    ]);
    let workers: Vec<_> = (0..2)
        .map(|_| {
            locust(&[
                "--worker",
                "--master-host=127.0.0.1",
                &format!("--master-port={master_port}"),
            ])
        })
        .collect();

    let mut args = LocustExporterArgs::for_test(
        &format!("http://127.0.0.1:{web}"),
        Some(&prom.write_url()),
        "locust-run",
    );
    args.scenario = "kubeserve".into();
    args.gone_after = Duration::from_secs(20);
    tokio::time::timeout(Duration::from_secs(90), run(args))
        .await
        .expect("the exporter finishes once the Locust test stops")
        .unwrap();
    let status = tokio::time::timeout(Duration::from_secs(30), master.wait())
        .await
        .expect("locust --autoquit exits")
        .unwrap();
    assert!(status.success(), "locust master: {status}");
    drop(workers);

    let stats = csv_stats(&dir.path().join("run_stats.csv"));
    let (total_req, total_fail, total_p95) = stats["Aggregated"];
    assert!(
        total_req > 200.0,
        "too few requests to mean anything: {stats:?}"
    );
    assert!(
        total_fail > 0.0,
        "the flaky task should have failed sometimes"
    );

    let q = |e: &str| format!("sum(max_over_time({e}{{testid=\"locust-run\"}}[10m]))");
    let req = prom.scalar(&q("locust_requests_total")).await.unwrap();
    let fail = prom.scalar(&q("locust_failures_total")).await.unwrap();
    let errors = prom.scalar(&q("locust_errors_total")).await.unwrap();
    println!(
        "Locust CSV: {total_req} requests, {total_fail} failures, p95 {total_p95} ms; Prometheus: {req:?} requests, {fail:?} failures, {errors:?} errors"
    );
    assert_eq!(req, Some(total_req));
    assert_eq!(fail, Some(total_fail));
    assert_eq!(
        errors,
        Some(total_fail),
        "every failure has an error message"
    );
    for name in ["predict", "health", "flaky"] {
        let got = prom
            .scalar(&format!(
                "sum(max_over_time(locust_requests_total{{testid=\"locust-run\",name=\"{name}\"}}[10m]))"
            ))
            .await
            .unwrap();
        assert_eq!(got, Some(stats[name].0), "{name}");
    }
    // Locust's final p95 (rounded by Locust, in ms) is the last value the exporter wrote.
    let p95 = prom
        .scalar("last_over_time(locust_response_time_seconds{testid=\"locust-run\",name=\"Aggregated\",quantile=\"0.95\"}[10m])")
        .await
        .unwrap()
        .expect("p95 series");
    assert!(
        (p95 * 1000.0 - total_p95).abs() <= total_p95 * 0.1 + 1.0,
        "p95 {p95} s vs Locust's {total_p95} ms"
    );
    // The steps: one, at 10 users (the spawn is counted to the step it spawned to).
    let steps = prom
        .query("count by (step) (max_over_time(locust_requests_total{testid=\"locust-run\"}[10m]))")
        .await
        .unwrap();
    let steps: Vec<_> = steps.iter().filter_map(|s| s.label("step")).collect();
    assert_eq!(steps, ["10"]);
    // One judge: the recording rules turned it into redline: signals.
    let signals = [
        "redline:http_reqs:rate1m",
        "redline:http_errors:ratio1m",
        "redline:http_req_duration_seconds:p95",
        "redline:vus",
    ];
    let matchers = r#"testid="locust-run",scenario="kubeserve",step="10""#;
    let peaks = prom.peaks(&signals, matchers, "10m").await.unwrap();
    assert!(
        peaks.iter().all(|(_, v)| v.is_some_and(|v| v > 0.0)),
        "{peaks:?}"
    );
    // Staleness markers at the end: nothing is current any more.
    assert!(
        prom.query("locust_requests_total")
            .await
            .unwrap()
            .is_empty()
    );
}
