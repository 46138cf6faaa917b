//! The `scale` subresource of Deployments (autoscaling/v1 `Scale`).

use std::collections::HashMap;

use http::Method;
use serde_json::{Value, json};

use super::body::{Outcome, parse_body};
use crate::Shared;
use crate::error::ApiError;
use crate::resources;
use crate::selectors::LabelSelector;
use crate::store::Part;

/// autoscaling/v1 Scale view of a Deployment.
fn scale_of(d: &Value) -> Result<Value, ApiError> {
    let sel = LabelSelector::from_object(d.pointer("/spec/selector"))?;
    let m = &d["metadata"];
    Ok(json!({
        "apiVersion": "autoscaling/v1",
        "kind": "Scale",
        "metadata": {
            "name": m["name"], "namespace": m["namespace"], "uid": m["uid"],
            "resourceVersion": m["resourceVersion"], "creationTimestamp": m["creationTimestamp"],
        },
        "spec": {"replicas": d.pointer("/spec/replicas").cloned().unwrap_or(json!(1))},
        "status": {
            "replicas": d.pointer("/status/replicas").cloned().unwrap_or(json!(0)),
            "selector": sel.to_query(),
        },
    }))
}

pub(super) fn scale(
    shared: &Shared,
    method: &Method,
    ns: &str,
    name: &str,
    q: &HashMap<String, String>,
    content_type: &str,
    body: &[u8],
) -> Outcome {
    let store = &shared.store;
    let res = &resources::DEPLOYMENTS;
    if method == Method::GET {
        let d = store.get_or_404(res, ns, name)?;
        return Ok((200, scale_of(&d)?));
    }
    let manager = q
        .get("fieldManager")
        .cloned()
        .unwrap_or_else(|| "unknown".into());
    let input = parse_body(content_type, body)?;
    let ct = content_type.split(';').next().unwrap_or_default().trim();
    if method == Method::PATCH
        && ct == "application/apply-patch+yaml"
        && !q.contains_key("fieldManager")
    {
        return Err(ApiError::bad_request(
            "fieldManager is required for apply patch",
        ));
    }
    let updated = store.modify(res, ns, name, Part::Main, |old, owners| {
        let mut view = scale_of(old)?;
        match *method {
            Method::PUT => {
                if let Some(rv) = input
                    .pointer("/metadata/resourceVersion")
                    .and_then(Value::as_str)
                    && !rv.is_empty()
                    && Some(rv)
                        != old
                            .pointer("/metadata/resourceVersion")
                            .and_then(Value::as_str)
                {
                    return Err(ApiError::conflict(&res.qualified(), name));
                }
                view = input.clone();
            }
            Method::PATCH => match ct {
                "application/merge-patch+json"
                | "application/strategic-merge-patch+json"
                | "application/apply-patch+yaml" => {
                    crate::patch::merge_patch(&mut view, &input);
                }
                other => {
                    return Err(ApiError::new(
                        415,
                        "UnsupportedMediaType",
                        format!("unsupported patch type {other}"),
                    ));
                }
            },
            _ => {
                return Err(ApiError::new(
                    405,
                    "MethodNotAllowed",
                    "unsupported verb on scale",
                ));
            }
        }
        let replicas = view
            .pointer("/spec/replicas")
            .and_then(Value::as_i64)
            .ok_or_else(|| ApiError::invalid("spec.replicas is required"))?;
        if replicas < 0 {
            return Err(ApiError::invalid(
                "spec.replicas must be greater than or equal to 0",
            ));
        }
        let mut new = (*old).clone();
        new["spec"]["replicas"] = json!(replicas);
        if let Some(m) = new.get_mut("metadata").and_then(Value::as_object_mut) {
            m.remove("resourceVersion");
        }
        crate::patch::record_update(owners, &manager, crate::patch::changed_paths(old, &new));
        Ok(new)
    })?;
    Ok((200, scale_of(&updated)?))
}
