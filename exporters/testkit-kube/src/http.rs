//! The HTTP/1.1 front: URL routing onto resources, verbs onto store operations, and
//! Kubernetes-shaped responses (objects, lists, `Status` errors, watch streams).

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, StreamBody, combinators::UnsyncBoxBody};
use hyper::body::{Frame, Incoming};
use serde_json::{Value, json};

use crate::Shared;
use crate::error::ApiError;
use crate::faults::Verb;
use crate::policy;
use crate::resources::{self, ResourceType};
use crate::selectors::{FieldSelector, LabelSelector};
use crate::store::{Part, now_time};
use crate::watch::{self, WatchParams};

pub type Body = UnsyncBoxBody<Bytes, Infallible>;

fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed_unsync()
}

fn json_response(code: u16, v: &Value) -> Response<Body> {
    Response::builder()
        .status(code)
        .header(header::CONTENT_TYPE, "application/json")
        .body(full(serde_json::to_vec(v).unwrap_or_default()))
        .unwrap_or_else(|_| Response::new(full("")))
}

fn error_response(e: &ApiError) -> Response<Body> {
    let mut r = json_response(e.code, &e.to_status());
    if let Some(secs) = e.retry_after
        && let Ok(v) = header::HeaderValue::from_str(&secs.to_string())
    {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

/// Decodes `application/x-www-form-urlencoded` query values.
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 3 <= bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_query(q: Option<&str>) -> HashMap<String, String> {
    q.unwrap_or_default()
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(kv), String::new()),
        })
        .collect()
}

fn truthy(q: &HashMap<String, String>, k: &str) -> bool {
    q.get(k).is_some_and(|v| v == "true" || v == "1")
}

/// A request resolved onto a resource.
#[derive(Debug)]
struct Target {
    res: &'static ResourceType,
    namespace: Option<String>,
    name: Option<String>,
    sub: Option<String>,
}

enum Route {
    Resource(Target),
    Static(Value),
    NotFound,
}

fn route(path: &str) -> Route {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match segs.as_slice() {
        ["version"] => {
            return Route::Static(json!({
                "major": "1", "minor": "33", "gitVersion": "v1.33.0-redline-testkit",
                "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
                "buildDate": "2025-01-01T00:00:00Z", "goVersion": "go1.24", "compiler": "gc",
                "platform": "linux/amd64"
            }));
        }
        ["api"] => {
            return Route::Static(json!({
                "kind": "APIVersions", "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]
            }));
        }
        ["apis"] => return Route::Static(api_group_list()),
        ["api", "v1", rest @ ..] => ("", "v1", rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return Route::NotFound,
    };
    if rest.is_empty() {
        return Route::Static(resource_list(group, version));
    }
    let namespaced = rest.len() >= 3
        && rest[0] == "namespaces"
        && resources::lookup(group, version, rest[2]).is_some_and(|r| r.namespaced);
    let (ns, plural, name, sub) = if namespaced {
        (Some(rest[1]), rest[2], rest.get(3), rest.get(4))
    } else {
        (None, rest[0], rest.get(1), rest.get(2))
    };
    let Some(res) = resources::lookup(group, version, plural) else {
        return Route::NotFound;
    };
    if res.namespaced && name.is_some() && ns.is_none() {
        return Route::NotFound;
    }
    Route::Resource(Target {
        res,
        namespace: ns.map(str::to_string),
        name: name.map(|s| s.to_string()),
        sub: sub.map(|s| s.to_string()),
    })
}

fn api_group_list() -> Value {
    let mut groups: Vec<(&str, &str)> = resources::ALL
        .iter()
        .filter(|r| !r.group.is_empty())
        .map(|r| (r.group, r.version))
        .collect();
    groups.push(("authentication.k8s.io", "v1"));
    groups.sort_unstable();
    groups.dedup();
    let items: Vec<Value> = groups
        .iter()
        .map(|(g, v)| {
            let gv = json!({"groupVersion": format!("{g}/{v}"), "version": v});
            json!({"name": g, "versions": [gv.clone()], "preferredVersion": gv})
        })
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": items})
}

fn resource_list(group: &str, version: &str) -> Value {
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    let items: Vec<Value> = resources::ALL
        .iter()
        .filter(|r| r.group == group && r.version == version)
        .map(|r| {
            json!({
                "name": r.plural, "singularName": r.kind.to_lowercase(), "namespaced": r.namespaced,
                "kind": r.kind,
                "verbs": ["create","delete","deletecollection","get","list","patch","update","watch"],
            })
        })
        .collect();
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": items})
}

fn verb_of(method: &Method, t: &Target, watch: bool) -> Verb {
    match (method, t.name.is_some()) {
        (&Method::GET, true) => Verb::Get,
        (&Method::GET, false) if watch => Verb::Watch,
        (&Method::GET, false) => Verb::List,
        (&Method::POST, _) => Verb::Create,
        (&Method::PUT, _) => Verb::Update,
        (&Method::PATCH, _) => Verb::Patch,
        (&Method::DELETE, true) => Verb::Delete,
        (&Method::DELETE, false) => Verb::DeleteCollection,
        _ => Verb::Get,
    }
}

/// Entry point for one request.
pub async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let latency = shared.faults.latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_string();
    let q = parse_query(parts.uri.query());
    if path == "/apis/authentication.k8s.io/v1/tokenreviews" && parts.method == Method::POST {
        let body = body
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        return Ok(match token_review(&shared, &body) {
            Ok(v) => json_response(201, &v),
            Err(e) => error_response(&e),
        });
    }
    let t = match route(&path) {
        Route::Static(v) => return Ok(json_response(200, &v)),
        Route::NotFound => {
            return Ok(error_response(&ApiError::new(
                404,
                "NotFound",
                "the server could not find the requested resource",
            )));
        }
        Route::Resource(t) => t,
    };
    let watch = truthy(&q, "watch");
    let verb = verb_of(&parts.method, &t, watch);
    let resource_label = match &t.sub {
        Some(s) => format!("{}/{s}", t.res.plural),
        None => t.res.plural.to_string(),
    };
    shared.count_request(verb, &resource_label);
    if let Some(e) = shared.faults.check(verb, &resource_label) {
        return Ok(error_response(&e));
    }
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .to_string();
    let body = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return Ok(error_response(&ApiError::bad_request(e.to_string()))),
    };
    if q.get("dryRun").is_some_and(|v| !v.is_empty()) {
        return Ok(error_response(&ApiError::bad_request(
            "dryRun is not supported by the redline test API server",
        )));
    }
    let result = if watch && parts.method == Method::GET && t.name.is_none() {
        return Ok(watch_response(shared, &t, &q));
    } else {
        dispatch(&shared, &parts.method, &t, &q, &content_type, &body)
    };
    Ok(match result {
        Ok((code, v)) => json_response(code, &v),
        Err(e) => error_response(&e),
    })
}

