//! The report as data: what was judged, how, and the verdict, with the step rows, findings,
//! fired alerts, rule outcomes and chart series it holds. Built once from Prometheus
//! (`judge.rs`), then rendered as text, JSON, JUnit and HTML; this file only describes it.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::rules::AlertRule;
use crate::validity::Invalidity;

/// What the run gets; [`Verdict::exit_code`] is the process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// No `fail` alert fired (warnings may have).
    Pass,
    /// At least one alert with `redline_verdict="fail"` fired for the testid.
    Fail,
    /// Prometheus unreachable, no verdict rules loaded, or no data for the testid.
    CouldNotEvaluate,
    /// The run's requests never reached the target: the infrastructure failed, not the
    /// application.
    Invalid,
    /// No fail alert fired, but a rule the run's seed scenario is judged by had no data:
    /// the run was not judged on that criterion, so it did not pass it.
    Unjudged,
}

impl Verdict {
    pub fn exit_code(self) -> u8 {
        match self {
            Verdict::Pass => 0,
            Verdict::Fail => 1,
            Verdict::CouldNotEvaluate | Verdict::Invalid | Verdict::Unjudged => 2,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::CouldNotEvaluate => "COULD NOT EVALUATE",
            Verdict::Invalid => "INVALID",
            Verdict::Unjudged => "UNJUDGED",
        }
    }
}

/// A step's class by the MaaS plan's criteria, as the alerts decided them: Breaking when a
/// `breaking` alert fired in the step, Degraded when only `degraded` ones did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum StepClass {
    Healthy,
    Degraded,
    Breaking,
    /// The step wrote no request series.
    NoData,
}

impl StepClass {
    pub fn as_str(self) -> &'static str {
        match self {
            StepClass::Healthy => "Healthy",
            StepClass::Degraded => "Degraded",
            StepClass::Breaking => "Breaking",
            StepClass::NoData => "No data",
        }
    }
}

/// One row of the seeds' tables.
#[derive(Debug, Clone, Serialize, Default)]
pub struct StepRow {
    pub scenario: String,
    pub step: String,
    /// `redline_step_level`'s unit (`vus`, `rps`, `tokens`, `users`, …); empty when unknown.
    pub unit: String,
    /// VUs, target iterations/s, tokens or users of the step.
    pub level: Option<f64>,
    pub start: f64,
    pub end: f64,
    /// The span is the step's own recorded start and end (http-load); false when it is
    /// guessed from the first and last sample of the level series (Locust, k6), whose
    /// per-step figures are then marked `~`.
    pub exact: bool,
    /// Requests in the step (counter totals).
    pub requests: Option<f64>,
    /// Requests per second averaged over the step (counter increase / step duration).
    pub actual_rps: Option<f64>,
    /// Over the whole step from its own histogram when the generator records it
    /// (`redline_step_http_req_duration_seconds`); else the recorded signals at the step's
    /// end (their 1-minute window is the step's last minute).
    pub p50_seconds: Option<f64>,
    pub p95_seconds: Option<f64>,
    pub p99_seconds: Option<f64>,
    pub success_ratio: Option<f64>,
    /// Requests answered 5xx or not at all, in the step.
    pub errors: Option<f64>,
    pub error_ratio: Option<f64>,
    /// Requests answered 429, in the step.
    pub rate_limited: Option<f64>,
    pub rate_limited_ratio: Option<f64>,
    pub class: Option<StepClass>,
    /// A saturation alert fired (achieved < target rate, or dropped iterations).
    pub saturated: bool,
    /// Alert names that fired in this step.
    pub alerts: Vec<String>,
    /// Those of them with `severity="breaking"`.
    pub breaking_alerts: Vec<String>,
}

impl StepRow {
    pub fn class(&self) -> StepClass {
        self.class.unwrap_or(StepClass::NoData)
    }
}

/// The MaaS plan's "Expected Findings Template", per scenario.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Findings {
    pub scenario: String,
    /// What a level counts: "VUs", "req/s", "tokens", "users".
    pub noun: String,
    pub baseline: Option<String>,
    pub baseline_p95_seconds: Option<f64>,
    pub baseline_success_ratio: Option<f64>,
    pub degradation_starts_at: Option<String>,
    pub saturation_point: Option<String>,
    pub breaking_point: Option<String>,
    /// The last Healthy level below the first non-Healthy one.
    pub recommended_safe_limit: Option<String>,
    pub note: String,
}

