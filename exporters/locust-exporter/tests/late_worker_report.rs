//! A Locust master's workers send their stats every 3 s and none when the test stops, so the
//! master's totals can still grow seconds after it says "stopped". Here an imitation master
//! (exact timing, which a real one cannot show on demand) counts 10 more requests 4 s after it
//! first reports "stopped": the exporter is still reading then, and Prometheus gets them.

mod common;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use hyper::StatusCode;
use redline_locust_exporter::{LocustExporterArgs, run};
use redline_testkit_prometheus::{Prometheus, free_port};

/// A master's report (`worker_count` present; the workers have left once it stopped).
fn report(state: &str, requests: u64) -> String {
    format!(
        r#"{{"stats": [
          {{"name": "/a", "method": "GET", "num_requests": {requests}, "num_failures": 0, "response_time_percentile_0.95": 20}},
          {{"name": "Aggregated", "method": null, "num_requests": {requests}, "num_failures": 0, "response_time_percentile_0.95": 20}}],
          "errors": [], "state": "{state}", "user_count": 0, "worker_count": 0, "fail_ratio": 0.0}}"#
    )
}

/// Running with 90 requests for two polls, then stopped with 100, and 110 from 4 s after the
/// first "stopped" it served (a worker's last periodic report arriving).
async fn fake_master(listener: tokio::net::TcpListener) {
    let state: Mutex<(usize, Option<Instant>)> = Mutex::default();
    common::serve(listener, move || {
        let mut s = state.lock().unwrap();
        s.0 += 1;
        let body = if s.0 <= 2 {
            report("running", 90)
        } else {
            let stopped = *s.1.get_or_insert_with(Instant::now);
            let late = stopped.elapsed() >= Duration::from_secs(4);
            report("stopped", if late { 110 } else { 100 })
        };
        (StatusCode::OK, body)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workers_report_after_the_stop_is_still_counted() {
    let prom = Prometheus::builder().start().await.unwrap();
    let port = free_port().unwrap();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    tokio::spawn(fake_master(listener));
    let args = LocustExporterArgs::for_test(
        &format!("http://127.0.0.1:{port}"),
        Some(&prom.write_url()),
        "late-report",
    );
    tokio::time::timeout(Duration::from_secs(60), run(args))
        .await
        .expect("the exporter finishes once the totals are quiet")
        .unwrap();
    let total = prom
        .scalar("sum(max_over_time(locust_requests_total{testid=\"late-report\"}[10m]))")
        .await
        .unwrap();
    assert_eq!(
        total,
        Some(110.0),
        "the report 4 s after the stop is counted"
    );
}
