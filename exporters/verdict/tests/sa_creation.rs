//! The MaaS token-volume run's ServiceAccount creation time in the verdict: each step's
//! tokens are made by the real `redline tokens create` (against the in-process Kubernetes
//! API) pushing to a real Prometheus with the run's testid and `--external-label
//! step=<step>`, as charts/redline/scenarios/maas-token-volume.yaml does; then that step's
//! load runs. The verdict shows creation per step in its text, JSON and HTML.

mod common;

use std::time::Duration;

use clap::Parser;
use redline_testkit_kube::KubeApiServer;
use redline_tokens::{Report as TokensReport, TokensArgs, run_with_client};
use redline_verdict::{Report, VerdictArgs};

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: TokensArgs,
}

fn args(prom: &str, testid: &str) -> VerdictArgs {
    let mut a = VerdictArgs::new(prom, testid);
    a.settle = Some(Duration::from_secs(3));
    a
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_steps_service_account_creation_is_in_the_verdict() {
    let prom = common::prometheus_with_rules().await;
    let kube = KubeApiServer::start().await.unwrap();
    let target = redline_demo_target::spawn(redline_demo_target::TargetArgs::ephemeral())
        .await
        .unwrap();
    let testid = "maas-token-volume-sa";
    let dir = tempfile::tempdir().unwrap();
    for (step, count, vus) in [("tokens-2", "2", 1), ("tokens-4", "4", 2)] {
        let out = dir.path().join(step);
        let cli = Cli::try_parse_from([
            "tokens",
            "create",
            "-n",
            "maas",
            "--set",
            step,
            "--count",
            count,
            "-o",
            out.to_str().unwrap(),
            "--remote-write-url",
            &prom.write_url(),
            "--testid",
            testid,
            "--external-label",
            &format!("step={step}"),
        ])
        .unwrap();
        let TokensReport::Create(made) = run_with_client(cli.args, kube.client().unwrap())
            .await
            .unwrap()
        else {
            panic!("create reports a CreateReport")
        };
        assert_eq!(made.failed, 0);
        common::run(
            &prom.write_url(),
            testid,
            "maas-token-volume",
            &target.url(),
            vec![common::Step {
                name: step,
                vus,
                path: "/?sleep=5".into(),
                duration: Duration::from_secs(8),
            }],
        )
        .await;
    }
    let report: Report = redline_verdict::evaluate(&args(&prom.url(), testid))
        .await
        .unwrap();
    let sa = &report.service_account_creation;
    let steps: Vec<(&str, f64)> = sa
        .iter()
        .map(|s| (s.step.as_str(), s.service_accounts))
        .collect();
    assert_eq!(steps, [("tokens-2", 2.0), ("tokens-4", 4.0)], "{sa:?}");
    for s in sa {
        let mean = s.mean_seconds.unwrap();
        assert!(mean > 0.0 && mean < 10.0, "{s:?}");
        assert!(
            s.p50_seconds.unwrap() > 0.0 && s.p95_seconds.unwrap() >= s.p50_seconds.unwrap(),
            "{s:?}"
        );
        assert!(s.level.is_some(), "paired with the step table's row: {s:?}");
    }
    let text = redline_verdict::render_text(&report);
    assert!(text.contains("ServiceAccount creation per step"), "{text}");
    assert!(
        text.contains("tokens-4: 4 ServiceAccounts, mean "),
        "{text}"
    );
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["service_account_creation"][1]["step"], "tokens-4");
    assert_eq!(json["service_account_creation"][1]["service_accounts"], 4.0);
    let html = redline_verdict::render_html(&report);
    assert!(html.contains("<h2>ServiceAccount creation per step</h2>"));
    assert!(html.contains("<td>tokens-2</td><td>2</td>"), "{html}");
}
