//! `--summary-trend-stats` as k6 has it: which stats the summary prints and which keys
//! `--summary-export` writes (`p(99)`, `p(99.9)`, `count`), read back with the MaaS seed's
//! own `jq` line; p(99) by default. Also the per-step records the verdict reads: each step's
//! exact start/end and its duration quantiles, equal to the summary's per-step table.

mod common;

use common::{refused, run_yaml, target};
use redline_runtime::CommonArgs;

const YAML: &str = "baseUrl: BASE\nscenarios:\n  s:\n    executor: constant-vus\n    steps: [2, 3]\n    duration: 1s\n    requests: [{url: \"/?sleep=5\"}]\n";

/// The MaaS plan's "Results Analysis" jq line, plus the p(99) it asks for.
const SEED_JQ: &str = r#"{
    http_reqs: .metrics.http_reqs.values.count,
    http_req_duration_p95: .metrics.http_req_duration.values["p(95)"],
    http_req_duration_p99: .metrics.http_req_duration.values["p(99)"],
    success_rate: .metrics.success_rate.values.rate
  }"#;

fn jq(filter: &str, file: &std::path::Path) -> serde_json::Value {
    let out = match std::process::Command::new("jq")
        .arg(filter)
        .arg(file)
        .output()
    {
        Ok(o) => o,
        Err(e) if std::env::var("CI").as_deref() == Ok("true") => panic!("jq: {e}"),
        Err(e) => {
            eprintln!(
                "SKIPPED jq part: jq not runnable ({e}); install it with hack/install-deps.sh test"
            );
            return serde_json::Value::Null;
        }
    };
    assert!(
        out.status.success(),
        "jq: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn summary_trend_stats_choose_the_printed_and_exported_stats() {
    let target = target().await;
    // Default: k6's set plus p(99).
    let out = tempfile::tempdir().unwrap();
    let export = out.path().join("summary.json");
    let run = run_yaml(&target.url(), YAML, CommonArgs::default(), |a| {
        a.summary_export = Some(export.clone());
    })
    .await;
    let seed = jq(SEED_JQ, &export);
    if !seed.is_null() {
        let n = seed["http_reqs"].as_f64().unwrap();
        let p95 = seed["http_req_duration_p95"].as_f64().unwrap();
        let p99 = seed["http_req_duration_p99"].as_f64().unwrap();
        assert!(n > 10.0, "{seed}");
        // 5 ms sleeps: in ms, as k6 writes them.
        assert!(p95 >= 5.0 && p99 >= p95, "{seed}");
    }
    let stats = &run.outcome.summary.data["options"]["summaryTrendStats"];
    assert_eq!(
        stats,
        &serde_json::json!(["avg", "min", "med", "max", "p(90)", "p(95)", "p(99)"])
    );
    let text = redline_http_load::summary::render(&run.outcome.summary);
    assert!(text.contains("p(99)="), "{text}");

    // Chosen: k6's names, including p(99.9) and count.
    let chosen = "avg,min,med,max,p(90),p(95),p(99),p(99.9),count";
    let run = run_yaml(&target.url(), YAML, CommonArgs::default(), |a| {
        a.summary_trend_stats = chosen.split(',').map(String::from).collect();
    })
    .await;
    let d = &run.outcome.summary.data["metrics"]["http_req_duration"]["values"];
    let keys: Vec<&String> = d.as_object().unwrap().keys().collect();
    for k in chosen.split(',') {
        assert!(d[k].is_number(), "{k} missing from {keys:?}");
    }
    assert_eq!(
        d["count"].as_f64().unwrap(),
        run.summary_f64("http_reqs", "count"),
        "count is the number of requests"
    );
    assert!(d["p(99.9)"].as_f64().unwrap() >= d["p(99)"].as_f64().unwrap());
    let text = redline_http_load::summary::render(&run.outcome.summary);
    assert!(
        text.contains("p(99.9)=") && text.contains("count="),
        "{text}"
    );

    // Bad names say which flag and what is accepted.
    let mut args = redline_http_load::HttpLoadArgs::for_test(CommonArgs::default());
    args.url = Some(format!("{}/", target.url()));
    args.summary_trend_stats = vec!["p95".into()];
    let err = refused(args).await;
    assert!(
        err.contains("--summary-trend-stats") && err.contains("p(N)"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_step_records_its_exact_span_and_quantiles() {
    let target = target().await;
    let run = run_yaml(&target.url(), YAML, CommonArgs::default(), |_| {}).await;
    let text = run.text();
    for row in &run.outcome.summary.steps {
        let labels = [("scenario", "s"), ("step", row.step.as_str())];
        let start = run.sum("redline_step_started_timestamp_seconds", &labels);
        let end = run.sum("redline_step_ended_timestamp_seconds", &labels);
        assert!(start > 1.7e9, "step {} start {start}\n{text}", row.step);
        assert!(
            ((end - start) - row.duration_s).abs() < 1e-3,
            "step {}: span {} vs summary {}",
            row.step,
            end - start,
            row.duration_s
        );
        for (q, ms) in [
            ("0.5", row.p50_ms),
            ("0.95", row.p95_ms),
            ("0.99", row.p99_ms),
        ] {
            let mut l = labels.to_vec();
            l.push(("quantile", q));
            let got = run.sum("redline_step_http_req_duration_seconds", &l);
            assert!(
                (got * 1e3 - ms).abs() < 1e-6 && ms >= 5.0,
                "step {} q{q}: {got} s vs summary {ms} ms",
                row.step
            );
        }
    }
}
