//! Every panel of the HTTP-load dashboard shows data for a real run: http-load against
//! the demo target, remote-written into a real Prometheus with alerts/ loaded, then each
//! panel query (Grafana variables filled in) evaluated during the run.

mod common;

use std::time::Duration;

use common::{alerting_prometheus, tiered_run};

use redline_dashboards_check::{repo_root, substitute_grafana_vars};
use redline_http_load::HttpLoadArgs;
use redline_runtime::CommonArgs;

/// A scenario that exercises every panel: an arrival rate the VUs cannot keep up with
/// (target rate, dropped iterations), a slow endpoint with a check, a streamed chat
/// (tokens, time to first token, inter-token latency), free-tier tokens that run out
/// (429s by tier) and an address nobody listens on (no-response errors by reason).
const SCENARIO: &str = r#"
baseUrl: BASE
tokens: {generate: {free: 2, premium: 2}}
scenarios:
  panels:
    executor: constant-arrival-rate
    rate: 40
    timeUnit: 1s
    duration: 8s
    preAllocatedVUs: 2
    maxVUs: 4
    requests:
      - {name: slow, url: "/?sleep=100", weight: 3, checks: [{name: ok, status: [200]}]}
      - {name: chat, url: /v1/chat/completions, weight: 2, openai: {model: m, maxTokens: 4, stream: true}}
      - {name: gone, url: "CLOSED/", weight: 1}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_http_load_panel_query_returns_data_for_a_real_run() {
    let root = repo_root();
    let prom = alerting_prometheus().start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let tiered = tiered_run(dir.path(), SCENARIO).await;

    let testid = "panels";
    let mut args = HttpLoadArgs::for_test(CommonArgs::for_test(&prom.write_url(), testid));
    args.scenario = Some(tiered.scenario.clone());
    let run = tokio::spawn(redline_http_load::execute(args));
    // Query while the run is live (at the end it writes staleness markers): wait until
    // its last seconds, when every rate window holds several samples and the rules have
    // evaluated.
    tokio::time::sleep(Duration::from_secs(7)).await;

    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("dashboards/http-load.json")).unwrap(),
    )
    .unwrap();
    let mut empty = Vec::new();
    let mut checked = 0;
    for panel in dashboard["panels"].as_array().unwrap() {
        for t in panel["targets"].as_array().into_iter().flatten() {
            let Some(expr) = t["expr"].as_str() else {
                continue;
            };
            let q = substitute_grafana_vars(
                &expr
                    .replace("$testid", testid)
                    .replace("$scenario", ".*")
                    .replace("$step", ".*"),
            );
            let result = prom.query(&q).await.unwrap();
            checked += 1;
            if result.is_empty() {
                empty.push(format!("{}: {q}", panel["title"]));
            }
        }
    }
    let outcome = run.await.unwrap().unwrap();
    assert!(checked >= 20, "only {checked} panel queries found");
    assert!(
        empty.is_empty(),
        "{} of {checked} panel queries returned no data:\n{}\n(run: {} requests)",
        empty.len(),
        empty.join("\n"),
        outcome.summary.data["metrics"]["http_reqs"]["values"]["count"]
    );
}
