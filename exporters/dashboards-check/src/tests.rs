use super::*;

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn name(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

fn repo_rules() -> Rules {
    let mut acc = Rules::default();
    for f in files(&repo_root().join("alerts"), ".yml") {
        check_rule_file(&format!("alerts/{}", name(&f)), &read(&f), &mut acc);
    }
    acc
}

fn assert_clean(problems: &[String]) {
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn every_dashboard_is_clean() {
    let dashboards = files(&repo_root().join("dashboards"), ".json");
    let names: Vec<String> = dashboards.iter().map(|p| name(p)).collect();
    let shipped = [
        "overview.json",
        "http-load.json",
        "destination-fanout.json",
        "activator-pprof.json",
        "chaos.json",
        "maas.json",
    ];
    let missing: Vec<_> = shipped
        .iter()
        .filter(|s| !names.contains(&s.to_string()))
        .collect();
    assert!(missing.is_empty(), "missing from dashboards/: {missing:?}");
    let mut problems = Vec::new();
    let mut uids = BTreeSet::new();
    for f in &dashboards {
        let text = read(f);
        problems.extend(check_dashboard(&name(f), &text));
        let v: Value = serde_json::from_str(&text).unwrap();
        assert!(
            uids.insert(v["uid"].as_str().unwrap().to_string()),
            "{}: uid reused",
            name(f)
        );
        assert!(
            v["schemaVersion"].as_u64().unwrap() >= 36,
            "{}: old schema",
            name(f)
        );
    }
    assert_clean(&problems);
}

#[test]
fn overview_shows_the_verdict_alerts() {
    let text = read(&repo_root().join("dashboards/overview.json"));
    assert!(
        text.contains("ALERTS{alertstate=\\\"firing\\\", redline_verdict!=\\\"\\\""),
        "overview must list verdict alerts"
    );
}

#[test]
fn every_rule_is_clean() {
    let rules = repo_rules();
    assert_clean(&rules.problems);
    assert!(
        rules.alerts.len() >= 30,
        "only {} alerts",
        rules.alerts.len()
    );
}

#[test]
fn recorded_series_and_catalogue_agree() {
    let rules = repo_rules();
    let catalogued: BTreeSet<String> = rules::ALL.iter().map(|m| m.name.to_string()).collect();
    let not_recorded: Vec<_> = catalogued.difference(&rules.records).collect();
    assert!(
        not_recorded.is_empty(),
        "catalogued as recorded but no rule records them: {not_recorded:?}"
    );
    let not_catalogued: Vec<_> = rules.records.difference(&catalogued).collect();
    assert!(
        not_catalogued.is_empty(),
        "recorded but not in exporters/catalogue/metrics/rules.toml: {not_catalogued:?}"
    );
}

#[test]
fn every_alert_has_a_firing_and_a_quiet_promtool_case() {
    let rules = repo_rules();
    let mut cases: BTreeMap<String, (bool, bool)> = BTreeMap::new();
    for f in files(&repo_root().join("alerts/tests"), ".yml") {
        for (alert, (fires, quiet)) in
            promtool_cases(&read(&f)).unwrap_or_else(|e| panic!("{}: {e}", name(&f)))
        {
            let e = cases.entry(alert).or_default();
            e.0 |= fires;
            e.1 |= quiet;
        }
    }
    let mut missing = Vec::new();
    for alert in &rules.alerts {
        match cases.get(alert) {
            Some((true, true)) => {}
            Some((fires, _)) => missing.push(format!(
                "{alert}: {}",
                if *fires {
                    "no quiet case"
                } else {
                    "no firing case"
                }
            )),
            None => missing.push(format!("{alert}: no promtool case")),
        }
    }
    for tested in cases.keys() {
        if !rules.alerts.contains(tested) {
            missing.push(format!("{tested}: tested but not defined"));
        }
    }
    assert_clean(&missing);
}

#[test]
fn provisioning_points_grafana_at_the_dashboards() {
    let root = repo_root().join("dashboards/provisioning");
    let d: serde_norway::Value =
        serde_norway::from_str(&read(&root.join("dashboards.yaml"))).unwrap();
    assert_eq!(d["apiVersion"].as_u64(), Some(1));
    assert_eq!(d["providers"][0]["type"].as_str(), Some("file"));
    assert!(d["providers"][0]["options"]["path"].as_str().is_some());
    let s: serde_norway::Value =
        serde_norway::from_str(&read(&root.join("datasources.yaml"))).unwrap();
    assert_eq!(s["datasources"][0]["type"].as_str(), Some("prometheus"));
}

// ---- the checks can fail ----

const GOOD_PANEL: &str = r#"{"id":1,"type":"timeseries","title":"ok","datasource":{"type":"prometheus","uid":"${datasource}"},
  "targets":[{"refId":"A","expr":"sum(rate(k6_http_reqs_total{testid=~\"$testid\"}[$__rate_interval]))"}]}"#;

fn dashboard(panels: &str, annotation_expr: &str) -> String {
    format!(
        r#"{{"uid":"t","title":"t","schemaVersion":39,
        "templating":{{"list":[{{"name":"datasource","type":"datasource","query":"prometheus"}},
          {{"name":"testid","type":"query","query":{{"query":"label_values(k6_http_reqs_total, testid)"}}}},
          {{"name":"scenario","type":"query","query":"label_values(k6_vus{{testid=~\"$testid\"}}, scenario)"}},
          {{"name":"step","type":"query","query":"label_values(step)"}}]}},
        "annotations":{{"list":[{{"name":"a","expr":"{annotation_expr}"}}]}},
        "panels":[{{"id":9,"type":"row","title":"r","panels":[{panels}]}}]}}"#
    )
}

