//! What to patch, worked out from the policy object as the API server returned it: the
//! raise (new `rates[0]` values, the originals kept in an annotation) and the restore
//! (the original `rates` arrays back, the annotation gone). Pure functions on JSON, so
//! the rules are tested without a server.
//!
//! JSON merge patches, not JSON patches: custom resources take them, and each sends
//! whole `rates` arrays, so a restore puts back exactly the array that was read.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::spec::Raise;

/// Set on a raised policy: its original `rates` arrays by JSON pointer, so a run that
/// was killed before it could restore (SIGKILL, node loss) is undone by `--restore`,
/// and a second raise does not mistake raised values for the originals.
pub const ORIGINAL_ANNOTATION: &str = "redline.dev/limits-original";

/// Where a policy keeps its named limits: RateLimitPolicy has implicit defaults
/// (`spec.limits`) or explicit `spec.defaults.limits` / `spec.overrides.limits`.
const LIMIT_MAPS: [&str; 3] = [
    "/spec/limits",
    "/spec/defaults/limits",
    "/spec/overrides/limits",
];

/// Original `rates` arrays by JSON pointer (e.g. `/spec/limits/free/rates`).
pub type Originals = BTreeMap<String, Value>;

/// One limit's first rate, before and during the run.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// e.g. `spec.limits.free.rates[0]`
    pub field: String,
    pub original_limit: Value,
    pub original_window: Value,
    pub limit: i64,
    pub window: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RaisePlan {
    pub patch: Value,
    pub originals: Originals,
    pub changes: Vec<Change>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error(
        "already raised: annotation {ORIGINAL_ANNOTATION} holds the originals of a run that \
         did not restore; run `redline tokens limits --restore KIND/NAME` first"
    )]
    AlreadyRaised,
    #[error("spec.limits.{limit}: no such limit (the policy has: {available})")]
    NoLimit { limit: String, available: String },
    #[error("{field}: missing; a raise changes the first rate of a limit")]
    NoRate { field: String },
    #[error("annotation {ORIGINAL_ANNOTATION}: {0}")]
    BadAnnotation(String),
    #[error("not raised by redline: annotation {ORIGINAL_ANNOTATION} is absent")]
    NotRaised,
}

/// `free` → `/spec/limits/free` (escaped as RFC 6901 asks).
fn pointer(map: &str, limit: &str) -> String {
    format!("{map}/{}", limit.replace('~', "~0").replace('/', "~1"))
}

/// `/spec/limits/free/rates` → `spec.limits.free.rates`, for messages.
fn field_of(pointer: &str) -> String {
    pointer[1..]
        .split('/')
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect::<Vec<_>>()
        .join(".")
}

/// Finds the limit in whichever limit map holds it.
fn locate(object: &Value, limit: &str) -> Result<String, PlanError> {
    for map in LIMIT_MAPS {
        let p = pointer(map, limit);
        if object.pointer(&p).is_some() {
            return Ok(p);
        }
    }
    let mut available: Vec<String> = LIMIT_MAPS
        .iter()
        .filter_map(|m| object.pointer(m).and_then(Value::as_object))
        .flat_map(|m| m.keys().cloned())
        .collect();
    available.sort();
    Err(PlanError::NoLimit {
        limit: limit.to_string(),
        available: if available.is_empty() {
            "no limits".into()
        } else {
            available.join(", ")
        },
    })
}

/// Inserts `value` at `pointer` in a merge-patch document, creating objects on the way.
fn insert(patch: &mut Value, pointer: &str, value: Value) {
    let segments: Vec<String> = pointer[1..]
        .split('/')
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect();
    let mut at = patch;
    for (i, seg) in segments.iter().enumerate() {
        let map = at.as_object_mut().expect("merge patches hold objects");
        if i + 1 == segments.len() {
            map.insert(seg.clone(), value);
            return;
        }
        at = map
            .entry(seg.clone())
            .or_insert_with(|| Value::Object(Map::new()));
    }
}

