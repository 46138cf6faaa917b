//! Which series each alert rule and dashboard query reads, as Prometheus stores them
//! (`_bucket`, `_count` and all), each with the rules and panels that read it: the input of
//! the liveness test (exporters/e2e/tests/every_series_is_live.rs), which must find each one
//! in a real Prometheus or in the catalogue's external list. The rule files and dashboards are
//! read when called, so the test covers whatever `alerts/` and `dashboards/` hold then.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::{RuleFile, dashboard_queries, files, selected, substitute_grafana_vars};

/// Series name → the rules and panels that read it (`http-load.yml: http/RedlineX`,
/// `chaos.json: panel "Faults"`).
pub type Reads = BTreeMap<String, BTreeSet<String>>;

/// Every series read by the rules in `alerts_dir/*.yml` and the queries of
/// `dashboards_dir/*.json`. A file that does not parse is an error naming it: the static
/// checks (this crate's tests) say what is wrong with it.
pub fn series_read(alerts_dir: &Path, dashboards_dir: &Path) -> Result<Reads, String> {
    let mut reads = Reads::new();
    for path in files(alerts_dir, ".yml") {
        let name = file_name(&path);
        let text = read(&path)?;
        let file: RuleFile =
            serde_norway::from_str(&text).map_err(|e| format!("{name}: not a rule file: {e}"))?;
        for g in &file.groups {
            for r in &g.rules {
                let what = r.alert.as_deref().or(r.record.as_deref()).unwrap_or("?");
                add(&mut reads, &format!("{name}: {}/{what}", g.name), &r.expr)?;
            }
        }
    }
    for path in files(dashboards_dir, ".json") {
        let name = file_name(&path);
        let json: serde_json::Value =
            serde_json::from_str(&read(&path)?).map_err(|e| format!("{name}: not JSON: {e}"))?;
        for q in dashboard_queries(&name, &json) {
            add(&mut reads, &q.origin, &substitute_grafana_vars(&q.query))?;
        }
    }
    Ok(reads)
}

/// Recorded series → the expressions of the rules in `alerts_dir/*.yml` that record it.
pub fn recording_rules(alerts_dir: &Path) -> Result<BTreeMap<String, Vec<String>>, String> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for path in files(alerts_dir, ".yml") {
        let name = file_name(&path);
        let file: RuleFile = serde_norway::from_str(&read(&path)?)
            .map_err(|e| format!("{name}: not a rule file: {e}"))?;
        for r in file.groups.iter().flat_map(|g| &g.rules) {
            if let Some(record) = &r.record {
                out.entry(record.clone()).or_default().push(r.expr.clone());
            }
        }
    }
    Ok(out)
}

/// `expr` without its `offset` modifiers: what a rule that compares now with minutes ago
/// computes over data younger than its offset, so a test that runs for seconds can evaluate
/// it (a label join that never matches still returns nothing).
pub fn without_offsets(expr: &str) -> String {
    let mut out = String::with_capacity(expr.len());
    let mut rest = expr;
    while let Some(i) = rest.find("offset") {
        let (before, after) = rest.split_at(i);
        let word_start = before
            .chars()
            .next_back()
            .is_none_or(|c| c.is_whitespace() || c == ']' || c == '}' || c == ')');
        let tail = &after["offset".len()..];
        let duration = tail.trim_start();
        let spaced = duration.len() < tail.len();
        let len = duration
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .unwrap_or(duration.len());
        if word_start && spaced && len > 0 {
            out.push_str(before.trim_end());
            rest = &duration[len..];
        } else {
            out.push_str(before);
            out.push_str("offset");
            rest = tail;
        }
    }
    out.push_str(rest);
    out
}

fn add(reads: &mut Reads, origin: &str, expr: &str) -> Result<(), String> {
    for s in selected(expr).map_err(|e| format!("{origin}: does not parse ({e}): {expr}"))? {
        reads
            .entry(s.metric)
            .or_default()
            .insert(origin.to_string());
    }
    Ok(())
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_and_panels_are_listed_under_each_series_they_read() {
        let dir = tempfile::tempdir().unwrap();
        let (alerts, dashboards) = (dir.path().join("a"), dir.path().join("d"));
        std::fs::create_dir_all(&alerts).unwrap();
        std::fs::create_dir_all(&dashboards).unwrap();
        std::fs::write(
            alerts.join("x.yml"),
            "groups:\n- name: g\n  rules:\n  - record: 'r:x'\n    expr: sum(rate(a_total[1m])) / b\n  - alert: A\n    expr: r:x > 1\n",
        )
        .unwrap();
        std::fs::write(
            dashboards.join("d.json"),
            r#"{"panels":[{"title":"P","targets":[{"expr":"histogram_quantile(0.9, rate(h_bucket{testid=\"$testid\"}[$__rate_interval])) + a_total"}]}],
               "templating":{"list":[{"name":"step","type":"query","query":"label_values(c{testid=\"$testid\"}, step)"}]}}"#,
        )
        .unwrap();
        let reads = series_read(&alerts, &dashboards).unwrap();
        let got: Vec<(&str, Vec<&str>)> = reads
            .iter()
            .map(|(k, v)| (k.as_str(), v.iter().map(String::as_str).collect()))
            .collect();
        assert_eq!(
            got,
            [
                ("a_total", vec!["d.json: panel \"P\"", "x.yml: g/r:x"]),
                ("b", vec!["x.yml: g/r:x"]),
                ("c", vec!["d.json: variable \"step\""]),
                ("h_bucket", vec!["d.json: panel \"P\""]),
                ("r:x", vec!["x.yml: g/A"]),
            ]
        );
    }

    #[test]
    fn offsets_are_removed_and_nothing_else() {
        assert_eq!(
            without_offsets("min_over_time(x[5m]) / min_over_time(x[5m] offset 5m)"),
            "min_over_time(x[5m]) / min_over_time(x[5m])"
        );
        assert_eq!(
            without_offsets("a and on (t) (b offset 1m) + c{offset_label=\"1\"}"),
            "a and on (t) (b) + c{offset_label=\"1\"}"
        );
        assert_eq!(without_offsets("offsets_total"), "offsets_total");
    }

    #[test]
    fn a_query_that_does_not_parse_names_its_panel() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("d.json"),
            r#"{"panels":[{"title":"Broken","targets":[{"expr":"rate(x[1m]"}]}]}"#,
        )
        .unwrap();
        let err = series_read(dir.path(), dir.path()).unwrap_err();
        assert!(err.contains("d.json: panel \"Broken\""), "{err}");
    }
}
