//! Shared helpers for the http-load integration tests: run a YAML scenario against an
//! in-process demo target, and read what the run reported (exposition, summary, steps).

#![allow(dead_code)]

pub mod mix;
pub mod nginx;
pub mod nginx_log;
pub mod prom;

use std::path::PathBuf;

use redline_demo_target::{TargetArgs, TargetHandle};
use redline_http_load::{HttpLoadArgs, Outcome, StepRow, execute};
use redline_runtime::CommonArgs;
use serde_json::Value;

/// k6's per-request families (by request name, status, tier and tags), request phases
/// included; the TLS handshake is left out, as only https requests write it.
pub const PER_REQUEST_FAMILIES: [&str; 8] = [
    "k6_http_reqs_total",
    "k6_http_req_duration_seconds",
    "k6_http_req_failed_rate",
    "k6_http_req_blocked_seconds",
    "k6_http_req_connecting_seconds",
    "k6_http_req_sending_seconds",
    "k6_http_req_waiting_seconds",
    "k6_http_req_receiving_seconds",
];

/// k6's request counter (by name, status, tier and tags), the family most assertions sum.
pub const REQS_TOTAL: &str = "k6_http_reqs_total";

/// redline's counter of check results (by check and result).
pub const CHECKS_TOTAL: &str = "redline_checks_total";

pub struct Run {
    pub outcome: Outcome,
    pub dir: tempfile::TempDir,
}

/// One expected sum: family, label pairs every counted sample must carry, value.
pub type Sum<'a> = (&'a str, &'a [(&'a str, &'a str)], f64);

impl Run {
    /// The final `/metrics` text.
    pub fn text(&self) -> &str {
        &self.outcome.metrics_text
    }

    /// [`sum_of`] over this run's exposition.
    pub fn sum(&self, family: &str, want: &[(&str, &str)]) -> f64 {
        sum_of(self.text(), family, want)
    }

    /// (count, sum) of a histogram family's samples that carry every `want` pair.
    pub fn histogram(&self, family: &str, want: &[(&str, &str)]) -> (f64, f64) {
        (
            self.sum(&format!("{family}_count"), want),
            self.sum(&format!("{family}_sum"), want),
        )
    }

    /// Asserts every row's [`sum_of`], naming the family and labels (and showing the
    /// exposition) when one differs.
    pub fn assert_sums(&self, rows: &[Sum<'_>]) {
        assert_sums(self.text(), rows);
    }

    /// `.metrics.<metric>.values.<value>` of the handleSummary data.
    pub fn summary_value(&self, metric: &str, value: &str) -> &Value {
        &self.outcome.summary.data["metrics"][metric]["values"][value]
    }

    /// [`Run::summary_value`] as a number.
    pub fn summary_f64(&self, metric: &str, value: &str) -> f64 {
        self.summary_value(metric, value)
            .as_f64()
            .unwrap_or_else(|| panic!("summary {metric}.{value} is not a number"))
    }

    /// The per-step row of `scenario`'s `step`.
    pub fn step(&self, scenario: &str, step: &str) -> &StepRow {
        step_row(&self.outcome, scenario, step)
    }
}

pub fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// The demo target with its defaults, on an ephemeral port.
pub async fn target() -> TargetHandle {
    target_with(TargetArgs::ephemeral()).await
}

/// The demo target with `args`.
pub async fn target_with(args: TargetArgs) -> TargetHandle {
    redline_demo_target::spawn(args).await.unwrap()
}

/// Runs `yaml` (with `BASE` replaced by the target URL) and returns what it reported.
pub async fn run_yaml(
    base: &str,
    yaml: &str,
    common: CommonArgs,
    tweak: impl FnOnce(&mut HttpLoadArgs),
) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, "scenario.yaml", &yaml.replace("BASE", base));
    let mut args = HttpLoadArgs::for_test(common);
    args.scenario = Some(path);
    tweak(&mut args);
    let outcome = execute(args).await.unwrap();
    Run { outcome, dir }
}

/// [`run_yaml`] with no remote write and no flags beyond the scenario file.
pub async fn run_on(base: &str, yaml: &str) -> Run {
    run_yaml(base, yaml, CommonArgs::default(), |_| {}).await
}

/// Starts the demo target with its defaults and runs `yaml` against it; the target comes back
/// too, for the checks on what the server saw.
pub async fn run_on_demo(yaml: &str) -> (TargetHandle, Run) {
    let target = target().await;
    let run = run_on(&target.url(), yaml).await;
    (target, run)
}

/// The message of the error a run of `args` must be refused with.
pub async fn refused(args: HttpLoadArgs) -> String {
    execute(args)
        .await
        .expect_err("the run must be refused")
        .to_string()
}

/// Sum of a family's samples in OpenMetrics text whose labels contain every `want` pair.
pub fn sum_of(text: &str, family: &str, want: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.split(['{', ' ']).next() == Some(family))
        .filter(|l| {
            want.iter()
                .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Asserts every row's [`sum_of`] in `text`.
pub fn assert_sums(text: &str, rows: &[Sum<'_>]) {
    for (family, want, expected) in rows {
        assert_eq!(
            sum_of(text, family, want),
            *expected,
            "{family}{want:?}\n{text}"
        );
    }
}

pub fn step_row<'a>(o: &'a Outcome, scenario: &str, step: &str) -> &'a StepRow {
    o.summary
        .steps
        .iter()
        .find(|r| r.scenario == scenario && r.step == step)
        .unwrap_or_else(|| panic!("no step {scenario}/{step} in {:?}", o.summary.steps))
}
