//! Kubernetes label selectors: parsed from the command line's string form (by the
//! runtime's parser, which fit shares), matched locally (fixture manifests), and converted
//! to and from the API's `LabelSelector` (NetworkPolicy peers, workload selectors).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};
pub use redline_runtime::Requirement;
use redline_runtime::parse_selector;

/// A conjunction of requirements; empty matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selector(pub Vec<Requirement>);

/// One requirement in the API's form.
fn requirement_to_api(r: &Requirement) -> LabelSelectorRequirement {
    let (key, operator, values) = match r.clone() {
        Requirement::Eq(k, v) => (k, "In", Some(vec![v])),
        Requirement::NotEq(k, v) => (k, "NotIn", Some(vec![v])),
        Requirement::In(k, vs) => (k, "In", Some(vs)),
        Requirement::NotIn(k, vs) => (k, "NotIn", Some(vs)),
        Requirement::Exists(k) => (k, "Exists", None),
        Requirement::NotExists(k) => (k, "DoesNotExist", None),
    };
    LabelSelectorRequirement {
        key,
        operator: operator.into(),
        values,
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
                other => exprs.push(requirement_to_api(other)),
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
        let parts: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&parts.join(","))
    }
}

/// The command line's string form, parsed by the runtime's one selector parser.
impl FromStr for Selector {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        parse_selector(s).map(Self)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    // A label set from pairs (also for the other modules' tests).
    pub(crate) use redline_runtime::label_set as labels;

    /// The forms themselves are the runtime parser's tests; here, that a selector is their
    /// conjunction and prints back to what parses to it.
    #[test]
    fn a_selector_is_the_conjunction_of_its_requirements_and_prints_back() {
        let s: Selector = "app in (web,api), tier!=cache, !legacy, role, env=prod"
            .parse()
            .unwrap();
        assert!(s.matches(&labels(&[("app", "web"), ("role", "x"), ("env", "prod")])));
        assert!(!s.matches(&labels(&[("app", "web"), ("env", "prod")])));
        let round: Selector = s.to_string().parse().unwrap();
        assert_eq!(round, s);
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
