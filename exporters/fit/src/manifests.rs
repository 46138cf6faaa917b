//! Workloads from manifest files: a file or a directory of `.yaml`/`.yml`/`.json`, YAML
//! streams split at `---`, `List`s opened; each document keeps its file and first line so
//! that a bad value is reported as `file:line: field: message`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::FitError;
use crate::scope::Scope;
use crate::workloads::{Origin, Workload, extract, is_workload};

/// Files of a directory (sorted; `.yaml`, `.yml`, `.json`) or the file itself.
fn manifest_files(path: &Path) -> Result<Vec<PathBuf>, FitError> {
    let io = |source| FitError::Read {
        path: path.to_path_buf(),
        source,
    };
    if !path.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(io)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && p.extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"))
        })
        .collect();
    files.sort();
    Ok(files)
}

/// Splits a YAML stream at `---` lines, keeping each document's first line number.
fn documents(text: &str) -> Vec<(usize, String)> {
    let mut docs = Vec::new();
    let mut cur = String::new();
    let mut start = 1;
    for (i, line) in text.lines().enumerate() {
        if line.trim_end() == "---" || line.starts_with("--- ") {
            if !cur.trim().is_empty() {
                docs.push((start, std::mem::take(&mut cur)));
            }
            cur.clear();
            start = i + 2;
            continue;
        }
        cur.push_str(line);
        cur.push('\n');
    }
    if !cur.trim().is_empty() {
        docs.push((start, cur));
    }
    docs
}

/// The workloads of the manifests that are in scope, and how many were left out, by
/// namespace (so that a run that counts nothing can say why).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FromManifests {
    pub workloads: Vec<Workload>,
    pub skipped: BTreeMap<String, usize>,
}

/// Every workload in the manifests; objects of a namespace out of `scope` are skipped.
pub fn from_manifests(
    path: &Path,
    scope: &Scope,
    daemonset_nodes: u64,
) -> Result<FromManifests, FitError> {
    let mut out = FromManifests::default();
    for file in manifest_files(path)? {
        let text = std::fs::read_to_string(&file).map_err(|source| FitError::Read {
            path: file.clone(),
            source,
        })?;
        for (line, doc) in documents(&text) {
            let value: Value = serde_norway::from_str(&doc).map_err(|e| FitError::Manifest {
                file: file.clone(),
                line: line + e.location().map_or(0, |l| l.line().saturating_sub(1)),
                field: "(document)".into(),
                message: e.to_string(),
            })?;
            let origin = Origin {
                file: file.clone(),
                line,
                text: doc.clone(),
            };
            let items = match value.get("kind").and_then(Value::as_str) {
                Some("List") => value
                    .get("items")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default(),
                _ => vec![value],
            };
            for obj in items {
                let ns = obj.pointer("/metadata/namespace").and_then(Value::as_str);
                if !scope.admits(ns) {
                    if let Some(ns) = ns.filter(|_| is_workload(&obj)) {
                        *out.skipped.entry(ns.to_string()).or_default() += 1;
                    }
                    continue;
                }
                if let Some(w) = extract(&obj, daemonset_nodes, Some(&origin))? {
                    out.workloads.push(w);
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_quantities_name_file_field_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("app.yaml");
        std::fs::write(
            &f,
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n      - name: app\n        resources:\n          requests:\n            cpu: lots\n",
        )
        .unwrap();
        let err = from_manifests(&f, &Scope::All, 1).unwrap_err().to_string();
        assert!(err.contains("app.yaml:16"), "{err}");
        assert!(
            err.contains("deployment/web: spec.template.spec.containers[0].resources.requests.cpu"),
            "{err}"
        );
        std::fs::write(&f, "kind: Deployment\nmetadata: [\n").unwrap();
        let err = from_manifests(&f, &Scope::All, 1).unwrap_err().to_string();
        assert!(err.contains("app.yaml:"), "{err}");
    }
}
