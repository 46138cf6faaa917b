//! Kubernetes label selectors: parsed from the command line's string form, matched
//! locally (fixture manifests), and converted to and from the API's `LabelSelector`
//! (NetworkPolicy peers, workload selectors).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    Eq(String, String),
    NotEq(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

/// A conjunction of requirements; empty matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selector(pub Vec<Requirement>);

impl Requirement {
    fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        match self {
            Self::Eq(k, v) => labels.get(k) == Some(v),
            Self::NotEq(k, v) => labels.get(k) != Some(v),
            Self::In(k, vs) => labels.get(k).is_some_and(|l| vs.contains(l)),
            Self::NotIn(k, vs) => labels.get(k).is_none_or(|l| !vs.contains(l)),
            Self::Exists(k) => labels.contains_key(k),
            Self::NotExists(k) => !labels.contains_key(k),
        }
    }

    /// The requirement matching exactly the label sets this one does not.
    pub fn negated(&self) -> Self {
        match self.clone() {
            Self::Eq(k, v) => Self::NotIn(k, vec![v]),
            Self::NotEq(k, v) => Self::In(k, vec![v]),
            Self::In(k, vs) => Self::NotIn(k, vs),
            Self::NotIn(k, vs) => Self::In(k, vs),
            Self::Exists(k) => Self::NotExists(k),
            Self::NotExists(k) => Self::Exists(k),
        }
    }

    fn to_api(&self) -> LabelSelectorRequirement {
        let (key, operator, values) = match self.clone() {
            Self::Eq(k, v) => (k, "In", Some(vec![v])),
            Self::NotEq(k, v) => (k, "NotIn", Some(vec![v])),
            Self::In(k, vs) => (k, "In", Some(vs)),
            Self::NotIn(k, vs) => (k, "NotIn", Some(vs)),
            Self::Exists(k) => (k, "Exists", None),
            Self::NotExists(k) => (k, "DoesNotExist", None),
        };
        LabelSelectorRequirement {
            key,
            operator: operator.into(),
            values,
        }
    }
}

impl Selector {
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.0.iter().all(|r| r.matches(labels))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn and(mut self, other: &Selector) -> Self {
        self.0.extend(other.0.iter().cloned());
        self
    }

    pub fn with(mut self, r: Requirement) -> Self {
        self.0.push(r);
        self
    }

    /// The API form: equalities as `matchLabels`, the rest as `matchExpressions`.
    pub fn to_api(&self) -> LabelSelector {
        let mut match_labels = BTreeMap::new();
        let mut exprs = Vec::new();
        for r in &self.0 {
            match r {
                Requirement::Eq(k, v) if !match_labels.contains_key(k) => {
                    match_labels.insert(k.clone(), v.clone());
                }
                other => exprs.push(other.to_api()),
            }
        }
        LabelSelector {
            match_labels: (!match_labels.is_empty()).then_some(match_labels),
            match_expressions: (!exprs.is_empty()).then_some(exprs),
        }
    }

    /// From the API form; `None` for an operator Kubernetes does not define.
    pub fn from_api(ls: &LabelSelector) -> Option<Self> {
        let mut reqs: Vec<Requirement> = ls
            .match_labels
            .iter()
            .flatten()
            .map(|(k, v)| Requirement::Eq(k.clone(), v.clone()))
            .collect();
        for e in ls.match_expressions.iter().flatten() {
            let vs = e.values.clone().unwrap_or_default();
            reqs.push(match e.operator.as_str() {
                "In" => Requirement::In(e.key.clone(), vs),
                "NotIn" => Requirement::NotIn(e.key.clone(), vs),
                "Exists" => Requirement::Exists(e.key.clone()),
                "DoesNotExist" => Requirement::NotExists(e.key.clone()),
                _ => return None,
            });
        }
        Some(Self(reqs))
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|r| match r {
                Requirement::Eq(k, v) => format!("{k}={v}"),
                Requirement::NotEq(k, v) => format!("{k}!={v}"),
                Requirement::In(k, vs) => format!("{k} in ({})", vs.join(",")),
                Requirement::NotIn(k, vs) => format!("{k} notin ({})", vs.join(",")),
                Requirement::Exists(k) => k.clone(),
                Requirement::NotExists(k) => format!("!{k}"),
            })
            .collect();
        f.write_str(&parts.join(","))
    }
}

