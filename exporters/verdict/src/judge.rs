//! Judging a run: asks Prometheus which verdict rules are loaded, finds the run's window,
//! reads what the rules decided and the step tables, and fills the [`Report`] with a
//! verdict and its reason.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::args::VerdictArgs;
use crate::prom::{PromClient, PromError, quote};
use crate::report::{
    FiredAlert, Report, RuleOutcome, RuleResult, Verdict, fmt_count, fmt_time, now,
};
use crate::rules::AlertRule;
use crate::window::{self, Window};
use crate::{alerts, inputs, per_pod, rules, sa_creation, seeds, steps, validity};

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
    report.rules = rule_results(&loaded, local_rules.as_deref(), &[], &BTreeMap::new());
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
    report.pods = per_pod::scaling(client, testid, win, res, &rows).await?;
    report.service_account_creation = sa_creation::per_step(client, testid, win, &rows).await?;
    report.steps = rows;
    report.charts = charts;
    let missing = inputs::missing(client, testid, &loaded, win.from, alerts_end, res).await?;
    report.rules = rule_results(&loaded, local_rules.as_deref(), &report.alerts, &missing);
    let unjudged = unjudged(client, args, win.from, alerts_end, res, &report.rules).await?;
    report.invalid = validity::check(client, testid, win, args.min_response_ratio).await?;

    // 6. The verdict: invalid before fail, so a run that never reached its target is not
    //    blamed on the application.
    let failed: Vec<&FiredAlert> = report
        .alerts
        .iter()
        .filter(|a| a.verdict == "fail")
        .collect();
    let warned = report.alerts.iter().filter(|a| a.verdict == "warn").count();
    let invalidating: Vec<&FiredAlert> = report
        .alerts
        .iter()
        .filter(|a| a.labels.get("redline_invalid").map(String::as_str) == Some("true"))
        .collect();
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
    } else if !invalidating.is_empty() {
        // A rule labelled `redline_invalid` says the run measured something other than the
        // system (MaaS: Kuadrant limits not raised): neither a pass nor the system's failure.
        let mut why: Vec<&str> = invalidating.iter().map(|a| a.summary.as_str()).collect();
        why.sort();
        why.dedup();
        report.verdict = Verdict::Invalid;
        report.reason = format!(
            "invalid run: {} (rule {}); fix the setup and run again.",
            why.join("; "),
            invalidating[0].alertname
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
    } else if !unjudged.is_empty() {
        report.verdict = Verdict::Unjudged;
        report.reason = format!(
            "unjudged: no fail alert fired, but rules this run's seed scenario is judged by had no data, so they judged nothing: {}",
            unjudged.join("; ")
        );
    } else {
        report.verdict = Verdict::Pass;
        report.reason = if warned > 0 {
            format!("no fail alert fired; {warned} warning(s)")
        } else {
            format!(
                "no alert fired ({} rules judged the run)",
                report
                    .rules
                    .iter()
                    .filter(|r| r.outcome == RuleOutcome::Passed)
                    .count()
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

/// The seed scenarios the run is (`--seed`, and those named by its `scenario` labels), each
/// with its rules that had no data: `scenario: Rule, Rule`.
async fn unjudged(
    client: &PromClient,
    args: &VerdictArgs,
    from: f64,
    to: f64,
    step: f64,
    results: &[RuleResult],
) -> Result<Vec<String>, PromError> {
    let mut ids: BTreeSet<String> = args.seeds.iter().cloned().collect();
    let labelled = client
        .query_range(
            &format!(
                "count by (scenario) ({{testid={},scenario!=\"\"}})",
                quote(&args.testid)
            ),
            from,
            to,
            step,
        )
        .await?;
    ids.extend(labelled.iter().map(|s| s.label("scenario").to_string()));
    let mut out = Vec::new();
    for seed in ids.iter().filter_map(|id| seeds::lookup(id)) {
        let blind: Vec<&str> = seed
            .rules
            .iter()
            .copied()
            .filter(|name| {
                results
                    .iter()
                    .any(|r| r.rule.name == *name && r.outcome == RuleOutcome::NoData)
            })
            .collect();
        if !blind.is_empty() {
            out.push(format!(
                "{} ({}): {}",
                seed.id,
                seed.source,
                blind.join(", ")
            ));
        }
    }
    Ok(out)
}

/// One result per rule: the loaded ones with what they decided, plus the `--rules` ones
/// Prometheus does not have. A rule that did not fire and lacked an input (`missing`) is
/// "no data", not "passed".
fn rule_results(
    loaded: &[AlertRule],
    local: Option<&[AlertRule]>,
    fired: &[FiredAlert],
    missing: &BTreeMap<String, Vec<String>>,
) -> Vec<RuleResult> {
    let mut out: Vec<RuleResult> = loaded
        .iter()
        .map(|rule| {
            let mine: Vec<&FiredAlert> =
                fired.iter().filter(|a| a.alertname == rule.name).collect();
            let outcome = if rule.health == "err" {
                RuleOutcome::Error
            } else if mine.is_empty() && missing.contains_key(&rule.name) {
                RuleOutcome::NoData
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
                RuleOutcome::NoData => format!(
                    "no data: the run wrote no {}",
                    missing[&rule.name].join(", ")
                ),
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

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
        let missing: BTreeMap<String, Vec<String>> = [
            ("C".to_string(), vec!["{__name__=\"x\"}".to_string()]),
            ("F".to_string(), vec!["{__name__=\"y\"}".to_string()]),
        ]
        .into();
        let loaded = [loaded.as_slice(), &[rule("F", "warn", "ok")]].concat();
        let out = rule_results(
            &loaded,
            Some(&local),
            &[fired("A", "fail"), fired("B", "warn"), fired("F", "warn")],
            &missing,
        );
        let by: BTreeMap<_, _> = out
            .iter()
            .map(|r| (r.rule.name.as_str(), r.outcome))
            .collect();
        assert_eq!(by["A"], RuleOutcome::Failed);
        assert_eq!(by["B"], RuleOutcome::Warned);
        assert_eq!(
            by["C"],
            RuleOutcome::NoData,
            "did not fire and had no input"
        );
        assert_eq!(
            by["F"],
            RuleOutcome::Warned,
            "fired, so it had data whatever the check says"
        );
        assert_eq!(by["D"], RuleOutcome::Error);
        assert_eq!(by["E"], RuleOutcome::NotLoaded);
        assert_eq!(out.len(), 6);
        let c = out.iter().find(|r| r.rule.name == "C").unwrap();
        assert!(
            c.message.contains("no data") && c.message.contains("x"),
            "{}",
            c.message
        );
    }
}
