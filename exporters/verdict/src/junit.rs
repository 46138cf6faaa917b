//! JUnit XML: one test suite for the run, one test case per alert rule (passed, failed, or
//! passed with the warning in `system-out`), plus a `run` case that errors when the run
//! could not be judged or was invalid — so CI shows why, instead of an empty suite.

use std::fmt::Write;

use crate::report::{Report, RuleOutcome, Verdict, fmt_time};

pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 cannot carry at all.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

pub fn render(report: &Report) -> String {
    let failures = report
        .rules
        .iter()
        .filter(|r| r.outcome == RuleOutcome::Failed)
        .count();
    let errors = report
        .rules
        .iter()
        .filter(|r| matches!(r.outcome, RuleOutcome::Error | RuleOutcome::NotLoaded))
        .count()
        + usize::from(matches!(
            report.verdict,
            Verdict::CouldNotEvaluate | Verdict::Invalid | Verdict::Unjudged
        ));
    // A rule that saw no data was not run: skipped, never a pass.
    let skipped = report
        .rules
        .iter()
        .filter(|r| r.outcome == RuleOutcome::NoData)
        .count();
    let tests = report.rules.len() + 1;
    let duration = match (report.from, report.to) {
        (Some(f), Some(t)) => t - f,
        _ => 0.0,
    };
    let mut x = String::new();
    let _ = writeln!(x, r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    let _ = writeln!(
        x,
        r#"<testsuites name="redline verdict" tests="{tests}" failures="{failures}" errors="{errors}" time="{duration:.3}">"#
    );
    let _ = writeln!(
        x,
        r#"  <testsuite name="redline.{}" tests="{tests}" failures="{failures}" errors="{errors}" skipped="{skipped}" time="{duration:.3}" timestamp="{}">"#,
        escape(&report.testid),
        report.from.map(fmt_time).unwrap_or_default()
    );
    let _ = writeln!(x, "    <properties>");
    for (k, v) in [
        ("testid", report.testid.clone()),
        ("prometheus", report.prometheus.clone()),
        ("verdict", report.verdict.as_str().to_string()),
        ("exit_code", report.verdict.exit_code().to_string()),
    ] {
        let _ = writeln!(x, r#"      <property name="{k}" value="{}"/>"#, escape(&v));
    }
    let _ = writeln!(x, "    </properties>");

    // The run as a whole: valid and judgeable.
    let _ = write!(
        x,
        r#"    <testcase classname="redline.run" name="run judged""#
    );
    match report.verdict {
        Verdict::CouldNotEvaluate | Verdict::Invalid | Verdict::Unjudged => {
            let kind = match report.verdict {
                Verdict::Invalid => "invalid",
                Verdict::Unjudged => "unjudged",
                _ => "could-not-evaluate",
            };
            let _ = writeln!(
                x,
                ">\n      <error type=\"{kind}\" message=\"{}\"/>\n    </testcase>",
                escape(&report.reason)
            );
        }
        _ => {
            let _ = writeln!(x, "/>");
        }
    }

    for r in &report.rules {
        let classname = format!("redline.alerts.{}", r.rule.group);
        let _ = write!(
            x,
            r#"    <testcase classname="{}" name="{}" time="0""#,
            escape(&classname),
            escape(&r.rule.name)
        );
        let body = match r.outcome {
            RuleOutcome::Passed => None,
            RuleOutcome::NoData => Some(format!(
                "      <skipped message=\"{}\"/>",
                escape(&r.message)
            )),
            RuleOutcome::Failed => Some(format!(
                "      <failure type=\"{}\" message=\"{} fired {} time(s) ({})\">{}</failure>",
                escape(&r.rule.severity),
                escape(&r.rule.name),
                r.fired,
                escape(&r.rule.verdict),
                escape(&r.message)
            )),
            RuleOutcome::Warned => Some(format!(
                "      <system-out>WARN ({}): {}</system-out>",
                escape(&r.rule.severity),
                escape(&r.message)
            )),
            RuleOutcome::Error | RuleOutcome::NotLoaded => Some(format!(
                "      <error type=\"{}\" message=\"{}\"/>",
                if r.outcome == RuleOutcome::Error {
                    "rule-error"
                } else {
                    "not-loaded"
                },
                escape(&r.message)
            )),
        };
        match body {
            None => {
                let _ = writeln!(x, "/>");
            }
            Some(b) => {
                let _ = writeln!(x, ">\n{b}\n    </testcase>");
            }
        }
    }
    let _ = writeln!(x, "  </testsuite>");
    let _ = writeln!(x, "</testsuites>");
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_control_characters() {
        assert_eq!(
            escape(r#"<a & "b">'"#),
            "&lt;a &amp; &quot;b&quot;&gt;&apos;"
        );
        assert_eq!(escape("x\u{1}y\nz"), "x?y\nz");
    }
}
