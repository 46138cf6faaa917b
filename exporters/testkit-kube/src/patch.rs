//! Patch semantics: JSON merge patch (RFC 7386, also used for strategic merge patch) and
//! a small model of server-side apply field ownership.
//!
//! Server-side apply here tracks ownership per leaf path, where a leaf is a scalar or a
//! list (an empty map owns nothing). Lists are owned and replaced as a whole: real SSA merges
//! associative lists (containers by name, ports by port) item by item, which no redline
//! daemon relies on.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

pub type Path = Vec<String>;

/// RFC 7386: maps merge recursively, `null` deletes, everything else replaces.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(p) => {
            if !target.is_object() {
                *target = Value::Object(Map::new());
            }
            let t = target.as_object_mut().expect("just made an object");
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        other => *target = other.clone(),
    }
}

/// Fields the server owns: never part of any manager's field set.
fn is_identity(path: &[String]) -> bool {
    match path {
        [a] => a == "apiVersion" || a == "kind",
        [m, f, ..] if m == "metadata" => !matches!(f.as_str(), "labels" | "annotations"),
        _ => false,
    }
}

/// Leaf paths of `v`, skipping server-owned identity fields.
pub fn leaf_paths(v: &Value) -> BTreeSet<Path> {
    let mut out = BTreeSet::new();
    walk(v, &mut Vec::new(), &mut out);
    out
}

fn walk(v: &Value, prefix: &mut Path, out: &mut BTreeSet<Path>) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                prefix.push(k.clone());
                if !is_identity(prefix) {
                    walk(child, prefix, out);
                }
                prefix.pop();
            }
        }
        _ => {
            if !prefix.is_empty() {
                out.insert(prefix.clone());
            }
        }
    }
}

pub fn get_path<'a>(v: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(v, |cur, seg| cur.get(seg))
}

fn remove_path(v: &mut Value, path: &[String]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut cur = v;
    for seg in parents {
        match cur.get_mut(seg) {
            Some(next) => cur = next,
            None => return,
        }
    }
    if let Some(m) = cur.as_object_mut() {
        m.remove(last);
    }
}

/// Deep merge for apply: maps merge, lists and scalars replace, `null` is kept out.
fn apply_merge(target: &mut Value, applied: &Value) {
    merge_patch(target, applied)
}

/// Leaf paths whose value differs between `old` and `new` (what an update changed).
pub fn changed_paths(old: &Value, new: &Value) -> BTreeSet<Path> {
    leaf_paths(new)
        .into_iter()
        .filter(|p| get_path(old, p) != get_path(new, p))
        .collect()
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ManagerFields {
    pub apply: bool,
    pub paths: BTreeSet<Path>,
}

/// Field ownership of one object, by manager name.
pub type Ownership = BTreeMap<String, ManagerFields>;

/// One field two managers disagree on.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldConflict {
    pub manager: String,
    pub path: Path,
}

/// `owned` is `path` or lies below it, so setting `path` touches `owned`.
fn covers(path: &[String], owned: &[String]) -> bool {
    owned.starts_with(path)
}

/// Server-side apply of `applied` by `manager` onto `current` (None when creating).
/// Returns the new object, or the conflicts when `force` is false and another manager
/// owns a field this apply sets to a different value.
pub fn server_side_apply(
    current: Option<&Value>,
    owners: &mut Ownership,
    manager: &str,
    applied: &Value,
    force: bool,
) -> Result<Value, Vec<FieldConflict>> {
    let new_paths = leaf_paths(applied);
    let mut obj = current.cloned().unwrap_or_else(|| json!({}));
    let mut conflicts = Vec::new();
    for (other, fields) in owners.iter() {
        if other == manager {
            continue;
        }
        for p in &new_paths {
            let owned_related = fields.paths.iter().any(|q| covers(p, q));
            if owned_related && get_path(&obj, p) != get_path(applied, p) {
                conflicts.push(FieldConflict {
                    manager: other.clone(),
                    path: p.clone(),
                });
            }
        }
    }
    if !conflicts.is_empty() && !force {
        return Err(conflicts);
    }
    for c in &conflicts {
        if let Some(f) = owners.get_mut(&c.manager) {
            f.paths.retain(|q| !covers(&c.path, q));
        }
    }
    // Fields this manager applied before but not now are removed, unless someone else
    // still owns them.
    if let Some(prev) = owners.get(manager) {
        for p in prev.paths.difference(&new_paths) {
            let shared = owners
                .iter()
                .any(|(m, f)| m != manager && f.paths.iter().any(|q| covers(p, q)));
            if !shared {
                remove_path(&mut obj, p);
            }
        }
    }
    apply_merge(&mut obj, applied);
    owners.insert(
        manager.to_string(),
        ManagerFields {
            apply: true,
            paths: new_paths,
        },
    );
    owners.retain(|_, f| !f.paths.is_empty());
    Ok(obj)
}

