//! The report: what was judged, how, and the verdict. Built once from Prometheus, then
//! rendered as text, JSON, JUnit and HTML.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::prom::{PromClient, PromError, quote};
use crate::rules::AlertRule;
use crate::validity::Invalidity;
use crate::window::{self, Window};
use crate::{VerdictArgs, alerts, rules, steps, validity};

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
}

impl Verdict {
    pub fn exit_code(self) -> u8 {
        match self {
            Verdict::Pass => 0,
            Verdict::Fail => 1,
            Verdict::CouldNotEvaluate | Verdict::Invalid => 2,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::CouldNotEvaluate => "COULD NOT EVALUATE",
            Verdict::Invalid => "INVALID",
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
    /// Requests in the step (counter totals).
    pub requests: Option<f64>,
    /// Requests per second averaged over the step (counter increase / step duration).
    pub actual_rps: Option<f64>,
    /// The recorded signals at the step's end (their 1-minute window is the step's last minute).
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

    fn new(testid: &str, prometheus: &str) -> Self {
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

/// Why the run cannot be judged; becomes the report's reason.
#[derive(Debug, thiserror::Error)]
enum Unjudgeable {
    #[error("{0}")]
    Prom(#[from] PromError),
    #[error("{0}")]
    Other(String),
}

/// Builds the report. Never fails: anything that stops the judgement is a
/// [`Verdict::CouldNotEvaluate`] with the reason.
pub(crate) async fn build(
    client: &PromClient,
    args: &VerdictArgs,
    times: (Option<f64>, Option<f64>),
    local_rules: Option<Vec<AlertRule>>,
) -> Report {
    let mut report = Report::new(&args.testid, client.shown_url());
    if let Err(e) = judge(client, args, times, local_rules, &mut report).await {
        report.verdict = Verdict::CouldNotEvaluate;
        report.reason = e.to_string();
    }
    report
}

async fn judge(
    client: &PromClient,
    args: &VerdictArgs,
    (from_arg, to_arg): (Option<f64>, Option<f64>),
    local_rules: Option<Vec<AlertRule>>,
    report: &mut Report,
) -> Result<(), Unjudgeable> {
    let testid = &args.testid;
    // 1. The judges: every verdict alert rule Prometheus has loaded.
    let (loaded, interval) = match client.rules().await {
        Ok(data) => rules::from_api(&data),
        Err(e @ PromError::Unreachable { .. }) => return Err(e.into()),
        Err(e) => match &local_rules {
            // A Prometheus-compatible query API without the rules API (a querier in front
            // of a separate ruler): the files say which rules exist, ALERTS what fired.
            Some(local) => {
                report.warnings.push(format!(
                    "cannot list the loaded rules ({e}); judging by the rules in --rules, whose evaluation cannot be checked"
                ));
                (local.clone(), 0.0)
            }
            None => return Err(e.into()),
        },
    };
    report.rules = rule_results(&loaded, local_rules.as_deref(), &[]);
    if loaded.is_empty() {
        return Err(Unjudgeable::Other(
            "Prometheus has no alert rule with a redline_verdict label loaded, so nothing can judge the run: add alerts/*.yml to its rule_files (or install the chart's PrometheusRule)".into(),
        ));
    }

    // 2. The run window.
    let started = now();
    let search_from = from_arg.unwrap_or(started - args.lookback.as_secs_f64());
    let search_to = to_arg.unwrap_or(started);
    let Some(found) = window::find(client, testid, search_from, search_to).await? else {
        return Err(Unjudgeable::Other(format!(
            "no data for testid {testid:?} between {} and {}: nothing to judge (check the testid, --from/--to or --lookback, and that the run wrote to this Prometheus)",
            fmt_time(search_from),
            fmt_time(search_to)
        )));
    };
    let win = Window {
        from: from_arg.unwrap_or(found.from),
        to: to_arg.unwrap_or(found.to),
    };
    report.from = Some(win.from);
    report.to = Some(win.to);

    // 3. Let the rules evaluate the run's last samples before reading what they decided.
    let settle = args
        .settle
        .map(|d| d.as_secs_f64())
        .unwrap_or(2.0 * interval.max(1.0));
    let alerts_end = win.to + settle;
    let wait = alerts_end - now();
    if wait > 0.0 {
        eprintln!(
            "redline verdict: waiting {wait:.0}s for the rules' last evaluation of the run's data"
        );
        tokio::time::sleep(Duration::from_secs_f64(wait.min(settle))).await;
    }
    let res = win.resolution(600.0);

    // 4. Recorded series must exist, or the rules never saw the run.
    let recorded = client
        .query_range(
            &format!(
                "count({{testid={},__name__=~\"redline:.+\"}})",
                quote(testid)
            ),
            win.from,
            alerts_end,
            res,
        )
        .await?;
    if recorded.iter().all(|s| s.samples.is_empty()) {
        return Err(Unjudgeable::Other(format!(
            "testid {testid:?} has raw series but no redline: recorded series: the recording rules (alerts/*.yml) were not loaded or not evaluated while the run wrote"
        )));
    }

    // 5. What the rules decided, and the tables.
    report.alerts = alerts::fired(client, testid, &loaded, win.from, alerts_end, res).await?;
    let (rows, charts) = steps::table(client, testid, win, res, &report.alerts).await?;
    report.findings = steps::findings(&rows);
    report.steps = rows;
    report.charts = charts;
    report.rules = rule_results(&loaded, local_rules.as_deref(), &report.alerts);
    report.invalid = validity::check(client, testid, win, args.min_response_ratio).await?;

    // 6. The verdict: invalid before fail, so a run that never reached its target is not
    //    blamed on the application.
    let failed: Vec<&FiredAlert> = report
        .alerts
        .iter()
        .filter(|a| a.verdict == "fail")
        .collect();
    let warned = report.alerts.iter().filter(|a| a.verdict == "warn").count();
    let not_loaded: Vec<&str> = report
        .rules
        .iter()
        .filter(|r| r.outcome == RuleOutcome::NotLoaded)
        .map(|r| r.rule.name.as_str())
        .collect();
    if let Some(inv) = &report.invalid {
        report.verdict = Verdict::Invalid;
        report.reason = format!(
            "invalid run: its requests never reached the target ({} of {} got an HTTP response); dominant error: {} ({} requests). This is an infrastructure problem, not an application failure.",
            fmt_count(inv.responded),
            fmt_count(inv.requests),
            inv.dominant_error,
            fmt_count(inv.dominant_count)
        );
    } else if !failed.is_empty() {
        let mut names: Vec<&str> = failed.iter().map(|a| a.alertname.as_str()).collect();
        names.sort();
        names.dedup();
        report.verdict = Verdict::Fail;
        report.reason = format!("{} fail alert(s) fired: {}", failed.len(), names.join(", "));
    } else if !not_loaded.is_empty() {
        report.verdict = Verdict::CouldNotEvaluate;
        report.reason = format!(
            "alert rules in --rules are not loaded in Prometheus, so they judged nothing: {}",
            not_loaded.join(", ")
        );
    } else {
        report.verdict = Verdict::Pass;
        report.reason = if warned > 0 {
            format!("no fail alert fired; {warned} warning(s)")
        } else {
            format!(
                "no alert fired ({} rules judged the run)",
                report.rules.len()
            )
        };
    }
    for r in &report.rules {
        if r.outcome == RuleOutcome::Error {
            report.warnings.push(format!(
                "rule {} fails to evaluate in Prometheus: {}",
                r.rule.name, r.rule.last_error
            ));
        }
    }
    Ok(())
}

/// One result per rule: the loaded ones with what they decided, plus the `--rules` ones
/// Prometheus does not have.
fn rule_results(
    loaded: &[AlertRule],
    local: Option<&[AlertRule]>,
    fired: &[FiredAlert],
) -> Vec<RuleResult> {
    let mut out: Vec<RuleResult> = loaded
        .iter()
        .map(|rule| {
            let mine: Vec<&FiredAlert> =
                fired.iter().filter(|a| a.alertname == rule.name).collect();
            let outcome = if rule.health == "err" {
                RuleOutcome::Error
            } else if mine.is_empty() {
                RuleOutcome::Passed
            } else if rule.verdict == "fail" {
                RuleOutcome::Failed
            } else {
                RuleOutcome::Warned
            };
            let message = match outcome {
                RuleOutcome::Error => format!("evaluation fails: {}", rule.last_error),
                RuleOutcome::Passed => "did not fire".to_string(),
                _ => mine
                    .iter()
                    .map(|a| a.summary.clone())
                    .collect::<Vec<_>>()
                    .join("\n"),
            };
            RuleResult {
                rule: rule.clone(),
                outcome,
                fired: mine.len(),
                message,
            }
        })
        .collect();
    if let Some(local) = local {
        for rule in local {
            if !loaded.iter().any(|l| l.name == rule.name) {
                out.push(RuleResult {
                    rule: rule.clone(),
                    outcome: RuleOutcome::NotLoaded,
                    fired: 0,
                    message: format!("in {} but not loaded in Prometheus", rule.file),
                });
            }
        }
    }
    out
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

    fn rule(name: &str, verdict: &str, health: &str) -> AlertRule {
        AlertRule {
            name: name.into(),
            group: "g".into(),
            file: "f.yml".into(),
            severity: if verdict == "fail" {
                "breaking"
            } else {
                "degraded"
            }
            .into(),
            verdict: verdict.into(),
            expr: "x".into(),
            for_seconds: 0.0,
            summary: String::new(),
            health: health.into(),
            last_error: if health == "err" {
                "boom".into()
            } else {
                String::new()
            },
        }
    }

    fn fired(name: &str, verdict: &str) -> FiredAlert {
        FiredAlert {
            alertname: name.into(),
            severity: String::new(),
            verdict: verdict.into(),
            scenario: "s".into(),
            step: "1".into(),
            labels: BTreeMap::new(),
            first_firing: 0.0,
            last_firing: 1.0,
            summary: format!("{name} fired"),
        }
    }

    #[test]
    fn every_rule_gets_an_outcome_and_missing_rules_are_visible() {
        let loaded = [
            rule("A", "fail", "ok"),
            rule("B", "warn", "ok"),
            rule("C", "fail", "ok"),
            rule("D", "warn", "err"),
        ];
        let local = [rule("A", "fail", ""), rule("E", "fail", "")];
        let out = rule_results(
            &loaded,
            Some(&local),
            &[fired("A", "fail"), fired("B", "warn")],
        );
        let by: BTreeMap<_, _> = out
            .iter()
            .map(|r| (r.rule.name.as_str(), r.outcome))
            .collect();
        assert_eq!(by["A"], RuleOutcome::Failed);
        assert_eq!(by["B"], RuleOutcome::Warned);
        assert_eq!(by["C"], RuleOutcome::Passed);
        assert_eq!(by["D"], RuleOutcome::Error);
        assert_eq!(by["E"], RuleOutcome::NotLoaded);
        assert_eq!(out.len(), 5);
    }

    #[test]
    fn exit_codes() {
        assert_eq!(Verdict::Pass.exit_code(), 0);
        assert_eq!(Verdict::Fail.exit_code(), 1);
        assert_eq!(Verdict::CouldNotEvaluate.exit_code(), 2);
        assert_eq!(Verdict::Invalid.exit_code(), 2);
    }
}
