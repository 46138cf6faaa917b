//! `tags:` on a scenario and on a request, like k6's: extra labels on that scenario's and that
//! request's series, end to end into a real Prometheus; and bad tags refused with the file,
//! the field and the line.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{run_yaml, write};
use redline_demo_target::TargetArgs;
use redline_http_load::{HttpLoadArgs, execute};
use redline_runtime::CommonArgs;
use redline_testkit_prometheus::Prometheus;

const TESTID: &str = "tags-e2e";

/// Label sets of `selector`'s series (the series API: the run has ended, so its series are
/// already stale for instant queries), `__name__` and `testid` left out.
async fn label_sets(prom: &Prometheus, selector: &str) -> Vec<BTreeMap<String, String>> {
    let v: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/api/v1/series", prom.url()))
        .form(&[("match[]", selector)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["data"]
        .as_array()
        .unwrap_or_else(|| panic!("{selector}: {v}"))
        .iter()
        .map(|s| {
            let mut m: BTreeMap<String, String> = serde_json::from_value(s.clone()).unwrap();
            m.remove("__name__");
            m.remove("testid");
            m
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_and_request_tags_are_labels_in_prometheus() {
    let prom = Prometheus::start().await.unwrap();
    let target = redline_demo_target::spawn(TargetArgs::ephemeral())
        .await
        .unwrap();
    let run = run_yaml(
        &target.url(),
        r#"
baseUrl: BASE
scenarios:
  tagged:
    executor: shared-iterations
    vus: 2
    iterations: 10
    tags: {team: blue, release: 2}
    requests:
      - {url: /health, name: health, tags: {component: probe, team: red}, checks: [{name: ok, status: [200]}]}
      - {url: "/autoscale?status=429", name: limited}
  plain:
    executor: shared-iterations
    vus: 1
    iterations: 2
    requests: [{url: /health, name: plain}]
"#,
        CommonArgs::for_test(&prom.write_url(), TESTID),
        |_| {},
    )
    .await;
    assert_eq!(
        run.outcome.summary.data["metrics"]["http_reqs"]["values"]["count"],
        22
    );
    let sel = |f: &str, m: &str| format!("{f}{{testid=\"{TESTID}\", {m}}}");
    // Everything is pushed before execute returns; allow Prometheus a moment to index it.
    for _ in 0..50 {
        if !label_sets(&prom, &sel("k6_iterations_total", "scenario=\"plain\""))
            .await
            .is_empty()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let want = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let has = |sets: &[BTreeMap<String, String>], family: &str, tags: &BTreeMap<String, String>| {
        assert!(!sets.is_empty(), "no {family} series");
        for s in sets {
            for (k, v) in tags {
                assert_eq!(s.get(k), Some(v), "{family}: {s:?} lacks {k}={v}");
            }
        }
    };
    let lacks = |sets: &[BTreeMap<String, String>], family: &str, keys: &[&str]| {
        assert!(!sets.is_empty(), "no {family} series");
        for s in sets {
            for k in keys {
                assert!(!s.contains_key(*k), "{family}: {s:?} has {k}");
            }
        }
    };

    // The request's own tags win over the scenario's; every per-request family carries them.
    let health = want(&[("team", "red"), ("component", "probe"), ("release", "2")]);
    for family in [
        "k6_http_reqs_total",
        "k6_http_req_duration_seconds",
        "k6_http_req_failed_rate",
        "k6_http_req_blocked_seconds",
        "k6_http_req_connecting_seconds",
        "k6_http_req_sending_seconds",
        "k6_http_req_waiting_seconds",
        "k6_http_req_receiving_seconds",
    ] {
        has(
            &label_sets(&prom, &sel(family, "name=\"health\"")).await,
            family,
            &health,
        );
    }
    // A request without tags of its own carries the scenario's.
    let scenario_tags = want(&[("team", "blue"), ("release", "2")]);
    for family in ["k6_http_reqs_total", "redline_http_rate_limited_total"] {
        let sets = label_sets(&prom, &sel(family, "name=\"limited\"")).await;
        has(&sets, family, &scenario_tags);
        lacks(&sets, family, &["component"]);
    }
    // Per-step series of the scenario carry the scenario's tags (as k6's do), not a request's.
    for family in [
        "k6_iterations_total",
        "k6_iteration_duration_seconds",
        "k6_data_sent_total",
        "k6_checks_rate",
        "k6_vus_max",
    ] {
        let sets = label_sets(&prom, &sel(family, "scenario=\"tagged\"")).await;
        has(&sets, family, &scenario_tags);
        lacks(&sets, family, &["component"]);
    }
    // Another scenario's series are untouched.
    for family in ["k6_http_reqs_total", "k6_iterations_total"] {
        let sets = label_sets(&prom, &sel(family, "scenario=\"plain\"")).await;
        lacks(&sets, family, &["team", "release", "component"]);
    }
}

#[tokio::test]
async fn bad_tags_name_the_file_field_and_line() {
    let dir = tempfile::tempdir().unwrap();
    for (yaml, field, line, says) in [
        (
            "scenarios:\n  s:\n    executor: shared-iterations\n    requests:\n      - url: http://127.0.0.1:1/\n        tags:\n          Bad-Key: x\n",
            "scenarios.s.requests.0.tags.Bad-Key",
            7,
            "not a Prometheus label name",
        ),
        (
            "scenarios:\n  s:\n    executor: shared-iterations\n    tags:\n      status: x\n    requests: [{url: 'http://127.0.0.1:1/'}]\n",
            "scenarios.s.tags.status",
            5,
            "one of redline's own labels",
        ),
        (
            // Flow style: the request's line.
            "scenarios:\n  s:\n    executor: shared-iterations\n    requests:\n      - {url: 'http://127.0.0.1:1/', tags: {user: '{{token}}'}}\n",
            "scenarios.s.requests.0.tags.user",
            5,
            "tag values are literals",
        ),
    ] {
        let path = write(&dir, "bad.yaml", yaml);
        let mut args = HttpLoadArgs::for_test(CommonArgs::default());
        args.scenario = Some(path.clone());
        let e = execute(args).await.expect_err("refused").to_string();
        assert!(
            e.starts_with(&format!("{}:{line}: {field}: ", path.display())),
            "{e}"
        );
        assert!(e.contains(says), "{e}");
    }
}