/// An Update (create, replace, patch) takes ownership of the fields it changed.
pub fn record_update(owners: &mut Ownership, manager: &str, changed: BTreeSet<Path>) {
    if changed.is_empty() {
        return;
    }
    for (m, f) in owners.iter_mut() {
        if m != manager {
            f.paths
                .retain(|q| !changed.iter().any(|p| covers(p, q) || covers(q, p)));
        }
    }
    let entry = owners.entry(manager.to_string()).or_default();
    entry.paths.extend(changed);
    owners.retain(|_, f| !f.paths.is_empty());
}

/// `metadata.managedFields` in the real FieldsV1 shape (`{"f:spec":{"f:replicas":{}}}`).
pub fn managed_fields(owners: &Ownership, api_version: &str, time: &Value) -> Value {
    let entries: Vec<Value> = owners
        .iter()
        .map(|(m, f)| {
            let mut tree = json!({});
            for p in &f.paths {
                let mut cur = &mut tree;
                for seg in p {
                    cur = cur
                        .as_object_mut()
                        .expect("tree nodes are maps")
                        .entry(format!("f:{seg}"))
                        .or_insert_with(|| json!({}));
                }
            }
            json!({
                "manager": m,
                "operation": if f.apply { "Apply" } else { "Update" },
                "apiVersion": api_version,
                "time": time,
                "fieldsType": "FieldsV1",
                "fieldsV1": tree,
            })
        })
        .collect();
    Value::Array(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_patch_rfc7386() {
        let mut t = json!({"a": 1, "b": {"c": 2, "d": 3}, "l": [1, 2]});
        merge_patch(&mut t, &json!({"a": null, "b": {"c": 5}, "l": [9]}));
        assert_eq!(t, json!({"b": {"c": 5, "d": 3}, "l": [9]}));
    }

    #[test]
    fn apply_conflicts_and_force() {
        let mut owners = Ownership::new();
        let a = json!({"spec": {"replicas": 1, "paused": false}});
        let obj = server_side_apply(None, &mut owners, "a", &a, false).unwrap();
        let b = json!({"spec": {"replicas": 3}});
        let err = server_side_apply(Some(&obj), &mut owners, "b", &b, false).unwrap_err();
        assert_eq!(err[0].manager, "a");
        // Same value is shared ownership, not a conflict.
        let same = json!({"spec": {"replicas": 1}});
        server_side_apply(Some(&obj), &mut owners, "c", &same, false).unwrap();
        let obj = server_side_apply(Some(&obj), &mut owners, "b", &b, true).unwrap();
        assert_eq!(obj["spec"]["replicas"], 3);
        // "a" lost replicas and re-applying without it keeps b's value.
        let a2 = json!({"spec": {"paused": false}});
        let obj = server_side_apply(Some(&obj), &mut owners, "a", &a2, false).unwrap();
        assert_eq!(obj["spec"]["replicas"], 3);
        // Dropping a field you alone own removes it.
        let a3 = json!({"spec": {}});
        let obj = server_side_apply(Some(&obj), &mut owners, "a", &a3, false).unwrap();
        assert!(obj["spec"].get("paused").is_none());
    }
}
