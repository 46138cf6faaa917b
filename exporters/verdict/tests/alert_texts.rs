//! Alert texts keep their numbers: the verdict renders an alert's summary as Prometheus
//! renders it. Checked against a real Prometheus: every pipeline alerts/ uses, on values of
//! every magnitude, rendered by Prometheus itself (`/api/v1/alerts`) and by the verdict.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use redline_testkit_prometheus::{Options, Prometheus};

/// The pipelines used in alerts/*.yml.
const PIPES: &[&str] = &[
    "",
    " | humanize",
    " | humanize1024",
    " | humanizePercentage",
    " | humanizeDuration",
    " | printf \"%.2f\"",
];

const VALUES: &[f64] = &[
    0.0, 0.0126, 0.5, 1.0, 2.4, 42.0, 125.0, 4000.0, 78164.0, 90061.0, 1234567.0, 0.00001234,
    9999.5,
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn summaries_render_their_values_as_prometheus_does() {
    let dir = tempfile::tempdir().unwrap();
    let mut rules = String::from("groups:\n  - name: texts\n    rules:\n");
    let mut want = 0;
    for (i, v) in VALUES.iter().enumerate() {
        for (j, pipe) in PIPES.iter().enumerate() {
            let summary = format!("{{{{ $labels.case }}}}: {{{{ $value{pipe} }}}} seen");
            rules.push_str(&format!(
                "      - alert: Text{i}x{j}\n        expr: label_replace(vector({v:e}), \"case\", \"c{i}-{j}\", \"\", \"\")\n        annotations:\n          summary: '{}'\n",
                summary.replace('\'', "''")
            ));
            want += 1;
        }
    }
    let file = dir.path().join("texts.yml");
    std::fs::write(&file, &rules).unwrap();
    let prom = Prometheus::start_with(Options {
        rule_files: vec![file],
        evaluation_interval: Duration::from_secs(1),
        ..Default::default()
    })
    .await
    .expect("prometheus");

    // Bounded wait until every alert is active.
    let deadline = Instant::now() + Duration::from_secs(30);
    let alerts = loop {
        let v = prom.api("alerts", &[]).await.unwrap();
        let a = v["data"]["alerts"].as_array().cloned().unwrap_or_default();
        if a.len() >= want || Instant::now() > deadline {
            break a;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(alerts.len(), want, "alerts active in Prometheus");
    let mut checked = 0;
    for a in &alerts {
        let name = a["labels"]["alertname"].as_str().unwrap();
        let (i, j) = name
            .trim_start_matches("Text")
            .split_once('x')
            .map(|(i, j)| (i.parse::<usize>().unwrap(), j.parse::<usize>().unwrap()))
            .unwrap();
        let labels: BTreeMap<String, String> = serde_json::from_value(a["labels"].clone()).unwrap();
        let value: f64 = a["value"].as_str().unwrap().parse().unwrap();
        assert_eq!(value, VALUES[i]);
        let template = format!("{{{{ $labels.case }}}}: {{{{ $value{} }}}} seen", PIPES[j]);
        let ours = redline_verdict::template::render(&template, &labels, Some(value));
        let theirs = a["annotations"]["summary"].as_str().unwrap();
        assert_eq!(ours, theirs, "value {} through {:?}", VALUES[i], PIPES[j]);
        checked += 1;
    }
    assert_eq!(checked, want);
}
