//! Which rules had anything to judge: a rule whose input series the run never wrote did
//! not pass, it saw nothing ("no data"). Without this, every rule that did not fire read
//! as "passed", so an HTTP-only run reported the chaos, destination and fit rules as
//! passed, and a rule reading a label value nobody writes (token volume read
//! `redline_step_level{unit="tokens"}`) passed every run it was meant to judge.
//!
//! A rule's inputs are the series selectors of its expression (with their label matchers),
//! except the threshold series and the cluster's own series (cAdvisor, kube-state-metrics,
//! node-exporter, Authorino), which carry no testid. The rule has data when every one of
//! its inputs has a series under the run's testid in the window: an alert expression
//! compares its signals with thresholds and joins them with `and`, so one missing input is
//! enough to keep it from ever firing.

use std::collections::{BTreeMap, BTreeSet};

use promql_parser::label::METRIC_NAME;
use promql_parser::parser::{self, Expr, VectorSelector};

use crate::prom::{PromClient, PromError, quote};
use crate::rules::AlertRule;

/// Series of the cluster, not of the run: they carry no testid, so their absence under a
/// testid says nothing.
const CLUSTER_PREFIXES: [&str; 6] = ["container_", "kube_", "node_", "authorino_", "ALERTS", "up"];

/// The run's input selectors of a rule expression, as PromQL with a `testid` matcher
/// added, e.g. `{__name__="redline:step_level",unit="tokens",testid="run-1"}`.
/// An expression that does not parse has no known inputs (Prometheus reports its error).
pub fn selectors(expr: &str, testid: &str) -> Vec<String> {
    let Ok(ast) = parser::parse(expr) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    walk(&ast, &mut found);
    let mut out = BTreeSet::new();
    for vs in found {
        let mut name = vs.name.clone();
        let mut matchers = Vec::new();
        for m in &vs.matchers.matchers {
            if m.name == METRIC_NAME {
                name.get_or_insert_with(|| m.value.clone());
                continue;
            }
            if m.name == "testid" {
                continue;
            }
            matchers.push(format!("{}{}{}", m.name, m.op, quote(&m.value)));
        }
        let Some(name) = name else { continue };
        if name.starts_with("redline:threshold:")
            || CLUSTER_PREFIXES.iter().any(|p| name.starts_with(p))
        {
            continue;
        }
        let mut all = vec![format!("__name__={}", quote(&name))];
        all.extend(matchers);
        all.push(format!("testid={}", quote(testid)));
        out.insert(format!("{{{}}}", all.join(",")));
    }
    out.into_iter().collect()
}

fn walk<'a>(e: &'a Expr, out: &mut Vec<&'a VectorSelector>) {
    match e {
        Expr::Aggregate(a) => {
            walk(&a.expr, out);
            if let Some(p) = &a.param {
                walk(p, out);
            }
        }
        Expr::Unary(u) => walk(&u.expr, out),
        Expr::Binary(b) => {
            walk(&b.lhs, out);
            walk(&b.rhs, out);
        }
        Expr::Paren(p) => walk(&p.expr, out),
        Expr::Subquery(s) => walk(&s.expr, out),
        Expr::VectorSelector(vs) => out.push(vs),
        Expr::MatrixSelector(ms) => out.push(&ms.vs),
        Expr::Call(c) => {
            for a in &c.args.args {
                walk(a, out);
            }
        }
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
}

/// For each rule, the inputs that had no series under the testid in `[from, to]`; rules
/// with every input present are left out. Each distinct selector is asked once.
pub async fn missing(
    client: &PromClient,
    testid: &str,
    rules: &[AlertRule],
    from: f64,
    to: f64,
    step: f64,
) -> Result<BTreeMap<String, Vec<String>>, PromError> {
    let mut seen: BTreeMap<String, bool> = BTreeMap::new();
    let mut out = BTreeMap::new();
    for rule in rules {
        let mut absent = Vec::new();
        for sel in selectors(&rule.expr, testid) {
            let present = match seen.get(&sel) {
                Some(p) => *p,
                None => {
                    let res = client
                        .query_range(&format!("count({sel})"), from, to, step)
                        .await?;
                    let p = res.iter().any(|s| !s.samples.is_empty());
                    seen.insert(sel.clone(), p);
                    p
                }
            };
            if !present {
                absent.push(sel);
            }
        }
        if !absent.is_empty() {
            out.insert(rule.name.clone(), absent);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_keep_their_matchers_and_drop_thresholds_and_cluster_series() {
        let expr = r#"(redline:http_req_duration_seconds:p95_drift and on (testid, scenario, step) redline:step_level{unit="tokens"})
            > on (scenario) group_left () redline:threshold:token_volume_drift_degraded
            or max(container_memory_working_set_bytes) > 0"#;
        assert_eq!(
            selectors(expr, "r\"1"),
            vec![
                r#"{__name__="redline:http_req_duration_seconds:p95_drift",testid="r\"1"}"#,
                r#"{__name__="redline:step_level",unit="tokens",testid="r\"1"}"#,
            ]
        );
    }

    #[test]
    fn every_shipped_alert_has_an_input_of_the_run() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../alerts");
        for rule in crate::rules::read_dir(&dir).unwrap() {
            assert!(
                !selectors(&rule.expr, "t").is_empty(),
                "{} reads no series of the run, so no data can never be told from passed",
                rule.name
            );
        }
    }
}
