//! Plain-http HTTP/1.1 exchanges take redline's lean path (src/h1.rs); https, HTTP/2, SSE and
//! `--max-connections` take hyper's client. The same scenario through both must count the same
//! requests, statuses, checks and bytes on the wire: the lean path may not change a result.

mod common;

use common::{CHECKS_TOTAL, Run, mix, run_on, run_yaml, target};
use redline_runtime::CommonArgs;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lean_and_hyper_paths_report_the_same_run() {
    let target = target().await;
    let scenario = mix::scenario("", "      - {name: head, method: HEAD, url: /health}\n");
    let lean = run_on(&target.url(), &scenario).await;
    // A connection limit sends every request through hyper (a slot must free when the
    // server closes a parked VU's connection, which needs hyper's connection task).
    let hyper = run_yaml(&target.url(), &scenario, CommonArgs::default(), |a| {
        a.max_connections = Some(64)
    })
    .await;
    for (path, run) in [("lean", &lean), ("hyper", &hyper)] {
        mix::assert_statuses(run, path, &[("head", "200")]);
        for (check, result) in mix::CHECKS {
            assert_eq!(
                run.sum(CHECKS_TOTAL, &[("check", check), ("result", result)]),
                mix::PER_REQUEST,
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
