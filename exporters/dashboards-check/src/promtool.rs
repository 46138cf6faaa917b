//! Asking a real promtool whether it accepts a set of PromQL queries.
//!
//! `promql-parser` tells whether a query is PromQL, not which Prometheus accepts it: a function
//! Prometheus 3 removed (`holt_winters`) or one 2.42 does not know yet (`histogram_avg`) parses
//! here either way. So the queries go, as recording rules, through `promtool check rules` of each
//! Prometheus a user may run.

use std::path::Path;
use std::process::{Command, Stdio};

use serde::Serialize;

use crate::substitute_grafana_vars;

#[derive(Serialize)]
struct RuleFile<'a> {
    groups: [Group<'a>; 1],
}

#[derive(Serialize)]
struct Group<'a> {
    name: &'static str,
    rules: Vec<Record<'a>>,
}

#[derive(Serialize)]
struct Record<'a> {
    record: String,
    expr: &'a str,
}

/// The recording rule name the `i`th query gets, which promtool's messages name.
fn record_name(i: usize) -> String {
    format!("checked_query_{i}")
}

/// Runs `promtool check rules` over `queries` (`(origin, query)`, Grafana variables allowed)
/// in a rule file written to `dir`. `Err` holds promtool's complaint, each rule it names
/// followed by the origin of that query.
pub fn check_queries(
    promtool: &Path,
    queries: &[(String, String)],
    dir: &Path,
) -> Result<(), String> {
    let exprs: Vec<String> = queries
        .iter()
        .map(|(_, q)| substitute_grafana_vars(q))
        .collect();
    let file = RuleFile {
        groups: [Group {
            name: "checked-queries",
            rules: exprs
                .iter()
                .enumerate()
                .map(|(i, expr)| Record {
                    record: record_name(i),
                    expr,
                })
                .collect(),
        }],
    };
    let yaml = serde_norway::to_string(&file).map_err(|e| e.to_string())?;
    let path = dir.join("queries.yml");
    std::fs::write(&path, yaml).map_err(|e| format!("{}: {e}", path.display()))?;
    let out = Command::new(promtool)
        .args(["check", "rules"])
        .arg(&path)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", promtool.display()))?;
    if out.status.success() {
        return Ok(());
    }
    let mut report = format!(
        "{} check rules failed ({}):\n{}{}",
        promtool.display(),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // Both versions quote the rule's name, which keeps checked_query_1 apart from _12.
    for (i, (origin, query)) in queries.iter().enumerate() {
        let quoted = format!("{:?}", record_name(i));
        report = report.replace(&quoted, &format!("{quoted} [{origin}: {query}]"));
    }
    Err(report)
}