/// One step of the RPS-per-pod finding (`per_pod.rs`).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PodStep {
    pub scenario: String,
    pub step: String,
    pub level: Option<f64>,
    pub actual_rps: Option<f64>,
    /// Ready replicas, averaged over the step.
    pub replicas: f64,
    pub rps_per_pod: Option<f64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PodScaling {
    /// namespace/name of the HPA(s) whose replicas were counted.
    pub hpa: String,
    pub steps: Vec<PodStep>,
    pub peak_replicas: f64,
    /// RPS per pod at the last step with pods added stayed within `per_pod::HOLDS_WITHIN` of the
    /// first step's; None when the pod count never grew or RPS is unknown.
    pub rps_grows_with_pods: Option<bool>,
    pub note: String,
}

/// ServiceAccount creation of one step of a token-volume run (`sa_creation.rs`).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SaCreationStep {
    pub step: String,
    /// The step's level in the table (active tokens), when the table has the step.
    pub level: Option<f64>,
    /// ServiceAccounts whose creation was timed for the step.
    pub service_accounts: f64,
    pub mean_seconds: Option<f64>,
    pub p50_seconds: Option<f64>,
    pub p95_seconds: Option<f64>,
}

/// An alert that fired for the testid in the window.
#[derive(Debug, Clone, Serialize)]
pub struct FiredAlert {
    pub alertname: String,
    pub severity: String,
    pub verdict: String,
    pub scenario: String,
    pub step: String,
    /// Labels other than the ones above and testid.
    pub labels: BTreeMap<String, String>,
    /// First and last time it was seen firing (Unix seconds).
    pub first_firing: f64,
    pub last_firing: f64,
    /// The rule's summary with `$labels` filled in.
    pub summary: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleOutcome {
    Passed,
    Warned,
    Failed,
    /// Prometheus reports the rule's evaluation failing.
    Error,
    /// In `--rules DIR` but not loaded in Prometheus: it judged nothing.
    NotLoaded,
    /// Did not fire because the run wrote none of (or not all) the series it reads: it
    /// saw nothing, which is not a pass.
    NoData,
}

#[derive(Debug, Clone, Serialize)]
pub struct RuleResult {
    pub rule: AlertRule,
    pub outcome: RuleOutcome,
    /// How many alert series of this rule fired for the testid.
    pub fired: usize,
    pub message: String,
}

/// A signal over time for the HTML charts.
#[derive(Debug, Clone, Serialize)]
pub struct ChartSeries {
    /// `p50`, `p95`, `p99` (seconds) or `rps`.
    pub signal: String,
    pub scenario: String,
    pub step: String,
    pub points: Vec<(f64, f64)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub testid: String,
    /// The Prometheus URL without credentials.
    pub prometheus: String,
    pub from: Option<f64>,
    pub to: Option<f64>,
    pub verdict: Verdict,
    pub reason: String,
    pub invalid: Option<Invalidity>,
    pub steps: Vec<StepRow>,
    pub findings: Vec<Findings>,
    /// RPS per pod per step, when `redline hpa-watch` counted the replicas.
    pub pods: Option<PodScaling>,
    /// ServiceAccount creation time per step (MaaS token volume); empty when the run made
    /// no tokens under its testid.
    pub service_account_creation: Vec<SaCreationStep>,
    pub rules: Vec<RuleResult>,
    pub alerts: Vec<FiredAlert>,
    pub charts: Vec<ChartSeries>,
    pub warnings: Vec<String>,
    pub generated_at: f64,
}

impl Report {
    pub fn exit_code(&self) -> u8 {
        self.verdict.exit_code()
    }

    pub(crate) fn new(testid: &str, prometheus: &str) -> Self {
        Self {
            testid: testid.to_string(),
            prometheus: prometheus.to_string(),
            from: None,
            to: None,
            verdict: Verdict::CouldNotEvaluate,
            reason: String::new(),
            invalid: None,
            steps: Vec::new(),
            findings: Vec::new(),
            pods: None,
            service_account_creation: Vec::new(),
            rules: Vec::new(),
            alerts: Vec::new(),
            charts: Vec::new(),
            warnings: Vec::new(),
            generated_at: now(),
        }
    }
}

pub(crate) fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

pub(crate) fn fmt_time(t: f64) -> String {
    let st = UNIX_EPOCH + Duration::from_secs_f64(t.max(0.0));
    humantime::format_rfc3339_seconds(st).to_string()
}

pub(crate) fn fmt_count(v: f64) -> String {
    format!("{v:.0}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes() {
        assert_eq!(Verdict::Pass.exit_code(), 0);
        assert_eq!(Verdict::Fail.exit_code(), 1);
        assert_eq!(Verdict::CouldNotEvaluate.exit_code(), 2);
        assert_eq!(Verdict::Invalid.exit_code(), 2);
        assert_eq!(Verdict::Unjudged.exit_code(), 2);
    }
}
