//! The alert rules that judge a run: those Prometheus has loaded (`/api/v1/rules`) and,
//! with `--rules DIR`, those the run is meant to be judged by (alerts/*.yml).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::RuleFileError;
use crate::prom::RulesData;

/// An alert rule that carries a `redline_verdict` label.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AlertRule {
    pub name: String,
    pub group: String,
    pub file: String,
    pub severity: String,
    /// `warn` or `fail`.
    pub verdict: String,
    pub expr: String,
    /// `for:` in seconds.
    pub for_seconds: f64,
    pub summary: String,
    /// Prometheus' evaluation health (`ok`, `err`, `unknown`); empty for rules read from files.
    pub health: String,
    pub last_error: String,
}

/// The verdict rules Prometheus has loaded, and the longest group interval (seconds).
pub fn from_api(data: &RulesData) -> (Vec<AlertRule>, f64) {
    let mut out = Vec::new();
    let mut interval: f64 = 0.0;
    for g in &data.groups {
        interval = interval.max(g.interval);
        for r in &g.rules {
            if r.kind != "alerting" {
                continue;
            }
            let Some(verdict) = r.labels.get("redline_verdict") else {
                continue;
            };
            out.push(AlertRule {
                name: r.name.clone(),
                group: g.name.clone(),
                file: g.file.clone(),
                severity: r.labels.get("severity").cloned().unwrap_or_default(),
                verdict: verdict.clone(),
                expr: r.query.clone(),
                for_seconds: r.duration,
                summary: r.annotations.get("summary").cloned().unwrap_or_default(),
                health: r.health.clone(),
                last_error: r.last_error.clone(),
            });
        }
    }
    (out, interval)
}

#[derive(Deserialize)]
struct File {
    #[serde(default)]
    groups: Vec<Group>,
}

#[derive(Deserialize)]
struct Group {
    name: String,
    #[serde(default)]
    rules: Vec<Rule>,
}

#[derive(Deserialize)]
struct Rule {
    #[serde(default)]
    alert: Option<String>,
    #[serde(default)]
    expr: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    #[serde(default, rename = "for")]
    for_: Option<String>,
}

/// Reads every verdict alert rule of the `*.yml`/`*.yaml` files directly in `dir`.
pub fn read_dir(dir: &Path) -> Result<Vec<AlertRule>, RuleFileError> {
    let entries = std::fs::read_dir(dir).map_err(|source| RuleFileError::Dir {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file() && matches!(p.extension().and_then(|e| e.to_str()), Some("yml" | "yaml"))
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(RuleFileError::Empty(dir.to_path_buf()));
    }
    let mut out = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).map_err(|source| RuleFileError::Read {
            path: path.clone(),
            source,
        })?;
        out.extend(parse(&path, &text)?);
    }
    Ok(out)
}

pub fn parse(path: &Path, text: &str) -> Result<Vec<AlertRule>, RuleFileError> {
    let file: File = serde_norway::from_str(text).map_err(|e| RuleFileError::Parse {
        path: path.to_path_buf(),
        at: e
            .location()
            .map(|l| format!(" line {} column {}", l.line(), l.column()))
            .unwrap_or_default(),
        message: e.to_string(),
    })?;
    let mut out = Vec::new();
    for g in file.groups {
        for r in g.rules {
            let (Some(name), Some(verdict)) = (r.alert, r.labels.get("redline_verdict")) else {
                continue;
            };
            let for_seconds = match &r.for_ {
                Some(d) => humantime::parse_duration(d)
                    .map_err(|e| RuleFileError::Parse {
                        path: path.to_path_buf(),
                        at: format!(" (alert {name})"),
                        message: format!("for: {d:?}: {e}"),
                    })?
                    .as_secs_f64(),
                None => 0.0,
            };
            out.push(AlertRule {
                name,
                group: g.name.clone(),
                file: path.display().to_string(),
                severity: r.labels.get("severity").cloned().unwrap_or_default(),
                verdict: verdict.clone(),
                expr: r.expr,
                for_seconds,
                summary: r.annotations.get("summary").cloned().unwrap_or_default(),
                health: String::new(),
                last_error: String::new(),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_shipped_alert_rules() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../alerts");
        let rules = read_dir(&dir).unwrap();
        let names: Vec<_> = rules.iter().map(|r| r.name.as_str()).collect();
        assert!(names.contains(&"RedlineLatencyBreaking"), "{names:?}");
        assert!(names.contains(&"RedlineErrorRatioBreaking"), "{names:?}");
        for r in &rules {
            assert!(
                matches!(
                    (r.severity.as_str(), r.verdict.as_str()),
                    ("degraded", "warn") | ("breaking", "fail")
                ),
                "{} pairs {}/{}",
                r.name,
                r.severity,
                r.verdict
            );
        }
        // `for:` is read as seconds (RedlineSaturated keeps its 30 s in its expression now, so
        // that a step judged at its end need not wait; the heap judge still waits 15 minutes).
        let heap = rules
            .iter()
            .find(|r| r.name == "RedlineHeapGrowth")
            .unwrap();
        assert_eq!(heap.for_seconds, 900.0);
        let saturated = rules.iter().find(|r| r.name == "RedlineSaturated").unwrap();
        assert_eq!(saturated.for_seconds, 0.0);
    }

    #[test]
    fn bad_yaml_names_file_and_line() {
        let e = parse(
            Path::new("alerts/x.yml"),
            "groups:\n  - name: g\n    rules: [\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("alerts/x.yml") && e.contains("line"), "{e}");
    }
}