fn valid_key(k: &str) -> bool {
    !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
}

fn valid_value(v: &str) -> bool {
    v.chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

impl FromStr for Selector {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let mut terms = Vec::new();
        let (mut depth, mut start) = (0i32, 0usize);
        for (i, c) in s.char_indices() {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                ',' if depth == 0 => {
                    terms.push(&s[start..i]);
                    start = i + 1;
                }
                _ => {}
            }
        }
        terms.push(&s[start..]);
        let mut reqs = Vec::new();
        for term in terms.into_iter().map(str::trim).filter(|t| !t.is_empty()) {
            reqs.push(parse_term(term).map_err(|e| format!("selector {s:?}: {e}"))?);
        }
        Ok(Self(reqs))
    }
}

fn parse_term(t: &str) -> Result<Requirement, String> {
    let key = |k: &str| {
        let k = k.trim();
        if valid_key(k) {
            Ok(k.to_string())
        } else {
            Err(format!("invalid label key {k:?}"))
        }
    };
    let value = |v: &str| {
        let v = v.trim();
        if valid_value(v) {
            Ok(v.to_string())
        } else {
            Err(format!("invalid label value {v:?}"))
        }
    };
    if let Some(k) = t.strip_prefix('!') {
        return Ok(Requirement::NotExists(key(k)?));
    }
    for (op, negate) in [(" notin ", true), (" in ", false)] {
        if let Some((k, set)) = t.split_once(op) {
            let set = set
                .trim()
                .strip_prefix('(')
                .and_then(|r| r.strip_suffix(')'))
                .ok_or_else(|| format!("{t:?}: expected a parenthesised value list"))?;
            let vs = set.split(',').map(value).collect::<Result<Vec<_>, _>>()?;
            let k = key(k)?;
            return Ok(if negate {
                Requirement::NotIn(k, vs)
            } else {
                Requirement::In(k, vs)
            });
        }
    }
    if let Some((k, v)) = t.split_once("!=") {
        return Ok(Requirement::NotEq(key(k)?, value(v)?));
    }
    if let Some((k, v)) = t.split_once("==").or_else(|| t.split_once('=')) {
        return Ok(Requirement::Eq(key(k)?, value(v)?));
    }
    Ok(Requirement::Exists(key(t)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parses_every_form_and_matches() {
        let s: Selector = "app in (web,api), tier!=cache, !legacy, role, env=prod"
            .parse()
            .unwrap();
        assert_eq!(s.0.len(), 5);
        let l = labels(&[("app", "web"), ("role", "x"), ("env", "prod")]);
        assert!(s.matches(&l));
        assert!(!s.matches(&labels(&[("app", "db"), ("role", "x"), ("env", "prod")])));
        assert!(!s.matches(&labels(&[("app", "web"), ("env", "prod")])));
        let round: Selector = s.to_string().parse().unwrap();
        assert_eq!(round, s);
        assert!("app=we b".parse::<Selector>().is_err());
        assert!("app in web".parse::<Selector>().is_err());
        assert!(Selector::default().matches(&labels(&[])));
    }

    #[test]
    fn negation_and_api_form_agree_with_local_matching() {
        let s: Selector = "app=web,tier notin (cache)".parse().unwrap();
        let api = s.to_api();
        assert_eq!(api.match_labels.as_ref().unwrap()["app"], "web");
        assert_eq!(
            Selector::from_api(&api).unwrap().to_string(),
            "app=web,tier notin (cache)"
        );
        for l in [
            labels(&[("app", "web")]),
            labels(&[("app", "web"), ("tier", "cache")]),
            labels(&[("app", "db")]),
        ] {
            // NOT(a AND b) == (NOT a) OR (NOT b)
            let any_negated = s.0.iter().any(|r| r.negated().matches(&l));
            assert_eq!(any_negated, !s.matches(&l), "{l:?}");
        }
    }
}
