//! One judge for every source: a real Locust run, exported by `redline locust-exporter`
//! into a real Prometheus with alerts/ loaded, is judged by `redline verdict` like
//! redline's own load — a healthy run passes, one with injected errors fails.

mod common;

use std::time::Duration;

use redline_verdict::{Verdict, VerdictArgs};

use common::{LocustRun, PREDICT_USER, alerting_prometheus, failing_task};

const HEALTH_TASK: &str = r#"
    @task(1)
    def health(self):
        self.client.get("/health", name="health")
"#;

/// The KubeServe task mix: predictions and health checks, all answered.
fn healthy() -> String {
    format!("{PREDICT_USER}{HEALTH_TASK}")
}

async fn judge(locustfile: String, testid: &str) -> Verdict {
    let target = redline_demo_target::spawn(redline_demo_target::TargetArgs::ephemeral())
        .await
        .unwrap();
    let prom = alerting_prometheus().start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    LocustRun {
        locustfile: &locustfile,
        run: ["-u", "5", "-r", "5", "-t", "25s", "--autoquit", "3"],
        testid,
        gone_after: Duration::from_secs(20),
        within: Duration::from_secs(90),
    }
    .export(dir.path(), &target.url(), &prom.write_url())
    .await;
    redline_verdict::run(VerdictArgs::new(prom.url(), testid))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_locust_run_passes_the_verdict() {
    let v = judge(healthy(), "locust-healthy").await;
    assert_eq!(v, Verdict::Pass);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locust_run_with_injected_errors_fails_the_verdict() {
    // Half of the health checks answer 503: an error ratio far beyond the seeds' 1 %/5 %.
    let erroring = format!("{}{}", healthy(), failing_task(2));
    let v = judge(erroring, "locust-errors").await;
    assert_eq!(v, Verdict::Fail);
}
