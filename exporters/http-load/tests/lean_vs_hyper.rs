//! Plain-http HTTP/1.1 exchanges take redline's lean path (src/h1.rs); https, HTTP/2, SSE and
//! `--max-connections` take hyper's client. The same scenario through both must count the same
//! requests, statuses, checks and bytes on the wire: the lean path may not change a result.

mod common;

use common::{run_yaml, sum_of};
use redline_demo_target::TargetArgs;
use redline_runtime::CommonArgs;

const SCENARIO: &str = r#"
baseUrl: BASE
scenarios:
  mix:
    executor: per-vu-iterations
    vus: 3
    iterations: 20
    requests:
      - {name: predict, method: POST, url: /api/v1/predict/2, body: {json: {instances: [[1, 2]]}},
         checks: [{name: predict-200, status: [200]}, {name: has-predictions, json: /predictions},
                  {name: json-ct, header: content-type}]}
      - {name: health, url: /api/v1/predict/2/health, checks: [{name: says-nope, bodyContains: "zzz-not-there"}]}
      - {name: unavailable, url: "/autoscale?status=503"}
      - {name: limited, url: "/autoscale?status=429"}
      - {name: head, method: HEAD, url: /health}
      - {name: completion, url: /v1/completions, openai: {model: m, maxTokens: 4}}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lean_and_hyper_paths_report_the_same_run() {
    let target = redline_demo_target::spawn(TargetArgs::ephemeral())
        .await
        .unwrap();
    let lean = run_yaml(&target.url(), SCENARIO, CommonArgs::default(), |_| {}).await;
    // A connection limit sends every request through hyper (a slot must free when the
    // server closes a parked VU's connection, which needs hyper's connection task).
    let hyper = run_yaml(&target.url(), SCENARIO, CommonArgs::default(), |a| {
        a.max_connections = Some(64)
    })
    .await;
    let (l, h) = (&lean.outcome, &hyper.outcome);
    for (name, status) in [
        ("predict", "200"),
        ("health", "200"),
        ("unavailable", "503"),
        ("limited", "429"),
        ("head", "200"),
        ("completion", "200"),
    ] {
        let count = |o: &redline_http_load::Outcome| {
            sum_of(
                &o.metrics_text,
                "k6_http_reqs_total",
                &[("name", name), ("status", status)],
            )
        };
        assert_eq!(count(l), 60.0, "{name} {status} (lean)\n{}", l.metrics_text);
        assert_eq!(
            count(h),
            60.0,
            "{name} {status} (hyper)\n{}",
            h.metrics_text
        );
    }
    let checks = |o: &redline_http_load::Outcome, check: &str, result: &str| {
        sum_of(
            &o.metrics_text,
            "redline_checks_total",
            &[("check", check), ("result", result)],
        )
    };
    for (check, result) in [
        ("predict-200", "pass"),
        ("has-predictions", "pass"),
        ("json-ct", "pass"),
        ("says-nope", "fail"),
    ] {
        assert_eq!(checks(l, check, result), 60.0, "{check} (lean)");
        assert_eq!(checks(h, check, result), 60.0, "{check} (hyper)");
    }
    let tokens = |o: &redline_http_load::Outcome| {
        sum_of(
            &o.metrics_text,
            "redline_llm_tokens_total",
            &[("kind", "completion")],
        )
    };
    assert!(tokens(l) > 0.0);
    assert_eq!(tokens(l), tokens(h));
    // Same requests and responses on the wire, byte for byte in number.
    let data = |o: &redline_http_load::Outcome, k: &str| {
        o.summary.data["metrics"][k]["values"]["count"]
            .as_f64()
            .unwrap()
    };
    for k in ["data_sent", "data_received"] {
        assert_eq!(data(l, k), data(h, k), "{k}");
    }
}
