//! The string form of a Kubernetes label selector as daemons take it on the command line
//! (`a=b,c!=d,e in (f,g),h notin (i),j,!k`), parsed once for every daemon that takes one
//! (chaos, fit) into plain requirements, which match label sets the way Kubernetes does.
//! What a daemon turns them into (the API's `LabelSelector`, kube's `Selector`) is its own
//! business: this crate knows no Kubernetes types.

use std::collections::BTreeMap;
use std::fmt;

/// One requirement of a selector; a selector is their conjunction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    Eq(String, String),
    NotEq(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

impl Requirement {
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
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
}

/// The string form this module parses.
impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Eq(k, v) => write!(f, "{k}={v}"),
            Self::NotEq(k, v) => write!(f, "{k}!={v}"),
            Self::In(k, vs) => write!(f, "{k} in ({})", vs.join(",")),
            Self::NotIn(k, vs) => write!(f, "{k} notin ({})", vs.join(",")),
            Self::Exists(k) => f.write_str(k),
            Self::NotExists(k) => write!(f, "!{k}"),
        }
    }
}

/// The requirements of `s`, in order; the empty string has none (selects everything).
/// An error names the whole selector and the part that is wrong.
pub fn parse_selector(s: &str) -> Result<Vec<Requirement>, String> {
    terms(s)
        .map(|t| requirement(t).map_err(|e| format!("selector {s:?}: {e}")))
        .collect()
}

/// Commas inside `( )` belong to a value set, not between requirements.
fn terms(s: &str) -> impl Iterator<Item = &str> {
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
    out.into_iter().map(str::trim).filter(|t| !t.is_empty())
}

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

fn requirement(t: &str) -> Result<Requirement, String> {
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

/// A label set written as pairs, the form requirements match; what every selector's
/// tests (here, chaos's, fit's) build their objects' labels from.
pub fn label_set(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::label_set as labels;

    fn matches(s: &[Requirement], l: &[(&str, &str)]) -> bool {
        s.iter().all(|r| r.matches(&labels(l)))
    }

    #[test]
    fn every_form_parses_matches_and_prints_back() {
        let s = parse_selector("app in (web,api), tier!=cache, !legacy, role, env==prod").unwrap();
        assert_eq!(
            s,
            [
                Requirement::In("app".into(), vec!["web".into(), "api".into()]),
                Requirement::NotEq("tier".into(), "cache".into()),
                Requirement::NotExists("legacy".into()),
                Requirement::Exists("role".into()),
                Requirement::Eq("env".into(), "prod".into()),
            ]
        );
        assert!(matches(
            &s,
            &[("app", "web"), ("role", "x"), ("env", "prod")]
        ));
        assert!(!matches(
            &s,
            &[("app", "db"), ("role", "x"), ("env", "prod")]
        ));
        assert!(!matches(&s, &[("app", "web"), ("env", "prod")]));
        let printed: Vec<String> = s.iter().map(ToString::to_string).collect();
        assert_eq!(
            printed.join(","),
            "app in (web,api),tier!=cache,!legacy,role,env=prod"
        );
        assert_eq!(parse_selector(&printed.join(",")).unwrap(), s);
        assert_eq!(parse_selector(" , ").unwrap(), []);
    }

    #[test]
    fn a_bad_selector_is_named_with_its_bad_part() {
        for (bad, part) in [
            ("app=we b", "invalid label value \"we b\""),
            ("app in web", "expected a parenthesised value list"),
            ("=x", "invalid label key \"\""),
            ("a b", "invalid label key \"a b\""),
        ] {
            let err = parse_selector(bad).unwrap_err();
            assert!(
                err.contains(&format!("{bad:?}")) && err.contains(part),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn a_negated_requirement_matches_exactly_where_it_did_not() {
        let sets = [
            labels(&[]),
            labels(&[("app", "web")]),
            labels(&[("app", "db")]),
        ];
        for r in parse_selector("app=web,app!=web,app in (web),app notin (web),app,!app").unwrap() {
            for l in &sets {
                assert_eq!(r.negated().matches(l), !r.matches(l), "{r} on {l:?}");
            }
        }
    }
}
