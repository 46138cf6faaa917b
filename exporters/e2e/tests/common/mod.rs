//! What the e2e test files share: every alert rule file, the demo target with free and
//! premium tiers behind an http-load scenario, and the Locust user and process that load it.

#![allow(dead_code)] // each test file uses its own subset

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use redline_churn::{ChurnArgs, PatternName};
use redline_demo_target::{TargetArgs, TargetHandle};
use redline_dst_client::{DstClient, Metrics};
use redline_locust_exporter::LocustExporterArgs;
use redline_testkit_prometheus::{Builder, Prometheus, free_port};
use tokio::net::TcpSocket;
use tokio::process::Child;

/// A Prometheus (the default one) loaded with every rule file in alerts/, so a test's server
/// evaluates what a real run's does.
pub fn alerting_prometheus() -> Builder {
    Prometheus::builder().rule_files(redline_dashboards_check::files(
        &redline_dashboards_check::repo_root().join("alerts"),
        ".yml",
    ))
}

/// Polls `cond` (every 20 ms: it reads in-process metrics, so it is cheap) until it holds;
/// fails the test naming `what` when `timeout` passes first.
pub async fn eventually(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + timeout;
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// One oscillation of every service, holding `hold` at each step: created at 2 endpoints, up
/// to 6, back to 2 (three scale events per service, what [`all_fanned_out`] waits for), the
/// objects kept after the run for the test to read.
pub fn oscillate_once(c: &mut ChurnArgs, hold: Duration) {
    c.pattern = PatternName::Oscillate;
    (c.min_endpoints, c.max_endpoints) = (2, 6);
    (c.min_hold, c.max_hold) = (hold, hold);
    c.cycles = Some(1);
    c.keep = true;
}

/// Whether dst-client has no scale event pending and every stream of test-service-1 to
/// test-service-`services` has seen `events` of them fanned out.
pub fn all_fanned_out(client: &DstClient, services: u32, events: u64) -> bool {
    let m = client.metrics();
    client.pending_events().iter().all(|(_, n)| *n == 0)
        && (1..=services).all(|i| {
            m.fanout_completion
                .get_or_create(&Metrics::service(&format!("test-service-{i}")))
                .count()
                == events
        })
}

const TIERS: &str = "tiers:\n  free: {requests: 5, request-window: 2m, token-prefix: free-}\n  premium: {token-prefix: premium-}\n";

/// An http-load run against the demo target: the target, its tiers (free requests and
/// tokens that run out, so 429s by tier), and the scenario file.
pub struct TieredRun {
    pub target: TargetHandle,
    pub scenario: PathBuf,
    /// Bound but never listening, so connections to it are refused for as long as it lives.
    _closed: TcpSocket,
}

/// Starts the demo target with [`TIERS`] and writes `scenario` into `dir` with `BASE` set to
/// the target and `CLOSED` to an address nobody listens on (no-response errors).
pub async fn tiered_run(dir: &Path, scenario: &str) -> TieredRun {
    std::fs::write(dir.join("tiers.yaml"), TIERS).unwrap();
    let target = redline_demo_target::spawn(TargetArgs {
        tiers: Some(dir.join("tiers.yaml")),
        token_delay: Duration::from_millis(5),
        ..TargetArgs::ephemeral()
    })
    .await
    .unwrap();
    let closed = TcpSocket::new_v4().unwrap();
    closed.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let scenario_text = scenario.replace("BASE", &target.url()).replace(
        "CLOSED",
        &format!("http://127.0.0.1:{}", closed.local_addr().unwrap().port()),
    );
    let file = dir.join("scenario.yaml");
    std::fs::write(&file, scenario_text).unwrap();
    TieredRun {
        target,
        scenario: file,
        _closed: closed,
    }
}

/// The KubeServe task mix's user: a weighted `predict` task; each test appends its others.
pub const PREDICT_USER: &str = r#"
from locust import HttpUser, between, task

class PredictUser(HttpUser):
    wait_time = between(0.05, 0.1)

    @task(3)
    def predict(self):
        self.client.post("", json={"instances": [[1.0, 2.0]]}, name="predict")
"#;

/// A task whose requests fail half the time (Locust's failures and errors), at `weight`.
pub fn failing_task(weight: u32) -> String {
    format!(
        r#"
    @task({weight})
    def failing(self):
        self.client.get("/health?status=503&p=0.5", name="failing")
"#
    )
}

/// Locust on `locustfile` (written into `dir`) against the demo target at `target_url`, with
/// `run`'s users, spawn rate, duration and autoquit, exported by `redline locust-exporter`
/// (KubeServe scenario) to `write_url` under `testid` until Locust has been gone for
/// `gone_after`. The exporter must finish `within`; Locust then gets a third of that to exit.
pub struct LocustRun<'a> {
    pub locustfile: &'a str,
    pub run: [&'a str; 8],
    pub testid: &'a str,
    pub gone_after: Duration,
    pub within: Duration,
}

impl LocustRun<'_> {
    pub async fn export(&self, dir: &Path, target_url: &str, write_url: &str) {
        let file = dir.join("locustfile.py");
        std::fs::write(&file, self.locustfile).unwrap();
        let web = free_port().unwrap();
        let mut locust = spawn_locust(&file, web, target_url, &self.run);
        let mut args = LocustExporterArgs::for_test(
            &format!("http://127.0.0.1:{web}"),
            Some(write_url),
            self.testid,
        );
        args.scenario = "kubeserve".into();
        args.gone_after = self.gone_after;
        tokio::time::timeout(self.within, redline_locust_exporter::run(args))
            .await
            .expect("the exporter finishes once the Locust test stops")
            .unwrap();
        let _ = tokio::time::timeout(self.within / 3, locust.wait()).await;
    }
}

/// Starts Locust on `locustfile` with its web API on 127.0.0.1:`web`, started at once
/// against the demo target at `target_url`, with `run`'s users, spawn rate, duration and
/// autoquit; a failed request does not fail its exit code (the failing tasks are on purpose).
pub fn spawn_locust(locustfile: &Path, web: u16, target_url: &str, run: &[&str]) -> Child {
    tokio::process::Command::new("locust")
        .arg("-f")
        .arg(locustfile)
        .args(["--web-host=127.0.0.1", &format!("--web-port={web}")])
        .arg("--autostart")
        .args(run)
        .args(["--exit-code-on-error=0", "--host"])
        .arg(format!("{target_url}/api/v1/predict/1"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("locust must be on PATH (pip install locust); hack/install-deps.sh installs it")
}
