//! Checks for `dashboards/*.json` and `alerts/*.yml` against the metric catalogue.
//!
//! Every PromQL query a dashboard panel, template variable or annotation runs, and every
//! `expr` of an alerting or recording rule, is parsed with `promql-parser` (after Grafana's
//! variables are replaced by legal values) and each series it selects must be known to
//! [`redline_catalogue::lookup`] or listed in [`redline_catalogue::rules::EXTERNAL`].
//! The functions return the problems they find as text, so a test can show all of them at once.

use promql_parser::label::METRIC_NAME;
use promql_parser::parser::{self, Expr};
use redline_catalogue::{Kind, rules};
use serde::Deserialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

pub mod promtool;
pub mod reads;

/// Template variables every dashboard must define.
pub const REQUIRED_VARIABLES: &[&str] = &["datasource", "testid", "scenario", "step"];

/// The repository root (two levels above this crate).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Files in `dir` whose name ends with `ext`, sorted.
pub fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.to_string_lossy().ends_with(ext))
        .collect();
    out.sort();
    out
}

/// Replaces Grafana's variables with values PromQL accepts: interval variables by
/// durations, every other `$var`, `${var}`, `${var:fmt}` or `[[var]]` by `1` (legal both
/// inside a quoted matcher value and where a number is expected).
pub fn substitute_grafana_vars(expr: &str) -> String {
    let mut s = expr.to_string();
    for (var, value) in [
        ("__rate_interval_ms", "60000"),
        ("__interval_ms", "60000"),
        ("__range_ms", "3600000"),
        ("__range_s", "3600"),
        ("__rate_interval", "1m"),
        ("__interval", "1m"),
        ("__range", "1h"),
    ] {
        s = s
            .replace(&format!("${{{var}}}"), value)
            .replace(&format!("${var}"), value);
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s.as_str();
    while let Some(i) = rest.find(['$', '[']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        // `${var...}` and `[[var]]`: the whole bracketed variable, or the rest as it is when
        // it is never closed.
        let bracketed = [("${", "}"), ("[[", "]]")]
            .into_iter()
            .find_map(|(open, close)| Some((tail.strip_prefix(open)?, close)));
        if let Some((inner, close)) = bracketed {
            match inner.find(close) {
                Some(end) => {
                    out.push('1');
                    rest = &inner[end + close.len()..];
                }
                None => {
                    out.push_str(tail);
                    rest = "";
                }
            }
        } else if let Some(after) = tail.strip_prefix('$') {
            let name_len = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            out.push(if name_len == 0 { '$' } else { '1' });
            rest = &after[name_len..];
        } else {
            out.push('[');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    out
}

/// The PromQL inside a Grafana variable query: `label_values(expr, label)` and
/// `query_result(expr)` yield `expr`; `label_values(label)`, `label_names()`, `metrics()` and
/// plain lists yield nothing. Anything else is taken as PromQL.
pub fn variable_promql(query: &str) -> Option<String> {
    let q = query.trim();
    if let Some(inner) = q
        .strip_prefix("label_values(")
        .and_then(|r| r.strip_suffix(')'))
    {
        // the label is after the last comma that is outside braces/parentheses/quotes
        let (mut depth, mut quoted, mut split) = (0i32, false, None);
        for (i, c) in inner.char_indices() {
            match c {
                '"' => quoted = !quoted,
                '(' | '{' | '[' if !quoted => depth += 1,
                ')' | '}' | ']' if !quoted => depth -= 1,
                ',' if !quoted && depth == 0 => split = Some(i),
                _ => {}
            }
        }
        return split.map(|i| inner[..i].trim().to_string());
    }
    if let Some(inner) = q
        .strip_prefix("query_result(")
        .and_then(|r| r.strip_suffix(')'))
    {
        return Some(inner.to_string());
    }
    if q.starts_with("label_names(") || q.starts_with("metrics(") || q.is_empty() {
        return None;
    }
    Some(q.to_string())
}

/// One series a query selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selected {
    pub metric: String,
    /// Whether the selector has a matcher on `testid`.
    pub has_testid: bool,
}

/// Parses `expr` (already free of Grafana variables) and lists the series it selects.
pub fn selected(expr: &str) -> Result<Vec<Selected>, String> {
    let ast = parser::parse(expr)?;
    let mut out = Vec::new();
    walk(&ast, &mut out)?;
    Ok(out)
}

fn walk(e: &Expr, out: &mut Vec<Selected>) -> Result<(), String> {
    match e {
        Expr::Aggregate(a) => {
            walk(&a.expr, out)?;
            if let Some(p) = &a.param {
                walk(p, out)?;
            }
        }
        Expr::Unary(u) => walk(&u.expr, out)?,
        Expr::Binary(b) => {
            walk(&b.lhs, out)?;
            walk(&b.rhs, out)?;
        }
        Expr::Paren(p) => walk(&p.expr, out)?,
        Expr::Subquery(s) => walk(&s.expr, out)?,
        Expr::VectorSelector(vs) => out.push(vector_selector(vs)?),
        Expr::MatrixSelector(ms) => out.push(vector_selector(&ms.vs)?),
        Expr::Call(c) => {
            for a in &c.args.args {
                walk(a, out)?;
            }
        }
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
    Ok(())
}

fn vector_selector(vs: &promql_parser::parser::VectorSelector) -> Result<Selected, String> {
    let matchers = vs
        .matchers
        .matchers
        .iter()
        .chain(vs.matchers.or_matchers.iter().flatten());
    let mut name = vs.name.clone();
    let mut has_testid = false;
    for m in matchers {
        if m.name == METRIC_NAME && name.is_none() {
            name = Some(m.value.clone());
        }
        has_testid |= m.name == "testid";
    }
    let metric = name.ok_or_else(|| format!("selector without a metric name: {vs}"))?;
    Ok(Selected { metric, has_testid })
}

/// Whether `metric` is catalogued (including histogram suffixes) or a known external series.
pub fn known_metric(metric: &str) -> bool {
    redline_catalogue::lookup(metric).is_some() || rules::EXTERNAL.iter().any(|m| m.name == metric)
}

/// Checks one query; `need_testid` also requires every selector to filter on `testid`.
pub fn check_query(origin: &str, query: &str, need_testid: bool) -> Vec<String> {
    let expr = substitute_grafana_vars(query);
    match selected(&expr) {
        Err(e) => vec![format!("{origin}: does not parse ({e}): {query}")],
        Ok(sel) => {
            // Cluster state from outside (kube-state-metrics) carries no testid; a panel may
            // read it only joined to a series of the run, which ties it to the run.
            let joined_to_run = sel.iter().any(|s| s.has_testid);
            sel.into_iter()
                .flat_map(|s| {
                    let mut p = Vec::new();
                    if !known_metric(&s.metric) {
                        p.push(format!(
                            "{origin}: unknown metric {} (not in the catalogue): {query}",
                            s.metric
                        ));
                    }
                    let external = rules::EXTERNAL.iter().any(|m| m.name == s.metric);
                    if need_testid && !s.has_testid && !(external && joined_to_run) {
                        p.push(format!(
                            "{origin}: {} is not filtered by testid: {query}",
                            s.metric
                        ));
                    }
                    p
                })
                .collect()
        }
    }
}

/// One PromQL query a dashboard runs, as written (Grafana variables and all).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DashboardQuery {
    /// `dashboard.json: panel "Title"`, `... variable "step"`, `... annotation "Run"`.
    pub origin: String,
    pub query: String,
    /// Panel and annotation queries must filter every selector by `testid`; variables need not.
    pub need_testid: bool,
}

/// Every PromQL query in a dashboard: template variables, panel targets, annotations.
pub fn dashboard_queries(name: &str, d: &Value) -> Vec<DashboardQuery> {
    let mut out = Vec::new();
    for v in d["templating"]["list"].as_array().into_iter().flatten() {
        if v["type"] != "query" {
            continue;
        }
        let q = match &v["query"] {
            Value::String(s) => s.clone(),
            Value::Object(o) => o
                .get("query")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            _ => String::new(),
        };
        if let Some(promql) = variable_promql(&q) {
            out.push(DashboardQuery {
                origin: format!("{name}: variable {}", v["name"]),
                query: promql,
                need_testid: false,
            });
        }
    }
    visit_panels(&d["panels"], &mut |p| {
        let title = p["title"].as_str().unwrap_or("?");
        for t in p["targets"].as_array().into_iter().flatten() {
            if let Some(expr) = t["expr"].as_str() {
                out.push(DashboardQuery {
                    origin: format!("{name}: panel {title:?}"),
                    query: expr.to_string(),
                    need_testid: true,
                });
            }
        }
    });
    for a in d["annotations"]["list"].as_array().into_iter().flatten() {
        if let Some(expr) = a["expr"].as_str().or_else(|| a["target"]["expr"].as_str()) {
            out.push(DashboardQuery {
                origin: format!("{name}: annotation {}", a["name"]),
                query: expr.to_string(),
                need_testid: true,
            });
        }
    }
    out
}

/// Every problem in one dashboard.
pub fn check_dashboard(name: &str, json: &str) -> Vec<String> {
    let d: Value = match serde_json::from_str(json) {
        Ok(v) => v,
        Err(e) => return vec![format!("{name}: not JSON: {e}")],
    };
    let mut problems = Vec::new();
    for key in ["uid", "title", "schemaVersion", "panels", "templating"] {
        if d.get(key).is_none() {
            problems.push(format!("{name}: no {key}"));
        }
    }
    let vars: Vec<&Value> = d["templating"]["list"]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    for required in REQUIRED_VARIABLES {
        if !vars.iter().any(|v| v["name"] == *required) {
            problems.push(format!("{name}: no template variable {required}"));
        }
    }
    for v in &vars {
        if v["name"] == "datasource" && v["query"] != "prometheus" {
            problems.push(format!(
                "{name}: variable datasource is not of type prometheus"
            ));
        }
    }
    for q in dashboard_queries(name, &d) {
        problems.extend(check_query(&q.origin, &q.query, q.need_testid));
    }
    let mut panels = 0;
    visit_panels(&d["panels"], &mut |p| {
        panels += 1;
        let title = p["title"].as_str().unwrap_or("?");
        let targets = p["targets"].as_array().cloned().unwrap_or_default();
        if p["type"] != "row" && targets.is_empty() {
            problems.push(format!("{name}: panel {title:?} has no query"));
        }
        for t in &targets {
            if t["expr"].as_str().is_none() {
                problems.push(format!("{name}: panel {title:?} has a target without expr"));
            }
        }
        for ds in [&p["datasource"]]
            .into_iter()
            .chain(targets.iter().map(|t| &t["datasource"]))
        {
            if !ds.is_null() && ds["uid"] != "${datasource}" {
                problems.push(format!(
                    "{name}: panel {title:?} does not use the datasource variable"
                ));
            }
        }
    });
    if panels == 0 {
        problems.push(format!("{name}: no panels"));
    }
    problems
}

fn visit_panels(panels: &Value, f: &mut dyn FnMut(&Value)) {
    for p in panels.as_array().into_iter().flatten() {
        f(p);
        visit_panels(&p["panels"], f);
    }
}

/// A Prometheus rule file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleFile {
    pub groups: Vec<RuleGroup>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleGroup {
    pub name: String,
    #[serde(default)]
    pub interval: Option<String>,
    pub rules: Vec<Rule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    #[serde(default)]
    pub record: Option<String>,
    #[serde(default)]
    pub alert: Option<String>,
    pub expr: String,
    #[serde(default, rename = "for")]
    pub for_: Option<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

/// What a set of rule files defines.
#[derive(Debug, Default)]
pub struct Rules {
    pub alerts: BTreeSet<String>,
    pub records: BTreeSet<String>,
    pub problems: Vec<String>,
}

/// Checks one rule file and adds what it defines to `acc`.
pub fn check_rule_file(name: &str, yaml: &str, acc: &mut Rules) {
    let file: RuleFile = match serde_norway::from_str(yaml) {
        Ok(f) => f,
        Err(e) => {
            acc.problems.push(format!("{name}: not a rule file: {e}"));
            return;
        }
    };
    for g in &file.groups {
        for r in &g.rules {
            let what = r.alert.as_deref().or(r.record.as_deref()).unwrap_or("?");
            let origin = format!("{name}: {}/{what}", g.name);
            acc.problems.extend(check_query(&origin, &r.expr, false));
            match (&r.alert, &r.record) {
                (Some(alert), None) => {
                    if !acc.alerts.insert(alert.clone()) {
                        acc.problems.push(format!("{origin}: alert defined twice"));
                    }
                    let severity = r.labels.get("severity").map(String::as_str);
                    let verdict = r.labels.get("redline_verdict").map(String::as_str);
                    match (severity, verdict) {
                        (Some("degraded"), Some("warn")) | (Some("breaking"), Some("fail")) => {}
                        other => acc.problems.push(format!(
                            "{origin}: severity/redline_verdict must be degraded/warn or breaking/fail, got {other:?}"
                        )),
                    }
                    match r.annotations.get("summary") {
                        Some(s) if s.contains("$labels") || s.contains("$value") => {}
                        Some(_) => acc
                            .problems
                            .push(format!("{origin}: summary uses neither $labels nor $value")),
                        None => acc
                            .problems
                            .push(format!("{origin}: no summary annotation")),
                    }
                }
                (None, Some(record)) => {
                    acc.records.insert(record.clone());
                    match redline_catalogue::lookup(record) {
                        Some(m) if m.kind == Kind::Recorded => {}
                        _ => acc.problems.push(format!(
                            "{origin}: recorded series {record} is not catalogued as Kind::Recorded"
                        )),
                    }
                }
                _ => acc.problems.push(format!(
                    "{origin}: a rule needs exactly one of alert and record"
                )),
            }
        }
    }
}

/// For a promtool test file: alert name → (has a case where it fires, has a case where it does not).
pub fn promtool_cases(yaml: &str) -> Result<BTreeMap<String, (bool, bool)>, String> {
    let v: serde_norway::Value = serde_norway::from_str(yaml).map_err(|e| e.to_string())?;
    let mut out: BTreeMap<String, (bool, bool)> = BTreeMap::new();
    for t in v["tests"].as_sequence().into_iter().flatten() {
        for case in t["alert_rule_test"].as_sequence().into_iter().flatten() {
            let name = case["alertname"]
                .as_str()
                .ok_or("alert_rule_test without alertname")?;
            let fires = case["exp_alerts"]
                .as_sequence()
                .is_some_and(|s| !s.is_empty());
            let entry = out.entry(name.to_string()).or_default();
            if fires {
                entry.0 = true;
            } else {
                entry.1 = true;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
