//! Label and field selectors in the query-string form (`labelSelector=`,
//! `fieldSelector=`), and a Service's `spec.selector` map.

use std::collections::HashMap;

use serde_json::Value;

use crate::error::ApiError;

#[derive(Debug, Clone, PartialEq)]
enum Op {
    Eq(String),
    NotEq(String),
    In(Vec<String>),
    NotIn(Vec<String>),
    Exists,
    NotExists,
}

#[derive(Debug, Clone, PartialEq)]
struct Requirement {
    key: String,
    op: Op,
}

/// A parsed label selector. The empty selector matches everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelSelector {
    reqs: Vec<Requirement>,
    /// Set when built from an object that can never match (a Service without a selector).
    matches_nothing: bool,
}

impl LabelSelector {
    /// Parses the query-string form: `a=b,c!=d,e in (f,g),h notin (i),j,!k`.
    pub fn parse(s: &str) -> Result<Self, ApiError> {
        let mut reqs = Vec::new();
        for term in split_top_level(s) {
            let term = term.trim();
            if term.is_empty() {
                continue;
            }
            reqs.push(parse_requirement(term)?);
        }
        Ok(Self {
            reqs,
            matches_nothing: false,
        })
    }

    /// The `labelSelector` query parameter of a list or watch; absent selects everything.
    pub fn from_query(q: &HashMap<String, String>) -> Result<Self, ApiError> {
        from_query(q, "labelSelector", Self::parse)
    }

