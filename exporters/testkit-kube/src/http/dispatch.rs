//! Verbs onto store operations: get, create, replace, patch, delete (one or a
//! collection), and the subresources' handlers (status, eviction, token; a Deployment's
//! scale subresource is served by the real control plane only).

use std::collections::HashMap;

use http::Method;
use serde_json::Value;

use super::body::{Outcome, parse_body};
use super::list::{list, list_body, select};
use super::route::Target;
use super::{evict, tokens};
use crate::Shared;
use crate::error::ApiError;
use crate::resources::{self, ResourceType};
use crate::store::Part;

pub(super) fn dispatch(
    shared: &Shared,
    method: &Method,
    t: &Target,
    q: &HashMap<String, String>,
    content_type: &str,
    body: &[u8],
) -> Outcome {
    let res = t.res;
    let ns = t.namespace.as_deref().unwrap_or("");
    if res.virtual_only {
        return match (method, &t.name) {
            (&Method::GET, None) => shared.pod_metrics_list(t.namespace.as_deref(), q),
            (&Method::GET, Some(n)) => shared.pod_metrics_get(ns, n),
            _ => Err(ApiError::new(
                405,
                "MethodNotAllowed",
                "metrics are read-only",
            )),
        };
    }
    let store = &shared.store;
    match (method, t.name.as_deref(), t.sub.as_deref()) {
        (&Method::GET, None, None) => list(shared, t, q).map(|v| (200, v)),
        (&Method::GET, Some(name), None | Some("status")) => {
            store.get_or_404(res, ns, name).map(|o| (200, (*o).clone()))
        }
        (&Method::POST, None, None) => {
            let obj = parse_body(content_type, body)?;
            store
                .create(res, ns, obj, Part::Main)
                .map(|o| (201, (*o).clone()))
        }
        (&Method::PUT, Some(name), sub @ (None | Some("status"))) => {
            let obj = parse_body(content_type, body)?;
            let part = if sub.is_some() {
                Part::Status
            } else {
                Part::Main
            };
            store
                .replace(res, ns, name, obj, part)
                .map(|o| (200, (*o).clone()))
        }
        (&Method::PATCH, Some(name), sub @ (None | Some("status"))) => {
            let part = if sub.is_some() {
                Part::Status
            } else {
                Part::Main
            };
            patch(shared, res, ns, name, part, q, content_type, body)
        }
        (&Method::DELETE, Some(name), None) => {
            let opts = parse_body(content_type, body)?;
            let pre = opts
                .pointer("/preconditions/resourceVersion")
                .and_then(Value::as_str);
            store
                .delete(res, ns, name, pre)
                .map(|o| (200, deleted_response(res, &o)))
        }
        (&Method::DELETE, None, None) => {
            let (items, rv) = select(shared, t, q)?;
            let mut deleted = Vec::new();
            for o in items {
                let name = o
                    .pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let ons = o
                    .pointer("/metadata/namespace")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                match store.delete(res, ons, name, None) {
                    Ok(d) => deleted.push((*d).clone()),
                    // Someone else deleted it in between: that is fine for a collection.
                    Err(e) if e.code == 404 => {}
                    Err(e) => return Err(e),
                }
            }
            Ok((200, list_body(res, deleted, rv, None)))
        }
        (&Method::POST, Some(name), Some("eviction")) if res.key == resources::PODS.key => {
            evict::evict(shared, ns, name)
        }
        (&Method::POST, Some(name), Some("token"))
            if res.key == resources::SERVICE_ACCOUNTS.key =>
        {
            let req = parse_body(content_type, body)?;
            tokens::request(shared, ns, name, &req)
        }
        _ => Err(ApiError::new(
            405,
            "MethodNotAllowed",
            format!("{method} is not supported on this path"),
        )),
    }
}

#[allow(clippy::too_many_arguments)]
fn patch(
    shared: &Shared,
    res: &'static ResourceType,
    ns: &str,
    name: &str,
    part: Part,
    q: &HashMap<String, String>,
    content_type: &str,
    body: &[u8],
) -> Outcome {
    let manager = q.get("fieldManager").map(String::as_str);
    let p = parse_body(content_type, body)?;
    let store = &shared.store;
    let ct = content_type.split(';').next().unwrap_or_default().trim();
    match ct {
        "application/apply-patch+yaml" => {
            if manager.is_none_or(str::is_empty) {
                return Err(ApiError::bad_request(
                    "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
                ));
            }
            store
                .apply(res, ns, name, p, part)
                .map(|o| (200, (*o).clone()))
        }
        "application/merge-patch+json" | "application/strategic-merge-patch+json" => store
            .merge_patch(res, ns, name, &p, part)
            .map(|o| (200, (*o).clone())),
        other => Err(ApiError::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml (got {other})"
            ),
        )),
    }
}

/// What a DELETE of one object answers. The real server returns the object for kinds
/// whose registry asks for it (Pods, Services, ServiceAccounts; Namespaces, whose
/// deletion is not immediate) and a Success Status for the rest (checked against a real
/// server for Deployments, NetworkPolicies and Secrets;
/// kinds not checked keep the object).
fn deleted_response(res: &ResourceType, object: &Value) -> Value {
    if !matches!(res.kind, "Deployment" | "NetworkPolicy" | "Secret") {
        return object.clone();
    }
    serde_json::json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": {
            "name": object.pointer("/metadata/name").cloned().unwrap_or_default(),
            "group": res.group,
            "kind": res.plural,
            "uid": object.pointer("/metadata/uid").cloned().unwrap_or_default(),
        },
    })
}
