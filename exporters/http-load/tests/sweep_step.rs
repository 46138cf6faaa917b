//! A run declared as one step of a sweep across runs (`--step-level 10 --step-unit tokens`,
//! MaaS Test 3's active token counts): two runs of one testid push
//! `redline_step_level{unit="tokens"}` and per-request series under the sweep's step labels,
//! so the drift rules, which take the lowest level seen for a testid as the baseline, compare
//! the 50-token run with the 10-token one.

mod common;

use std::time::Duration;

use common::{prom, refused, target, write};
use redline_http_load::HttpLoadArgs;
use redline_runtime::CommonArgs;
use redline_testkit_prometheus::Prometheus;

fn sweep_run(prom: &Prometheus, base: &str, tokens: u32) -> HttpLoadArgs {
    let common = CommonArgs::for_test(&prom.write_url(), "sweep");
    let mut a = HttpLoadArgs::for_test(common);
    a.url = Some(format!("{base}/"));
    a.scenario_name = "maas-token-volume".into();
    a.vus = Some(2);
    a.iterations = Some(20);
    a.step_name = Some(format!("tokens-{tokens}"));
    a.step_level = Some(f64::from(tokens));
    a.step_unit = Some("tokens".into());
    a
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweep_step_runs_push_token_levels_under_one_testid() {
    let prom = Prometheus::start().await.expect("prometheus");
    let target = target().await;
    for n in [10, 50] {
        let out = redline_http_load::execute(sweep_run(&prom, &target.url(), n))
            .await
            .unwrap_or_else(|e| panic!("tokens-{n}: {e}"));
        let steps: Vec<_> = out
            .summary
            .steps
            .iter()
            .map(|s| (s.step.clone(), s.level, s.unit.clone(), s.requests))
            .collect();
        assert_eq!(
            steps,
            [(format!("tokens-{n}"), f64::from(n), "tokens".to_owned(), 20)],
            "tokens-{n}: summary steps"
        );
    }

    // Both levels, as unit="tokens", under the one testid and scenario.
    let sel = r#"redline_step_level{testid="sweep",scenario="maas-token-volume"}"#;
    let sets = prom::label_sets_when(&prom, sel, |s| s.len() >= 2).await;
    let mut got: Vec<_> = sets
        .iter()
        .map(|s| (s["step"].as_str(), s["unit"].as_str()))
        .collect();
    got.sort();
    assert_eq!(got, [("tokens-10", "tokens"), ("tokens-50", "tokens")]);

    // The requests carry the same step labels, so the p95 per step joins the level per step.
    let sel = r#"k6_http_reqs_total{testid="sweep",scenario="maas-token-volume"}"#;
    let sets = prom::label_sets_when(&prom, sel, |s| s.len() >= 2).await;
    let mut req_steps: Vec<_> = sets.iter().map(|s| s["step"].as_str()).collect();
    req_steps.sort();
    req_steps.dedup();
    assert_eq!(req_steps, ["tokens-10", "tokens-50"]);

    // The baseline the drift rules pick: the step at the lowest level seen for the testid
    // (the rules' `min by (testid, scenario) (max_over_time(redline:step_level[6h]))`).
    let q = r#"max_over_time(redline_step_level{testid="sweep",unit="tokens"}[10m])
        == on (testid, scenario) group_left ()
        min by (testid, scenario) (max_over_time(redline_step_level{testid="sweep",unit="tokens"}[10m]))"#;
    let mut base = Vec::new();
    for _ in 0..50 {
        base = prom.query(q).await.expect("query");
        if !base.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(base.len(), 1, "{base:?}");
    assert_eq!(base[0].label("step"), Some("tokens-10"));
    assert_eq!(base[0].float(), 10.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweep_step_refuses_a_scenario_with_its_own_steps() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        &dir,
        "s.yaml",
        "scenarios:\n  s:\n    executor: shared-iterations\n    iterations: 1\n    steps: [1, 2]\n    requests: [{url: http://127.0.0.1:9/}]\n",
    );
    let mut a = HttpLoadArgs::for_test(CommonArgs::default());
    a.scenario = Some(path);
    a.step_level = Some(10.0);
    a.step_unit = Some("tokens".into());
    let err = refused(a).await;
    assert!(err.contains("has 2 steps"), "{err}");
}
