//! Server-side apply of multi-document YAML (what `kubectl apply --server-side` does with a
//! rendered chart), field manager `redline-test`.

use std::collections::HashMap;

use kube::Api;
use kube::api::{DynamicObject, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::discovery::{ApiCapabilities, ApiResource, Scope, pinned_kind};

use crate::cluster::Cluster;
use crate::error::{Error, Result};

/// The field manager of everything tests apply.
pub const FIELD_MANAGER: &str = "redline-test";

/// One YAML document and the line it starts on (1-based).
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub number: usize,
    pub line: usize,
    pub value: serde_json::Value,
}

impl Cluster {
    /// Applies every object in `yaml` (documents separated by `---`; empty ones skipped)
    /// with server-side apply, forcing conflicts, as [`FIELD_MANAGER`]. Namespaced objects
    /// without `metadata.namespace` go to `namespace`. Returns the objects as the server
    /// stored them, in order; stops at the first one the server refuses.
    pub async fn apply_yaml(
        &self,
        namespace: Option<&str>,
        yaml: &str,
    ) -> Result<Vec<DynamicObject>> {
        let mut kinds: HashMap<GroupVersionKind, (ApiResource, ApiCapabilities)> = HashMap::new();
        let mut applied = Vec::new();
        for doc in documents(yaml)? {
            let at = |message: String| Error::Yaml {
                document: doc.number,
                line: doc.line,
                message,
            };
            let field = |name: &str| {
                doc.value
                    .pointer(name)
                    .and_then(|v| v.as_str())
                    .map(str::to_string)
                    .ok_or_else(|| {
                        at(format!(
                            "{} is missing or not a string",
                            &name[1..].replace('/', ".")
                        ))
                    })
            };
            let api_version = field("/apiVersion")?;
            let kind = field("/kind")?;
            let name = field("/metadata/name")?;
            let (group, version) = api_version.split_once('/').unwrap_or(("", &api_version));
            let gvk = GroupVersionKind::gvk(group, version, &kind);
            if !kinds.contains_key(&gvk) {
                let found = pinned_kind(&self.client, &gvk)
                    .await
                    .map_err(|e| at(format!("{api_version} {kind}: {e}")))?;
                kinds.insert(gvk.clone(), found);
            }
            let (resource, capabilities) = &kinds[&gvk];
            let api: Api<DynamicObject> = match capabilities.scope {
                Scope::Cluster => Api::all_with(self.client(), resource),
                Scope::Namespaced => {
                    let ns = doc
                        .value
                        .pointer("/metadata/namespace")
                        .and_then(|v| v.as_str())
                        .or(namespace);
                    let ns = ns.ok_or_else(|| {
                        at(format!("{kind} {name}: namespaced, and no namespace given"))
                    })?;
                    Api::namespaced_with(self.client(), ns, resource)
                }
            };
            let params = PatchParams::apply(FIELD_MANAGER).force();
            let stored = api
                .patch(&name, &params, &Patch::Apply(&doc.value))
                .await
                .map_err(|e| at(format!("{kind} {name}: {e}")))?;
            applied.push(stored);
        }
        Ok(applied)
    }
}

/// Splits multi-document YAML at `---` lines and parses each non-empty document.
pub fn documents(yaml: &str) -> Result<Vec<Document>> {
    let mut out = Vec::new();
    let mut chunk = String::new();
    let mut chunk_line = 1;
    let mut number = 0;
    let mut flush = |chunk: &mut String, line: usize, out: &mut Vec<Document>| -> Result<()> {
        number += 1;
        let text = std::mem::take(chunk);
        let value: serde_json::Value = serde_norway::from_str(&text).map_err(|e| Error::Yaml {
            document: number,
            line: line + e.location().map_or(0, |l| l.line().saturating_sub(1)),
            message: e.to_string(),
        })?;
        if !value.is_null() {
            out.push(Document {
                number,
                line,
                value,
            });
        }
        Ok(())
    };
    for (index, line) in yaml.lines().enumerate() {
        if line == "---" || line.starts_with("--- ") || line == "..." {
            flush(&mut chunk, chunk_line, &mut out)?;
            chunk_line = index + 2;
        } else {
            chunk.push_str(line);
            chunk.push('\n');
        }
    }
    flush(&mut chunk, chunk_line, &mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_documents_and_keeps_their_lines() {
        let docs = documents("---\na: 1\n---\n# only a comment\n---\nb:\n  c: 2\n").unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!((docs[0].number, docs[0].line), (2, 2));
        assert_eq!(docs[0].value["a"], 1);
        assert_eq!((docs[1].number, docs[1].line), (4, 6));
        assert_eq!(docs[1].value["b"]["c"], 2);
    }

    #[test]
    fn a_syntax_error_names_its_document_and_line() {
        let err = documents("a: 1\n---\nb: 2\nc: [unclosed\n").unwrap_err();
        match err {
            Error::Yaml { document, line, .. } => {
                assert_eq!(document, 2);
                assert!((4..=5).contains(&line), "line {line}");
            }
            other => panic!("{other}"),
        }
    }
}
