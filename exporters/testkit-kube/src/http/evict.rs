//! The `eviction` subresource of Pods: refused while a PodDisruptionBudget would break.

use serde_json::{Value, json};

use super::body::Outcome;
use crate::Shared;
use crate::policy;
use crate::resources;
use crate::selectors::LabelSelector;

pub(super) fn evict(shared: &Shared, ns: &str, name: &str) -> Outcome {
    let store = &shared.store;
    let pod = store.get_or_404(&resources::PODS, ns, name)?;
    let (pdbs, _) = store.list(&resources::PDBS, Some(ns));
    let ready = policy::pod_is_ready(&pod);
    for pdb in pdbs {
        let sel = LabelSelector::from_object(pdb.pointer("/spec/selector"))?;
        if !sel.matches_object(&pod) {
            continue;
        }
        let b = policy::budget_now(store, ns, &pdb)?;
        // An unready pod does not count against the budget, as long as the budget holds.
        let allowed = if ready {
            b.disruptions_allowed >= 1
        } else {
            b.current_healthy >= b.desired_healthy
        };
        if !allowed {
            let pdb_name = pdb
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            return Err(policy::eviction_refused(pdb_name, &b));
        }
    }
    store.delete(&resources::PODS, ns, name, None)?;
    Ok((
        201,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
    ))
}
