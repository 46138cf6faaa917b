//! The ServiceAccount `token` subresource (TokenRequest): JWT-shaped tokens carrying the
//! claims a consumer reads, unsigned. Signatures and TokenReview are the real issuer's
//! business and are tested against the real control plane only.

use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::body::Outcome;
use crate::Shared;
use crate::error::ApiError;
use crate::resources;
use crate::store::now_time;

/// Makes every token distinct (the `jti` claim), as a real issuer's are.
static ISSUED: AtomicU64 = AtomicU64::new(0);

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
    let now = k8s_openapi::jiff::Timestamp::now().as_second();
    let expires_at = now + expiration;
    let jti = ISSUED.fetch_add(1, Ordering::Relaxed) + 1;
    let claims = json!({
        "aud": audiences,
        "exp": expires_at,
        "iat": now,
        "nbf": now,
        "iss": "https://kubernetes.default.svc.cluster.local",
        "jti": format!("{jti:016x}"),
        "sub": format!("system:serviceaccount:{ns}:{sa}"),
        "kubernetes.io": {"namespace": ns, "serviceaccount": {"name": sa, "uid": uid}},
    });
    let header = json!({"alg": "none", "typ": "JWT", "kid": "redline-testkit"});
    let token = format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        URL_SAFE_NO_PAD.encode(format!("sig-{jti}")),
    );
    let exp = k8s_openapi::jiff::Timestamp::from_second(expires_at)
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
            "status": {"token": token, "expirationTimestamp": exp},
        }),
    ))
}
