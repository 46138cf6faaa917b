//! Users, tiers and 429s against the demo target's MaaS-style limits; no token ever leaves the
//! process (summary, /metrics, Prometheus, logs); SSE metrics against a known per-token delay.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{run_on, run_yaml, target_with, write};
use redline_demo_target::TargetArgs;
use redline_runtime::CommonArgs;
use redline_testkit_prometheus::Prometheus;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_map_to_tiers_429s_are_rate_limited_and_never_leak() {
    // The logs go to a file (tracing-subscriber writes through an `Arc<File>` as it is) and
    // are read back at the end.
    let logs = tempfile::NamedTempFile::new().unwrap();
    let _ = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(Arc::new(logs.reopen().unwrap()))
        .with_ansi(false)
        .try_init();

    let prom = Prometheus::start().await.unwrap();
    let target = target_with(TargetArgs {
        require_auth: true,
        ..TargetArgs::ephemeral()
    })
    .await;
    let tokens = [
        ("free", "free-s3cr3t-aaaa1111"),
        ("premium", "premium-s3cr3t-bbbb2222"),
        ("enterprise", "enterprise-s3cr3t-cccc3333"),
        ("free", "free-s3cr3t-dddd4444"),
        ("premium", "premium-s3cr3t-eeee5555"),
        ("enterprise", "enterprise-s3cr3t-ffff6666"),
    ];
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        &dir,
        "tokens.txt",
        &tokens
            .iter()
            .map(|(t, k)| format!("{t},{k}\n"))
            .collect::<String>(),
    );
    // 6 VUs × 10 iterations; VU i is user i: free tokens get 5 per 2 min, the others all 10.
    let run = run_yaml(
        &target.url(),
        r#"
baseUrl: BASE
scenarios:
  maas:
    executor: per-vu-iterations
    vus: 6
    iterations: 10
    requests:
      - {name: chat, url: /v1/chat/completions, openai: {model: m, maxTokens: 2}, checks: [{status: [200]}]}
"#,
        CommonArgs::for_test(&prom.write_url(), "tokens-test"),
        |a| {
            a.tokens_file = Some(file.clone());
            a.summary_export = Some(dir.path().join("summary.json"));
        },
    )
    .await;
    let reqs = "k6_http_reqs_total";
    let limited = "redline_http_rate_limited_total";
    let llm_tokens = "redline_llm_tokens_total";
    run.assert_sums(&[
        (reqs, &[("tier", "free"), ("status", "200")], 10.0),
        (reqs, &[("tier", "free"), ("status", "429")], 10.0),
        (reqs, &[("tier", "premium"), ("status", "200")], 20.0),
        (reqs, &[("tier", "enterprise"), ("status", "200")], 20.0),
        (limited, &[("tier", "free")], 10.0),
        (limited, &[("tier", "premium")], 0.0),
        // 429s are not errors.
        ("redline_http_request_errors_total", &[], 0.0),
        // usage → tokens by tier: the target counts prompt words ("Say something about load
        // testing." = 5).
        (
            llm_tokens,
            &[("tier", "premium"), ("kind", "completion")],
            40.0,
        ),
        (
            llm_tokens,
            &[("tier", "enterprise"), ("kind", "prompt")],
            100.0,
        ),
    ]);
    let row = &run.outcome.summary.steps[0];
    assert_eq!((row.rate_limited, row.errors), (10, 0));

    // The run has ended, so its series carry staleness markers: read them over a range.
    let series = prom
        .wait_for(
            "max_over_time(k6_http_reqs_total{testid=\"tokens-test\"}[5m])",
            Duration::from_secs(15),
            |r| r.iter().map(|s| s.float()).sum::<f64>() >= 60.0,
        )
        .await
        .unwrap();
    assert_eq!(
        series.iter().map(|s| s.float()).sum::<f64>(),
        60.0,
        "{}",
        prom.log()
    );
    let prom_text = reqwest::get(format!(
        "{}/api/v1/series?match[]={{testid=\"tokens-test\"}}",
        prom.url()
    ))
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    assert!(
        prom_text.contains("k6_http_req_duration_seconds")
            && prom_text.contains("\"tier\":\"premium\""),
        "{prom_text}"
    );
    let summary_file = std::fs::read_to_string(dir.path().join("summary.json")).unwrap();
    let summary_text = run.outcome.summary.data.to_string()
        + &redline_http_load::summary::render(&run.outcome.summary);
    let log_text = std::fs::read_to_string(logs.path()).unwrap();
    // Empty logs would pass the leak check below without checking anything.
    assert!(
        !log_text.is_empty(),
        "the run logged nothing at debug level"
    );
    for (_, token) in tokens {
        for (what, text) in [
            ("summary", &summary_text),
            ("summary file", &summary_file),
            ("/metrics", &run.outcome.metrics_text),
            ("prometheus", &prom_text),
            ("logs", &log_text),
        ] {
            assert!(!text.contains(token), "token leaked into {what}");
            assert!(
                !text.contains("s3cr3t"),
                "token fragment leaked into {what}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_metrics_follow_the_targets_token_delay() {
    let target = target_with(TargetArgs {
        token_delay: Duration::from_millis(20),
        ttft_delay: Duration::from_millis(100),
        ..TargetArgs::ephemeral()
    })
    .await;
    let run = run_on(
        &target.url(),
        r#"
baseUrl: BASE
scenarios:
  stream:
    executor: shared-iterations
    vus: 2
    iterations: 6
    requests:
      - {name: chat, url: /v1/chat/completions, openai: {model: m, maxTokens: 11, stream: true}}
  plain:
    executor: shared-iterations
    vus: 1
    iterations: 2
    requests:
      - {name: complete, url: /v1/completions, openai: {api: completions, model: m, prompt: "one two three", maxTokens: 4}}
"#,
    )
    .await;
    let tokens = "redline_llm_tokens_total";
    run.assert_sums(&[
        (
            tokens,
            &[("scenario", "stream"), ("kind", "completion")],
            66.0,
        ),
        (tokens, &[("scenario", "plain"), ("kind", "prompt")], 6.0),
        (
            tokens,
            &[("scenario", "plain"), ("kind", "completion")],
            8.0,
        ),
        // Only streamed requests have TTFT.
        ("redline_llm_time_to_first_token_seconds_count", &[], 6.0),
    ]);
    let ttft = run.summary_f64("llm_time_to_first_token", "med");
    assert!((100.0..115.0).contains(&ttft), "ttft {ttft} ms");
    let itl = run.summary_f64("llm_inter_token_latency", "med");
    assert!((19.0..25.0).contains(&itl), "itl {itl} ms");
    // 10 gaps of 20 ms after the first token: 50 tokens/s.
    let tps = run.sum("redline_llm_output_tokens_per_second_sum", &[])
        / run.sum("redline_llm_output_tokens_per_second_count", &[]);
    assert!((42.0..51.0).contains(&tps), "output tokens/s {tps}");
    // The stream's duration covers the whole stream: ttft + 10 × 20 ms.
    let d = run.summary_f64("http_req_duration", "max");
    assert!(d >= 300.0, "stream duration {d} ms");
}