#[test]
fn a_clean_synthetic_dashboard_passes() {
    let d = dashboard(GOOD_PANEL, r#"ALERTS{testid=~\"$testid\"}"#);
    assert_clean(&check_dashboard("t.json", &d));
}

#[test]
fn unknown_metric_in_a_dashboard_is_reported() {
    let bad = GOOD_PANEL.replace("k6_http_reqs_total", "k6_http_reqz_total");
    let problems = check_dashboard("t.json", &dashboard(&bad, r#"ALERTS{testid=~\"$testid\"}"#));
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].contains("unknown metric k6_http_reqz_total"),
        "{problems:?}"
    );
    let problems = check_dashboard(
        "t.json",
        &dashboard(GOOD_PANEL, r#"redline_nope{testid=~\"$testid\"}"#),
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("annotation") && p.contains("redline_nope")),
        "{problems:?}"
    );
    let problems = check_dashboard(
        "t.json",
        &dashboard(GOOD_PANEL, "x").replace("label_values(k6_vus{", "label_values(k6_vuz{"),
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("variable") && p.contains("k6_vuz")),
        "{problems:?}"
    );
}

#[test]
fn missing_testid_filter_variable_and_bad_promql_are_reported() {
    let unfiltered = GOOD_PANEL.replace(r#"{testid=~\"$testid\"}"#, "");
    let problems = check_dashboard(
        "t.json",
        &dashboard(&unfiltered, r#"ALERTS{testid=~\"$testid\"}"#),
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("not filtered by testid")),
        "{problems:?}"
    );

    let broken = GOOD_PANEL.replace("sum(rate(", "sum(rate((");
    let problems = check_dashboard(
        "t.json",
        &dashboard(&broken, r#"ALERTS{testid=~\"$testid\"}"#),
    );
    assert!(
        problems.iter().any(|p| p.contains("does not parse")),
        "{problems:?}"
    );

    let no_step = dashboard(GOOD_PANEL, r#"ALERTS{testid=~\"$testid\"}"#)
        .replace(r#""name":"step""#, r#""name":"stop""#);
    let problems = check_dashboard("t.json", &no_step);
    assert!(
        problems
            .iter()
            .any(|p| p.contains("no template variable step")),
        "{problems:?}"
    );
}

#[test]
fn rule_problems_are_reported() {
    let yaml = r#"
groups:
  - name: g
    rules:
      - record: redline:not_in_catalogue
        expr: sum(k6_vus)
      - alert: Unknown
        expr: redline_no_such_series > 0
        labels: {severity: breaking, redline_verdict: fail}
        annotations: {summary: "{{ $value }}"}
      - alert: NoVerdict
        expr: k6_vus > 0
        labels: {severity: breaking}
        annotations: {summary: "{{ $labels.testid }}"}
      - alert: Mismatched
        expr: k6_vus > 0
        labels: {severity: degraded, redline_verdict: fail}
        annotations: {summary: "{{ $labels.testid }}"}
      - alert: NoSummary
        expr: k6_vus > 0
        labels: {severity: degraded, redline_verdict: warn}
"#;
    let mut acc = Rules::default();
    check_rule_file("t.yml", yaml, &mut acc);
    let p = acc.problems.join("\n");
    assert!(
        p.contains("redline:not_in_catalogue is not catalogued"),
        "{p}"
    );
    assert!(p.contains("unknown metric redline_no_such_series"), "{p}");
    assert!(p.contains("g/NoVerdict: severity/redline_verdict"), "{p}");
    assert!(p.contains("g/Mismatched: severity/redline_verdict"), "{p}");
    assert!(p.contains("g/NoSummary: no summary"), "{p}");
    assert_eq!(acc.problems.len(), 5, "{p}");
    assert_eq!(acc.alerts.len(), 4);
}

#[test]
fn grafana_variables_become_legal_promql() {
    let q = r#"histogram_quantile($q, sum by (le) (rate(k6_http_req_duration_seconds_bucket{testid=~"${testid:regex}", step=~"[[step]]"}[$__rate_interval]))) * $__range_s"#;
    let s = substitute_grafana_vars(q);
    assert_eq!(
        s,
        r#"histogram_quantile(1, sum by (le) (rate(k6_http_req_duration_seconds_bucket{testid=~"1", step=~"1"}[1m]))) * 3600"#
    );
    // A variable never closed is left as it is, and so is a range's bracket.
    for open in ["rate(up[5m]) [[step", "up{step=\"${step\"", "${step"] {
        assert_eq!(substitute_grafana_vars(open), open);
    }
    let sel = selected(&s).unwrap();
    assert_eq!(
        sel,
        vec![Selected {
            metric: "k6_http_req_duration_seconds_bucket".into(),
            has_testid: true
        }]
    );
    assert!(known_metric("k6_http_req_duration_seconds_bucket"));
    assert!(known_metric("container_memory_working_set_bytes"));
    assert!(known_metric("ALERTS"));
    assert!(!known_metric("k6_http_req_duration_seconds_bukket"));
}

#[test]
fn variable_queries_yield_their_promql() {
    assert_eq!(
        variable_promql(r#"label_values(k6_vus{testid=~"$testid", x=~"a,b"}, scenario)"#)
            .as_deref(),
        Some(r#"k6_vus{testid=~"$testid", x=~"a,b"}"#)
    );
    assert_eq!(variable_promql("label_values(testid)"), None);
    assert_eq!(
        variable_promql("query_result(max(k6_vus))").as_deref(),
        Some("max(k6_vus)")
    );
    assert_eq!(variable_promql("metrics(k6_.*)"), None);
}

#[test]
fn selectors_inside_every_construct_are_found() {
    let e = r#"max_over_time(a{testid="x"}[5m:1m]) / on () group_left () topk(1, -b) or sum(c offset 1m) and {__name__="d"}"#;
    let names: Vec<String> = selected(e).unwrap().into_iter().map(|s| s.metric).collect();
    assert_eq!(names, ["a", "b", "c", "d"]);
    assert!(
        selected(r#"{testid="x"}"#).is_err(),
        "a selector without a name must be refused"
    );
}

#[test]
fn promtool_cases_are_classified() {
    let yaml = r#"
tests:
  - input_series: []
    alert_rule_test:
      - {eval_time: 1m, alertname: A, exp_alerts: [{exp_labels: {x: y}}]}
      - {eval_time: 1m, alertname: B, exp_alerts: []}
      - {eval_time: 2m, alertname: B}
"#;
    let c = promtool_cases(yaml).unwrap();
    assert_eq!(c["A"], (true, false));
    assert_eq!(c["B"], (false, true));
}

/// Every dashboard query, as each Prometheus a user may run parses it.
fn all_dashboard_queries() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for f in files(&repo_root().join("dashboards"), ".json") {
        let d: Value = serde_json::from_str(&read(&f)).unwrap();
        out.extend(
            dashboard_queries(&name(&f), &d)
                .into_iter()
                .map(|q| (q.origin, q.query)),
        );
    }
    out
}

#[test]
fn every_dashboard_query_is_accepted_by_prometheus_2_and_3() {
    use redline_testkit_prometheus::{Receiver, promtool, skip_if_missing};
    let queries = all_dashboard_queries();
    assert!(queries.len() >= 100, "only {} queries", queries.len());
    let dir = tempfile::tempdir().unwrap();
    for receiver in [Receiver::Prometheus2, Receiver::Prometheus3] {
        let Some(tool) = skip_if_missing(promtool(receiver)).unwrap() else {
            continue;
        };
        if let Err(report) = promtool::check_queries(&tool, &queries, dir.path()) {
            panic!("{receiver} rejects dashboard queries:\n{report}");
        }
    }
}

/// The check is real on both sides: a function 3.x removed and one 2.42 lacks are each
/// rejected by exactly one of them, and the report names the panel.
#[test]
fn a_query_only_one_version_accepts_is_reported_with_its_panel() {
    use redline_testkit_prometheus::{Receiver, promtool, skip_if_missing};
    let d: Value = serde_json::from_str(&dashboard(
        r#"{"type":"timeseries","title":"Old","datasource":{"type":"prometheus","uid":"${datasource}"},
            "targets":[{"expr":"holt_winters(redline_http_reqs_total{testid=~\"$testid\"}[5m], 0.5, 0.5)"}]},
           {"type":"timeseries","title":"New","datasource":{"type":"prometheus","uid":"${datasource}"},
            "targets":[{"expr":"histogram_avg(rate(k6_http_req_duration_seconds{testid=~\"$testid\"}[$__rate_interval]))"}]}"#,
        "",
    ))
    .unwrap();
    let queries: Vec<(String, String)> = dashboard_queries("synthetic.json", &d)
        .into_iter()
        .filter(|q| q.origin.contains("panel"))
        .map(|q| (q.origin, q.query))
        .collect();
    assert_eq!(queries.len(), 2, "{queries:?}");
    let dir = tempfile::tempdir().unwrap();
    for (receiver, rejected, accepted) in [
        (Receiver::Prometheus2, "New", "Old"),
        (Receiver::Prometheus3, "Old", "New"),
    ] {
        let Some(tool) = skip_if_missing(promtool(receiver)).unwrap() else {
            continue;
        };
        let report = promtool::check_queries(&tool, &queries, dir.path()).unwrap_err();
        assert!(
            report.contains(&format!("synthetic.json: panel \"{rejected}\"")),
            "{receiver}: {report}"
        );
        assert!(
            !report.contains(&format!("panel \"{accepted}\"")),
            "{receiver}: {report}"
        );
    }
}

#[test]
fn external_series_need_a_join_to_the_run() {
    let joined = r#"max by (namespace, horizontalpodautoscaler) (kube_horizontalpodautoscaler_status_current_replicas) and on (namespace, horizontalpodautoscaler) max by (namespace, horizontalpodautoscaler) (redline_hpa_replicas{testid=~"$testid"})"#;
    assert_clean(&check_query("p", joined, true));
    let alone = "kube_horizontalpodautoscaler_status_current_replicas";
    let problems = check_query("p", alone, true);
    assert!(
        problems.len() == 1 && problems[0].contains("not filtered by testid"),
        "{problems:?}"
    );
    // A redline series must carry the testid itself, joined or not.
    let redline =
        r#"redline_hpa_replicas and on (namespace) redline_hpa_load_running{testid=~"$testid"}"#;
    assert_eq!(check_query("p", redline, true).len(), 1);
}

/// The README's "Which rule judges which seed criterion" maps each seed criterion to its rule
/// and the promtool file in which the rule fires: every rule it names exists and fires there,
/// and every alert rule is listed, so a rule cannot be added without saying what it judges,
/// nor the table name a dead judge.
#[test]
fn coverage_table_names_every_rule_and_where_it_fires() {
    let rules = repo_rules();
    let readme = read(&repo_root().join("README.md"));
    const HEADING: &str = "## Which rule judges which seed criterion\n";
    let start = readme
        .find(HEADING)
        .expect("the README has the coverage section")
        + HEADING.len();
    let text = match readme[start..].find("\n## ") {
        Some(end) => &readme[start..start + end],
        None => &readme[start..],
    };
    let mut listed = BTreeSet::new();
    let mut problems = Vec::new();
    for line in text.lines().filter(|l| l.starts_with("| ")) {
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        let Some(rule) = cells.iter().find(|c| c.starts_with("Redline")) else {
            continue;
        };
        listed.insert(rule.to_string());
        if !rules.alerts.contains(*rule) {
            problems.push(format!(
                "the coverage table names {rule}, which no rule file defines"
            ));
            continue;
        }
        let Some(file) = cells.iter().find(|c| c.starts_with("tests/")) else {
            problems.push(format!("the coverage table: {rule} has no test file"));
            continue;
        };
        let path = repo_root().join("alerts").join(file);
        let fires = std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| promtool_cases(&t).ok())
            .and_then(|c| c.get(*rule).map(|(fires, _)| *fires))
            .unwrap_or(false);
        if !fires {
            problems.push(format!(
                "the coverage table: {rule} does not fire in alerts/{file}"
            ));
        }
    }
    for alert in &rules.alerts {
        if !listed.contains(alert) {
            problems.push(format!("{alert} is not in the README's coverage table"));
        }
    }
    assert!(listed.len() >= 40, "only {} rules listed", listed.len());
    assert_clean(&problems);
}
