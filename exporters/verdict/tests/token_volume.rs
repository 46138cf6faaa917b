//! MaaS Test 3 judged for real: a token-volume sweep run as the chart runs it, one `http-load`
//! run per active token count under one testid (`--step-level N --step-unit tokens`), into a
//! real Prometheus with alerts/ loaded. The target's latency grows with the token count
//! (the demo target sleeps longer for the larger steps, as a gateway whose auth cache thrashes
//! would), so the token-volume drift judges must fire on the grown steps and stay quiet on the
//! baseline, and `redline verdict --seed maas-tokens` must fail the run rather than leave it
//! unjudged or passed.

mod common;

use std::time::Duration;

use redline_http_load::HttpLoadArgs;
use redline_runtime::CommonArgs;
use redline_verdict::{Verdict, VerdictArgs};

const TESTID: &str = "token-sweep";

/// One step of the sweep: `tokens` active tokens, each request taking about `sleep_ms`.
fn sweep_step(write_url: &str, base: &str, tokens: u32, sleep_ms: u32) -> HttpLoadArgs {
    let mut a = HttpLoadArgs::for_test(CommonArgs::for_test(write_url, TESTID));
    a.url = Some(format!("{base}/?sleep={sleep_ms}"));
    a.scenario_name = "maas-token-volume".into();
    a.vus = Some(2);
    // Seconds, not a handful of iterations: a run must outlast a few rule evaluations (1 s
    // here) for its level to be recorded, as every real sweep run (minutes) does.
    a.duration = Some(Duration::from_secs(4));
    a.step_name = Some(format!("tokens-{tokens}"));
    a.step_level = Some(f64::from(tokens));
    a.step_unit = Some("tokens".into());
    a
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_volume_drift_fails_a_sweep_whose_latency_grows_with_the_token_count() {
    let prom = common::prometheus_with_rules().await;
    let target = redline_demo_target::spawn(redline_demo_target::TargetArgs::ephemeral())
        .await
        .expect("demo target");
    // p95 ~10 ms at the baseline and at 50 tokens (whether noise puts 50 over the 1.2x
    // Degraded drift is not asserted), ~80 ms at 250 tokens: 8x, far over the 2x Breaking drift.
    for (tokens, sleep_ms) in [(10, 10), (50, 10), (250, 80)] {
        redline_http_load::execute(sweep_step(
            &prom.write_url(),
            &target.url(),
            tokens,
            sleep_ms,
        ))
        .await
        .unwrap_or_else(|e| panic!("tokens-{tokens}: {e}"));
    }

    let mut v = VerdictArgs::new(prom.url(), TESTID);
    v.seeds = vec!["maas-tokens".into()];
    v.settle = Some(Duration::from_secs(3));
    v.lookback = Duration::from_secs(900);
    let report = redline_verdict::evaluate(&v).await.expect("verdict");
    let fired = |name: &str| -> Vec<String> {
        let mut steps: Vec<String> = report
            .alerts
            .iter()
            .filter(|a| a.alertname == name)
            .map(|a| a.step.clone())
            .collect();
        steps.sort();
        steps.dedup();
        steps
    };
    let text = redline_verdict::render_text(&report);
    assert_eq!(
        fired("RedlineTokenVolumeBreaking"),
        ["tokens-250"],
        "Breaking on the grown step only\n{text}"
    );
    assert!(
        !fired("RedlineTokenVolumeDegraded").contains(&"tokens-10".to_owned()),
        "the baseline step is never judged against itself\n{text}"
    );
    assert_eq!(report.verdict, Verdict::Fail, "{}\n{text}", report.reason);
    assert!(
        text.contains("RedlineTokenVolumeBreaking") && text.contains("tokens-250"),
        "{text}"
    );
}
