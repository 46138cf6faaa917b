//! The request timeout: a response slower than `timeout` is cut off at the timeout, counted as
//! status 0 with reason `timeout`, and the VU goes on. Every VU keeps one timer, left at an
//! earlier exchange's deadline and moved when it fires early, so a request right after a fast
//! or a timed-out one must get its full timeout, not the old deadline.

mod common;

use common::{REQS_TOTAL, run_on_demo};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_responses_time_out_and_the_next_request_gets_a_fresh_timeout() {
    // Per iteration: a 900 ms response cut at 300 ms, then a 150 ms one (half the timeout:
    // it must not inherit the cut request's deadline), then a fast one.
    let (_, run) = run_on_demo(
        r#"
baseUrl: BASE
timeout: 300ms
scenarios:
  cut:
    executor: per-vu-iterations
    vus: 2
    iterations: 3
    requests:
      - {url: "/autoscale?sleep=900", name: slow}
      - {url: "/autoscale?sleep=150", name: medium}
      - {url: /health, name: fast}
"#,
    )
    .await;
    run.assert_sums(&[
        (REQS_TOTAL, &[("name", "slow"), ("status", "0")], 6.0),
        (REQS_TOTAL, &[("name", "slow"), ("status", "200")], 0.0),
        (REQS_TOTAL, &[("name", "medium"), ("status", "200")], 6.0),
        (REQS_TOTAL, &[("name", "fast"), ("status", "200")], 6.0),
        (
            "redline_http_request_errors_total",
            &[("name", "slow"), ("reason", "timeout")],
            6.0,
        ),
    ]);
    // Cut at the timeout, not at the 900 ms response.
    let max = run.summary_f64("http_req_duration", "max");
    assert!((290.0..800.0).contains(&max), "max duration {max} ms");
}
