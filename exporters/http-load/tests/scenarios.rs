//! Every shipped scenario parses and compiles to the steps its seed asks for; the quickstart
//! runs (shortened) against the demo target with its tiers file.

mod common;

use std::path::{Path, PathBuf};

use common::{run_yaml, step_row};
use redline_demo_target::TargetArgs;
use redline_http_load::ScenarioFile;
use redline_http_load::plan::compile;
use redline_http_load::segment::Segment;
use redline_runtime::CommonArgs;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")
}

fn levels(file: &str) -> Vec<(String, Vec<f64>)> {
    let f = ScenarioFile::load(&dir().join(file)).unwrap_or_else(|e| panic!("{e}"));
    f.scenarios
        .iter()
        .map(|(n, s)| {
            (
                n.clone(),
                compile(n, s, Segment::WHOLE)
                    .steps
                    .iter()
                    .map(|s| s.level)
                    .collect(),
            )
        })
        .collect()
}

#[test]
fn every_seed_scenario_parses_to_its_steps() {
    assert_eq!(
        levels("quickstart.yaml"),
        [("quickstart".into(), vec![10.0, 25.0, 50.0, 100.0])]
    );
    assert_eq!(
        levels("maas-burst.yaml"),
        [("burst".into(), vec![10.0, 25.0, 50.0, 100.0])]
    );
    assert_eq!(
        levels("maas-soak.yaml"),
        [("soak".into(), vec![10.0, 25.0, 50.0, 100.0])]
    );
    let k = levels("knative-doubling.yaml");
    assert_eq!(k[0].1.len(), 11);
    assert_eq!((k[0].1[0], k[0].1[10]), (10.0, 10240.0));
    assert_eq!(
        levels("knative-scaling.yaml")[0].1,
        [30.0, 60.0, 120.0, 0.0]
    );
    assert_eq!(
        levels("kubeserve-mix.yaml"),
        [("kubeserve".into(), vec![5.0, 10.0, 20.0])]
    );
    assert_eq!(
        levels("vps-levels.yaml"),
        [("vps".into(), vec![20.0, 50.0, 100.0, 200.0])]
    );
    let names: Vec<String> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names.len(),
        8,
        "a new scenario needs a line here: {names:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quickstart_runs_against_the_demo_target() {
    let target = redline_demo_target::spawn(TargetArgs {
        tiers: Some(dir().join("quickstart-tiers.yaml")),
        ..TargetArgs::ephemeral()
    })
    .await
    .unwrap();
    let yaml = std::fs::read_to_string(dir().join("quickstart.yaml"))
        .unwrap()
        .replace("http://127.0.0.1:8099", "BASE")
        .replace("duration: 10s", "duration: 400ms")
        .replace("cooldown: 2s", "cooldown: 50ms");
    let run = run_yaml(&target.url(), &yaml, CommonArgs::default(), |_| {}).await;
    for (step, level) in [("1", 10.0), ("2", 25.0), ("3", 50.0), ("4", 100.0)] {
        let r = step_row(&run.outcome, "quickstart", step);
        assert_eq!(r.level, level);
        assert!(r.requests > 0, "{r:?}");
        assert_eq!(r.errors, 0, "{r:?}");
        assert_eq!(r.requests, r.iterations);
    }
    assert!(step_row(&run.outcome, "quickstart", "1").success_rate > 0.99);
    let t = &run.outcome.metrics_text;
    for tier in ["free", "premium", "enterprise"] {
        assert!(
            t.contains(&format!("tier=\"{tier}\"")),
            "tier {tier} labelled"
        );
    }
}
