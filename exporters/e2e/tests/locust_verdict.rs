//! One judge for every source: a real Locust run, exported by `redline locust-exporter`
//! into a real Prometheus with alerts/ loaded, is judged by `redline verdict` like
//! redline's own load — a healthy run passes, one with injected errors fails.

use std::process::Stdio;
use std::time::Duration;

use redline_locust_exporter::LocustExporterArgs;
use redline_testkit_prometheus::{Options, Prometheus, free_port};
use redline_verdict::{Verdict, VerdictArgs};

const HEALTHY: &str = r#"
from locust import HttpUser, between, task

class PredictUser(HttpUser):
    wait_time = between(0.05, 0.1)

    @task(3)
    def predict(self):
        self.client.post("", json={"instances": [[1.0, 2.0]]}, name="predict")

    @task(1)
    def health(self):
        self.client.get("/health", name="health")
"#;

/// Half of the health checks answer 503: an error ratio far beyond the seeds' 1 %/5 %.
const ERRORING: &str = r#"
    @task(2)
    def failing(self):
        self.client.get("/health?status=503&p=0.5", name="failing")
"#;

async fn judge(locustfile: String, testid: &str) -> Verdict {
    let target = redline_demo_target::spawn(redline_demo_target::TargetArgs::ephemeral())
        .await
        .unwrap();
    let rules: Vec<_> = std::fs::read_dir(redline_dashboards_check::repo_root().join("alerts"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yml"))
        .collect();
    let prom = Prometheus::start_with(Options {
        rule_files: rules,
        ..Options::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("locustfile.py");
    std::fs::write(&file, locustfile).unwrap();
    let web = free_port().unwrap();
    let mut locust = tokio::process::Command::new("locust")
        .arg("-f")
        .arg(&file)
        .args(["--web-host=127.0.0.1", &format!("--web-port={web}")])
        .args([
            "--autostart",
            "-u",
            "5",
            "-r",
            "5",
            "-t",
            "25s",
            "--autoquit",
            "3",
        ])
        .args(["--exit-code-on-error=0", "--host"])
        .arg(format!("{}/api/v1/predict/1", target.url()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("locust must be on PATH (pip install locust); CI installs it");
    let mut args = LocustExporterArgs::for_test(
        &format!("http://127.0.0.1:{web}"),
        Some(&prom.write_url()),
        testid,
    );
    args.scenario = "kubeserve".into();
    args.gone_after = Duration::from_secs(20);
    tokio::time::timeout(Duration::from_secs(90), redline_locust_exporter::run(args))
        .await
        .expect("the exporter finishes once the Locust test stops")
        .unwrap();
    let _ = tokio::time::timeout(Duration::from_secs(30), locust.wait()).await;
    redline_verdict::run(VerdictArgs::new(prom.url(), testid))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_locust_run_passes_the_verdict() {
    let v = judge(HEALTHY.to_string(), "locust-healthy").await;
    assert_eq!(v, Verdict::Pass);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locust_run_with_injected_errors_fails_the_verdict() {
    let v = judge(format!("{HEALTHY}{ERRORING}"), "locust-errors").await;
    assert_eq!(v, Verdict::Fail);
}
