//! The RPS-per-pod finding and the CSV output against a real Prometheus loading the real
//! alerts/*.yml: real HTTP load in two steps, and `redline hpa-watch`'s Ready-replica series
//! (1 pod in the first step, 2 in the second) written beside it through the real
//! remote-write client.

mod common;

use std::time::{Duration, Instant};

use redline_remote_write::{Config, RemoteWriter, Series, now_millis, stale_nan};
use redline_verdict::VerdictArgs;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rps_per_pod_follows_the_replicas_and_the_csv_has_a_row_per_step() {
    let prom = common::prometheus_with_rules().await;
    let target = redline_demo_target::spawn(redline_demo_target::TargetArgs::ephemeral())
        .await
        .unwrap();
    let testid = "pods-run";
    let mut cfg = Config::new(prom.write_url());
    cfg.batch_send_deadline = Duration::from_millis(200);
    let writer = std::sync::Arc::new(RemoteWriter::start(cfg).unwrap());
    let ready = Series::new(
        "redline_hpa_replicas",
        [
            ("testid", testid),
            ("scenario", "kubeserve"),
            ("namespace", "user-1"),
            ("horizontalpodautoscaler", "kubeserve"),
            ("state", "ready"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string())),
    )
    .unwrap();
    let step_len = Duration::from_secs(15);
    let started = Instant::now();
    let pods = {
        let (writer, ready) = (writer.clone(), ready.clone());
        tokio::spawn(async move {
            while started.elapsed() < step_len * 2 + Duration::from_secs(1) {
                let n = if started.elapsed() < step_len {
                    1.0
                } else {
                    2.0
                };
                writer.push(&ready, now_millis(), n);
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            writer.push(&ready, now_millis(), stale_nan());
        })
    };
    // Twice the VUs with twice the pods: a VU waits 50 ms per request, so RPS doubles.
    common::run(
        &prom.write_url(),
        testid,
        "kubeserve",
        &target.url(),
        vec![
            common::Step {
                name: "2",
                vus: 2,
                path: "/?sleep=50".into(),
                duration: step_len,
            },
            common::Step {
                name: "4",
                vus: 4,
                path: "/?sleep=50".into(),
                duration: step_len,
            },
        ],
    )
    .await;
    pods.await.unwrap();
    let writer = std::sync::Arc::try_unwrap(writer)
        .ok()
        .expect("the pods task has ended");
    assert!(writer.shutdown(Duration::from_secs(5)).await.completed);

    let dir = tempfile::tempdir().unwrap();
    let mut args = VerdictArgs::new(prom.url(), testid);
    args.settle = Some(Duration::from_secs(3));
    args.csv = Some(dir.path().join("steps.csv"));
    args.json = Some(dir.path().join("verdict.json"));
    redline_verdict::run(args).await.unwrap();
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("verdict.json")).unwrap())
            .unwrap();
    let pods = &report["pods"];
    assert_eq!(pods["hpa"], "user-1/kubeserve", "{report:#}");
    assert_eq!(pods["peak_replicas"].as_f64(), Some(2.0));
    let steps = pods["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 2, "{pods:#}");
    // A step's span may reach a sample of its neighbour at each end.
    let reps: Vec<f64> = steps
        .iter()
        .map(|s| s["replicas"].as_f64().unwrap())
        .collect();
    assert!(
        reps[0] >= 1.0 && reps[0] < 1.25 && reps[1] > 1.75 && reps[1] <= 2.0,
        "{reps:?}"
    );
    for s in steps {
        let per_pod = s["rps_per_pod"].as_f64().unwrap();
        let rps = s["actual_rps"].as_f64().unwrap();
        assert!((per_pod - rps / s["replicas"].as_f64().unwrap()).abs() < 1e-9);
    }
    assert_eq!(pods["rps_grows_with_pods"], true, "{pods:#}");

    let csv = std::fs::read_to_string(dir.path().join("steps.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "{csv}");
    let head: Vec<&str> = lines[0].split(',').collect();
    let col = |line: &str, name: &str| -> String {
        line.split(',')
            .nth(head.iter().position(|h| *h == name).unwrap())
            .unwrap()
            .to_string()
    };
    for (line, step) in lines[1..].iter().zip(report["steps"].as_array().unwrap()) {
        assert_eq!(col(line, "step"), step["step"].as_str().unwrap());
        // The same number, within an ulp or two: serde_json's default float parser is fast, not
        // correctly rounded (63.119605643669196 came back as 63.1196056436692), where Rust's
        // `parse` of the CSV field is exact.
        let rps: f64 = col(line, "actual_rps").parse().unwrap();
        let json = step["actual_rps"].as_f64().unwrap();
        assert!(
            (rps - json).abs() <= 1e-12 * rps.abs().max(1.0),
            "{rps} vs {json}"
        );
        assert!(!col(line, "ready_replicas").is_empty(), "{csv}");
        assert_eq!(col(line, "class"), "Healthy");
    }
}
