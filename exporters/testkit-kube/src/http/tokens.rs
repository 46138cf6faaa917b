//! Bound ServiceAccount tokens: the `token` subresource (TokenRequest) and TokenReview.

use serde_json::{Value, json};

use super::body::{Outcome, parse_body};
use crate::Shared;
use crate::error::ApiError;
use crate::resources;
use crate::store::now_time;

pub(super) fn request(shared: &Shared, ns: &str, sa: &str, req: &Value) -> Outcome {
    let sa_obj = shared
        .store
        .get_or_404(&resources::SERVICE_ACCOUNTS, ns, sa)?;
    let audiences: Vec<String> = req
        .pointer("/spec/audiences")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .filter(|a: &Vec<String>| !a.is_empty())
        .unwrap_or_else(|| vec!["https://kubernetes.default.svc.cluster.local".to_string()]);
    let expiration = req
        .pointer("/spec/expirationSeconds")
        .and_then(Value::as_i64)
        .unwrap_or(3600);
    if expiration < 600 {
        return Err(ApiError::invalid(
            "spec.expirationSeconds: Invalid value: may not specify a duration less than 10 minutes",
        ));
    }
    let uid = sa_obj
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let t = shared
        .tokens
        .issue(ns, sa, uid, audiences.clone(), expiration);
    let exp = k8s_openapi::jiff::Timestamp::from_second(t.expires_at)
        .map(|ts| {
            serde_json::to_value(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(ts))
                .unwrap_or(Value::Null)
        })
        .unwrap_or(Value::Null);
    let mut spec = req.get("spec").cloned().unwrap_or_else(|| json!({}));
    spec["audiences"] = json!(audiences);
    spec["expirationSeconds"] = json!(expiration);
    Ok((
        201,
        json!({
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "metadata": {"name": sa, "namespace": ns, "creationTimestamp": now_time()},
            "spec": spec,
            "status": {"token": t.token, "expirationTimestamp": exp},
        }),
    ))
}

pub(super) fn review(shared: &Shared, body: &[u8]) -> Result<Value, ApiError> {
    let req = parse_body("application/json", body)?;
    let token = req
        .pointer("/spec/token")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::invalid("spec.token is required"))?;
    let status = shared.tokens.review(token, |t| {
        shared
            .store
            .get(
                &resources::SERVICE_ACCOUNTS,
                &t.namespace,
                &t.service_account,
            )
            .is_some_and(|sa| {
                sa.pointer("/metadata/uid").and_then(Value::as_str)
                    == Some(t.service_account_uid.as_str())
            })
    });
    Ok(json!({
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenReview",
        "metadata": {"creationTimestamp": null},
        "spec": req.get("spec").cloned().unwrap_or_else(|| json!({})),
        "status": status,
    }))
}
