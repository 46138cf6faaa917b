//! The disruption controller's stand-in: keeps PodDisruptionBudget status current.

use serde_json::Value;

use super::Workload;
use crate::kwok::object::{carry_condition_times, name_of};
use crate::policy;
use crate::resources::PDBS;
use crate::store::Part;

impl Workload {
    pub(super) fn update_pdbs(&self, ns: &str) {
        let (pdbs, _) = self.store.list(&PDBS, Some(ns));
        for pdb in pdbs {
            let Ok(b) = policy::budget_now(&self.store, ns, &pdb) else {
                continue;
            };
            let generation = pdb
                .pointer("/metadata/generation")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            let _ = self
                .store
                .modify(&PDBS, ns, name_of(&pdb), Part::Status, |old| {
                    let mut status = b.status_json(generation);
                    if let Some(cs) = status.get_mut("conditions").and_then(Value::as_array_mut) {
                        carry_condition_times(old.pointer("/status/conditions"), cs);
                    }
                    let mut new = (*old).clone();
                    new["status"] = status;
                    Ok(new)
                });
        }
    }
}
