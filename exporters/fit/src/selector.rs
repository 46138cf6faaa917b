//! `--selector`: the string form of a Kubernetes label selector (`a=b,c!=d,e in (f,g),
//! h notin (i),j,!k`), parsed into kube's own [`Selector`], which does the matching
//! (manifests are matched here, not by a server) and formats it back.

use std::collections::BTreeSet;

use kube::core::{Expression, Selector};

fn key(k: &str) -> Result<String, String> {
    let k = k.trim();
    let ok = !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'));
    ok.then(|| k.to_string())
        .ok_or_else(|| format!("invalid label key {k:?}"))
}

fn value(v: &str) -> Result<String, String> {
    let v = v.trim();
    let ok = v
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    ok.then(|| v.to_string())
        .ok_or_else(|| format!("invalid label value {v:?}"))
}

/// Commas inside `( )` belong to a value set, not between requirements.
fn terms(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out.into_iter()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect()
}

fn expression(t: &str) -> Result<Expression, String> {
    if let Some(k) = t.strip_prefix('!') {
        return Ok(Expression::DoesNotExist(key(k)?));
    }
    for (op, negate) in [(" notin ", true), (" in ", false)] {
        if let Some((k, set)) = t.split_once(op) {
            let set = set
                .trim()
                .strip_prefix('(')
                .and_then(|r| r.strip_suffix(')'))
                .ok_or_else(|| format!("{t:?}: expected a parenthesised value list"))?;
            let values = set
                .split(',')
                .map(value)
                .collect::<Result<BTreeSet<_>, _>>()?;
            return Ok(if negate {
                Expression::NotIn(key(k)?, values)
            } else {
                Expression::In(key(k)?, values)
            });
        }
    }
    if let Some((k, v)) = t.split_once("!=") {
        return Ok(Expression::NotEqual(key(k)?, value(v)?));
    }
    if let Some((k, v)) = t.split_once("==").or_else(|| t.split_once('=')) {
        return Ok(Expression::Equal(key(k)?, value(v)?));
    }
    Ok(Expression::Exists(key(t)?))
}

/// The empty string selects everything.
pub fn parse(s: &str) -> Result<Selector, String> {
    terms(s)
        .into_iter()
        .map(|t| expression(t).map_err(|e| format!("selector {s:?}: {e}")))
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::BTreeMap;

    use kube::core::SelectorExt;

    use super::*;

    /// A label set from pairs (also for the other modules' tests).
    pub(crate) fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

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
