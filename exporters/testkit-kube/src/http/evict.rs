//! The `eviction` subresource of Pods: the pod is deleted. No PodDisruptionBudget is
//! modelled here; a refused eviction (429) is an injected fault, and a real budget's
//! refusal is tested against the real control plane.

use serde_json::json;

use super::body::Outcome;
use crate::Shared;
use crate::resources;

pub(super) fn evict(shared: &Shared, ns: &str, name: &str) -> Outcome {
    shared.store.delete(&resources::PODS, ns, name, None)?;
    Ok((
        201,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
    ))
}
