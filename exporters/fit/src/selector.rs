//! `--selector`: the string form of a Kubernetes label selector (`a=b,c!=d,e in (f,g),
//! h notin (i),j,!k`), parsed by the runtime's parser (chaos's too) into kube's own
//! [`Selector`], which does the matching (manifests are matched here, not by a server) and
//! formats it back.

use std::collections::BTreeSet;

use kube::core::{Expression, Selector};
use redline_runtime::{Requirement, parse_selector};

/// kube's expression for one requirement of the runtime's parser (kube keeps a value set,
/// so `in (web,api)` prints back as `in (api,web)`).
fn expression(r: Requirement) -> Expression {
    match r {
        Requirement::Eq(k, v) => Expression::Equal(k, v),
        Requirement::NotEq(k, v) => Expression::NotEqual(k, v),
        Requirement::In(k, vs) => Expression::In(k, vs.into_iter().collect::<BTreeSet<_>>()),
        Requirement::NotIn(k, vs) => Expression::NotIn(k, vs.into_iter().collect::<BTreeSet<_>>()),
        Requirement::Exists(k) => Expression::Exists(k),
        Requirement::NotExists(k) => Expression::DoesNotExist(k),
    }
}

/// The empty string selects everything.
pub fn parse(s: &str) -> Result<Selector, String> {
    Ok(parse_selector(s)?.into_iter().map(expression).collect())
}

#[cfg(test)]
pub(crate) mod tests {

    use kube::core::SelectorExt;

    use super::*;

    // A label set from pairs (also for the other modules' tests).
    pub(crate) use redline_runtime::label_set as labels;

    #[test]
    fn every_form_parses_and_matches_as_kubernetes_does() {
        let s = parse("app in (web,api), tier!=cache, !legacy, role, env==prod").unwrap();
        assert!(s.matches(&labels(&[("app", "web"), ("role", "x"), ("env", "prod")])));
        assert!(!s.matches(&labels(&[("app", "db"), ("role", "x"), ("env", "prod")])));
        assert!(!s.matches(&labels(&[("app", "web"), ("env", "prod")])));
        assert!(!s.matches(&labels(&[
            ("app", "web"),
            ("role", "x"),
            ("env", "prod"),
            ("legacy", "")
        ])));
        assert_eq!(
            s.to_string(),
            "app in (api,web),tier!=cache,!legacy,role,env=prod"
        );
        let seed = parse("app.kubernetes.io/part-of notin (monitoring,load-test)").unwrap();
        assert!(seed.matches(&labels(&[])));
        assert!(!seed.matches(&labels(&[("app.kubernetes.io/part-of", "monitoring")])));
        assert!(parse("").unwrap().selects_all());
        for bad in ["app=we b", "app in web", "=x", "a b"] {
            let err = parse(bad).unwrap_err();
            assert!(err.contains(bad), "{bad}: {err}");
        }
    }
}