    /// A selector that requires every pair of `labels` (a Service's `spec.selector`).
    /// An empty or absent map selects nothing, as for Services.
    pub fn from_map(labels: Option<&Value>) -> Self {
        let reqs: Vec<Requirement> = labels
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| Requirement {
                        key: k.clone(),
                        op: Op::Eq(v.as_str().unwrap_or_default().to_string()),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let matches_nothing = reqs.is_empty();
        Self {
            reqs,
            matches_nothing,
        }
    }

    /// Matches against a label map (`metadata.labels`, possibly absent).
    pub fn matches(&self, labels: Option<&Value>) -> bool {
        if self.matches_nothing {
            return false;
        }
        let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
        self.reqs.iter().all(|r| match &r.op {
            Op::Eq(v) => get(&r.key) == Some(v.as_str()),
            Op::NotEq(v) => get(&r.key) != Some(v.as_str()),
            Op::In(vs) => get(&r.key).is_some_and(|x| vs.iter().any(|v| v == x)),
            Op::NotIn(vs) => get(&r.key).is_none_or(|x| vs.iter().all(|v| v != x)),
            Op::Exists => get(&r.key).is_some(),
            Op::NotExists => get(&r.key).is_none(),
        })
    }

    /// Matches an object by its `metadata.labels`.
    pub fn matches_object(&self, obj: &Value) -> bool {
        self.matches(obj.pointer("/metadata/labels"))
    }
}

/// Splits on commas that are not inside `( )`.
fn split_top_level(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

fn parse_requirement(term: &str) -> Result<Requirement, ApiError> {
    let bad = || ApiError::bad_request(format!("unable to parse requirement: {term:?}"));
    if let Some(key) = term.strip_prefix('!') {
        return Ok(Requirement {
            key: key.trim().to_string(),
            op: Op::NotExists,
        });
    }
    if let Some((k, v)) = term.split_once("!=") {
        return Ok(Requirement {
            key: k.trim().to_string(),
            op: Op::NotEq(v.trim().to_string()),
        });
    }
    if let Some((k, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
        return Ok(Requirement {
            key: k.trim().to_string(),
            op: Op::Eq(v.trim().to_string()),
        });
    }
    // Set-based forms: `key in (a,b)` / `key notin (a,b)`.
    if let Some(open) = term.find('(') {
        let close = term.rfind(')').ok_or_else(bad)?;
        let head: Vec<&str> = term[..open].split_whitespace().collect();
        let values: Vec<String> = term[open + 1..close]
            .split(',')
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect();
        return match head.as_slice() {
            [key, "in"] => Ok(Requirement {
                key: key.to_string(),
                op: Op::In(values),
            }),
            [key, "notin"] => Ok(Requirement {
                key: key.to_string(),
                op: Op::NotIn(values),
            }),
            _ => Err(bad()),
        };
    }
    if term.split_whitespace().count() == 1 {
        return Ok(Requirement {
            key: term.to_string(),
            op: Op::Exists,
        });
    }
    Err(bad())
}

/// A parsed field selector: `a.b=c,d!=e`. Any dotted path into the object is accepted,
/// which is a superset of what the real server allows per resource.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldSelector {
    reqs: Vec<(Vec<String>, bool, String)>,
}

impl FieldSelector {
    pub fn parse(s: &str) -> Result<Self, ApiError> {
        let mut reqs = Vec::new();
        for term in s.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let (path, eq, value) = if let Some((k, v)) = term.split_once("!=") {
                (k, false, v)
            } else if let Some((k, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
                (k, true, v)
            } else {
                return Err(ApiError::bad_request(format!(
                    "invalid field selector term {term:?}"
                )));
            };
            reqs.push((
                path.trim().split('.').map(str::to_string).collect(),
                eq,
                value.trim().to_string(),
            ));
        }
        Ok(Self { reqs })
    }

    /// The `fieldSelector` query parameter of a list or watch; absent selects everything.
    pub fn from_query(q: &HashMap<String, String>) -> Result<Self, ApiError> {
        from_query(q, "fieldSelector", Self::parse)
    }

    pub fn matches(&self, obj: &Value) -> bool {
        self.reqs.iter().all(|(path, eq, want)| {
            let mut cur = Some(obj);
            for seg in path {
                cur = cur.and_then(|c| c.get(seg));
            }
            let got = match cur {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Bool(b)) => b.to_string(),
                Some(Value::Number(n)) => n.to_string(),
                _ => String::new(),
            };
            (got == *want) == *eq
        })
    }
}

/// Both selector kinds read the same way: parse the parameter if given, else the
/// selector that matches everything.
fn from_query<S: Default>(
    q: &HashMap<String, String>,
    key: &str,
    parse: fn(&str) -> Result<S, ApiError>,
) -> Result<S, ApiError> {
    Ok(q.get(key)
        .map(|s| parse(s))
        .transpose()?
        .unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn query_forms_match() {
        let l = json!({"app": "web", "tier": "front"});
        let ok = |s: &str| LabelSelector::parse(s).unwrap().matches(Some(&l));
        assert!(ok("app=web"));
        assert!(ok("app==web,tier!=back"));
        assert!(ok("app in (web,api),tier"));
        assert!(ok("tier notin (back), !missing"));
        assert!(!ok("app=api"));
        assert!(!ok("missing"));
        assert!(!ok("app notin (web)"));
        assert!(ok(""));
    }

    #[test]
    fn query_parameters_absent_select_everything_and_bad_ones_are_refused() {
        let q = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let obj = json!({"metadata": {"labels": {"app": "web"}}, "spec": {"nodeName": "n1"}});
        assert!(
            LabelSelector::from_query(&q(&[]))
                .unwrap()
                .matches_object(&obj)
        );
        assert!(FieldSelector::from_query(&q(&[])).unwrap().matches(&obj));
        let both = q(&[
            ("labelSelector", "app=api"),
            ("fieldSelector", "spec.nodeName=n1"),
        ]);
        assert!(
            !LabelSelector::from_query(&both)
                .unwrap()
                .matches_object(&obj)
        );
        assert!(FieldSelector::from_query(&both).unwrap().matches(&obj));
        assert!(FieldSelector::from_query(&q(&[("fieldSelector", "nodeName")])).is_err());
    }

    #[test]
    fn a_service_selector_without_labels_matches_nothing() {
        let s = LabelSelector::from_map(Some(&json!({"app": "web"})));
        assert!(s.matches(Some(&json!({"app": "web", "tier": "front"}))));
        assert!(!s.matches(Some(&json!({"app": "api"}))));
        assert!(!LabelSelector::from_map(None).matches(Some(&json!({}))));
    }

    #[test]
    fn field_selector() {
        let pod = json!({"spec": {"nodeName": "n1"}, "status": {"phase": "Running"}});
        assert!(
            FieldSelector::parse("spec.nodeName=n1")
                .unwrap()
                .matches(&pod)
        );
        assert!(
            FieldSelector::parse("spec.nodeName!=n2,status.phase==Running")
                .unwrap()
                .matches(&pod)
        );
        assert!(
            !FieldSelector::parse("spec.nodeName=n2")
                .unwrap()
                .matches(&pod)
        );
    }
}
