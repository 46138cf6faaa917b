//! Reading object metadata and keeping condition times, shared by the controllers.

use serde_json::Value;

use crate::store::now_time;

pub(super) fn name_of(v: &Value) -> &str {
    v.pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

pub(super) fn ns_of(v: &Value) -> &str {
    v.pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

pub(super) fn uid_of(v: &Value) -> &str {
    v.pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

pub(super) type Key = (String, String);

pub(super) fn key_of(v: &Value) -> Key {
    (ns_of(v).to_string(), name_of(v).to_string())
}

/// Keeps `lastTransitionTime` of conditions whose status did not change, so a status
/// rewrite with the same facts is a no-op (and does not loop through the broadcast).
pub(super) fn carry_condition_times(old: Option<&Value>, new: &mut [Value]) {
    let old: Vec<Value> = old.and_then(Value::as_array).cloned().unwrap_or_default();
    for c in new.iter_mut() {
        let prev = old.iter().find(|o| {
            o.get("type") == c.get("type")
                && o.get("status") == c.get("status")
                && o.get("reason") == c.get("reason")
        });
        match prev {
            Some(p) => {
                for f in ["lastTransitionTime", "lastUpdateTime"] {
                    if let Some(t) = p.get(f) {
                        c[f] = t.clone();
                    }
                }
            }
            None => {
                c["lastTransitionTime"] = now_time();
                if c.get("lastUpdateTime").is_some() {
                    c["lastUpdateTime"] = now_time();
                }
            }
        }
    }
}

/// Ready and not terminating.
pub(super) fn pod_is_ready(pod: &Value) -> bool {
    pod.pointer("/metadata/deletionTimestamp").is_none()
        && pod
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .is_some_and(|cs| {
                cs.iter().any(|c| {
                    c.get("type").and_then(Value::as_str) == Some("Ready")
                        && c.get("status").and_then(Value::as_str) == Some("True")
                })
            })
}

/// The Deployment behind a pod, read from its ReplicaSet owner reference
/// (`<deployment>-<template-hash>`).
pub(super) fn owner_deployment(pod: &Value) -> Option<&str> {
    pod.pointer("/metadata/ownerReferences")?
        .as_array()?
        .iter()
        .find(|r| r.get("kind").and_then(Value::as_str) == Some("ReplicaSet"))?
        .get("name")?
        .as_str()?
        .rsplit_once('-')
        .map(|(d, _)| d)
}
