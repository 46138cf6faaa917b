//! A Locust URL that is down, then answers garbage, then 500s: every poll is counted by what
//! went wrong, nothing crashes, and once Locust answers properly the run is exported.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hyper::StatusCode;
use redline_locust_exporter::{LocustExporterArgs, run};
use redline_testkit_prometheus::free_port;

fn report(state: &str, requests: u64) -> String {
    format!(
        r#"{{"stats": [
          {{"name": "/a", "method": "GET", "num_requests": {requests}, "num_failures": 1, "median_response_time": 10, "avg_response_time": 11.0, "max_response_time": 30, "current_rps": 5.0, "current_fail_per_sec": 0.1, "response_time_percentile_0.95": 20, "response_time_percentile_0.99": 30}},
          {{"name": "Aggregated", "method": null, "num_requests": {requests}, "num_failures": 1, "median_response_time": 10, "response_time_percentile_0.95": 20, "response_time_percentile_0.99": 30}}],
          "errors": [], "state": "{state}", "user_count": 4, "worker_count": 1, "fail_ratio": 0.01}}"#
    )
}

/// Serves, poll after poll: garbage ×3, HTTP 500 ×3, then a running test, then stopped.
async fn fake_locust(listener: tokio::net::TcpListener, polls: Arc<AtomicUsize>) {
    common::serve(listener, move || {
        match polls.fetch_add(1, Ordering::SeqCst) {
            0..=2 => (StatusCode::OK, "<html>not locust</html>".to_string()),
            3..=5 => (StatusCode::INTERNAL_SERVER_ERROR, "boom".to_string()),
            6..=7 => (StatusCode::OK, report("running", 100)),
            _ => (StatusCode::OK, report("stopped", 120)),
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn down_garbage_and_errors_are_counted_and_polling_carries_on() {
    let (port, admin) = (free_port().unwrap(), free_port().unwrap());
    let mut args = LocustExporterArgs::for_test(&format!("http://127.0.0.1:{port}"), None, "bad");
    args.common.admin_addr = Some(format!("127.0.0.1:{admin}").parse().unwrap());
    args.interval = Duration::from_millis(200);
    let exporter = tokio::spawn(run(args));

    // Down for a while first.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let metrics = || async {
        reqwest::get(format!("http://127.0.0.1:{admin}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let value = |text: &str, name: &str, label: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(name) && l.contains(label))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    };
    let early = metrics().await;
    assert!(
        value(
            &early,
            "redline_locust_exporter_polls_total",
            "result=\"unreachable\""
        ) >= 2.0,
        "{early}"
    );

    let polls = Arc::new(AtomicUsize::new(0));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    tokio::spawn(fake_locust(listener, polls.clone()));
    for _ in 0..100 {
        if polls.load(Ordering::SeqCst) >= 7 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mid = metrics().await;
    assert_eq!(
        value(
            &mid,
            "redline_locust_exporter_polls_total",
            "result=\"invalid\""
        ),
        3.0,
        "{mid}"
    );
    assert_eq!(
        value(
            &mid,
            "redline_locust_exporter_polls_total",
            "result=\"http_error\""
        ),
        3.0,
        "{mid}"
    );
    assert!(
        value(&mid, "locust_requests_total", "name=\"/a\"") >= 100.0,
        "{mid}"
    );

    tokio::time::timeout(Duration::from_secs(20), exporter)
        .await
        .expect("the exporter finishes once Locust reports the test stopped")
        .unwrap()
        .unwrap();
}
