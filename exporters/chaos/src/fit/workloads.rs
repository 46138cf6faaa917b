//! Workloads and their per-pod requests and limits, from manifest files or the cluster,
//! through one extraction so both give the same numbers.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{FitError, quantity};
use crate::selector::Selector;

/// One workload's pod: what the scheduler reserves (requests) and the cap (limits).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Workload {
    pub kind: String,
    pub name: String,
    pub replicas: u64,
    pub cpu_request_millis: u64,
    pub memory_request_bytes: u64,
    /// None when a container has no limit: the pod is unbounded.
    pub cpu_limit_millis: Option<u64>,
    pub memory_limit_bytes: Option<u64>,
    #[serde(skip)]
    pub labels: BTreeMap<String, String>,
}

/// Where a document came from, for error messages.
#[derive(Debug, Clone)]
pub struct Origin {
    pub file: PathBuf,
    /// First line of the document (1-based).
    pub line: usize,
    /// The document's text, to find the line of a bad value.
    pub text: String,
}

impl Origin {
    fn line_of(&self, needle: &str) -> usize {
        self.text
            .lines()
            .position(|l| !needle.is_empty() && l.contains(needle))
            .map_or(self.line, |i| self.line + i)
    }

    fn error(&self, field: String, needle: &str, message: String) -> FitError {
        FitError::Manifest {
            file: self.file.clone(),
            line: self.line_of(needle),
            field,
            message,
        }
    }
}

const KINDS: &[&str] = &["Deployment", "StatefulSet", "DaemonSet"];

/// The sum over containers, or the largest init container if that is more; restartable
/// init containers (sidecars) run alongside and add to the sum. This is the scheduler's
/// "effective request" of a pod.
fn pod_resources(
    spec: &Value,
    kind: &str,
    resource: &str,
    parse: fn(&str) -> Result<u64, String>,
    origin: Option<&Origin>,
    path: &str,
) -> Result<Option<u64>, FitError> {
    let mut sum = Some(0u64);
    let mut init_max = Some(0u64);
    for list in ["containers", "initContainers"] {
        let Some(cs) = spec.get(list).and_then(Value::as_array) else {
            continue;
        };
        for (i, c) in cs.iter().enumerate() {
            let res = c.get("resources");
            let read = |which: &str| -> Result<Option<u64>, FitError> {
                let Some(v) = res.and_then(|r| r.get(which)).and_then(|r| r.get(resource)) else {
                    return Ok(None);
                };
                let raw = match v {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    other => other.to_string(),
                };
                parse(&raw).map(Some).map_err(|message| {
                    let field = format!("{path}.{list}[{i}].resources.{which}.{resource}");
                    match origin {
                        Some(o) => o.error(field, &raw, message),
                        None => FitError::Cluster {
                            object: field,
                            message,
                        },
                    }
                })
            };
            let value = match kind {
                // A container with a limit but no request is given the limit as request.
                "requests" => match read("requests")? {
                    Some(v) => Some(v),
                    None => Some(read("limits")?.unwrap_or(0)),
                },
                _ => read("limits")?,
            };
            let sidecar = list == "initContainers"
                && c.get("restartPolicy").and_then(Value::as_str) == Some("Always");
            if list == "containers" || sidecar {
                sum = sum.zip(value).map(|(a, b)| a + b);
            } else {
                init_max = init_max.zip(value).map(|(a, b)| a.max(b));
            }
        }
    }
    Ok(sum.zip(init_max).map(|(s, i)| s.max(i)))
}

/// A workload from one object, or None for kinds that are not workloads.
pub fn extract(
    obj: &Value,
    daemonset_nodes: u64,
    origin: Option<&Origin>,
) -> Result<Option<Workload>, FitError> {
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or_default();
    if !KINDS.contains(&kind) {
        return Ok(None);
    }
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .map(str::to_string);
    let object = format!("{}/{}", kind.to_lowercase(), name.as_deref().unwrap_or("?"));
    let fail = |field: &str, needle: &str, message: String| match origin {
        Some(o) => o.error(format!("{object}: {field}"), needle, message),
        None => FitError::Cluster {
            object: format!("{object}: {field}"),
            message,
        },
    };
    let Some(name) = name else {
        return Err(fail("metadata.name", "", "missing".into()));
    };
    let replicas = match kind {
        "DaemonSet" => daemonset_nodes,
        _ => match obj.pointer("/spec/replicas") {
            None | Some(Value::Null) => 1,
            Some(v) => v.as_u64().ok_or_else(|| {
                fail(
                    "spec.replicas",
                    "replicas:",
                    format!("{v} is not a non-negative integer"),
                )
            })?,
        },
    };
    let Some(spec) = obj.pointer("/spec/template/spec") else {
        return Err(fail("spec.template.spec", "", "missing".into()));
    };
    let path = format!("{object}: spec.template.spec");
    let cpu = |k| pod_resources(spec, k, "cpu", quantity::cpu_millis, origin, &path);
    let mem = |k| pod_resources(spec, k, "memory", quantity::bytes, origin, &path);
    Ok(Some(Workload {
        kind: kind.to_string(),
        labels: obj
            .pointer("/metadata/labels")
            .and_then(|l| serde_json::from_value(l.clone()).ok())
            .unwrap_or_default(),
        cpu_request_millis: cpu("requests")?.unwrap_or(0),
        memory_request_bytes: mem("requests")?.unwrap_or(0),
        cpu_limit_millis: cpu("limits")?,
        memory_limit_bytes: mem("limits")?,
        name,
        replicas,
    }))
}

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

