//! The report as aligned plain text (stdout): the seeds' tables, the findings template,
//! the alerts that fired and the verdict.

use std::fmt::Write;

use crate::report::{Report, RuleOutcome, StepRow, fmt_count, fmt_time};
use crate::steps::{level_header, level_label};

pub fn seconds(v: Option<f64>) -> String {
    match v {
        None => "—".into(),
        Some(s) if !s.is_finite() => format!("{s}"),
        // Loopback and cached answers (429s, say) take microseconds: "0 ms" would read
        // as broken.
        Some(s) if s < 0.001 => format!("{:.0} µs", s * 1e6),
        Some(s) if s < 0.01 => format!("{:.1} ms", s * 1000.0),
        Some(s) if s < 1.0 => format!("{:.0} ms", s * 1000.0),
        Some(s) => format!("{s:.2} s"),
    }
}

pub fn percent(v: Option<f64>) -> String {
    match v {
        None => "—".into(),
        Some(r) if !r.is_finite() => "—".into(),
        Some(r) => format!("{:.2}%", r * 100.0),
    }
}

pub fn count_and_share(n: Option<f64>, ratio: Option<f64>) -> String {
    match n {
        None => "—".into(),
        Some(n) => format!("{} ({})", fmt_count(n), percent(ratio)),
    }
}

pub fn rps(v: Option<f64>) -> String {
    v.map(|r| format!("{r:.1}")).unwrap_or_else(|| "—".into())
}

/// Cells of one table row, in the seeds' column order.
pub fn cells(r: &StepRow) -> Vec<String> {
    let mut class = r.class().as_str().to_string();
    if r.alerts
        .iter()
        .any(|a| a == crate::steps::LATENCY_RISING_ALERT)
    {
        // The seed's Saturated in full: short of the rate and latency increasing.
        class.push_str(" (Saturated, latency rising)");
    } else if r.saturated {
        class.push_str(" (Saturated)");
    }
    // `~`: the step's span is guessed from pushed samples, so its rate is approximate.
    let approx = |v: String| {
        if r.exact || v == "—" {
            v
        } else {
            format!("~{v}")
        }
    };
    vec![
        level_label(r),
        approx(rps(r.actual_rps)),
        seconds(r.p50_seconds),
        seconds(r.p95_seconds),
        seconds(r.p99_seconds),
        percent(r.success_ratio),
        count_and_share(r.errors, r.error_ratio),
        count_and_share(r.rate_limited, r.rate_limited_ratio),
        class,
        deciding_alerts(r),
    ]
}

/// The alerts that set the row's class (the breaking ones of a Breaking step), without the
/// common prefix; the report lists them all.
pub fn deciding_alerts(r: &StepRow) -> String {
    let worst: Vec<&str> = r
        .alerts
        .iter()
        .map(String::as_str)
        .filter(|a| {
            r.class() != crate::report::StepClass::Breaking
                || r.breaking_alerts.iter().any(|b| b == a)
        })
        .map(|a| a.strip_prefix("Redline").unwrap_or(a))
        .collect();
    worst.join(", ")
}

pub fn headers(unit: &str) -> Vec<String> {
    [
        level_header(unit).as_str(),
        "Actual RPS",
        "p50",
        "p95",
        "p99",
        "Success",
        "Errors",
        "Rate-limited",
        "Class",
        "Alerts",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn table(out: &mut String, head: &[String], rows: &[Vec<String>]) {
    let mut width: Vec<usize> = head.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            width[i] = width[i].max(c.chars().count());
        }
    }
    let line = |out: &mut String, cells: &[String]| {
        let mut s = String::from(" ");
        for (i, c) in cells.iter().enumerate() {
            let pad = width[i] - c.chars().count();
            s.push_str(&format!(" {c}{} |", " ".repeat(pad)));
        }
        let _ = writeln!(out, "{}", s.trim_end_matches('|').trim_end());
    };
    line(out, head);
    let rule: Vec<String> = width.iter().map(|w| "-".repeat(*w)).collect();
    line(out, &rule);
    for r in rows {
        line(out, r);
    }
}

pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let _ = write!(out, "redline verdict — testid {}", report.testid);
    if let (Some(f), Some(t)) = (report.from, report.to) {
        let _ = write!(
            out,
            " — {} .. {} ({:.0} s)",
            fmt_time(f),
            fmt_time(t),
            t - f
        );
    }
    let _ = writeln!(out, "\nPrometheus: {}\n", report.prometheus);

    let mut scenarios: Vec<&str> = report.steps.iter().map(|s| s.scenario.as_str()).collect();
    scenarios.dedup();
    for sc in &scenarios {
        let rows: Vec<&StepRow> = report.steps.iter().filter(|r| r.scenario == *sc).collect();
        let unit = rows.first().map(|r| r.unit.as_str()).unwrap_or("");
        let name = if sc.is_empty() { "(no scenario)" } else { sc };
        let _ = writeln!(out, "Scenario {name}");
        let cells: Vec<Vec<String>> = rows.iter().map(|r| cells(r)).collect();
        table(&mut out, &headers(unit), &cells);
        if rows.iter().any(|r| !r.exact && r.actual_rps.is_some()) {
            let _ = writeln!(
                out,
                "  ~ the generator does not record its steps' start and end: the span, and so the RPS, is taken from the first and last pushed sample (approximate by up to a push interval at each end)."
            );
        }
        let _ = writeln!(out);
    }
    for f in &report.findings {
        let name = if f.scenario.is_empty() {
            "(no scenario)"
        } else {
            &f.scenario
        };
        let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "—".into());
        let _ = writeln!(out, "Findings ({name})");
        let _ = writeln!(
            out,
            "  Baseline ({}): p95 = {}, success = {}",
            dash(&f.baseline),
            seconds(f.baseline_p95_seconds),
            percent(f.baseline_success_ratio)
        );
        let _ = writeln!(
            out,
            "  Degradation starts at: {}",
            dash(&f.degradation_starts_at)
        );
        if f.saturation_point.is_some() {
            let _ = writeln!(out, "  Saturation point: {}", dash(&f.saturation_point));
        }
        let _ = writeln!(out, "  Breaking point: {}", dash(&f.breaking_point));
        let _ = writeln!(
            out,
            "  Recommended safe limit: {}",
            dash(&f.recommended_safe_limit)
        );
        if !f.note.is_empty() {
            let _ = writeln!(out, "  Note: {}", f.note);
        }
        let _ = writeln!(out);
    }
    if let Some(p) = &report.pods {
        let _ = writeln!(
            out,
            "RPS per pod (HPA {}, peak {:.0} Ready)",
            p.hpa, p.peak_replicas
        );
        for s in &p.steps {
            let _ = writeln!(
                out,
                "  {} {}: {} req/s on {:.1} pods = {} req/s per pod",
                s.scenario,
                s.step,
                s.actual_rps.map_or("—".into(), |v| format!("{v:.2}")),
                s.replicas,
                s.rps_per_pod.map_or("—".into(), |v| format!("{v:.2}"))
            );
        }
        let _ = writeln!(out, "  {}\n", p.note);
    }
    if !report.service_account_creation.is_empty() {
        let _ = writeln!(
            out,
            "ServiceAccount creation per step (redline tokens create)"
        );
        for s in &report.service_account_creation {
            let _ = writeln!(
                out,
                "  {}: {} ServiceAccounts, mean {}, p50 {}, p95 {}",
                s.step,
                fmt_count(s.service_accounts),
                seconds(s.mean_seconds),
                seconds(s.p50_seconds),
                seconds(s.p95_seconds)
            );
        }
        let _ = writeln!(out);
    }
    if let Some(inv) = &report.invalid {
        let _ = writeln!(
            out,
            "Invalid run: {} of {} requests got an HTTP response; dominant error: {} ({})\n",
            fmt_count(inv.responded),
            fmt_count(inv.requests),
            inv.dominant_error,
            fmt_count(inv.dominant_count)
        );
    }
    if !report.rules.is_empty() {
        let count = |o: RuleOutcome| report.rules.iter().filter(|r| r.outcome == o).count();
        let _ = writeln!(
            out,
            "Alert rules: {} loaded — {} passed, {} had no data, {} warned, {} failed, {} errored, {} not loaded",
            report.rules.len(),
            count(RuleOutcome::Passed),
            count(RuleOutcome::NoData),
            count(RuleOutcome::Warned),
            count(RuleOutcome::Failed),
            count(RuleOutcome::Error),
            count(RuleOutcome::NotLoaded)
        );
    }
    for r in report
        .rules
        .iter()
        .filter(|r| r.outcome == RuleOutcome::NoData)
    {
        let _ = writeln!(out, "  [no data] {}: {}", r.rule.name, r.message);
    }
    for a in &report.alerts {
        let _ = writeln!(
            out,
            "  [{}] {} {}/{}: {}",
            a.verdict, a.alertname, a.scenario, a.step, a.summary
        );
    }
    for w in &report.warnings {
        let _ = writeln!(out, "Warning: {w}");
    }
    let _ = writeln!(
        out,
        "\nVERDICT: {} (exit {}) — {}",
        report.verdict.as_str(),
        report.verdict.exit_code(),
        report.reason
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_are_readable() {
        assert_eq!(seconds(Some(0.0975)), "98 ms");
        assert_eq!(seconds(Some(0.00246)), "2.5 ms");
        assert_eq!(seconds(Some(0.000246)), "246 µs");
        assert_eq!(seconds(Some(2.3456)), "2.35 s");
        assert_eq!(seconds(None), "—");
        assert_eq!(percent(Some(0.995)), "99.50%");
        assert_eq!(count_and_share(Some(3.0), Some(0.5)), "3 (50.00%)");
    }

    #[test]
    fn a_saturated_step_says_whether_its_latency_rose() {
        use crate::report::{StepClass, StepRow};
        let mut r = StepRow {
            class: Some(StepClass::Degraded),
            saturated: true,
            alerts: vec!["RedlineSaturated".into()],
            ..StepRow::default()
        };
        let class = |r: &StepRow| {
            cells(r)
                .into_iter()
                .find(|c| c.starts_with("Degraded"))
                .unwrap()
        };
        assert_eq!(class(&r), "Degraded (Saturated)");
        r.alerts.push(crate::steps::LATENCY_RISING_ALERT.into());
        assert_eq!(class(&r), "Degraded (Saturated, latency rising)");
    }

    #[test]
    fn columns_align() {
        let mut out = String::new();
        table(
            &mut out,
            &["a".into(), "bbb".into()],
            &[vec!["long cell".into(), "x".into()]],
        );
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 3);
        let bar = |l: &str| l.find('|').unwrap();
        assert_eq!(bar(lines[0]), bar(lines[2]));
        assert_eq!(bar(lines[1]), bar(lines[2]));
    }
}