fn annotation(object: &Value) -> Option<&str> {
    object
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(ORIGINAL_ANNOTATION))
        .and_then(Value::as_str)
}

/// The raise of one policy: every `raises` entry must name one of its limits.
pub fn plan_raise(object: &Value, raises: &[&Raise]) -> Result<RaisePlan, PlanError> {
    if annotation(object).is_some() {
        return Err(PlanError::AlreadyRaised);
    }
    let mut patch = json!({});
    let mut originals = Originals::new();
    let mut raised: BTreeMap<String, Value> = BTreeMap::new();
    let mut changes = Vec::new();
    for raise in raises {
        let rates = format!("{}/rates", locate(object, &raise.limit)?);
        let original = object.pointer(&rates).cloned().unwrap_or(Value::Null);
        let first = original
            .get(0)
            .filter(|r| r.is_object())
            .ok_or_else(|| PlanError::NoRate {
                field: format!("{}[0]", field_of(&rates)),
            })?;
        let mut array = raised
            .get(&rates)
            .cloned()
            .unwrap_or_else(|| original.clone());
        array[0]["limit"] = json!(raise.value);
        if let Some(w) = &raise.window {
            array[0]["window"] = json!(w);
        }
        changes.push(Change {
            field: format!("{}[0]", field_of(&rates)),
            original_limit: first.get("limit").cloned().unwrap_or(Value::Null),
            original_window: first.get("window").cloned().unwrap_or(Value::Null),
            limit: raise.value,
            window: array[0].get("window").cloned().unwrap_or(Value::Null),
        });
        originals.insert(rates.clone(), original);
        raised.insert(rates, array);
    }
    for (rates, array) in raised {
        insert(&mut patch, &rates, array);
    }
    let kept = serde_json::to_string(&originals).expect("JSON values serialise");
    insert(
        &mut patch,
        &format!(
            "/metadata/annotations/{}",
            ORIGINAL_ANNOTATION.replace('/', "~1")
        ),
        Value::String(kept),
    );
    Ok(RaisePlan {
        patch,
        originals,
        changes,
    })
}

/// Puts `originals` back and removes the annotation.
pub fn plan_restore(originals: &Originals) -> Value {
    let mut patch = json!({});
    for (rates, array) in originals {
        insert(&mut patch, rates, array.clone());
    }
    insert(
        &mut patch,
        &format!(
            "/metadata/annotations/{}",
            ORIGINAL_ANNOTATION.replace('/', "~1")
        ),
        Value::Null,
    );
    patch
}

/// The originals an earlier raise left in the annotation (for `--restore`).
pub fn originals_of(object: &Value) -> Result<Originals, PlanError> {
    let text = annotation(object).ok_or(PlanError::NotRaised)?;
    let originals: Originals =
        serde_json::from_str(text).map_err(|e| PlanError::BadAnnotation(e.to_string()))?;
    if let Some(bad) = originals.keys().find(|p| {
        !LIMIT_MAPS.iter().any(|m| p.starts_with(&format!("{m}/"))) || !p.ends_with("/rates")
    }) {
        // Never patch a path outside the limits, whatever the annotation says.
        return Err(PlanError::BadAnnotation(format!(
            "{bad:?} is not the rates of a limit"
        )));
    }
    Ok(originals)
}

#[cfg(test)]
mod tests {
    use super::super::spec::parse_raise;
    use super::*;

    fn policy() -> Value {
        json!({
            "metadata": {"name": "gateway-rate-limits", "annotations": {"team": "maas"}},
            "spec": {"limits": {
                "free": {"rates": [{"limit": 5, "window": "2m"}, {"limit": 50, "window": "1h"}],
                         "when": [{"predicate": "auth.identity.tier == \"free\""}]},
                "premium": {"rates": [{"limit": 20, "window": "2m"}]},
            }}
        })
    }

