//! Plain-http HTTP/1.1 exchanges take redline's lean path (src/h1.rs); https, HTTP/2, SSE and
//! `--max-connections` take hyper's client. The same scenario through both must count the same
//! requests, statuses, checks and bytes on the wire: the lean path may not change a result.

mod common;

use common::{Run, run_on, run_yaml, target};
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
    let target = target().await;
    let lean = run_on(&target.url(), SCENARIO).await;
    // A connection limit sends every request through hyper (a slot must free when the
    // server closes a parked VU's connection, which needs hyper's connection task).
    let hyper = run_yaml(&target.url(), SCENARIO, CommonArgs::default(), |a| {
        a.max_connections = Some(64)
    })
    .await;
    for (path, run) in [("lean", &lean), ("hyper", &hyper)] {
        for (name, status) in [
            ("predict", "200"),
            ("health", "200"),
            ("unavailable", "503"),
            ("limited", "429"),
            ("head", "200"),
            ("completion", "200"),
        ] {
            assert_eq!(
                run.sum("k6_http_reqs_total", &[("name", name), ("status", status)]),
                60.0,
                "{name} {status} ({path})\n{}",
                run.text()
            );
        }
        for (check, result) in [
            ("predict-200", "pass"),
            ("has-predictions", "pass"),
            ("json-ct", "pass"),
            ("says-nope", "fail"),
        ] {
            assert_eq!(
                run.sum(
                    "redline_checks_total",
                    &[("check", check), ("result", result)]
                ),
                60.0,
                "{check} ({path})"
            );
        }
    }
    let tokens = |run: &Run| run.sum("redline_llm_tokens_total", &[("kind", "completion")]);
    assert!(tokens(&lean) > 0.0);
    assert_eq!(tokens(&lean), tokens(&hyper));
    // Same requests and responses on the wire, byte for byte in number.
    for k in ["data_sent", "data_received"] {
        assert_eq!(
            lean.summary_f64(k, "count"),
            hyper.summary_f64(k, "count"),
            "{k}"
        );
    }
}