fn watch_response(shared: Arc<Shared>, t: &Target, q: &HashMap<String, String>) -> Response<Body> {
    let labels = match q
        .get("labelSelector")
        .map(|s| LabelSelector::parse(s))
        .transpose()
    {
        Ok(l) => l.unwrap_or_default(),
        Err(e) => return error_response(&e),
    };
    let fields = match q
        .get("fieldSelector")
        .map(|s| FieldSelector::parse(s))
        .transpose()
    {
        Ok(f) => f.unwrap_or_default(),
        Err(e) => return error_response(&e),
    };
    if t.res.virtual_only {
        return error_response(&ApiError::new(
            405,
            "MethodNotAllowed",
            "watch is not supported on metrics",
        ));
    }
    let p = WatchParams {
        namespace: t.namespace.clone(),
        labels,
        fields,
        resource_version: q.get("resourceVersion").cloned(),
        bookmarks: truthy(q, "allowWatchBookmarks"),
        send_initial_events: truthy(q, "sendInitialEvents"),
        timeout: q
            .get("timeoutSeconds")
            .and_then(|s| s.parse::<u64>().ok())
            .map(std::time::Duration::from_secs),
    };
    let rx = watch::start(shared, t.res, p);
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<_, Infallible>(Frame::data(b)), rx))
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .body(StreamBody::new(stream).boxed_unsync())
        .unwrap_or_else(|_| Response::new(full("")))
}

fn parse_body(content_type: &str, body: &[u8]) -> Result<Value, ApiError> {
    if body.is_empty() {
        return Ok(Value::Null);
    }
    match serde_json::from_slice(body) {
        Ok(v) => Ok(v),
        // Apply patches may be YAML.
        Err(e) if content_type.contains("yaml") => serde_norway::from_slice(body)
            .map_err(|y| ApiError::bad_request(format!("invalid body: {e}; as YAML: {y}"))),
        Err(e) => Err(ApiError::bad_request(format!("invalid JSON body: {e}"))),
    }
}

type Outcome = Result<(u16, Value), ApiError>;

