//! The request timeout: a response slower than `timeout` is cut off at the timeout, counted as
//! status 0 with reason `timeout`, and the VU goes on. Every VU re-arms one timer per exchange,
//! so a request right after a timed-out one must get its full timeout, not the old deadline.

mod common;

use common::{run_yaml, sum_of};
use redline_demo_target::TargetArgs;
use redline_runtime::CommonArgs;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_responses_time_out_and_the_next_request_gets_a_fresh_timeout() {
    let target = redline_demo_target::spawn(TargetArgs::ephemeral())
        .await
        .unwrap();
    // Per iteration: a 900 ms response cut at 300 ms, then a 150 ms one (half the timeout:
    // it must not inherit the cut request's deadline), then a fast one.
    let run = run_yaml(
        &target.url(),
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
        CommonArgs::default(),
        |_| {},
    )
    .await;
    let text = &run.outcome.metrics_text;
    let reqs = |name: &str, status: &str| {
        sum_of(
            text,
            "k6_http_reqs_total",
            &[("name", name), ("status", status)],
        )
    };
    assert_eq!(reqs("slow", "0"), 6.0, "{text}");
    assert_eq!(reqs("slow", "200"), 0.0);
    assert_eq!(reqs("medium", "200"), 6.0, "{text}");
    assert_eq!(reqs("fast", "200"), 6.0);
    assert_eq!(
        sum_of(
            text,
            "redline_http_request_errors_total",
            &[("name", "slow"), ("reason", "timeout")]
        ),
        6.0,
        "{text}"
    );
    // Cut at the timeout, not at the 900 ms response.
    let max = run.outcome.summary.data["metrics"]["http_req_duration"]["values"]["max"]
        .as_f64()
        .unwrap();
    assert!((290.0..800.0).contains(&max), "max duration {max} ms");
}
