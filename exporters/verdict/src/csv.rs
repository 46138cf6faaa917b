//! The step table as CSV (`--csv`), one row per step, for the spreadsheets Locust users
//! keep (the KubeServe seed reads `load_test_results_*.csv`). Numbers are plain (seconds,
//! ratios 0..1, requests/s), empty when unknown; the replica columns are filled when the
//! run has `redline hpa-watch` series.

use serde::Serialize;

use crate::report::Report;

#[derive(Serialize)]
struct Row<'a> {
    scenario: &'a str,
    step: &'a str,
    unit: &'a str,
    level: Option<f64>,
    start_unix_seconds: f64,
    end_unix_seconds: f64,
    requests: Option<f64>,
    actual_rps: Option<f64>,
    p50_seconds: Option<f64>,
    p95_seconds: Option<f64>,
    p99_seconds: Option<f64>,
    success_ratio: Option<f64>,
    errors: Option<f64>,
    error_ratio: Option<f64>,
    rate_limited: Option<f64>,
    rate_limited_ratio: Option<f64>,
    class: &'a str,
    alerts: String,
    ready_replicas: Option<f64>,
    rps_per_pod: Option<f64>,
}

pub fn render(report: &Report) -> String {
    let mut w = ::csv::Writer::from_writer(Vec::new());
    for r in &report.steps {
        let pods = report.pods.as_ref().and_then(|p| {
            p.steps
                .iter()
                .find(|s| s.scenario == r.scenario && s.step == r.step)
        });
        w.serialize(Row {
            scenario: &r.scenario,
            step: &r.step,
            unit: &r.unit,
            level: r.level,
            start_unix_seconds: r.start,
            end_unix_seconds: r.end,
            requests: r.requests,
            actual_rps: r.actual_rps,
            p50_seconds: r.p50_seconds,
            p95_seconds: r.p95_seconds,
            p99_seconds: r.p99_seconds,
            success_ratio: r.success_ratio,
            errors: r.errors,
            error_ratio: r.error_ratio,
            rate_limited: r.rate_limited,
            rate_limited_ratio: r.rate_limited_ratio,
            class: r.class().as_str(),
            alerts: r.alerts.join(" "),
            ready_replicas: pods.map(|p| p.replicas),
            rps_per_pod: pods.and_then(|p| p.rps_per_pod),
        })
        .expect("a row of plain values serialises");
    }
    if report.steps.is_empty() {
        // The header alone still says what a row would hold.
        w.write_record([
            "scenario",
            "step",
            "unit",
            "level",
            "start_unix_seconds",
            "end_unix_seconds",
            "requests",
            "actual_rps",
            "p50_seconds",
            "p95_seconds",
            "p99_seconds",
            "success_ratio",
            "errors",
            "error_ratio",
            "rate_limited",
            "rate_limited_ratio",
            "class",
            "alerts",
            "ready_replicas",
            "rps_per_pod",
        ])
        .expect("header");
    }
    String::from_utf8(w.into_inner().expect("in-memory writer")).expect("UTF-8 in, UTF-8 out")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{PodScaling, PodStep, StepClass, StepRow};

    #[test]
    fn one_row_per_step_with_quoting_and_replicas() {
        let mut report = Report::new("t1", "http://prom");
        report.steps = vec![
            StepRow {
                scenario: "kubeserve".into(),
                step: "5".into(),
                unit: "vus".into(),
                level: Some(5.0),
                start: 100.0,
                end: 340.0,
                requests: Some(720.0),
                actual_rps: Some(3.0),
                p95_seconds: Some(0.0625),
                success_ratio: Some(1.0),
                class: Some(StepClass::Healthy),
                ..Default::default()
            },
            StepRow {
                scenario: "a, \"quoted\" one".into(),
                step: "10".into(),
                class: Some(StepClass::Breaking),
                alerts: vec![
                    "RedlineErrorRateBreaking".into(),
                    "RedlineLatencyBreaking".into(),
                ],
                ..Default::default()
            },
        ];
        report.pods = Some(PodScaling {
            hpa: "user-1/kubeserve".into(),
            steps: vec![PodStep {
                scenario: "kubeserve".into(),
                step: "5".into(),
                level: Some(5.0),
                actual_rps: Some(3.0),
                replicas: 1.5,
                rps_per_pod: Some(2.0),
            }],
            peak_replicas: 2.0,
            rps_grows_with_pods: None,
            note: String::new(),
        });
        let text = render(&report);
        let mut r = ::csv::Reader::from_reader(text.as_bytes());
        let head: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
        assert_eq!(head.len(), 20);
        let rows: Vec<Vec<String>> = r
            .records()
            .map(|x| x.unwrap().iter().map(String::from).collect())
            .collect();
        assert_eq!(rows.len(), 2);
        let col = |row: &Vec<String>, name: &str| {
            row[head.iter().position(|h| h == name).unwrap()].clone()
        };
        assert_eq!(col(&rows[0], "actual_rps"), "3.0");
        assert_eq!(col(&rows[0], "p95_seconds"), "0.0625");
        assert_eq!(col(&rows[0], "p50_seconds"), "");
        assert_eq!(col(&rows[0], "ready_replicas"), "1.5");
        assert_eq!(col(&rows[0], "rps_per_pod"), "2.0");
        assert_eq!(col(&rows[0], "class"), "Healthy");
        assert_eq!(col(&rows[1], "scenario"), "a, \"quoted\" one");
        assert_eq!(
            col(&rows[1], "alerts"),
            "RedlineErrorRateBreaking RedlineLatencyBreaking"
        );
        assert_eq!(col(&rows[1], "ready_replicas"), "");
        // No steps: the header alone.
        let empty = render(&Report::new("t2", "http://prom"));
        assert_eq!(empty.lines().count(), 1);
        assert!(empty.starts_with("scenario,step,unit,level,"));
    }
}