fn dispatch(
    shared: &Shared,
    method: &Method,
    t: &Target,
    q: &HashMap<String, String>,
    content_type: &str,
    body: &[u8],
) -> Outcome {
    let res = t.res;
    let ns = t.namespace.as_deref().unwrap_or("");
    let manager = q.get("fieldManager").map(String::as_str);
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
                .create(res, ns, obj, Part::Main, Some(manager.unwrap_or("unknown")))
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
                .replace(res, ns, name, obj, part, Some(manager.unwrap_or("unknown")))
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
                .map(|o| (200, (*o).clone()))
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
        (_, Some(name), Some("scale")) if res.key == resources::DEPLOYMENTS.key => {
            scale(shared, method, ns, name, q, content_type, body)
        }
        (&Method::POST, Some(name), Some("eviction")) if res.key == resources::PODS.key => {
            evict(shared, ns, name)
        }
        (&Method::POST, Some(name), Some("token"))
            if res.key == resources::SERVICE_ACCOUNTS.key =>
        {
            let req = parse_body(content_type, body)?;
            token_request(shared, ns, name, &req)
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
            let manager = manager.filter(|m| !m.is_empty()).ok_or_else(|| {
                ApiError::bad_request("PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch")
            })?;
            store
                .apply(res, ns, name, p, manager, truthy(q, "force"), part)
                .map(|o| (200, (*o).clone()))
        }
        "application/merge-patch+json" | "application/strategic-merge-patch+json" => store
            .merge_patch(res, ns, name, &p, part, Some(manager.unwrap_or("unknown")))
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

/// The objects a list or deletecollection selects, plus the list rv.
fn select(
    shared: &Shared,
    t: &Target,
    q: &HashMap<String, String>,
) -> Result<(Vec<Arc<Value>>, u64), ApiError> {
    let labels = q
        .get("labelSelector")
        .map(|s| LabelSelector::parse(s))
        .transpose()?
        .unwrap_or_default();
    let fields = q
        .get("fieldSelector")
        .map(|s| FieldSelector::parse(s))
        .transpose()?
        .unwrap_or_default();
    let (items, rv) = shared.store.list(t.res, t.namespace.as_deref());
    let items = items
        .into_iter()
        .filter(|o| labels.matches_object(o) && fields.matches(o))
        .collect();
    Ok((items, rv))
}

fn list_body(
    res: &ResourceType,
    items: Vec<Value>,
    rv: u64,
    cont: Option<(String, usize)>,
) -> Value {
    let mut meta = json!({"resourceVersion": rv.to_string()});
    if let Some((token, remaining)) = cont {
        meta["continue"] = json!(token);
        meta["remainingItemCount"] = json!(remaining);
    }
    json!({"kind": res.list_kind(), "apiVersion": res.api_version(), "metadata": meta, "items": items})
}

/// Lists with `limit`/`continue` paging. The continue token pins the first page's rv,
/// so a watch started from the last page's rv replays anything that changed meanwhile.
fn list(shared: &Shared, t: &Target, q: &HashMap<String, String>) -> Result<Value, ApiError> {
    let (items, mut rv) = select(shared, t, q)?;
    let mut start = 0;
    if let Some(token) = q.get("continue").filter(|c| !c.is_empty()) {
        let (trv, after) = token
            .split_once(':')
            .ok_or_else(|| ApiError::bad_request("invalid continue token"))?;
        rv = trv
            .parse()
            .map_err(|_| ApiError::bad_request("invalid continue token"))?;
        let after = unhex(after).ok_or_else(|| ApiError::bad_request("invalid continue token"))?;
        start = items.partition_point(|o| object_key(o) <= after);
    }
    let limit = q
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .filter(|l| *l > 0);
    let end = limit.map_or(items.len(), |l| (start + l).min(items.len()));
    let cont = (end < items.len()).then(|| {
        let last = object_key(&items[end - 1]);
        (format!("{rv}:{}", hex(&last)), items.len() - end)
    });
    let page: Vec<Value> = items[start..end].iter().map(|o| (**o).clone()).collect();
    Ok(list_body(t.res, page, rv, cont))
}

/// Store order is (namespace, name); the continue token remembers the last one served.
fn object_key(o: &Value) -> String {
    format!(
        "{}\u{0}{}",
        o.pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or_default(),
        o.pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
    )
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<String> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect();
    String::from_utf8(bytes?).ok()
}

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

fn scale(
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

fn evict(shared: &Shared, ns: &str, name: &str) -> Outcome {
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

fn token_request(shared: &Shared, ns: &str, sa: &str, req: &Value) -> Outcome {
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

fn token_review(shared: &Shared, body: &[u8]) -> Result<Value, ApiError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_query() {
        let q = parse_query(Some(
            "&labelSelector=app%3Dweb%2Ctier+in+%28a%2Cb%29&watch=true",
        ));
        assert_eq!(q["labelSelector"], "app=web,tier in (a,b)");
        assert!(truthy(&q, "watch"));
        assert_eq!(unhex(&hex("ns\u{0}name")).unwrap(), "ns\u{0}name");
    }

    #[test]
    fn routes() {
        let Route::Resource(t) = route("/apis/apps/v1/namespaces/ns/deployments/d/scale") else {
            panic!("not routed");
        };
        assert_eq!(t.res.kind, "Deployment");
        assert_eq!(t.namespace.as_deref(), Some("ns"));
        assert_eq!(t.name.as_deref(), Some("d"));
        assert_eq!(t.sub.as_deref(), Some("scale"));
        let Route::Resource(t) = route("/api/v1/namespaces/ns") else {
            panic!("not routed");
        };
        assert_eq!(t.res.kind, "Namespace");
        assert_eq!(t.name.as_deref(), Some("ns"));
        let Route::Resource(t) = route("/api/v1/pods") else {
            panic!("not routed");
        };
        assert!(t.namespace.is_none() && t.name.is_none());
        let Route::Resource(t) = route("/apis/metrics.k8s.io/v1beta1/namespaces/ns/pods") else {
            panic!("not routed");
        };
        assert!(t.res.virtual_only);
    }
}