/// Every workload in the manifests; objects of another namespace are skipped.
pub fn from_manifests(
    path: &Path,
    namespace: Option<&str>,
    daemonset_nodes: u64,
) -> Result<Vec<Workload>, FitError> {
    let mut out = Vec::new();
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
                if let (Some(want), Some(ns)) = (namespace, ns)
                    && want != ns
                {
                    continue;
                }
                if let Some(w) = extract(&obj, daemonset_nodes, Some(&origin))? {
                    out.push(w);
                }
            }
        }
    }
    Ok(out)
}

/// Every workload of a namespace in the cluster. Kinds the server does not serve (404)
/// are skipped.
pub async fn from_cluster(
    client: &kube::Client,
    namespace: &str,
    daemonset_nodes: u64,
) -> Result<Vec<Workload>, FitError> {
    use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
    use kube::api::{Api, ListParams};

    async fn list<K>(client: &kube::Client, ns: &str) -> Result<Vec<Value>, FitError>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
            + Clone
            + serde::de::DeserializeOwned
            + serde::Serialize
            + std::fmt::Debug,
        K::DynamicType: Default,
    {
        let api: Api<K> = Api::namespaced(client.clone(), ns);
        match api.list(&ListParams::default()).await {
            Ok(l) => Ok(l
                .items
                .iter()
                .filter_map(|o| {
                    let mut v = serde_json::to_value(o).ok()?;
                    // Listed items carry no kind.
                    v["kind"] = Value::String(K::kind(&K::DynamicType::default()).to_string());
                    Some(v)
                })
                .collect()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(Vec::new()),
            Err(e) => Err(FitError::Kube(e)),
        }
    }
    let mut objs = list::<Deployment>(client, namespace).await?;
    objs.extend(list::<StatefulSet>(client, namespace).await?);
    objs.extend(list::<DaemonSet>(client, namespace).await?);
    let mut out = Vec::new();
    for o in objs {
        if let Some(w) = extract(&o, daemonset_nodes, None)? {
            out.push(w);
        }
    }
    Ok(out)
}

/// Keeps the workloads whose own labels match.
pub fn select(workloads: Vec<Workload>, selector: &Selector) -> Vec<Workload> {
    workloads
        .into_iter()
        .filter(|w| selector.matches(&w.labels))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn effective_requests_follow_the_scheduler() {
        let obj = json!({
            "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": 2, "template": {"spec": {
                "initContainers": [
                    {"name": "migrate", "resources": {"requests": {"cpu": "2", "memory": "64Mi"}}},
                    {"name": "proxy", "restartPolicy": "Always", "resources": {"requests": {"cpu": "100m"}, "limits": {"cpu": "200m", "memory": "32Mi"}}},
                ],
                "containers": [
                    {"name": "app", "resources": {"limits": {"cpu": "500m", "memory": "256Mi"}}},
                    {"name": "log", "resources": {"requests": {"cpu": "50m", "memory": "16Mi"}}},
                ],
            }}},
        });
        let w = extract(&obj, 1, None).unwrap().unwrap();
        assert_eq!(w.replicas, 2);
        // max(2000m init, 500 + 50 + 100 sidecar) = 2000m
        assert_eq!(w.cpu_request_millis, 2000);
        // max(64Mi init, 256 (limit as request) + 16 + 32 (sidecar, limit as request)) = 304Mi
        assert_eq!(w.memory_request_bytes, 304 << 20);
        // the log container has no limit: unbounded
        assert_eq!(w.cpu_limit_millis, None);
        let ds = json!({"kind": "DaemonSet", "metadata": {"name": "agent"},
            "spec": {"template": {"spec": {"containers": [{"name": "a"}]}}}});
        assert_eq!(extract(&ds, 3, None).unwrap().unwrap().replicas, 3);
        assert_eq!(extract(&json!({"kind": "Service"}), 1, None).unwrap(), None);
    }

    #[test]
    fn bad_quantities_name_file_field_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("app.yaml");
        std::fs::write(
            &f,
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n      - name: app\n        resources:\n          requests:\n            cpu: lots\n",
        )
        .unwrap();
        let err = from_manifests(&f, None, 1).unwrap_err().to_string();
        assert!(err.contains("app.yaml:16"), "{err}");
        assert!(
            err.contains("deployment/web: spec.template.spec.containers[0].resources.requests.cpu"),
            "{err}"
        );
        std::fs::write(&f, "kind: Deployment\nmetadata: [\n").unwrap();
        let err = from_manifests(&f, None, 1).unwrap_err().to_string();
        assert!(err.contains("app.yaml:"), "{err}");
    }
}
