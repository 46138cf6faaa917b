//! `redline verdict`: turns what Prometheus' alert rules decided about a run into an exit
//! code, the seeds' result tables and a report (text, JSON, JUnit, self-contained HTML).
//!
//! # Prometheus is the judge; this crate only reads the judgement
//! The verdict reads which `redline_verdict` alerts fired from the `ALERTS` series
//! (`ALERTS{testid=…, alertstate="firing", redline_verdict!=""}`, `query_range` over the run
//! window) instead of re-evaluating the rule expressions itself, as kube-burner does. The rules
//! in `alerts/` already hold every criterion, their `for:` clauses and the per-scenario
//! threshold series; evaluating their expressions a second time here would be a second copy of
//! that logic that can drift from the first, and would judge `for:` differently from the
//! Prometheus that drove the dashboards during the run. Every alert rule is also listed from
//! `/api/v1/rules`, so each one is a JUnit test case: a rule that never fired is a visible pass,
//! not an absence.
//!
//! The tables come from the recorded `redline:` series. Recording rules are required: when the
//! run's raw series are in Prometheus but no `redline:` series exists for the testid (or no
//! rule with a `redline_verdict` label is loaded at all), the verdict is *could not evaluate*
//! (exit 2), with a message to load `alerts/*.yml`. Without the rules there is no judge, so a
//! fallback that computed tables from raw `k6_*` series would print figures next to a verdict
//! nobody made.
//!
//! # Exit codes
//! [`Verdict::exit_code`]: 0 pass (warnings allowed), 1 a `fail` alert fired, 2 could not
//! evaluate (Prometheus unreachable, no rules, no data for the testid), an invalid run (its
//! requests never reached the target, [`validity`]) or an unjudged one (a rule its seed
//! scenario is judged by had no data, [`seeds`]). No data is never a pass: a rule whose
//! input series the run never wrote is "no data", not "passed".

mod alerts;
mod args;
mod csv;
mod error;
mod html;
mod inputs;
mod judge;
mod junit;
mod per_pod;
mod prom;
mod report;
mod rules;
mod sa_creation;
pub mod seeds;
mod steps;
pub mod template;
mod text;
pub mod validity;
mod window;

pub use args::VerdictArgs;
pub use error::VerdictError;
pub use report::{
    Findings, FiredAlert, PodScaling, PodStep, Report, RuleOutcome, RuleResult, StepClass, StepRow,
    Verdict,
};

use std::path::PathBuf;

/// Runs the verdict once: queries Prometheus, prints the table on stdout, writes the
/// requested files and returns the verdict (map it with [`Verdict::exit_code`]).
pub async fn run(args: VerdictArgs) -> Result<Verdict, VerdictError> {
    let report = evaluate(&args).await?;
    print!("{}", text::render(&report));
    write_outputs(&args, &report)?;
    Ok(report.verdict)
}

/// Everything `run` does except printing and writing: the report itself.
pub async fn evaluate(args: &VerdictArgs) -> Result<Report, VerdictError> {
    let client = prom::PromClient::new(args)?;
    let from = args
        .from
        .as_deref()
        .map(|v| args::parse_time("from", v))
        .transpose()?;
    let to = args
        .to
        .as_deref()
        .map(|v| args::parse_time("to", v))
        .transpose()?;
    if let (Some(f), Some(t)) = (from, to)
        && f >= t
    {
        return Err(VerdictError::BadArg {
            flag: "to",
            value: args.to.clone().unwrap_or_default(),
            message: "must be after --from".into(),
        });
    }
    for id in &args.seeds {
        if seeds::lookup(id).is_none() {
            return Err(VerdictError::BadArg {
                flag: "seed",
                value: id.clone(),
                message: format!("unknown seed scenario; known: {}", seeds::ids()),
            });
        }
    }
    let local_rules = match &args.rules {
        Some(dir) => Some(rules::read_dir(dir)?),
        None => None,
    };
    Ok(judge::build(&client, args, (from, to), local_rules).await)
}

fn write_outputs(args: &VerdictArgs, report: &Report) -> Result<(), VerdictError> {
    let write = |path: &PathBuf, body: String| {
        std::fs::write(path, body).map_err(|source| VerdictError::Write {
            path: path.clone(),
            source,
        })
    };
    if let Some(path) = &args.json {
        let body = serde_json::to_string_pretty(report).expect("report serialises");
        write(path, body)?;
    }
    if let Some(path) = &args.junit {
        write(path, junit::render(report))?;
    }
    if let Some(path) = &args.html {
        write(path, html::render(report))?;
    }
    if let Some(path) = &args.csv {
        write(path, csv::render(report))?;
    }
    Ok(())
}

/// Renders the HTML report of an already built report (for tests and embedding).
pub fn render_html(report: &Report) -> String {
    html::render(report)
}

/// Renders the step table as CSV.
pub fn render_csv(report: &Report) -> String {
    csv::render(report)
}

/// Renders the JUnit XML of an already built report.
pub fn render_junit(report: &Report) -> String {
    junit::render(report)
}

/// Renders the plain-text tables printed on stdout.
pub fn render_text(report: &Report) -> String {
    text::render(report)
}

#[cfg(test)]
mod tests {
    /// Every series the verdict queries is catalogued, so a renamed metric breaks this test
    /// instead of silently emptying a column.
    #[test]
    fn every_queried_series_is_catalogued() {
        let sources = [
            include_str!("alerts.rs"),
            include_str!("steps.rs"),
            include_str!("validity.rs"),
            include_str!("window.rs"),
            include_str!("report.rs"),
            include_str!("judge.rs"),
            include_str!("per_pod.rs"),
            include_str!("sa_creation.rs"),
        ];
        // Label names, not series.
        let labels = [
            "redline_verdict",
            "redline_verdict_family",
            "redline_invalid",
        ];
        let mut checked = 0;
        for src in sources {
            for token in src.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':')) {
                let token = token.trim_end_matches(':');
                let series = token.starts_with("k6_")
                    || token.starts_with("locust_")
                    || token.starts_with("redline_")
                    || token.starts_with("redline:");
                if !series || labels.contains(&token) || token.ends_with(':') {
                    continue;
                }
                // `redline:.+` is a pattern, not a name.
                if token == "redline:" {
                    continue;
                }
                assert!(
                    redline_catalogue::lookup(token).is_some(),
                    "{token} is queried but not in the catalogue"
                );
                checked += 1;
            }
        }
        assert!(checked > 15, "only {checked} series names found");
    }
}