    #[test]
    fn raise_changes_only_the_first_rate_and_keeps_the_originals() {
        let free = parse_raise("rlp/g:free=10000").unwrap();
        let premium = parse_raise("rlp/g:premium=10000/1m").unwrap();
        let plan = plan_raise(&policy(), &[&free, &premium]).unwrap();
        assert_eq!(
            plan.patch["spec"]["limits"]["free"]["rates"],
            json!([{"limit": 10000, "window": "2m"}, {"limit": 50, "window": "1h"}])
        );
        assert_eq!(
            plan.patch["spec"]["limits"]["premium"]["rates"],
            json!([{"limit": 10000, "window": "1m"}])
        );
        // `when` is not in the patch, so a merge patch leaves it alone.
        assert!(plan.patch["spec"]["limits"]["free"].get("when").is_none());
        let kept: Originals = serde_json::from_str(
            plan.patch["metadata"]["annotations"][ORIGINAL_ANNOTATION]
                .as_str()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(kept, plan.originals);
        assert_eq!(
            kept["/spec/limits/free/rates"],
            policy()["spec"]["limits"]["free"]["rates"]
        );
        assert_eq!(plan.changes[1].field, "spec.limits.premium.rates[0]");
        assert_eq!(plan.changes[1].original_limit, json!(20));

        let restore = plan_restore(&plan.originals);
        assert_eq!(
            restore["spec"],
            json!({"limits": {
                "free": {"rates": policy()["spec"]["limits"]["free"]["rates"]},
                "premium": {"rates": [{"limit": 20, "window": "2m"}]},
            }})
        );
        assert_eq!(
            restore["metadata"]["annotations"][ORIGINAL_ANNOTATION],
            Value::Null
        );
    }

    #[test]
    fn a_missing_limit_names_the_field_and_what_there_is() {
        let r = parse_raise("rlp/g:enterprise=1").unwrap();
        let e = plan_raise(&policy(), &[&r]).unwrap_err().to_string();
        assert_eq!(
            e,
            "spec.limits.enterprise: no such limit (the policy has: free, premium)"
        );
        let mut empty = policy();
        empty["spec"]["limits"]["free"]["rates"] = json!([]);
        let r = parse_raise("rlp/g:free=1").unwrap();
        let e = plan_raise(&empty, &[&r]).unwrap_err().to_string();
        assert!(e.starts_with("spec.limits.free.rates[0]: missing"), "{e}");
    }

    #[test]
    fn a_raised_policy_is_not_raised_twice_and_restores_from_its_annotation() {
        let r = parse_raise("rlp/g:free=9").unwrap();
        let plan = plan_raise(&policy(), &[&r]).unwrap();
        let mut raised = policy();
        raised["metadata"]["annotations"][ORIGINAL_ANNOTATION] =
            plan.patch["metadata"]["annotations"][ORIGINAL_ANNOTATION].clone();
        assert_eq!(plan_raise(&raised, &[&r]), Err(PlanError::AlreadyRaised));
        assert_eq!(originals_of(&raised).unwrap(), plan.originals);
        assert_eq!(originals_of(&policy()), Err(PlanError::NotRaised));
        raised["metadata"]["annotations"][ORIGINAL_ANNOTATION] =
            json!(r#"{"/metadata/labels": []}"#);
        assert!(matches!(
            originals_of(&raised),
            Err(PlanError::BadAnnotation(_))
        ));
    }

    #[test]
    fn explicit_defaults_are_found_too() {
        let p = json!({"spec": {"defaults": {"limits": {"a/b": {"rates": [{"limit": 1, "window": "1s"}]}}}}});
        let r = parse_raise("rlp/g:a/b=2").unwrap();
        // A limit name may hold '/': it is escaped in the pointer, kept in the field name.
        let plan = plan_raise(&p, &[&r]).unwrap();
        assert_eq!(plan.changes[0].field, "spec.defaults.limits.a/b.rates[0]");
        assert_eq!(
            plan.patch["spec"]["defaults"]["limits"]["a/b"]["rates"][0]["limit"],
            json!(2)
        );
    }
}
